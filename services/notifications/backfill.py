"""A one-off migration the operator runs once per stage (``finview backfill``): records written before messages
were linked to their debtor and given their retention class become findable by a data subject's request (GDPR
Art. 15, 17) and expire like the new ones.

- A message record (``MESSAGE#<id>``) that names its debtor but lacks the owner index gets it (GSI1
  ``OWNER#<case owner>#MESSAGES``), so export and erasure find it.
- A collector's message waiting in the outbox (a queued delivery) names its debtor in its request: it gets the
  pointer on the debtor's partition. A collector's e-mail or SMS that was sent names nobody: the request events
  carry the ids of the person's contacts, by which notifications links it when a request comes
  (``repository.link_deliveries_of``).
- Every message record, provider pointer, delivery claim and owner pointer without an ``expiration`` gets the one of
  its class (``shared.expiry``: messages to debtors), counted from when it was written where the record says so.

Resumable and idempotent (``shared.migration``): every write is conditional on what it adds being absent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from services.notifications import repository
from shared import dynamo, expiry, migration

COUNTS = ("messages_indexed", "deliveries_linked", "expirations_set")


def _expiration(item: dict[str, Any]) -> int:
    written = item.get("created_at")
    at = datetime.fromisoformat(str(written)) if written else datetime.now(UTC)
    return expiry.expires("message_records", at)


def _set_if_absent(table: Any, item: dict[str, Any], fields: dict[str, Any]) -> bool:
    """SET ``fields`` on the item unless the first of them is there already (someone, or an earlier run, did)."""
    names = {f"#f{i}": k for i, k in enumerate(fields)}
    try:
        table.update_item(
            Key={"PK": item["PK"], "SK": item["SK"]},
            UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
            ConditionExpression="attribute_exists(PK) AND attribute_not_exists(#f0)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={f":v{i}": v for i, v in enumerate(fields.values())},
        )
        return True
    except ClientError as exc:
        if dynamo.is_condition_failure(exc):
            return False
        raise


def migrate_item(table: Any, item: dict[str, Any], counts: dict[str, int]) -> None:
    pk, sk = str(item["PK"]), str(item["SK"])
    if pk.startswith("MESSAGE#") and sk == "RECORD" and item.get("case_owner_id") and "GSI1PK" not in item:
        created = str(item.get("created_at") or "")
        index = {"GSI1PK": f"OWNER#{item['case_owner_id']}#MESSAGES", "GSI1SK": f"{created}#{item['message_id']}"}
        counts["messages_indexed"] += _set_if_absent(table, item, index)
    if pk.startswith("DELIVERY#"):
        owner = (item.get("request") or {}).get("case_owner_id")
        if owner:  # a collector's message in the outbox: its request names the debtor
            kind, _, recipient = sk.partition("#")
            pointer = repository.pointer(str(owner), pk.removeprefix("DELIVERY#"), kind, recipient)
            counts["deliveries_linked"] += dynamo.put_new(table, pointer)
    message_kinds = pk.startswith(("MESSAGE#", "PROVIDER#", "DELIVERY#")) or (
        pk.startswith("OWNER#") and sk.startswith("DELIVERY#")
    )
    if message_kinds and "expiration" not in item:
        counts["expirations_set"] += _set_if_absent(table, item, {expiry.ATTRIBUTE: _expiration(item)})


def backfill_owner_links(
    table_name: str, budget_seconds: float = 600.0, page_items: int = migration.PAGE_ITEMS
) -> dict[str, Any]:
    """Run (or go on with) the migration of the notifications table ``table_name`` (``shared.migration``)."""
    return migration.run(table_name, "owner-links", migrate_item, COUNTS, budget_seconds, page_items)
