"""infra/ renders one deployable SAM template from the single definition; cfn-lint validates it offline."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.definition import STACK
from infra.template import bucket_id, build, function_id, queue_id, render

CFN_LINT = str(Path(sys.executable).parent / "cfn-lint")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("build"))


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CFN_LINT, str(path)], capture_output=True, text=True, timeout=120)


def test_template_passes_cfn_lint(built: Path) -> None:
    result = _lint(built)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_does_catch_a_broken_template(built: Path, tmp_path: Path) -> None:
    template = json.loads(built.read_text())
    template["Resources"]["ContactsTable"]["Properties"]["BillingMode"] = "FREE"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(template))
    assert _lint(bad).returncode != 0


def test_code_folders_hold_the_app_and_the_packages_it_imports(built: Path) -> None:
    for service in ("contacts", "imports", "enrichment", "notifications"):
        code = built.parent / service
        assert (code / "app.py").read_text() == (Path("services") / service / "app.py").read_text()
        assert (code / "services" / service / "handlers.py").exists()
        assert (code / "shared" / "events.py").exists()
        assert "aws-lambda-powertools" in (code / "requirements.txt").read_text()
        # sources only: an import core compiled on this machine (make core) is no binary for Lambda's platform
        assert not [p for p in code.rglob("*") if p.suffix in (".so", ".pyd") or p.name == "_core.json"]


def test_every_consumer_reads_its_queue_with_partial_batch_failures_and_every_queue_has_a_dlq() -> None:
    resources: dict[str, Any] = render()["Resources"]
    for fn in STACK.functions:
        props = resources[function_id(fn)]["Properties"]
        assert props["Handler"] == f"app.{fn.handler}"
        if fn.trigger.kind == "sqs":
            sqs = props["Events"]["Queue"]["Properties"]
            assert sqs["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
            assert sqs["Queue"] == {"Fn::GetAtt": [queue_id(STACK.queue(fn.trigger.queue or "")), "Arn"]}
    for q in STACK.queues:
        redrive = resources[queue_id(q)]["Properties"]["RedrivePolicy"]
        assert redrive["maxReceiveCount"] == q.max_receive_count
    scheduled = [r for r in resources.values() if "Schedule" in r.get("Properties", {}).get("Events", {})]
    assert len(scheduled) == sum(f.trigger.kind == "schedule" for f in STACK.functions) >= 1


def test_bus_consumers_get_batches_that_fill_within_a_window_their_queues_visibility_covers() -> None:
    """Set-at-a-time consumers need big batches: 100 records gathered for at most 1 s. AWS takes a BatchSize above 10
    only with a batching window, and advises a visibility timeout of 6 x the function's timeout plus the window."""
    resources: dict[str, Any] = render()["Resources"]
    inboxes = [f for f in STACK.functions if f.trigger.kind == "sqs" and (f.trigger.queue or "").endswith("-inbox")]
    assert {f.service for f in inboxes} == {"contacts", "imports", "enrichment", "notifications"}
    for fn in STACK.functions:
        if fn.trigger.kind != "sqs":
            continue
        sqs = resources[function_id(fn)]["Properties"]["Events"]["Queue"]["Properties"]
        window = sqs["MaximumBatchingWindowInSeconds"]
        if fn in inboxes:
            assert (sqs["BatchSize"], window) == (100, 1), fn.logical
        assert sqs["BatchSize"] <= 10 or window >= 1, fn.logical
        queue = resources[queue_id(STACK.queue(fn.trigger.queue or ""))]["Properties"]
        assert queue["VisibilityTimeout"] >= 6 * fn.timeout + window, fn.logical


def test_consumers_of_an_imports_v2s_of_many_get_minutes_and_a_full_vcpu() -> None:
    """A bus consumer's batch is up to 100 records, and an import's v2s of many carry up to 50 case files, cases,
    snapshots or checks each: up to 5,000 entities an invocation, for each consumer of them (not 30 s and 512 MB)."""
    import shared.events as ev

    many = {ev.CaseFileImportedV2, ev.CasesOpenedV2, ev.CaseOwnersContactsChangedV2, ev.ContactPointsCheckedV2}
    queues = {rule.queue for rule in STACK.rules if many & set(rule.events)}
    assert queues == {"contacts-inbox", "enrichment-inbox"}
    for fn in STACK.functions:
        if fn.trigger.kind == "sqs" and fn.trigger.queue in queues:
            assert (fn.timeout, fn.memory) == (300, 1769), fn.logical


def test_functions_only_get_their_own_services_tables() -> None:
    resources = render()["Resources"]
    for fn in STACK.functions:
        env = resources[function_id(fn)]["Properties"]["Environment"]["Variables"]
        tables = {k for k in env if k.endswith("_TABLE")}
        assert tables == {t.env_var for t in STACK.tables if t.owner == fn.service}


def test_api_definition_has_every_chalice_route() -> None:
    from services.contacts.app import app

    swagger = render()["Resources"]["ContactsApi"]["Properties"]["DefinitionBody"]
    for path, methods in app.routes.items():
        for method in methods:
            assert method.lower() in swagger["paths"][path], f"{method} {path} missing from the API"


def test_chalice_apps_wire_exactly_the_functions_the_definition_declares() -> None:
    for service in ("contacts", "imports", "enrichment", "notifications"):
        app = importlib.import_module(f"services.{service}.app").app
        declared = {f.handler: f for f in STACK.functions if f.service == service and f.trigger.kind != "api"}
        wired = {s.name: s for s in app.event_sources}
        assert set(wired) == set(declared), service
        for name, fn in declared.items():
            source = wired[name]
            if fn.trigger.kind == "sqs":
                assert source.queue.endswith(fn.trigger.queue or "?"), (service, name)
                assert source.batch_size == fn.trigger.batch_size
                assert source.maximum_batching_window_in_seconds == fn.trigger.batching_window
            else:
                expression = source.schedule_expression
                text = expression if isinstance(expression, str) else expression.to_string()
                assert text == fn.trigger.schedule, (service, name)


def test_every_route_but_the_public_ones_requires_the_user_pool_authorizer() -> None:
    from infra.template import PUBLIC_PATHS

    resources = render()["Resources"]
    swagger = resources["ContactsApi"]["Properties"]["DefinitionBody"]
    assert resources["UserPool"]["Type"] == "AWS::Cognito::UserPool"
    checked = 0
    for path, methods in swagger["paths"].items():
        for method, operation in methods.items():
            if method == "options" or path in PUBLIC_PATHS:
                continue
            assert operation.get("security") == [{"CognitoAuthorizer": []}], f"{method} {path}"
            checked += 1
    assert checked >= 5


def _alarms(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: r["Properties"] for k, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def test_every_alarm_tells_the_alerts_topic_which_mails_the_alert_address() -> None:
    template = render()
    resources = template["Resources"]
    alarms = _alarms(resources)
    assert len(alarms) >= 20
    for name, alarm in alarms.items():
        # Before: the DLQ alarms had no AlarmActions, so nobody heard of them.
        assert alarm["AlarmActions"] == [{"Ref": "AlertsTopic"}], name
        assert alarm["OKActions"] == [{"Ref": "AlertsTopic"}], name
    subscription = resources["AlertsSubscription"]["Properties"]
    assert subscription == {"TopicArn": {"Ref": "AlertsTopic"}, "Protocol": "email", "Endpoint": {"Ref": "AlertEmail"}}
    assert "Default" not in template["Parameters"]["AlertEmail"]  # an operator must say who is told


def _watched(alarms: dict[str, dict[str, Any]], metric: str) -> set[str]:
    out = set()
    for alarm in alarms.values():
        if alarm["MetricName"] == metric:
            value = alarm["Dimensions"][0]["Value"]
            out.add(value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0])
    return out


def test_alarms_watch_every_dlq_every_function_every_queue_and_stuck_imports() -> None:
    resources = render()["Resources"]
    alarms = _alarms(resources)
    queues = {queue_id(q) for q in STACK.queues}
    dlqs = {n for n, r in resources.items() if r["Type"] == "AWS::SQS::Queue" and n not in queues}
    assert _watched(alarms, "ApproximateNumberOfMessagesVisible") == dlqs  # the DLQs and the undelivered queue
    assert _watched(alarms, "ApproximateAgeOfOldestMessage") == queues
    functions = {function_id(f) for f in STACK.functions}
    assert _watched(alarms, "Errors") == functions
    assert _watched(alarms, "Throttles") == functions
    stuck = [a for a in alarms.values() if a["MetricName"] == "StuckImports"]
    assert len(stuck) == 1 and stuck[0]["Namespace"] == "FinView"


def test_scheduled_runs_and_bus_rule_targets_have_somewhere_to_fail_to() -> None:
    resources = render()["Resources"]
    undelivered = {"Fn::GetAtt": ["UndeliveredQueue", "Arn"]}
    scheduled = [f for f in STACK.functions if f.trigger.kind == "schedule"]
    assert scheduled
    for fn in scheduled:
        props = resources[function_id(fn)]["Properties"]
        assert props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"] == undelivered
        assert props["Events"]["Schedule"]["Properties"]["DeadLetterConfig"]["Arn"] == undelivered
    rules = [n for n, r in resources.items() if r["Type"] == "AWS::Events::Rule"]
    assert len(rules) == len(STACK.rules)
    for name in rules:
        for target in resources[name]["Properties"]["Targets"]:
            assert target["DeadLetterConfig"] == {"Arn": undelivered}, name
    statement = resources["UndeliveredQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    schedule_rules = [f"{function_id(f)}Schedule" for f in scheduled]  # the rules SAM makes for the schedules
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == [
        {"Fn::GetAtt": [n, "Arn"]} for n in rules + schedule_rules
    ]


def test_every_function_has_a_concurrency_limit_sized_from_its_tables_capacity() -> None:
    from infra import capacity
    from infra.template import concurrency_parameter

    template = render()
    for fn in STACK.functions:
        props = template["Resources"][function_id(fn)]["Properties"]
        ref = {"Ref": concurrency_parameter(fn)}
        if fn.trigger.kind == "sqs":
            assert props["Events"]["Queue"]["Properties"]["ScalingConfig"] == {"MaximumConcurrency": ref}
        else:
            assert props["ReservedConcurrentExecutions"] == ref
        parameter = template["Parameters"][concurrency_parameter(fn)]
        assert parameter["Default"] == parameter["MaxValue"] == capacity.concurrency(fn)
    # With every function at its limit no table gets more writes than a new on-demand table serves at once, and
    # the API keeps its share: a huge drop cannot take the contacts table from it.
    assert max(capacity.table_use().values()) <= capacity.TABLE_WRITE_UNITS
    api = next(f for f in STACK.functions if f.trigger.kind == "api")
    others = sum(
        capacity.concurrency(f) * capacity.plan(f).writes_per_copy
        for f in STACK.functions
        if f.service == api.service and f is not api
    )
    assert others + capacity.concurrency(api) * capacity.plan(api).writes_per_copy <= capacity.TABLE_WRITE_UNITS
    assert capacity.concurrency(api) >= 10


def test_buckets_take_tls_only_expire_old_versions_and_rejected_rows_and_allow_only_the_given_origins() -> None:
    from infra import operations
    from services.imports import report

    resources = render()["Resources"]
    for b in STACK.buckets:
        bucket = resources[bucket_id(b)]["Properties"]
        statement = resources[f"{bucket_id(b)}Policy"]["Properties"]["PolicyDocument"]["Statement"]
        tls = next(s for s in statement if s.get("Sid") == "TlsOnly")
        assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
        assert rules["old-versions-expire"]["NoncurrentVersionExpiration"]["NoncurrentDays"] > 0
        if b.cors:
            cors = bucket["CorsConfiguration"]["CorsRules"]
            assert [r["AllowedOrigins"] for r in cors] == [{"Ref": "AllowedOrigins"}]  # was "*"
    exports = resources["ExportsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert next(r for r in exports if r["Id"] == "objects-expire")["ExpirationInDays"] == 2  # the link lasts 24 h
    dropped = resources["DropsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert next(r for r in dropped if r["Id"] == "objects-expire")["ExpirationInDays"] == 21  # every debtor's row
    drops = resources["DropsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    rejected = next(r for r in drops if r["Id"] == "rejected-rows-expire")
    key, value = operations.REJECTED_ROWS_TAG
    assert rejected["TagFilters"] == [{"Key": key, "Value": value}]
    assert f"{key}={value}" == report.REJECTED_TAGGING  # the tag the imports service puts on those files


def test_copies_that_only_expire_are_gone_within_the_month_an_erasure_is_answered_in() -> None:
    """GDPR Art. 12(3), 17: a person erased today leaves copies only where data expires on its own; with the days
    AWS takes to act on an expiry, each is gone within the answer window, read from the template itself."""
    from infra.definition import ACCESS_LOG_DELIVERY_DAYS, ANSWER_WINDOW_DAYS, EXPIRY_LAG_DAYS, IMPORT_FILE_DAYS
    from infra.template import ACCESS_LOGS
    from shared import expiry

    day = 24 * 3600
    resources = render()["Resources"]
    queues = {k: r["Properties"] for k, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    assert len(queues) >= 2 * len(STACK.queues) + 1  # each queue, its DLQ and the undelivered queue
    # SQS counts a message's retention from its first enqueue, also in the DLQ: the longest one is the bound.
    longest_queue_days = max(q["MessageRetentionPeriod"] for q in queues.values()) / day
    (archive,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Events::Archive"]
    lifetimes: dict[str, float] = {
        "queued event": longest_queue_days,
        # archived, then replayed into a queue where it may wait again
        "archived event, replayed": archive["RetentionDays"] + EXPIRY_LAG_DAYS + longest_queue_days,
        **{
            f"{kind} (DynamoDB TTL)": expiry.CLASSES[kind].total_seconds() / day + EXPIRY_LAG_DAYS
            for kind in expiry.ONLY_EXPIRE
        },
    }
    for key, table in ((k, r["Properties"]) for k, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table"):
        lifetimes[f"{key} backups"] = table["PointInTimeRecoverySpecification"]["RecoveryPeriodInDays"]
    for b in STACK.buckets:
        for rule in resources[bucket_id(b)]["Properties"]["LifecycleConfiguration"]["Rules"]:
            if "ExpirationInDays" in rule:  # then deleted for good as an old version
                after = rule.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays", 0)
                assert after == 1, (b.logical, rule["Id"])
                lifetimes[f"{b.logical}: {rule['Id']}"] = rule["ExpirationInDays"] + after + EXPIRY_LAG_DAYS
    # Server access logs name each object touched (an attachment's key holds its file name), the erasure's DELETE
    # included: written up to a day after the access, then kept until their lifecycle rule deletes them.
    (logs,) = resources[ACCESS_LOGS]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert logs["NoncurrentVersionExpiration"]["NoncurrentDays"] == 1
    lifetimes["server access logs"] = ACCESS_LOG_DELIVERY_DAYS + logs["ExpirationInDays"] + 1 + EXPIRY_LAG_DAYS
    assert {"drops: objects-expire", "drops: rejected-rows-expire", "exports: objects-expire"} <= lifetimes.keys()
    too_long = {copy: days for copy, days in lifetimes.items() if days > ANSWER_WINDOW_DAYS}
    assert too_long == {}
    assert expiry.CLASSES["import_rows"].days == IMPORT_FILE_DAYS  # the rows go with their file


def test_every_function_has_its_own_log_group_with_a_retention() -> None:
    resources = render()["Resources"]
    for fn in STACK.functions:
        resource = resources[function_id(fn)]
        group = resources[f"{function_id(fn)}LogGroup"]
        assert resource["DependsOn"] == [f"{function_id(fn)}LogGroup"]
        name = resource["Properties"]["FunctionName"]["Fn::Sub"]
        assert group["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{name}"}
        assert 1 <= group["Properties"]["RetentionInDays"] <= 365


def _grants_as_text(statements: list[dict[str, Any]]) -> set[str]:
    """'Allow dynamodb:GetItem on ContactsTable' for each action and resource of each statement."""
    out = set()
    for st in statements:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        for action in actions:
            for resource in resources:
                if isinstance(resource, dict) and "Fn::GetAtt" in resource:
                    label = resource["Fn::GetAtt"][0]
                elif isinstance(resource, dict) and "Fn::If" in resource:
                    label = resource["Fn::If"][1]["Fn::Sub"].split("identity/")[-1]
                elif isinstance(resource, dict):
                    sub = resource["Fn::Sub"]
                    text = sub[0] if isinstance(sub, list) else sub
                    label = text.split("identity/")[-1] if "identity/" in text else text.split(":::")[-1]
                    label = label.replace("arn:${AWS::Partition}:", "")
                else:
                    label = resource
                out.add(f"{st['Effect']} {action} on {label}")
    return out


def _table_grants(table: str, *actions: str, index: bool = True) -> set[str]:
    grants = {f"Allow dynamodb:{a} on {table}" for a in actions}
    return grants | ({f"Allow dynamodb:Query on ${{{table}.Arn}}/index/*"} if index else set())


READ_WRITE = ("GetItem", "Query", "ConditionCheckItem", "PutItem", "UpdateItem", "DeleteItem")
# Idempotency records and the outbox flush of every bus consumer (shared.consumer).
CONSUMER = ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchWriteItem")
PUBLISH = {"Allow events:PutEvents on EventBus"}
PINNED_POLICIES = {
    # BatchGetItem: the case list reads its owners' restriction flags (GDPR Art. 18).
    "APIHandler": _table_grants("ContactsTable", *READ_WRITE, "BatchWriteItem", "BatchGetItem")
    | PUBLISH
    | {f"Allow s3:{a} on ${{AttachmentsBucket}}/*" for a in ("GetObject", "PutObject", "DeleteObject")}
    | {"Allow s3:GetObject on ${ExportsBucket}/*"}  # presigns the link to a data subject's export
    | {"Allow ses:GetIdentityVerificationAttributes on *"},
    # A data subject's export: reads the attachments' files, writes the zip.
    "ContactsOnBusEvents": _table_grants("ContactsTable", *CONSUMER, "ConditionCheckItem", "BatchGetItem")
    | PUBLISH
    | {"Allow s3:GetObject on ${AttachmentsBucket}/*", "Allow s3:PutObject on ${ExportsBucket}/*"},
    "ContactsReleaseDeferredContacts": _table_grants("ContactsTable", *READ_WRITE, "BatchWriteItem") | PUBLISH,
    # Erasure (GDPR Art. 17): the person's files and earlier exports deleted in every version; the storage-limitation
    # sweep (Art. 5(1)(e)) reads the table in pages.
    "ContactsEraseDue": _table_grants("ContactsTable", *READ_WRITE, "BatchWriteItem")
    | PUBLISH
    | {"Allow dynamodb:Scan on ContactsTable"}
    | {
        f"Allow s3:{a} on ${{{b}}}/*"
        for a in ("DeleteObject", "DeleteObjectVersion")
        for b in ("AttachmentsBucket", "ExportsBucket")
    }
    | {"Allow s3:ListBucketVersions on ${AttachmentsBucket}", "Allow s3:ListBucketVersions on ${ExportsBucket}"},
    "ContactsOnReminderSchedule": _table_grants("ContactsTable", *READ_WRITE, "BatchWriteItem", "BatchGetItem")
    | PUBLISH,
    # The outbox sweeps: what dead writers left, published and deleted.
    "ContactsPublishOutbox": _table_grants("ContactsTable", "Query", "BatchWriteItem", index=False) | PUBLISH,
    "EnrichmentPublishOutbox": _table_grants("EnrichmentTable", "Query", "BatchWriteItem", index=False) | PUBLISH,
    "ImportsOnFileDropped": _table_grants("ImportsTable", *READ_WRITE, "BatchGetItem", "BatchWriteItem")
    | PUBLISH
    | {
        f"Allow s3:{a} on ${{DropsBucket}}/*"
        for a in ("GetObject", "GetObjectVersion", "PutObject", "PutObjectTagging")
    }
    | {"Allow sqs:SendMessage on ImportsDropsQueue"},
    "ImportsCheckStuckImports": {f"Allow dynamodb:{a} on ImportsTable" for a in ("GetItem", "Query", "DeleteItem")},
    # The orphaned-imports sweeper: reads the active jobs, sends continuations; writes nothing.
    "ImportsResumeOrphanedImports": {f"Allow dynamodb:{a} on ImportsTable" for a in ("GetItem", "Query")}
    | {"Allow sqs:SendMessage on ImportsDropsQueue"},
    # No drop bucket, no queue, no index: imports' copy of client settings, and a data subject's match profile.
    "ImportsOnBusEvents": _table_grants("ImportsTable", *CONSUMER, "BatchGetItem", index=False) | PUBLISH,
    "EnrichmentOnBusEvents": _table_grants("EnrichmentTable", *CONSUMER, "BatchGetItem") | PUBLISH,
    "EnrichmentOnSchedule": _table_grants("EnrichmentTable", *READ_WRITE, "BatchGetItem", "BatchWriteItem") | PUBLISH,
    "NotificationsOnBusEvents": _table_grants("NotificationsTable", *CONSUMER, "ConditionCheckItem")
    | PUBLISH
    | {
        "Allow ses:SendEmail on ${SenderEmail}",
        "Allow ses:SendEmail on ${Domain}",
        "Allow ses:SendEmail on ${SenderDomain}",
        "Allow ses:SendEmail on ses:${AWS::Region}:${AWS::AccountId}:configuration-set/${SesConfigurationSet}",
        "Allow s3:PutObject on ${LettersBucket}/*",
        "Allow s3:DeleteObject on ${LettersBucket}/*",
        "Allow s3:DeleteObjectVersion on ${LettersBucket}/*",
        "Allow s3:ListBucketVersions on ${LettersBucket}",
        "Allow sqs:SendMessage on CallsOutboxQueue",
        "Allow sms-voice:SendTextMessage on SmsConfigurationSet",
        # SMS go to phone numbers, which IAM names "*" only; every topic is denied (the fallback without End User
        # Messaging: the local stack).
        "Allow sns:Publish on *",
        "Deny sns:Publish on sns:*:*:*",
    },
    "NotificationsOnProviderOutcomes": _table_grants(
        "NotificationsTable", *READ_WRITE, "BatchGetItem", "BatchWriteItem"
    )
    | PUBLISH,
}


def test_each_function_gets_only_the_pinned_actions_on_its_own_resources() -> None:
    resources = render()["Resources"]
    assert set(PINNED_POLICIES) == {function_id(f) for f in STACK.functions}
    for fn in STACK.functions:
        policies = resources[function_id(fn)]["Properties"]["Policies"]
        # Before: SAM's S3CrudPolicy and SESCrudPolicy (with ses:VerifyEmailIdentity), sns:Publish on "*", the drop
        # bucket for every imports function.
        assert [set(p) for p in policies] == [{"Statement"}], function_id(fn)
        assert _grants_as_text(policies[0]["Statement"]) == PINNED_POLICIES[function_id(fn)], function_id(fn)


def test_ses_events_reach_notifications_outcomes_queue_through_the_feedback_topic() -> None:
    resources = render()["Resources"]
    destination = resources["SesConfigurationSetFeedback"]["Properties"]["EventDestination"]
    assert destination["SnsDestination"] == {"TopicARN": {"Ref": "DeliveryFeedbackTopic"}}
    assert {"delivery", "bounce", "complaint"} <= set(destination["MatchingEventTypes"])
    subscription = resources["DeliveryFeedbackTopicSubscription"]["Properties"]
    assert subscription["Endpoint"] == {"Fn::GetAtt": [queue_id(STACK.queue("notifications-outcomes")), "Arn"]}
    env = resources[function_id(STACK.function("notifications", "on_bus_events"))]["Properties"]["Environment"]
    assert env["Variables"]["SES_CONFIGURATION_SET"] == {"Ref": "SesConfigurationSet"}


def test_sms_delivery_status_reaches_the_same_queue_through_end_user_messagings_configuration_set() -> None:
    """SNS Publish to a phone number can only log its delivery status to CloudWatch Logs; End User Messaging's
    configuration set sends TEXT_* events to an SNS topic: the feedback topic, which only SES and it may use."""
    resources = render()["Resources"]
    [destination] = resources["SmsConfigurationSet"]["Properties"]["EventDestinations"]
    assert destination["Enabled"] and destination["SnsDestination"] == {"TopicArn": {"Ref": "DeliveryFeedbackTopic"}}
    assert destination["MatchingEventTypes"] == ["TEXT_ALL"]
    [statement] = resources["DeliveryFeedbackTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": ["ses.amazonaws.com", "sms-voice.amazonaws.com"]}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    env = resources[function_id(STACK.function("notifications", "on_bus_events"))]["Properties"]["Environment"]
    assert env["Variables"]["SMS_CONFIGURATION_SET"] == {"Ref": "SmsConfigurationSet"}


def test_code_folders_install_every_package_the_services_import(built: Path) -> None:
    """A package a service imports but its requirements.txt lacks fails the deployed function at import."""
    import ast
    import importlib.metadata
    import re

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    distributions = importlib.metadata.packages_distributions()
    lambda_runtime = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six"}
    first_party = {"finview"}
    for service in ("contacts", "imports", "enrichment", "notifications"):
        requirements = (built.parent / service / "requirements.txt").read_text().splitlines()
        installed = {norm(re.split(r"[\[<>=!~ ;]", r, maxsplit=1)[0]) for r in requirements if r}
        tops: set[str] = set()
        for folder in (Path("services") / service, Path("shared")):
            for path in folder.rglob("*.py"):
                for node in ast.walk(ast.parse(path.read_text())):
                    if isinstance(node, ast.Import):
                        tops.update(a.name.split(".")[0] for a in node.names)
                    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                        tops.add(node.module.split(".")[0])
        needed = {norm(d) for top in tops for d in distributions.get(top, [])} - lambda_runtime - first_party
        assert needed - installed == set(), f"{service}: requirements.txt lacks {sorted(needed - installed)}"


def test_a_v2_of_many_goes_wherever_its_v1_goes() -> None:
    """Several events in one (``shared.events.Members``) reach the same consumers as each of them alone."""
    from shared import events as ev

    for rule in STACK.rules:
        carried = set(rule.events)
        for one, many in ev.MANY.items():
            assert (one in carried) == (many in carried), (rule.logical, many.DETAIL_TYPE)
    assert any(ev.ContactActionsRequestedV2 in r.events for r in STACK.rules)


def test_a_batch_claim_outlasts_the_notifications_consumer_that_holds_it() -> None:
    """A batch of reminder pages (v2 events of up to 50 messages each) may send for minutes: its claims' lease must
    outlast the function's timeout, or a redelivery takes over, and sends again, a message the batch is sending."""
    from services.notifications import message_records

    [consumer] = [f for f in STACK.functions if (f.service, f.handler) == ("notifications", "on_bus_events")]
    assert message_records.CLAIM_LEASE.total_seconds() > consumer.timeout >= 300
