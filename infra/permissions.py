"""Each function's IAM policy: only the actions its code calls, on only the resources it calls them on.

Declared per function, not per service: the imports consumer of bus events never sees the drop bucket, the
contacts consumer never presigns an attachment. The walking-skeleton test records every AWS call each function makes
in a run of the whole local stack and checks it against these grants (tests/aws_calls.py); a unit test pins them.
Lambda's own needs (logs, X-Ray, polling its SQS trigger, its failure destination) are added by SAM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from infra.definition import Function, Stack

ResourceKind = Literal[
    "table",
    "index",
    "bus",
    "objects",
    "bucket",
    "queue",
    "sender",
    "configuration_set",
    "any",
    "sms",
    "sms_configuration_set",
]
# Erasing a file for good: every version of it (versioned buckets keep the old ones), listed on the bucket.
ERASE_FILES = ("s3:DeleteObject", "s3:DeleteObjectVersion")

TABLE_READ = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem")
TABLE_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
BATCH = ("dynamodb:BatchGetItem", "dynamodb:BatchWriteItem")


@dataclass(frozen=True)
class Grant:
    """``actions`` allowed on one resource: ``kind`` and the logical name of the table, bucket or queue."""

    actions: tuple[str, ...]
    kind: ResourceKind
    name: str = ""


def _own_table(service: str, *actions: str, index: bool = True) -> tuple[Grant, ...]:
    grants = [Grant(actions, "table", service)]
    if index:
        grants.append(Grant(("dynamodb:Query",), "index", service))
    return tuple(grants)


PUBLISH = Grant(("events:PutEvents",), "bus")
# Every bus consumer (shared.consumer): its idempotency records, then the outbox rows of the event (shared.outbox):
# a Query, and when rows are there, PutEvents and their deletion in a batch.
CONSUMER = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:BatchWriteItem",
)

# A service's publish_outbox schedule (shared.outbox.sweep): the outbox rows writers left, published and deleted.
SWEEP = ("dynamodb:Query", "dynamodb:BatchWriteItem")

GRANTS: dict[tuple[str, str], tuple[Grant, ...]] = {
    ("contacts", "publish_outbox"): (*_own_table("contacts", *SWEEP, index=False), PUBLISH),
    ("enrichment", "publish_outbox"): (*_own_table("enrichment", *SWEEP, index=False), PUBLISH),
    ("contacts", "app"): (
        # Its records, idempotency keys and outbox rows (flushed: published, then deleted in a batch); the case list
        # reads its owners' restriction flags in a batch (GDPR Art. 18).
        *_own_table("contacts", *TABLE_READ, *TABLE_WRITE, *BATCH),
        PUBLISH,
        # Presigned uploads and downloads act with the function's rights; HeadObject needs GetObject.
        Grant(("s3:GetObject", "s3:PutObject", "s3:DeleteObject"), "objects", "attachments"),
        Grant(("s3:GetObject",), "objects", "exports"),  # the presigned link to a data subject's export
        # A business unit's own sender must be verified in SES before it is accepted.
        Grant(("ses:GetIdentityVerificationAttributes",), "any"),  # an action without resource-level permissions
    ),
    # The contact policy's schedule: asks the gate again for each deferred contact, which records and announces it.
    ("contacts", "release_deferred_contacts"): (
        *_own_table("contacts", *TABLE_READ, *TABLE_WRITE, "dynamodb:BatchWriteItem"),
        PUBLISH,
    ),
    # A batch of message events reads its case messages in one BatchGetItem (the read model, set at a time).
    ("contacts", "on_bus_events"): (
        *_own_table("contacts", *CONSUMER, "dynamodb:ConditionCheckItem", "dynamodb:BatchGetItem"),
        PUBLISH,
        # A data subject's export: the attachments' files read, the zip written (GDPR Art. 15).
        Grant(("s3:GetObject",), "objects", "attachments"),
        Grant(("s3:PutObject",), "objects", "exports"),
    ),
    # The daily payment-plan reminders: reads the plans due, asks the contact policy's gate (a conditional
    # transaction) for each, which records and announces the ContactActionRequested. BatchGetItem: a page's look-up
    # of the claims the schedule wrote before its records were its claims.
    ("contacts", "on_reminder_schedule"): (
        *_own_table("contacts", *TABLE_READ, *TABLE_WRITE, "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem"),
        PUBLISH,
    ),
    # The daily erasure job (GDPR Art. 17): the person's items deleted or stripped, their files and earlier exports
    # deleted in every version, SubjectErasureRequested announced. Scan: the storage-limitation sweep (Art. 5(1)(e))
    # reads the table in pages for the people whose retention has run out.
    ("contacts", "erase_due"): (
        *_own_table("contacts", *TABLE_READ, *TABLE_WRITE, "dynamodb:BatchWriteItem", "dynamodb:Scan"),
        PUBLISH,
        Grant(ERASE_FILES, "objects", "attachments"),
        Grant(("s3:ListBucketVersions",), "bucket", "attachments"),
        Grant(ERASE_FILES, "objects", "exports"),
        Grant(("s3:ListBucketVersions",), "bucket", "exports"),
    ),
    ("imports", "on_file_dropped"): (
        *_own_table("imports", *TABLE_READ, *TABLE_WRITE, *BATCH),
        PUBLISH,
        # Reads the dropped version it was told about; writes the rejected-rows file (tagged for its expiry).
        Grant(("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:PutObjectTagging"), "objects", "drops"),
        Grant(("sqs:SendMessage",), "queue", "imports-drops"),  # a long import's continuation
    ),
    # Reads the active imports' jobs; lets go of the markers of finished ones.
    ("imports", "check_stuck_imports"): (
        Grant(("dynamodb:GetItem", "dynamodb:Query", "dynamodb:DeleteItem"), "table", "imports"),
    ),
    # Reads the active imports' jobs; sends a continuation for each whose worker died.
    ("imports", "resume_orphaned_imports"): (
        Grant(("dynamodb:GetItem", "dynamodb:Query"), "table", "imports"),
        Grant(("sqs:SendMessage",), "queue", "imports-drops"),
    ),
    # Both consumers only keep their service's copy of what clients registered and set: no bucket, no index.
    # A data subject's request reads what matching knows of the person in a batch (GDPR Art. 15).
    ("imports", "on_bus_events"): (*_own_table("imports", *CONSUMER, "dynamodb:BatchGetItem", index=False), PUBLISH),
    # Keeps its copy of clients' settings and case owners' contact snapshots; reads the owners of a case in batches
    # and the sparse "next attempt due" index.
    ("enrichment", "on_bus_events"): (*_own_table("enrichment", *CONSUMER, "dynamodb:BatchGetItem"), PUBLISH),
    ("enrichment", "on_schedule"): (
        *_own_table("enrichment", *TABLE_READ, *TABLE_WRITE, *BATCH),
        PUBLISH,
    ),
    ("notifications", "on_bus_events"): (
        *_own_table("notifications", *CONSUMER, "dynamodb:ConditionCheckItem"),
        PUBLISH,
        # E-mail goes out through the stage's configuration set: IAM checks the identity and the set.
        Grant(("ses:SendEmail",), "sender"),
        Grant(("ses:SendEmail",), "configuration_set"),
        Grant(("sns:Publish",), "sms"),  # the fallback without End User Messaging (the local stack)
        # SMS through End User Messaging with the stage's configuration set (its events report the delivery).
        Grant(("sms-voice:SendTextMessage",), "sms_configuration_set"),
        Grant(("s3:PutObject",), "objects", "letters"),  # one PDF per letter for the print service
        # A data subject's erasure: their letters' PDFs, every version.
        Grant(ERASE_FILES, "objects", "letters"),
        Grant(("s3:ListBucketVersions",), "bucket", "letters"),
        Grant(("sqs:SendMessage",), "queue", "calls-outbox"),  # call tasks for the dialer
    ),
    # SES's and SMS delivery notifications from the outcomes queue (polling is SAM's): the message's record is
    # updated and its outcome announced; a batch's records are read in one BatchGetItem.
    ("notifications", "on_provider_outcomes"): (
        *_own_table("notifications", *TABLE_READ, *TABLE_WRITE, *BATCH),
        PUBLISH,
    ),
}


def grants(f: Function) -> tuple[Grant, ...]:
    try:
        return GRANTS[(f.service, f.handler)]
    except KeyError:
        raise LookupError(
            f"{f.service}.{f.handler} has no IAM grants: declare what its code calls in infra/permissions.py GRANTS"
        ) from None


def statements(f: Function, stack: Stack, ids: Any) -> list[dict[str, Any]]:
    """The IAM statements of ``f``'s grants; ``ids`` is ``infra.template`` (its logical-id helpers)."""
    out: list[dict[str, Any]] = []
    for g in grants(f):
        resource: Any
        if g.kind == "table":
            resource = {"Fn::GetAtt": [ids.table_id(_table(stack, g.name)), "Arn"]}
        elif g.kind == "index":
            resource = {"Fn::Sub": f"${{{ids.table_id(_table(stack, g.name))}.Arn}}/index/*"}
        elif g.kind == "bus":
            resource = {"Fn::GetAtt": ["EventBus", "Arn"]}
        elif g.kind == "objects":
            bucket = next(b for b in stack.buckets if b.logical == g.name)
            resource = {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::${{{ids.bucket_id(bucket)}}}/*"}
        elif g.kind == "bucket":
            bucket = next(b for b in stack.buckets if b.logical == g.name)
            resource = {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::${{{ids.bucket_id(bucket)}}}"}
        elif g.kind == "queue":
            resource = {"Fn::GetAtt": [ids.queue_id(stack.queue(g.name)), "Arn"]}
        elif g.kind == "sender":
            resource = _sender_identities()
        elif g.kind == "configuration_set":
            resource = {"Fn::Sub": SES_CONFIGURATION_SET}
        elif g.kind == "sms_configuration_set":
            resource = {"Fn::GetAtt": ["SmsConfigurationSet", "Arn"]}
        elif g.kind == "any":
            resource = "*"
        else:
            out.extend(_sms_only())
            continue
        out.append({"Effect": "Allow", "Action": list(g.actions), "Resource": resource})
    return out


def _table(stack: Stack, owner: str) -> Any:
    return next(t for t in stack.tables if t.owner == owner)


SES_IDENTITY = "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/"
SES_CONFIGURATION_SET = (
    "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:configuration-set/${SesConfigurationSet}"
)


def _sender_identities() -> Any:
    """Exactly the identities in use: the default sender (verified as an address or through its domain), and the
    domain business units send from, if the deployment names one."""
    sender_domain = {"Fn::Select": [1, {"Fn::Split": ["@", {"Ref": "SenderEmail"}]}]}
    return [
        {"Fn::Sub": SES_IDENTITY + "${SenderEmail}"},
        {"Fn::Sub": [SES_IDENTITY + "${Domain}", {"Domain": sender_domain}]},
        {"Fn::If": ["HasSenderDomain", {"Fn::Sub": SES_IDENTITY + "${SenderDomain}"}, {"Ref": "AWS::NoValue"}]},
    ]


def _sms_only() -> list[dict[str, Any]]:
    """SMS go straight to phone numbers, which IAM can only name as "*": allow that, deny every topic."""
    return [
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"},
        {"Effect": "Deny", "Action": "sns:Publish", "Resource": {"Fn::Sub": "arn:${AWS::Partition}:sns:*:*:*"}},
    ]
