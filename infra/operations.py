"""What an operator needs besides the functions: to hear about every failure, and a place for every failed event.

- One SNS topic, ``finview-<stage>-alerts``, with an e-mail subscription to the ``AlertEmail`` parameter. Every
  alarm notifies it when it goes into ALARM and when it is OK again.
- Alarms: messages in any DLQ; errors and throttles of each function; the age of the oldest message of each queue
  (a consumer that stopped keeping up); imports stuck in ``processing``.
- Failed deliveries have somewhere to go: a bus rule target that cannot be delivered, and a scheduled run that
  failed after Lambda's two retries, land in the ``undelivered`` queue (alarmed like a DLQ).
- Every function's log group exists in the template with a retention, so logs with personal data do not pile up.
"""

from __future__ import annotations

from typing import Any

from infra.definition import IMPORT_FILE_DAYS, Function, Queue

ALERTS = {"Ref": "AlertsTopic"}
UNDELIVERED = "UndeliveredQueue"
LOG_RETENTION_DAYS = 90
# Data protection: replaced or deleted files (old versions) and the rejected-rows files, which repeat debtors' rows,
# are kept for days, not for ever. The imports service tags each rejected-rows file with REJECTED_ROWS_TAG
# (services/imports/report.py) because S3 lifecycle rules cannot select objects by the end of their key.
OLD_VERSION_DAYS = 30
REJECTED_ROWS_DAYS = IMPORT_FILE_DAYS
REJECTED_ROWS_TAG = ("finview-retention", "rejected-rows")
STUCK_IMPORT_MINUTES = 30  # the drop function checkpoints every few minutes; 30 without progress is stuck
# How old a queue's oldest message may get before someone should look: the drops queue holds continuations of
# imports that run up to 15 minutes each; everything else is handled in seconds.
OLDEST_MESSAGE_ALARM_SECONDS = {"imports-drops": 3600}
DEFAULT_OLDEST_MESSAGE_ALARM_SECONDS = 900


def skip(*checks: tuple[str, str]) -> dict[str, Any]:
    """Checkov checks that do not apply to a resource, each with its reason, where checkov reads them."""
    return {"checkov": {"skip": [{"id": check, "comment": reason} for check, reason in checks]}}


SQS_MANAGED_SSE = (
    "CKV_AWS_27",
    "encrypted at rest with SQS-managed SSE; a KMS key would have to admit EventBridge and S3 to work",
)
LOG_GROUP_KEY = ("CKV_AWS_158", "CloudWatch Logs encrypts at rest; the logs expire; a key of ours adds no control")


def _cfn(name: str) -> str:
    return "".join(p.capitalize() for p in name.replace("_", "-").split("-"))


def _sub(pattern: str) -> dict[str, str]:
    return {"Fn::Sub": pattern}


def parameters() -> dict[str, Any]:
    return {
        "AlertEmail": {
            "Type": "String",
            "Description": "who receives the alarms (confirm the subscription e-mail AWS sends after the deploy)",
            "AllowedPattern": r"[^@\s]+@[^@\s]+\.[^@\s]+",
            "ConstraintDescription": "an e-mail address",
        },
    }


def alerts() -> dict[str, Any]:
    return {
        "AlertsTopic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "TopicName": _sub("finview-${Stage}-alerts"),
                "DisplayName": _sub("FinView ${Stage} alerts"),
                "KmsMasterKeyId": {"Ref": "AlertsKey"},
            },
        },
        # CloudWatch may only publish to an encrypted topic whose key lets it: a key of our own, not aws/sns.
        "AlertsKey": {
            "Type": "AWS::KMS::Key",
            "Properties": {
                "Description": _sub("finview-${Stage}: encrypts the alerts topic"),
                "EnableKeyRotation": True,
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "account administers the key",
                            "Effect": "Allow",
                            "Principal": {"AWS": _sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
                            "Action": "kms:*",
                            "Resource": "*",
                        },
                        {
                            "Sid": "alarms publish to the topic",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            "Resource": "*",
                            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                        },
                    ],
                },
            },
        },
        "AlertsSubscription": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {"TopicArn": ALERTS, "Protocol": "email", "Endpoint": {"Ref": "AlertEmail"}},
        },
        "AlertsTopicPolicy": {
            "Type": "AWS::SNS::TopicPolicy",
            "Properties": {
                "Topics": [ALERTS],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Action": "sns:Publish",
                            "Resource": ALERTS,
                            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                        }
                    ],
                },
            },
        },
    }


def alarm(description: str, namespace: str, metric: str, dimensions: list[dict[str, Any]], **overrides: Any) -> Any:
    """An alarm that tells the alerts topic when it fires and when it clears."""
    props: dict[str, Any] = {
        "AlarmDescription": _sub(f"finview-${{Stage}}: {description}"),
        "Namespace": namespace,
        "MetricName": metric,
        "Dimensions": dimensions,
        "Statistic": "Sum",
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": [ALERTS],
        "OKActions": [ALERTS],
    }
    props.update(overrides)
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": props}


def _queue_dims(resource_id: str) -> list[dict[str, Any]]:
    return [{"Name": "QueueName", "Value": {"Fn::GetAtt": [resource_id, "QueueName"]}}]


def queue_alarms(q: Queue, queue_resource: str, dlq_resource: str) -> dict[str, Any]:
    age = OLDEST_MESSAGE_ALARM_SECONDS.get(q.logical, DEFAULT_OLDEST_MESSAGE_ALARM_SECONDS)
    return {
        f"{_cfn(q.logical)}DlqAlarm": alarm(
            f"messages in the {q.logical} DLQ: events its consumer could not handle (redrive after the fix)",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            _queue_dims(dlq_resource),
            Statistic="Maximum",
        ),
        f"{_cfn(q.logical)}AgeAlarm": alarm(
            f"the oldest message of {q.logical} waits over {age} s: its consumer is not keeping up or fails",
            "AWS/SQS",
            "ApproximateAgeOfOldestMessage",
            _queue_dims(queue_resource),
            Statistic="Maximum",
            Threshold=age,
            EvaluationPeriods=2,
        ),
    }


def function_alarms(f: Function, function_resource: str) -> dict[str, Any]:
    dims = [{"Name": "FunctionName", "Value": {"Ref": function_resource}}]
    return {
        f"{function_resource}ErrorsAlarm": alarm(
            f"{f.service} {f.handler} failed (unhandled errors or timeouts)", "AWS/Lambda", "Errors", dims
        ),
        f"{function_resource}ThrottlesAlarm": alarm(
            f"{f.service} {f.handler} was throttled: its concurrency is exhausted", "AWS/Lambda", "Throttles", dims
        ),
    }


def undelivered() -> dict[str, Any]:
    """The queue for failed bus deliveries and failed scheduled runs, and its alarm."""
    return {
        UNDELIVERED: {
            "Type": "AWS::SQS::Queue",
            "Metadata": skip(SQS_MANAGED_SSE),
            "Properties": {
                "QueueName": _sub("finview-${Stage}-undelivered"),
                "MessageRetentionPeriod": 14 * 24 * 3600,
                "SqsManagedSseEnabled": True,
            },
        },
        "UndeliveredAlarm": alarm(
            "a bus event could not be delivered to a queue, or a scheduled run failed: see the undelivered queue",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            _queue_dims(UNDELIVERED),
            Statistic="Maximum",
        ),
    }


def undelivered_policy(rule_resources: list[str]) -> dict[str, Any]:
    """EventBridge may put the events its rules could not deliver into the undelivered queue."""
    return {
        "UndeliveredQueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [{"Ref": UNDELIVERED}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": {"Fn::GetAtt": [UNDELIVERED, "Arn"]},
                            "Condition": {
                                "ArnEquals": {"aws:SourceArn": [{"Fn::GetAtt": [r, "Arn"]} for r in rule_resources]}
                            },
                        }
                    ],
                },
            },
        }
    }


def stuck_imports_alarm() -> dict[str, Any]:
    return {
        "StuckImportsAlarm": alarm(
            f"imports in 'processing' without progress for {STUCK_IMPORT_MINUTES} minutes (see the imports table)",
            "FinView",
            "StuckImports",
            [{"Name": "service", "Value": "imports"}],
            Statistic="Maximum",
        )
    }


def log_group(function_resource: str, function_name: dict[str, str]) -> dict[str, Any]:
    """The function's log group, made before the function (which depends on it) so Lambda does not make one."""
    return {
        f"{function_resource}LogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Metadata": skip(LOG_GROUP_KEY),
            "Properties": {
                "LogGroupName": _sub("/aws/lambda/" + function_name["Fn::Sub"]),
                "RetentionInDays": LOG_RETENTION_DAYS,
            },
        }
    }
