"""Render ``infra.definition`` as a deployable SAM template plus one code folder per service.

``finview template`` writes ``build/template.json`` and ``build/<service>/`` (the service's Chalice ``app.py``
at the root, the ``services`` and ``shared`` packages, and a requirements.txt). Deploy with
``sam build -t build/template.json && sam deploy --guided``. The API's definition is the Chalice app's own
swagger, so every route of ``services/contacts/app.py`` exists in API Gateway exactly as written.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

from infra import capacity, operations, permissions
from infra.definition import (
    ACCESS_LOG_DAYS,
    ALL_EVENTS_PATTERN,
    EVENT_ARCHIVE_DAYS,
    STACK,
    TABLE_RECOVERY_DAYS,
    Bucket,
    Function,
    Parameter,
    Queue,
    Ref,
    Stack,
    Table,
    Topic,
)
from infra.operations import LOG_GROUP_KEY, SQS_MANAGED_SSE, skip

ROOT = Path(__file__).resolve().parent.parent
# Lambda's Python runtime brings boto3; every other dependency of pyproject.toml goes into each code folder.
PROVIDED_BY_LAMBDA = {"boto3"}


def runtime_requirements() -> list[str]:
    """The project's dependencies (pyproject.toml, the one list) that a function's code folder must install."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return [d for d in declared if re.split(r"[\[<>=!~ ;]", d, maxsplit=1)[0] not in PROVIDED_BY_LAMBDA]


def _cfn(name: str) -> str:
    return "".join(p.capitalize() for p in name.replace("_", "-").split("-"))


def table_id(t: Table) -> str:
    return f"{_cfn(t.logical)}Table"


def queue_id(q: Queue) -> str:
    return f"{_cfn(q.logical)}Queue"


def bucket_id(b: Bucket) -> str:
    return f"{_cfn(b.logical)}Bucket"


def dlq_id(q: Queue) -> str:
    return f"{_cfn(q.logical)}Dlq"


def concurrency_parameter(f: Function) -> str:
    return f"{f.logical}Concurrency"


def function_id(f: Function) -> str:
    # CFNSwaggerGenerator points the API integration at ``APIHandler``.
    return "APIHandler" if f.trigger.kind == "api" else f.logical


def _sub(pattern: str) -> dict[str, str]:
    return {"Fn::Sub": pattern}


def bucket_name(b: Bucket) -> dict[str, str]:
    return _sub(f"finview-${{Stage}}-{b.logical}-${{AWS::AccountId}}-${{AWS::Region}}")


def render(stack: Stack = STACK) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    for t in stack.tables:
        resources[table_id(t)] = _table(t)
    resources["EventBus"] = {"Type": "AWS::Events::EventBus", "Properties": {"Name": _sub("finview-${Stage}-bus")}}
    resources["EventArchive"] = {
        "Type": "AWS::Events::Archive",
        "Properties": {
            "SourceArn": {"Fn::GetAtt": ["EventBus", "Arn"]},
            "EventPattern": ALL_EVENTS_PATTERN,
            "RetentionDays": EVENT_ARCHIVE_DAYS,  # personal data in events: gone within the answer window
            "Description": "every FinView event, for replay after a consumer bug",
        },
    }
    for q in stack.queues:
        resources.update(_queue(q))
    for rule in stack.rules:
        q = stack.queue(rule.queue)
        rid = f"{_cfn(rule.logical)}Rule"
        resources[rid] = {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Name": _sub(f"finview-${{Stage}}-{rule.logical}"),
                "EventBusName": {"Ref": "EventBus"},
                "EventPattern": rule.pattern(),
                "State": "ENABLED",
                "Targets": [
                    {
                        "Id": "queue",
                        "Arn": {"Fn::GetAtt": [queue_id(q), "Arn"]},
                        # What EventBridge cannot deliver within a day of retries waits in the undelivered queue.
                        "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [operations.UNDELIVERED, "Arn"]}},
                        "RetryPolicy": {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185},
                    }
                ],
            },
        }
        resources[f"{_cfn(rule.logical)}QueuePolicy"] = _queue_policy(
            q, "events.amazonaws.com", {"Fn::GetAtt": [rid, "Arn"]}
        )
    resources.update(operations.undelivered())
    # The rules that may leave events there: the bus rules, and the rule SAM makes for each schedule.
    scheduled = [f"{function_id(f)}Schedule" for f in stack.functions if f.trigger.kind == "schedule"]
    resources.update(operations.undelivered_policy([f"{_cfn(r.logical)}Rule" for r in stack.rules] + scheduled))
    resources.update(_access_logs_bucket())
    for b in stack.buckets:
        resources[bucket_id(b)] = _bucket(b, stack)
        resources[f"{bucket_id(b)}Policy"] = _tls_only(bucket_id(b))
        if b.notify_queue:
            q = stack.queue(b.notify_queue)
            arn = _sub(
                f"arn:${{AWS::Partition}}:s3:::finview-${{Stage}}-{b.logical}-${{AWS::AccountId}}-${{AWS::Region}}"
            )
            resources[f"{_cfn(b.logical)}NotificationPolicy"] = _queue_policy(q, "s3.amazonaws.com", arn)
    for topic in stack.topics:
        resources.update(_topic(topic, stack))
    if stack.ses_sender:
        resources.update(_ses_configuration_set(stack))
        resources.update(_sms_configuration_set(stack))
    for f in stack.functions:
        resources[function_id(f)] = _function(f, stack)
        resources.update(operations.log_group(function_id(f), function_name(f)))
        resources.update(operations.function_alarms(f, function_id(f)))
    resources.update(_api(stack))
    resources.update(operations.alerts())
    for q in stack.queues:
        resources.update(operations.queue_alarms(q, queue_id(q), dlq_id(q)))
    resources.update(operations.stuck_imports_alarm())
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": "FinView: contacts, imports, enrichment and notifications services",
        "Parameters": _parameters(stack),
        "Conditions": {"HasSenderDomain": {"Fn::Not": [{"Fn::Equals": [{"Ref": "SenderDomain"}, ""]}]}},
        "Globals": {
            "Function": {
                "Runtime": "python3.11",
                "Architectures": ["arm64"],
                "Tracing": "Active",
                "Environment": {"Variables": {"POWERTOOLS_LOG_LEVEL": {"Ref": "LogLevel"}}},
            }
        },
        "Resources": resources,
        "Outputs": {
            "ApiUrl": {"Value": _sub("https://${ContactsApi}.execute-api.${AWS::Region}.amazonaws.com/api/")},
            "DropBucket": {"Value": {"Ref": bucket_id(next(b for b in stack.buckets if b.notify_queue))}},
            "AlertsTopic": {"Value": {"Ref": "AlertsTopic"}},
            "UndeliveredQueue": {"Value": {"Ref": operations.UNDELIVERED}},
            "UserPoolId": {"Value": {"Ref": "UserPool"}},
            "UserPoolClientId": {"Value": {"Ref": "UserPoolClient"}},
        },
    }


def _parameters(stack: Stack) -> dict[str, Any]:
    params: dict[str, Any] = {
        "Stage": {"Type": "String", "Default": "prod", "AllowedPattern": "[a-z0-9-]+"},
        **{p.name: _parameter(p) for p in stack.parameters},
        **operations.parameters(),
        "AllowedOrigins": {
            "Type": "CommaDelimitedList",
            "Description": "origins of the web app that upload and download attachments (https://app.example.com)",
        },
        "LogLevel": {"Type": "String", "Default": "INFO", "AllowedValues": ["DEBUG", "INFO", "WARNING"]},
    }
    for f in stack.functions:
        most = capacity.concurrency(f)
        params[concurrency_parameter(f)] = {
            "Type": "Number",
            "Default": most,
            "MinValue": capacity.SQS_MINIMUM if f.trigger.kind == "sqs" else 1,
            "MaxValue": most,
            "Description": f"how many copies of {f.service} {f.handler} may run at once (at most what its share of "
            "the DynamoDB table allows, see infra/capacity.py)",
        }
    return params


def _parameter(p: Parameter) -> dict[str, Any]:
    rendered: dict[str, Any] = {"Type": "String", "Default": p.default, "Description": p.description}
    if p.pattern:
        rendered.update(AllowedPattern=p.pattern, ConstraintDescription=p.pattern_says)
    return rendered


def _table(t: Table) -> dict[str, Any]:
    attrs = sorted({t.pk, t.sk} | {a for i in t.indexes for a in (i.pk, i.sk)})
    props: dict[str, Any] = {
        "TableName": _sub(f"finview-${{Stage}}-{t.logical}"),
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in attrs],
        "KeySchema": [{"AttributeName": t.pk, "KeyType": "HASH"}, {"AttributeName": t.sk, "KeyType": "RANGE"}],
        "TimeToLiveSpecification": {"AttributeName": t.ttl_attribute, "Enabled": True},
        "PointInTimeRecoverySpecification": {
            "PointInTimeRecoveryEnabled": True,
            "RecoveryPeriodInDays": TABLE_RECOVERY_DAYS,  # an erased person's data in the backups: within the month
        },
        "SSESpecification": {"SSEEnabled": True},
    }
    if t.indexes:
        props["GlobalSecondaryIndexes"] = [
            {
                "IndexName": i.name,
                "KeySchema": [{"AttributeName": i.pk, "KeyType": "HASH"}, {"AttributeName": i.sk, "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }
            for i in t.indexes
        ]
    return {
        "Type": "AWS::DynamoDB::Table",
        "Metadata": skip(
            ("CKV_AWS_119", "encrypted at rest with DynamoDB's own key; a customer key adds a key policy, no control")
        ),
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": props,
    }


def _queue(q: Queue) -> dict[str, Any]:
    dlq = dlq_id(q)
    return {
        dlq: {
            "Type": "AWS::SQS::Queue",
            "Metadata": skip(SQS_MANAGED_SSE),
            "Properties": {
                "QueueName": _sub(f"finview-${{Stage}}-{q.logical}-dlq"),
                "MessageRetentionPeriod": q.dlq_retention_seconds,
                "SqsManagedSseEnabled": True,
            },
        },
        queue_id(q): {
            "Type": "AWS::SQS::Queue",
            "Metadata": skip(SQS_MANAGED_SSE),
            "Properties": {
                "QueueName": _sub(f"finview-${{Stage}}-{q.logical}"),
                "VisibilityTimeout": q.visibility_timeout,
                "MessageRetentionPeriod": q.retention_seconds,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
                    "maxReceiveCount": q.max_receive_count,
                },
            },
        },
    }


def _queue_policy(q: Queue, principal: str, source_arn: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [{"Ref": queue_id(q)}],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": principal},
                        "Action": "sqs:SendMessage",
                        "Resource": {"Fn::GetAtt": [queue_id(q), "Arn"]},
                        "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
                    }
                ],
            },
        },
    }


_BLOCK_PUBLIC = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": True,
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}
_ENCRYPTED = {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


def _tls_only(bucket: str) -> dict[str, Any]:
    """Refuse every request to the bucket that does not come over TLS."""
    return {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": {"Ref": bucket},
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "TlsOnly",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [
                            {"Fn::GetAtt": [bucket, "Arn"]},
                            {"Fn::Sub": f"${{{bucket}.Arn}}/*"},
                        ],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            },
        },
    }


ACCESS_LOGS = "AccessLogsBucket"


def _access_logs_bucket() -> dict[str, Any]:
    """Server access logs of both buckets: who read or wrote which file, kept for the log retention."""
    policy = _tls_only(ACCESS_LOGS)
    policy["Properties"]["PolicyDocument"]["Statement"].append(
        {
            "Sid": "S3LogDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": {"Fn::Sub": f"${{{ACCESS_LOGS}.Arn}}/*"},
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
        }
    )
    return {
        ACCESS_LOGS: {
            "Type": "AWS::S3::Bucket",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Metadata": skip(("CKV_AWS_18", "this is the access-log bucket: logging its own access would loop")),
            "Properties": {
                "BucketName": _sub("finview-${Stage}-access-logs-${AWS::AccountId}-${AWS::Region}"),
                "VersioningConfiguration": {"Status": "Enabled"},
                "BucketEncryption": _ENCRYPTED,
                "PublicAccessBlockConfiguration": _BLOCK_PUBLIC,
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                "LifecycleConfiguration": {
                    "Rules": [
                        {
                            "Id": "access-logs-expire",
                            "Status": "Enabled",
                            "ExpirationInDays": ACCESS_LOG_DAYS,  # they name attachments' files: within the month
                            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                        }
                    ]
                },
            },
        },
        f"{ACCESS_LOGS}Policy": policy,
    }


def _lifecycle(b: Bucket) -> dict[str, Any]:
    """Old versions (replaced or deleted files) expire; so do the rejected-rows files, which carry debtors' rows."""
    rules: list[dict[str, Any]] = [
        {
            "Id": "old-versions-expire",
            "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": operations.OLD_VERSION_DAYS},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        }
    ]
    if b.expire_days:
        rules.append(
            {
                "Id": "objects-expire",
                "Status": "Enabled",
                "ExpirationInDays": b.expire_days,
                "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
            }
        )
    if b.notify_queue:
        key, value = operations.REJECTED_ROWS_TAG
        rules.append(
            {
                "Id": "rejected-rows-expire",
                "Status": "Enabled",
                "TagFilters": [{"Key": key, "Value": value}],
                "ExpirationInDays": operations.REJECTED_ROWS_DAYS,
                "NoncurrentVersionExpiration": {"NoncurrentDays": 1},  # not 30 more days as an old version
            }
        )
    return {"Rules": rules}


def _bucket(b: Bucket, stack: Stack) -> dict[str, Any]:
    props: dict[str, Any] = {
        "BucketName": bucket_name(b),
        "VersioningConfiguration": {"Status": "Enabled"},
        "LifecycleConfiguration": _lifecycle(b),
        "LoggingConfiguration": {"DestinationBucketName": {"Ref": ACCESS_LOGS}, "LogFilePrefix": f"{b.logical}/"},
        "BucketEncryption": _ENCRYPTED,
        "PublicAccessBlockConfiguration": _BLOCK_PUBLIC,
    }
    resource: dict[str, Any] = {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": props,
    }
    if b.notify_queue:
        q = stack.queue(b.notify_queue)
        props["NotificationConfiguration"] = {
            "QueueConfigurations": [{"Event": "s3:ObjectCreated:*", "Queue": {"Fn::GetAtt": [queue_id(q), "Arn"]}}]
        }
        resource["DependsOn"] = [f"{_cfn(b.logical)}NotificationPolicy"]
    if b.cors:
        props["CorsConfiguration"] = {
            "CorsRules": [
                {
                    "AllowedMethods": ["GET", "PUT"],
                    "AllowedOrigins": {"Ref": "AllowedOrigins"},
                    "AllowedHeaders": ["Content-Type", "Content-MD5", "x-amz-*"],
                    "MaxAge": 3600,
                }
            ]
        }
    return resource


def topic_id(t: Topic) -> str:
    return f"{_cfn(t.logical)}Topic"


def _topic(t: Topic, stack: Stack) -> dict[str, Any]:
    """The topic, its subscription by the owner's queue, and who may publish: the event destinations of SES's and
    End User Messaging SMS's configuration sets, from this account only."""
    q = stack.queue(t.queue)
    tid = topic_id(t)
    return {
        tid: {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "TopicName": _sub(f"finview-${{Stage}}-{t.logical}"),
                "KmsMasterKeyId": "alias/aws/sns",
            },
        },
        f"{tid}Policy": {
            "Type": "AWS::SNS::TopicPolicy",
            "Properties": {
                "Topics": [{"Ref": tid}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": ["ses.amazonaws.com", "sms-voice.amazonaws.com"]},
                            "Action": "sns:Publish",
                            "Resource": {"Ref": tid},
                            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                        }
                    ],
                },
            },
        },
        f"{tid}Subscription": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "TopicArn": {"Ref": tid},
                "Protocol": "sqs",
                "Endpoint": {"Fn::GetAtt": [queue_id(q), "Arn"]},
            },
        },
        f"{tid}QueuePolicy": _queue_policy(q, "sns.amazonaws.com", {"Ref": tid}),
    }


def _ses_configuration_set(stack: Stack) -> dict[str, Any]:
    """Every e-mail is sent through this configuration set; its deliveries, bounces and complaints go to the
    delivery-feedback topic (notifications reads them back into outcomes)."""
    topic = next(t for t in stack.topics if t.owner == stack.ses_sender)
    return {
        "SesConfigurationSet": {
            "Type": "AWS::SES::ConfigurationSet",
            "Properties": {"Name": _sub("finview-${Stage}")},
        },
        "SesConfigurationSetFeedback": {
            "Type": "AWS::SES::ConfigurationSetEventDestination",
            "Properties": {
                "ConfigurationSetName": {"Ref": "SesConfigurationSet"},
                "EventDestination": {
                    "Name": "delivery-feedback",
                    "Enabled": True,
                    "MatchingEventTypes": ["delivery", "bounce", "complaint", "reject"],
                    "SnsDestination": {"TopicARN": {"Ref": topic_id(topic)}},
                },
            },
        },
    }


def _sms_configuration_set(stack: Stack) -> dict[str, Any]:
    """Every SMS is sent through this End User Messaging configuration set; its delivery status events (TEXT_…,
    the final ones and the failures) go to the same delivery-feedback topic as SES's. (SNS Publish to a phone
    number can only log its status to CloudWatch Logs, which no queue reads: hence End User Messaging.)"""
    topic = next(t for t in stack.topics if t.owner == stack.ses_sender)
    return {
        "SmsConfigurationSet": {
            "Type": "AWS::SMSVOICE::ConfigurationSet",
            "Properties": {
                "ConfigurationSetName": _sub("finview-${Stage}-sms"),
                "EventDestinations": [
                    {
                        "EventDestinationName": "delivery-feedback",
                        "Enabled": True,
                        "MatchingEventTypes": ["TEXT_ALL"],
                        "SnsDestination": {"TopicArn": {"Ref": topic_id(topic)}},
                    }
                ],
            },
        }
    }


def _env_refs(f: Function, stack: Stack) -> dict[str, Any]:
    """The function's environment as declared once in ``Stack.environment``, with CloudFormation references."""
    return {key: _cfn_value(value, stack) for key, value in stack.environment(f.service).items()}


def _cfn_value(value: str | Ref, stack: Stack) -> Any:
    if isinstance(value, str):
        return value
    if value.kind == "bus":
        return {"Ref": "EventBus"}
    if value.kind == "stage":
        return {"Ref": "Stage"}
    if value.kind == "table":
        return {"Ref": table_id(next(t for t in stack.tables if t.logical == value.logical))}
    if value.kind == "bucket":
        return {"Ref": bucket_id(next(b for b in stack.buckets if b.logical == value.logical))}
    if value.kind == "queue_name":
        return {"Fn::GetAtt": [queue_id(stack.queue(value.logical)), "QueueName"]}
    if value.kind == "configuration_set":
        return {"Ref": "SesConfigurationSet"}
    if value.kind == "sms_configuration_set":
        return {"Ref": "SmsConfigurationSet"}
    return {"Ref": value.logical}


def _policies(f: Function, stack: Stack) -> list[Any]:
    """Only what ``f``'s code calls (infra.permissions), as one inline policy; SAM adds logs, X-Ray and polling."""
    return [{"Statement": permissions.statements(f, stack, _Ids)}]


class _Ids:
    table_id = staticmethod(table_id)
    queue_id = staticmethod(queue_id)
    bucket_id = staticmethod(bucket_id)


def function_name(f: Function) -> dict[str, str]:
    return _sub(f"finview-${{Stage}}-{f.service}-{f.handler.replace('_', '-')}")


NO_VPC = ("CKV_AWS_117", "calls only AWS service endpoints and reaches nothing inside a VPC")
NO_SECRETS = ("CKV_AWS_173", "its environment holds resource names and settings, no secret to encrypt with a key")


def _function(f: Function, stack: Stack) -> dict[str, Any]:
    props: dict[str, Any] = {
        "FunctionName": function_name(f),
        "CodeUri": f.service,
        "Handler": f"app.{f.handler}",
        "Timeout": f.timeout,
        "MemorySize": f.memory,
        "Environment": {"Variables": _env_refs(f, stack)},
        "Policies": _policies(f, stack),
    }
    skips = [NO_VPC, NO_SECRETS]
    copies = {"Ref": concurrency_parameter(f)}
    if f.trigger.kind == "sqs":
        q = stack.queue(f.trigger.queue or "")
        props["Events"] = {
            "Queue": {
                "Type": "SQS",
                "Properties": {
                    "Queue": {"Fn::GetAtt": [queue_id(q), "Arn"]},
                    "BatchSize": f.trigger.batch_size,
                    "MaximumBatchingWindowInSeconds": f.trigger.batching_window,
                    "FunctionResponseTypes": ["ReportBatchItemFailures"],
                    "ScalingConfig": {"MaximumConcurrency": copies},
                },
            }
        }
        skips += [
            ("CKV_AWS_116", f"invoked by its SQS queue, whose redrive policy sends failures to {dlq_id(q)}"),
            ("CKV_AWS_115", "bounded by its SQS source's MaximumConcurrency; reserved concurrency would throttle"),
        ]
    else:
        props["ReservedConcurrentExecutions"] = copies
    if f.trigger.kind == "schedule":
        undelivered = {"Fn::GetAtt": [operations.UNDELIVERED, "Arn"]}
        props["Events"] = {
            "Schedule": {
                "Type": "Schedule",
                "Properties": {
                    "Schedule": f.trigger.schedule,
                    "DeadLetterConfig": {"Arn": undelivered},
                    "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
                },
            }
        }
        # A run that still fails after Lambda's two retries is recorded (with its error) in the undelivered queue.
        props["EventInvokeConfig"] = {
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": undelivered}},
        }
        skips.append(("CKV_AWS_116", "failed runs go to its on-failure destination, which keeps the error too"))
    if f.trigger.kind == "api":
        skips.append(("CKV_AWS_116", "invoked synchronously by API Gateway: the caller gets the error, nothing waits"))
    return {
        "Type": "AWS::Serverless::Function",
        "DependsOn": [f"{function_id(f)}LogGroup"],
        "Metadata": skip(*skips),
        "Properties": props,
    }


def _api(stack: Stack) -> dict[str, Any]:
    from chalice.deploy.swagger import CFNSwaggerGenerator

    api_fn = next(f for f in stack.functions if f.trigger.kind == "api")
    app = importlib.import_module(f"services.{api_fn.service}.app").app
    swagger = _with_authorizer(CFNSwaggerGenerator().generate_swagger(app))
    return {
        "UserPool": {
            "Type": "AWS::Cognito::UserPool",
            "Properties": {
                "UserPoolName": _sub("finview-${Stage}-users"),
                "UsernameAttributes": ["email"],
                "AutoVerifiedAttributes": ["email"],
                "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
                "MfaConfiguration": "OPTIONAL",
                "EnabledMfas": ["SOFTWARE_TOKEN_MFA"],
                "Policies": {
                    "PasswordPolicy": {
                        "MinimumLength": 12,
                        "RequireNumbers": True,
                        "RequireSymbols": True,
                        "RequireUppercase": True,
                        "RequireLowercase": True,
                    }
                },
                # The identity the contacts service reads (services/contacts/identity.py).
                "Schema": [
                    {"Name": "role", "AttributeDataType": "String", "Mutable": True},
                    {"Name": "client_id", "AttributeDataType": "String", "Mutable": True},
                ],
            },
        },
        "UserPoolClient": {
            "Type": "AWS::Cognito::UserPoolClient",
            "Properties": {
                "UserPoolId": {"Ref": "UserPool"},
                "GenerateSecret": False,
                "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                "ReadAttributes": ["email", "custom:role", "custom:client_id"],
                "WriteAttributes": ["email"],
            },
        },
        "ContactsApi": {
            "Type": "AWS::Serverless::Api",
            "DependsOn": ["ApiGatewayAccount"],
            "Metadata": skip(
                ("CKV_AWS_120", "answers are per user and hold personal data: a cache could serve them to another")
            ),
            "Properties": {
                "StageName": "api",
                "DefinitionBody": swagger,
                "TracingEnabled": True,
                "AccessLogSetting": {
                    "DestinationArn": {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]},
                    "Format": json.dumps(API_ACCESS_LOG, separators=(",", ":")),
                },
            },
        },
        # API Gateway writes access logs with the account's (per region) CloudWatch role: set it to ours.
        "ApiGatewayLogsRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "apigateway.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "ManagedPolicyArns": [
                    _sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")
                ],
            },
        },
        "ApiGatewayAccount": {
            "Type": "AWS::ApiGateway::Account",
            "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]}},
        },
        "ApiAccessLogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Metadata": skip(LOG_GROUP_KEY),
            "Properties": {
                "LogGroupName": _sub("/finview/${Stage}/api-access"),
                "RetentionInDays": operations.LOG_RETENTION_DAYS,
            },
        },
        "APIHandlerInvokePermission": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "FunctionName": {"Ref": "APIHandler"},
                "Action": "lambda:InvokeFunction",
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": _sub(
                    "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${ContactsApi}/*"
                ),
            },
        },
    }


# One JSON line per request: who (the user pool's subject, never the token), what, how it ended.
API_ACCESS_LOG = {
    "requestId": "$context.requestId",
    "time": "$context.requestTime",
    "method": "$context.httpMethod",
    "path": "$context.resourcePath",
    "status": "$context.status",
    "latencyMs": "$context.responseLatency",
    "user": "$context.authorizer.claims.sub",
    "error": "$context.error.message",
}
PUBLIC_PATHS = {"/openapi.json"}


def _with_authorizer(swagger: dict[str, Any]) -> dict[str, Any]:
    """Every route but the public ones requires a Cognito user-pool token; its claims carry the identity.

    Users may only be created by an administrator (AllowAdminCreateUserOnly); ``custom:role`` and
    ``custom:client_id`` are writable by administrators only (not in the client's WriteAttributes).
    """
    swagger.setdefault("securityDefinitions", {})["CognitoAuthorizer"] = {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "x-amazon-apigateway-authtype": "cognito_user_pools",
        "x-amazon-apigateway-authorizer": {
            "type": "cognito_user_pools",
            "providerARNs": [{"Fn::GetAtt": ["UserPool", "Arn"]}],
        },
    }
    for path, methods in swagger["paths"].items():
        if path in PUBLIC_PATHS:
            continue
        for method, operation in methods.items():
            if method != "options":
                operation["security"] = [{"CognitoAuthorizer": []}]
    return swagger


def build(out_dir: Path, stack: Stack = STACK) -> Path:
    """Write the template and one code folder per service; returns the template's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for service in sorted({f.service for f in stack.functions}):
        code = out_dir / service
        if code.exists():
            shutil.rmtree(code)
        # Sources only: an extension compiled here is built for this machine, not for Lambda (infra/compiled.py).
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".chalice", "*.so", "_core.json")
        (code / "services").mkdir(parents=True)
        shutil.copy(ROOT / "services" / service / "app.py", code / "app.py")
        shutil.copy(ROOT / "services" / "__init__.py", code / "services" / "__init__.py")
        shutil.copytree(ROOT / "services" / service, code / "services" / service, ignore=ignore)
        shutil.copytree(ROOT / "shared", code / "shared", ignore=ignore)
        (code / "requirements.txt").write_text("\n".join(runtime_requirements()) + "\n")
    path = out_dir / "template.json"
    path.write_text(json.dumps(render(stack), indent=1, sort_keys=False, default=str) + "\n")
    return path
