"""A one-off migration the operator runs once per stage (``finview backfill``): match keys written before each case
owner's keys were recorded (``repository.DynamoMatchIndex``) get their records, so an erasure removes the owner from
them too, also from the keys of name variants its profile did not keep (GDPR Art. 17).

One record per key and owner (the grouping per row is not known any more); a key written since then has its record
already and gets a second one, which changes nothing for an erasure. Resumable and idempotent (``shared.migration``).
"""

from __future__ import annotations

from typing import Any

from services.imports import repository
from shared import dynamo, migration

COUNTS = ("keys_recorded",)


def migrate_item(table: Any, item: dict[str, Any], counts: dict[str, int]) -> None:
    pk = str(item["PK"])
    if not pk.startswith("MATCH#") or item["SK"] != "KEY":
        return
    client_id, _, key = pk.removeprefix("MATCH#").partition("#")
    prefix = f"MATCH#{client_id}#"
    for owner, tag in dict(item.get("owners") or {}).items():
        counts["keys_recorded"] += dynamo.put_new(table, repository.key_record(prefix, str(owner), str(tag), [key]))


def backfill_key_records(
    table_name: str, budget_seconds: float = 600.0, page_items: int = migration.PAGE_ITEMS
) -> dict[str, Any]:
    """Run (or go on with) the migration of the imports table ``table_name``."""
    return migration.run(table_name, "match-key-records", migrate_item, COUNTS, budget_seconds, page_items)
