"""DynamoDB access for the enrichment table.

Keys:
  CLIENT#<id>  PROFILE                          (own copy of the client's enrichment settings)
  CASE#<id>    TRACK | ATTEMPT#<n>              (tracked case; the cost ledger: one line per attempt)
GSI1: CLIENT#<id>#CASES / <opened_on>#<case_id> finds a client's cases old enough, by key range.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from services.enrichment import settings
from services.enrichment.domain import EnrichmentSettings, TrackedCase
from shared import aws, dynamo, outbox
from shared.events import ContactPointData, Event


def _table() -> Any:
    return aws.table(settings.get().table)


def put_client(client_id: str) -> None:
    _table().update_item(
        Key={"PK": f"CLIENT#{client_id}", "SK": "PROFILE"},
        UpdateExpression="SET GSI1PK = :c, GSI1SK = :id",
        ExpressionAttributeValues={":c": "CLIENTS", ":id": client_id},
    )


def put_settings(client_id: str, settings: EnrichmentSettings) -> None:
    _table().update_item(
        Key={"PK": f"CLIENT#{client_id}", "SK": "PROFILE"},
        UpdateExpression="SET granted = :g, interval_days = :i, attempts = :a, GSI1PK = :c, GSI1SK = :id",
        ExpressionAttributeValues={
            ":g": settings.granted,
            ":i": settings.interval_days,
            ":a": settings.attempts,
            ":c": "CLIENTS",
            ":id": client_id,
        },
    )


def clients() -> list[tuple[str, EnrichmentSettings]]:
    out = []
    for item in _query({"IndexName": "GSI1", "KeyConditionExpression": Key("GSI1PK").eq("CLIENTS")}):
        settings = EnrichmentSettings(
            granted=bool(item.get("granted", False)),
            interval_days=int(item.get("interval_days", 30)),
            attempts=int(item.get("attempts", 1)),
        )
        out.append((str(item["GSI1SK"]), settings))
    return out


def track_case(case: TrackedCase) -> None:
    """Idempotent: the same case opened twice (a re-delivered CaseOpened) is tracked once."""
    dynamo.put_new(
        _table(),
        {
            "PK": f"CASE#{case.case_id}",
            "SK": "TRACK",
            "client_id": case.client_id,
            "case_owner_id": case.case_owner_id,
            "opened_on": case.opened_on.isoformat(),
            "attempts_made": 0,
            "GSI1PK": f"CLIENT#{case.client_id}#CASES",
            "GSI1SK": f"{case.opened_on.isoformat()}#{case.case_id}",
        },
    )


def cases_opened_until(client_id: str, until: date) -> list[TrackedCase]:
    items = _query(
        {
            "IndexName": "GSI1",
            "KeyConditionExpression": Key("GSI1PK").eq(f"CLIENT#{client_id}#CASES")
            & Key("GSI1SK").lte(f"{until.isoformat()}#~"),
        }
    )
    return [
        TrackedCase(
            client_id=str(i["client_id"]),
            case_owner_id=str(i["case_owner_id"]),
            case_id=str(i["PK"]).removeprefix("CASE#"),
            opened_on=date.fromisoformat(str(i["opened_on"])),
            attempts_made=int(i.get("attempts_made", 0)),
            last_attempt_on=date.fromisoformat(str(i["last_attempt_on"])) if i.get("last_attempt_on") else None,
        )
        for i in items
    ]


def reserve_attempt(case: TrackedCase, attempt: int, provider: str, on: date) -> bool:
    """Book attempt ``attempt`` once, before the provider is asked: the ledger line and the counter move together.

    False when another run already booked it (a retried or concurrent schedule), so nobody pays twice.
    """
    table = settings.get().table
    key = {"PK": {"S": f"CASE#{case.case_id}"}}
    try:
        aws.client("dynamodb").transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "ConditionExpression": "attribute_not_exists(PK)",
                        "Item": {
                            **key,
                            "SK": {"S": f"ATTEMPT#{attempt:03d}"},
                            "provider": {"S": provider},
                            "status": {"S": "reserved"},
                            "at": {"S": datetime.now(UTC).isoformat()},
                            "client_id": {"S": case.client_id},
                        },
                    }
                },
                {
                    "Update": {
                        "TableName": table,
                        "Key": {**key, "SK": {"S": "TRACK"}},
                        "UpdateExpression": "SET attempts_made = :n, last_attempt_on = :on",
                        "ConditionExpression": "attempts_made = :prev",
                        "ExpressionAttributeValues": {
                            ":n": {"N": str(attempt)},
                            ":prev": {"N": str(attempt - 1)},
                            ":on": {"S": on.isoformat()},
                        },
                    }
                },
            ]
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "TransactionCanceledException":
            return False
        raise


def settle_attempt(
    case_id: str, attempt: int, cost: Decimal, result: Sequence[ContactPointData], events: Sequence[Event] = ()
) -> None:
    """Settle the ledger line with what was paid and what it bought, and the result's event, in one transaction:
    a paid result is never booked without its event, nor announced without being booked."""
    table = settings.get().table
    update = {
        "Update": {
            "TableName": table,
            "Key": {"PK": {"S": f"CASE#{case_id}"}, "SK": {"S": f"ATTEMPT#{attempt:03d}"}},
            "UpdateExpression": "SET #s = :s, cost = :c, #f = :f, #r = :r, event_ids = :e",
            "ExpressionAttributeNames": {"#s": "status", "#f": "found", "#r": "result"},
            "ExpressionAttributeValues": {
                ":s": {"S": "settled"},
                ":c": {"N": str(cost)},
                ":f": {"N": str(len(result))},
                ":r": {"S": json.dumps([p.model_dump(mode="json") for p in result])},
                ":e": {"L": [{"S": e.event_id} for e in events]},
            },
        }
    }
    outbox.write(events, table, [update])


def ledger(case_id: str) -> list[dict[str, Any]]:
    return _query({"KeyConditionExpression": Key("PK").eq(f"CASE#{case_id}") & Key("SK").begins_with("ATTEMPT#")})


def _query(kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    return dynamo.query_all(_table(), **kwargs)
