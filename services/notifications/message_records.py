"""DynamoDB access for notifications' message records (one per message sent, in the notifications table).

Keys:
  MESSAGE#<message_id>     RECORD                 the message: kind, channel, recipient, template, language,
                                                  cause, provider's id, status and outcome
  PROVIDER#<provider_id>   MESSAGE                points an SES / SNS notification back to its message
GSI1: OWNER#<case_owner_id>#MESSAGES / <created_at>#<message_id> lists a debtor's messages (a data subject's request).
The message id is derived from the cause (event id, kind, recipient), so a redelivered cause finds its record.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from services.notifications import settings
from shared import aws, dynamo, expiry

_NAMESPACE = uuid.UUID("5d0f3c1e-8a51-4a5e-9c1b-2f6f0f1e7a12")
_deserialize = TypeDeserializer().deserialize
_serialize = dynamo.wire  # boto3's TypeSerializer's output, without its type probes a value


def _table() -> Any:
    return aws.table(settings.get().table)


def message_id_for(cause_event_id: str, kind: str, recipient: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{cause_event_id}|{kind}|{recipient}"))


def claim(record: dict[str, Any]) -> bool:
    """Create the record in status 'sending'; False when this message exists already (sent or being sent)."""
    return dynamo.put_new(_table(), claim_item(record))


# A batch's claim ('claimed') is a lease: the batch sends its messages within its function's timeout (300 s, for
# batches of reminder pages: infra.definition.SIZING). A redelivery that finds one older than this takes the message
# over (the batch died before sending it); younger, the message may be being sent right now, and the redelivery
# waits for SQS's next try.
CLAIM_LEASE = timedelta(seconds=330)


def claim_item(record: dict[str, Any], status: str = "sending") -> dict[str, Any]:
    """The record as ``claim`` writes it: status 'sending' (or a batch's 'claimed'), its expiry, the debtor's
    index."""
    at = datetime.now(UTC)
    created_at = at.isoformat()
    owner = record.get("case_owner_id")
    item = {
        "PK": f"MESSAGE#{record['message_id']}",
        "SK": "RECORD",
        "status": status,
        "created_at": created_at,
        "expiration": expiry.expires("message_records", at),  # the evidence of contact (shared.expiry)
        **({"GSI1PK": f"OWNER#{owner}#MESSAGES", "GSI1SK": f"{created_at}#{record['message_id']}"} if owner else {}),
        **{k: v for k, v in record.items() if v is not None},
    }
    return item


def _put(item: dict[str, Any], condition: str, table: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "TableName": table,
        "Item": {k: _serialize(v) for k, v in item.items()},
        "ConditionExpression": condition,
    }
    if values:
        op["ExpressionAttributeNames"] = {"#status": "status"}
        op["ExpressionAttributeValues"] = {k: _serialize(v) for k, v in values.items()}
    return {"Put": op}


def _written(results: list[list[str] | None]) -> list[bool | None]:
    """Per item: written, refused by its condition (False), or left undecided (None: another writer conflicted)."""
    return [True if r is None else False if r[:1] == ["ConditionalCheckFailed"] else None for r in results]


def claim_many(items: list[dict[str, Any]]) -> list[bool | None]:
    """``claim`` for a batch's messages (items from ``claim_item``), as few TransactWriteItems as fit: per item,
    True when claimed, False when the message exists already, None when undecided (claim it on its own)."""
    table = settings.get().table
    ops = [[_put(item, "attribute_not_exists(PK)", table)] for item in items]
    return _written(dynamo.write_groups(ops, dynamo.transact(aws.client("dynamodb"))))


def mark_many(items: list[dict[str, Any]]) -> list[bool | None]:
    """The batch's sent messages, each written whole (the claimed record with its new status and fields) unless its
    status moved on from 'claimed' meanwhile (an early outcome): per item True, False (then ``mark_sent``), None
    (undecided: ``mark_sent`` too)."""
    table = settings.get().table
    ops = [[_put(item, "#status = :claimed", table, {":claimed": "claimed"})] for item in items]
    return _written(dynamo.write_groups(ops, dynamo.transact(aws.client("dynamodb"))))


def fill_many(changes: list[tuple[str, dict[str, Any]]]) -> list[bool | None]:
    """``mark_fields`` for a batch's sent messages whose outcome got there first (message id, fields), as few
    TransactWriteItems as fit: each message's fields, its status left as its outcome set it. Per message True
    (written), False (no record, or it is still 'claimed' or 'sending': ``mark_sent`` it), None (undecided)."""
    groups, table = [], settings.get().table
    for message_id, fields in changes:
        values = {k: v for k, v in fields.items() if v is not None}
        op = {
            "TableName": table,
            "Key": {"PK": {"S": f"MESSAGE#{message_id}"}, "SK": {"S": "RECORD"}},
            "UpdateExpression": "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(values))),
            "ConditionExpression": "attribute_exists(PK) AND NOT #status IN (:claimed, :sending)",
            "ExpressionAttributeNames": {"#status": "status", **{f"#f{i}": k for i, k in enumerate(values)}},
            "ExpressionAttributeValues": {
                **{f":v{i}": _serialize(v) for i, v in enumerate(values.values())},
                ":claimed": {"S": "claimed"},
                ":sending": {"S": "sending"},
            },
        }
        groups.append([{"Update": op}])
    return _written(dynamo.write_groups(groups, dynamo.transact(aws.client("dynamodb"))))


def take_over(message_id: str) -> bool:
    """A batch's claim whose lease is over (``CLAIM_LEASE``) becomes this delivery's ('sending'); False while the
    lease runs (or when another delivery took it first)."""
    cutoff = (datetime.now(UTC) - CLAIM_LEASE).isoformat()
    try:
        _table().update_item(
            Key={"PK": f"MESSAGE#{message_id}", "SK": "RECORD"},
            UpdateExpression="SET #s = :sending",
            ConditionExpression="#s = :claimed AND created_at < :cutoff",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":sending": "sending", ":claimed": "claimed", ":cutoff": cutoff},
        )
    except ClientError as error:
        if not dynamo.is_condition_failure(error):
            raise
        return False
    return True


def mark_sent(message_id: str, status: str, **fields: Any) -> None:
    """A sent message's status and fields while it is still being sent; its fields alone when an outcome got there
    first (its status stays)."""
    values = {"status": status, **{k: v for k, v in fields.items() if v is not None}}
    try:
        _table().update_item(
            Key={"PK": f"MESSAGE#{message_id}", "SK": "RECORD"},
            UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(values))),
            ConditionExpression="#f0 IN (:claimed, :sending)",
            ExpressionAttributeNames={f"#f{i}": k for i, k in enumerate(values)},
            ExpressionAttributeValues={
                **{f":v{i}": v for i, v in enumerate(values.values())},
                ":claimed": "claimed",
                ":sending": "sending",
            },
        )
    except ClientError as error:
        if not dynamo.is_condition_failure(error):
            raise
        mark_fields(message_id, **fields)


def get(message_id: str) -> dict[str, Any] | None:
    item = _table().get_item(Key={"PK": f"MESSAGE#{message_id}", "SK": "RECORD"}).get("Item")
    return dict(item) if item else None


def get_many(message_ids: Collection[str]) -> dict[str, dict[str, Any]]:
    """The records of ``message_ids`` that exist, by message id (one BatchGetItem per 100)."""
    keys = [{"PK": {"S": f"MESSAGE#{m}"}, "SK": {"S": "RECORD"}} for m in dict.fromkeys(message_ids)]
    found = dynamo.batch_get(aws.client("dynamodb"), settings.get().table, keys)
    records = ({k: _deserialize(v) for k, v in item.items()} for item in found)
    return {str(r["message_id"]): r for r in records}


def advance_many(changes: list[tuple[str, str, Collection[str], dict[str, Any]]]) -> list[bool | None]:
    """``advance`` for a batch's messages (message id, status, the stronger statuses, fields), as few
    TransactWriteItems as fit: per message True (written), False (a stronger outcome is there, or no such
    message), None (undecided: advance it on its own)."""
    groups, table = [], settings.get().table
    for message_id, status, stronger, fields in changes:
        values = {"status": status, **{k: v for k, v in fields.items() if v is not None}}
        weaker = {f":s{j}": s for j, s in enumerate(sorted(stronger))}
        condition = "attribute_exists(PK)" + (f" AND NOT #f0 IN ({', '.join(weaker)})" if weaker else "")
        op = {
            "TableName": table,
            "Key": {"PK": {"S": f"MESSAGE#{message_id}"}, "SK": {"S": "RECORD"}},
            "UpdateExpression": "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(values))),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {f"#f{i}": k for i, k in enumerate(values)},
            "ExpressionAttributeValues": {
                **{f":v{i}": _serialize(v) for i, v in enumerate(values.values())},
                **{k: _serialize(v) for k, v in weaker.items()},
            },
        }
        groups.append([{"Update": op}])
    return _written(dynamo.write_groups(groups, dynamo.transact(aws.client("dynamodb"))))


def release(message_id: str) -> None:
    """Sending failed in a way a retry may fix: drop the claim."""
    _table().delete_item(Key={"PK": f"MESSAGE#{message_id}", "SK": "RECORD"})


def mark(message_id: str, status: str, **fields: Any) -> None:
    values = {"status": status, **{k: v for k, v in fields.items() if v is not None}}
    names = {f"#f{i}": k for i, k in enumerate(values)}
    _table().update_item(
        Key={"PK": f"MESSAGE#{message_id}", "SK": "RECORD"},
        UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(values))),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={f":v{i}": v for i, v in enumerate(values.values())},
    )


def mark_fields(message_id: str, **fields: Any) -> None:
    """The fields of a sent message, its status left as an earlier outcome set it."""
    values = {k: v for k, v in fields.items() if v is not None}
    _table().update_item(
        Key={"PK": f"MESSAGE#{message_id}", "SK": "RECORD"},
        UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(values))),
        ExpressionAttributeNames={f"#f{i}": k for i, k in enumerate(values)},
        ExpressionAttributeValues={f":v{i}": v for i, v in enumerate(values.values())},
    )


def advance(message_id: str, status: str, stronger: Collection[str], **fields: Any) -> dict[str, Any] | None:
    """Set the message's outcome ``status`` (and ``fields``) unless it holds one of the ``stronger`` statuses, in
    one request that also returns the record: as it is now, or as it stood when it was stronger. None: no such
    message. (A delivery provider's outcome carries our message id, so nothing needs reading first.)"""
    values = {"status": status, **{k: v for k, v in fields.items() if v is not None}}
    names = {f"#f{i}": k for i, k in enumerate(values)}
    placeholders = {f":v{i}": v for i, v in enumerate(values.values())}
    weaker = {f":s{j}": s for j, s in enumerate(sorted(stronger))}
    condition = "attribute_exists(PK)" + (f" AND NOT #f0 IN ({', '.join(weaker)})" if weaker else "")
    try:
        response = _table().update_item(
            Key={"PK": f"MESSAGE#{message_id}", "SK": "RECORD"},
            UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(values))),
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={**placeholders, **weaker},
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if not dynamo.is_condition_failure(error):
            raise
        stood = error.response.get("Item")
        return {k: _deserialize(v) for k, v in stood.items()} if stood else None
    return dict(response["Attributes"])


def link_provider_id(provider_message_id: str, message_id: str) -> None:
    _table().put_item(
        Item={
            "PK": f"PROVIDER#{provider_message_id}",
            "SK": "MESSAGE",
            "message_id": message_id,
            "expiration": expiry.expires("message_records", datetime.now(UTC)),
        }
    )


def by_provider_id(provider_message_id: str) -> dict[str, Any] | None:
    pointer = _table().get_item(Key={"PK": f"PROVIDER#{provider_message_id}", "SK": "MESSAGE"}).get("Item")
    return get(str(pointer["message_id"])) if pointer else None


def of_case_owner(case_owner_id: str) -> list[dict[str, Any]]:
    """Every message to one debtor, oldest first."""
    return dynamo.query_all(
        _table(), IndexName="GSI1", KeyConditionExpression=Key("GSI1PK").eq(f"OWNER#{case_owner_id}#MESSAGES")
    )


def erase(record: dict[str, Any], letters_bucket: str) -> int:
    """A data subject's erasure of one message: the record, its provider pointer, its delivery claim and, for a
    letter, its PDF in every version. Returns the files deleted."""
    table = _table()
    if record.get("provider_message_id"):
        table.delete_item(Key={"PK": f"PROVIDER#{record['provider_message_id']}", "SK": "MESSAGE"})
    if record.get("cause_event_id"):
        table.delete_item(
            Key={"PK": f"DELIVERY#{record['cause_event_id']}", "SK": f"{record['kind']}#{record['recipient']}"}
        )
    files = 0
    if record.get("channel") == "letter":
        s3 = aws.client("s3")
        # letters/<day it was rendered>/<message id>.pdf: the day of the claim or of the sending.
        days = {str(record[f])[:10] for f in ("created_at", "sent_at") if record.get(f)}
        for day in sorted(days):
            key = f"letters/{day}/{record['message_id']}.pdf"
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=letters_bucket, Prefix=key):
                for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    if version["Key"] == key:
                        s3.delete_object(Bucket=letters_bucket, Key=key, VersionId=version["VersionId"])
                        files += 1
    table.delete_item(Key={"PK": record["PK"], "SK": record["SK"]})
    return files
