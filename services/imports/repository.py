"""DynamoDB access for the imports table.

Keys:
  CLIENT#<id>           PROFILE | SETTINGS          (imports' own copy, from contacts' events)
  JOB#<import_id>       JOB | REJECT#<row>
  MATCH#<client>#<key>  OWNER                       (match-key index: key lookups, never scans)
GSI1: CLIENT#<id>#JOBS / <received_at> lists a client's imports.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from shared import aws


def _table() -> Any:
    return aws.table(aws.env("IMPORTS_TABLE"))


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _conditional_put(item: dict[str, Any]) -> bool:
    try:
        _table().put_item(Item=item, ConditionExpression="attribute_not_exists(PK)")
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def put_client(client_id: str, legal_name: str) -> None:
    _table().put_item(Item={"PK": f"CLIENT#{client_id}", "SK": "PROFILE", "legal_name": legal_name})


def client_known(client_id: str) -> bool:
    return "Item" in _table().get_item(Key={"PK": f"CLIENT#{client_id}", "SK": "PROFILE"}, ConsistentRead=True)


def put_settings(client_id: str, settings: dict[str, Any]) -> None:
    _table().put_item(Item={"PK": f"CLIENT#{client_id}", "SK": "SETTINGS", "settings": settings})


def get_settings(client_id: str) -> dict[str, Any]:
    item = _table().get_item(Key={"PK": f"CLIENT#{client_id}", "SK": "SETTINGS"}).get("Item")
    return dict(item["settings"]) if item else {}


def start_job(
    import_id: str, client_id: str | None, bucket: str, key: str, correlation_id: str
) -> dict[str, Any] | None:
    """Record the job as processing; returns the existing job instead when this object was seen before."""
    item = {
        "PK": f"JOB#{import_id}",
        "SK": "JOB",
        "import_id": import_id,
        "client_id": client_id or "-",
        "bucket": bucket,
        "object_key": key,
        "status": "processing",
        "received_at": _now(),
        "correlation_id": correlation_id,
        "GSI1PK": f"CLIENT#{client_id or '-'}#JOBS",
        "GSI1SK": _now(),
    }
    if _conditional_put(item):
        return None
    existing = get_job(import_id)
    if existing and existing["status"] == "processing":
        return None  # a crash left it processing: run again, the outcome is the same
    return existing


def get_job(import_id: str) -> dict[str, Any] | None:
    item = _table().get_item(Key={"PK": f"JOB#{import_id}", "SK": "JOB"}, ConsistentRead=True).get("Item")
    return dict(item) if item else None


def finish_job(import_id: str, status: str, **fields: Any) -> None:
    names = {"#status": "status"}
    values: dict[str, Any] = {":status": status, ":finished": _now()}
    sets = ["#status = :status", "finished_at = :finished"]
    for i, (name, value) in enumerate(fields.items()):
        names[f"#f{i}"] = name
        values[f":v{i}"] = value
        sets.append(f"#f{i} = :v{i}")
    _table().update_item(
        Key={"PK": f"JOB#{import_id}", "SK": "JOB"},
        UpdateExpression="SET " + ", ".join(sets),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def claim_match_key(client_id: str, key: str, case_owner_id: str) -> str:
    """The case owner for this match key: the existing one, or ``case_owner_id`` if the key is new."""
    pk = f"MATCH#{client_id}#{key}"
    if _conditional_put({"PK": pk, "SK": "OWNER", "case_owner_id": case_owner_id}):
        return case_owner_id
    return str(_table().get_item(Key={"PK": pk, "SK": "OWNER"}, ConsistentRead=True)["Item"]["case_owner_id"])
