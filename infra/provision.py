"""Create the stack of ``infra.definition`` in an AWS endpoint (moto's server on loopback).

Idempotent: running it twice against the same endpoint changes nothing. The only local differences from the
cloud template are named in ``LocalOverrides`` (short visibility timeouts so retries happen in seconds).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from infra.definition import ALL_EVENTS_PATTERN, STACK, Names, Queue, Stack


@dataclass(frozen=True)
class LocalOverrides:
    visibility_timeout: int | None = 2


@dataclass(frozen=True)
class Provisioned:
    names: Names
    endpoint_url: str
    region: str
    queue_urls: dict[str, str]
    dlq_urls: dict[str, str]
    topic_arns: dict[str, str] = field(default_factory=dict)
    dynamodb_url: str = ""  # DynamoDB's endpoint when another server than ``endpoint_url`` serves it

    @property
    def tables_url(self) -> str:
        """Where DynamoDB answers."""
        return self.dynamodb_url or self.endpoint_url

    def function_env(self, service: str) -> dict[str, str]:
        env = STACK.env_for(service, self.names)
        env["AWS_ENDPOINT_URL"] = self.endpoint_url
        # botocore's service-specific endpoint wins over AWS_ENDPOINT_URL; always set, so a stage provisioned after
        # another never inherits the other's DynamoDB
        env["AWS_ENDPOINT_URL_DYNAMODB"] = self.tables_url
        env["AWS_REGION"] = self.region
        env["AWS_DEFAULT_REGION"] = self.region
        return env


def _session_kwargs(endpoint_url: str, region: str) -> dict[str, Any]:
    return {
        "endpoint_url": endpoint_url,
        "region_name": region,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }


def provision(
    endpoint_url: str,
    names: Names,
    *,
    region: str = "eu-west-1",
    stack: Stack = STACK,
    overrides: LocalOverrides | None = None,
    dynamodb_url: str = "",
) -> Provisioned:
    """Create ``stack`` at ``endpoint_url`` (its tables at ``dynamodb_url`` when given)."""
    overrides = overrides or LocalOverrides()
    kw = _session_kwargs(endpoint_url, region)
    ddb = boto3.client("dynamodb", **_session_kwargs(dynamodb_url or endpoint_url, region))
    sqs = boto3.client("sqs", **kw)
    events = boto3.client("events", **kw)
    s3 = boto3.client("s3", **kw)
    ses = boto3.client("ses", **kw)

    for table in stack.tables:
        name = names.table(table.logical)
        if _table_exists(ddb, name):
            continue
        attrs = {table.pk, table.sk} | {a for i in table.indexes for a in (i.pk, i.sk)}
        spec: dict[str, Any] = {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attrs)],
            "KeySchema": [
                {"AttributeName": table.pk, "KeyType": "HASH"},
                {"AttributeName": table.sk, "KeyType": "RANGE"},
            ],
        }
        if table.indexes:
            spec["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": i.name,
                    "KeySchema": [
                        {"AttributeName": i.pk, "KeyType": "HASH"},
                        {"AttributeName": i.sk, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
                for i in table.indexes
            ]
        ddb.create_table(**spec)
        ddb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
        )

    bus_arn = _ensure_bus(events, names.bus)
    queue_urls: dict[str, str] = {}
    dlq_urls: dict[str, str] = {}
    queue_arns: dict[str, str] = {}
    for queue in (*stack.queues, *stack.local_only_queues):
        url, dlq_url, arn = _ensure_queue(sqs, queue, names, overrides)
        queue_urls[queue.logical], dlq_urls[queue.logical], queue_arns[queue.logical] = url, dlq_url, arn

    for rule in stack.rules:
        _ensure_rule(events, names, rule.logical, rule.pattern(), queue_arns[rule.queue])
    for queue in stack.local_only_queues:
        _ensure_rule(events, names, queue.logical, ALL_EVENTS_PATTERN, queue_arns[queue.logical])

    for bucket in stack.buckets:
        name = names.bucket(bucket.logical)
        try:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if bucket.notify_queue:
            s3.put_bucket_notification_configuration(
                Bucket=name,
                NotificationConfiguration={
                    "QueueConfigurations": [
                        {"QueueArn": queue_arns[bucket.notify_queue], "Events": ["s3:ObjectCreated:*"]}
                    ]
                },
            )
    sender = stack.local_parameter("SenderEmail", names)
    ses.verify_email_identity(EmailAddress=sender)
    sns = boto3.client("sns", **kw)
    topic_arns: dict[str, str] = {}
    for topic in stack.topics:
        arn = str(sns.create_topic(Name=names.topic(topic.logical))["TopicArn"])  # idempotent
        topic_arns[topic.logical] = arn
        subscribed = {s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]}
        if queue_arns[topic.queue] not in subscribed:
            sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arns[topic.queue])
    if stack.ses_sender:
        sesv2 = boto3.client("sesv2", **kw)
        try:
            sesv2.create_configuration_set(ConfigurationSetName=names.configuration_set)
        except ClientError as exc:
            if "AlreadyExists" not in exc.response["Error"]["Code"]:
                raise
    del bus_arn
    return Provisioned(names, endpoint_url, region, queue_urls, dlq_urls, topic_arns, dynamodb_url)


def _table_exists(ddb: Any, name: str) -> bool:
    try:
        ddb.describe_table(TableName=name)
        return True
    except ddb.exceptions.ResourceNotFoundException:
        return False


def _ensure_bus(events: Any, name: str) -> str:
    try:
        return str(events.describe_event_bus(Name=name)["Arn"])
    except events.exceptions.ResourceNotFoundException:
        return str(events.create_event_bus(Name=name)["EventBusArn"])


def _ensure_queue(sqs: Any, queue: Queue, names: Names, overrides: LocalOverrides) -> tuple[str, str, str]:
    dlq_url = sqs.create_queue(
        QueueName=names.dlq(queue.logical),
        Attributes={"MessageRetentionPeriod": str(queue.dlq_retention_seconds)},
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    visibility = overrides.visibility_timeout or queue.visibility_timeout
    url = sqs.create_queue(
        QueueName=names.queue(queue.logical),
        Attributes={
            "VisibilityTimeout": str(visibility),
            "MessageRetentionPeriod": str(queue.retention_seconds),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count}),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, dlq_url, arn


def _ensure_rule(events: Any, names: Names, logical: str, pattern: dict[str, Any], target_arn: str) -> None:
    rule = names.rule(logical)
    events.put_rule(Name=rule, EventBusName=names.bus, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=rule, EventBusName=names.bus, Targets=[{"Id": "queue", "Arn": target_arn}])
