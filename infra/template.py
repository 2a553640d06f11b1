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

from infra.definition import ALL_EVENTS_PATTERN, STACK, Bucket, Function, Queue, Ref, Stack, Table

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
            "RetentionDays": 90,
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
                "Targets": [{"Id": "queue", "Arn": {"Fn::GetAtt": [queue_id(q), "Arn"]}}],
            },
        }
        resources[f"{_cfn(rule.logical)}QueuePolicy"] = _queue_policy(
            q, "events.amazonaws.com", {"Fn::GetAtt": [rid, "Arn"]}
        )
    for b in stack.buckets:
        resources[bucket_id(b)] = _bucket(b, stack)
        if b.notify_queue:
            q = stack.queue(b.notify_queue)
            arn = _sub(
                f"arn:${{AWS::Partition}}:s3:::finview-${{Stage}}-{b.logical}-${{AWS::AccountId}}-${{AWS::Region}}"
            )
            resources[f"{_cfn(b.logical)}NotificationPolicy"] = _queue_policy(q, "s3.amazonaws.com", arn)
    for f in stack.functions:
        resources[function_id(f)] = _function(f, stack)
    resources.update(_api(stack))
    resources.update(_dlq_alarms(stack))
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": "FinView: contacts, imports, enrichment and notifications services",
        "Parameters": {
            "Stage": {"Type": "String", "Default": "prod", "AllowedPattern": "[a-z0-9-]+"},
            **{
                p.name: {"Type": "String", "Default": p.default, "Description": p.description} for p in stack.parameters
            },
            "LogLevel": {"Type": "String", "Default": "INFO", "AllowedValues": ["DEBUG", "INFO", "WARNING"]},
        },
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
            "UserPoolId": {"Value": {"Ref": "UserPool"}},
            "UserPoolClientId": {"Value": {"Ref": "UserPoolClient"}},
        },
    }


def _table(t: Table) -> dict[str, Any]:
    attrs = sorted({t.pk, t.sk} | {a for i in t.indexes for a in (i.pk, i.sk)})
    props: dict[str, Any] = {
        "TableName": _sub(f"finview-${{Stage}}-{t.logical}"),
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in attrs],
        "KeySchema": [{"AttributeName": t.pk, "KeyType": "HASH"}, {"AttributeName": t.sk, "KeyType": "RANGE"}],
        "TimeToLiveSpecification": {"AttributeName": t.ttl_attribute, "Enabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
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
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": props,
    }


def _queue(q: Queue) -> dict[str, Any]:
    dlq = f"{_cfn(q.logical)}Dlq"
    return {
        dlq: {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": _sub(f"finview-${{Stage}}-{q.logical}-dlq"),
                "MessageRetentionPeriod": q.dlq_retention_seconds,
                "SqsManagedSseEnabled": True,
            },
        },
        queue_id(q): {
            "Type": "AWS::SQS::Queue",
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


def _bucket(b: Bucket, stack: Stack) -> dict[str, Any]:
    props: dict[str, Any] = {
        "BucketName": bucket_name(b),
        "VersioningConfiguration": {"Status": "Enabled"},
        "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        },
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
                {"AllowedMethods": ["GET", "PUT"], "AllowedOrigins": ["*"], "AllowedHeaders": ["*"], "MaxAge": 3600}
            ]
        }
    return resource


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
    return {"Ref": value.logical}


def _policies(f: Function, stack: Stack) -> list[Any]:
    policies: list[Any] = [{"EventBridgePutEventsPolicy": {"EventBusName": {"Ref": "EventBus"}}}]
    for t in stack.tables:
        if t.owner == f.service:
            policies.append({"DynamoDBCrudPolicy": {"TableName": {"Ref": table_id(t)}}})
    for b in stack.buckets:
        if b.owner == f.service or (f.service == "imports" and b.notify_queue):
            policies.append({"S3CrudPolicy": {"BucketName": {"Ref": bucket_id(b)}}})
    if f.continues_on_own_queue and f.trigger.queue:
        q = stack.queue(f.trigger.queue)
        policies.append({"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": [queue_id(q), "QueueName"]}}})
    if f.service == "notifications":
        policies.append({"SESCrudPolicy": {"IdentityName": {"Ref": "SenderEmail"}}})
        # SMS go straight to phone numbers (no topic), which IAM can only express as Resource "*".
        policies.append({"Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}]})
    return policies


def _function(f: Function, stack: Stack) -> dict[str, Any]:
    props: dict[str, Any] = {
        "CodeUri": f.service,
        "Handler": f"app.{f.handler}",
        "Timeout": f.timeout,
        "MemorySize": f.memory,
        "Environment": {"Variables": _env_refs(f, stack)},
        "Policies": _policies(f, stack),
    }
    if f.trigger.kind == "sqs":
        q = stack.queue(f.trigger.queue or "")
        props["Events"] = {
            "Queue": {
                "Type": "SQS",
                "Properties": {
                    "Queue": {"Fn::GetAtt": [queue_id(q), "Arn"]},
                    "BatchSize": f.trigger.batch_size,
                    "FunctionResponseTypes": ["ReportBatchItemFailures"],
                },
            }
        }
    elif f.trigger.kind == "schedule":
        props["Events"] = {"Schedule": {"Type": "Schedule", "Properties": {"Schedule": f.trigger.schedule}}}
    return {"Type": "AWS::Serverless::Function", "Properties": props}


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
            "Properties": {"StageName": "api", "DefinitionBody": swagger, "TracingEnabled": True},
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


def _dlq_alarms(stack: Stack) -> dict[str, Any]:
    """A message in any DLQ is an event a consumer could not handle: someone must look at it."""
    return {
        f"{_cfn(q.logical)}DlqAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": _sub(f"finview-${{Stage}}: messages in the {q.logical} DLQ"),
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [f"{_cfn(q.logical)}Dlq", "QueueName"]}}],
                "Statistic": "Maximum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
            },
        }
        for q in stack.queues
    }


def build(out_dir: Path, stack: Stack = STACK) -> Path:
    """Write the template and one code folder per service; returns the template's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for service in sorted({f.service for f in stack.functions}):
        code = out_dir / service
        if code.exists():
            shutil.rmtree(code)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".chalice")
        (code / "services").mkdir(parents=True)
        shutil.copy(ROOT / "services" / service / "app.py", code / "app.py")
        shutil.copy(ROOT / "services" / "__init__.py", code / "services" / "__init__.py")
        shutil.copytree(ROOT / "services" / service, code / "services" / service, ignore=ignore)
        shutil.copytree(ROOT / "shared", code / "shared", ignore=ignore)
        (code / "requirements.txt").write_text("\n".join(runtime_requirements()) + "\n")
    path = out_dir / "template.json"
    path.write_text(json.dumps(render(stack), indent=1, sort_keys=False, default=str) + "\n")
    return path
