"""One-off migrations of a service's table, run by the operator once per stage (``finview backfill``).

A migration scans the table in pages and hands each item to the service's ``migrate`` function; after each page its
cursor and counts are saved in the table itself (``MIGRATION#<name>`` / ``STATE``), so a run cut short (a time
budget, a crash) goes on where it stopped, and a finished migration does nothing when run again. ``migrate`` must
be idempotent too (writes conditional on what they add being absent): a page cut short is scanned again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Attr

from shared import aws

PAGE_ITEMS = 500
Migrate = Callable[[Any, dict[str, Any], dict[str, int]], None]


def run(
    table_name: str,
    name: str,
    migrate: Migrate,
    counted: Iterable[str],
    budget_seconds: float = 600.0,
    page_items: int = PAGE_ITEMS,
) -> dict[str, Any]:
    """Run (or go on with) migration ``name`` of ``table_name`` for up to ``budget_seconds`` (at least one page);
    returns ``finished`` and the counts so far (``scanned`` and the ``counted`` ones ``migrate`` adds to)."""
    table = aws.table(table_name)
    key = {"PK": f"MIGRATION#{name}", "SK": "STATE"}
    state = table.get_item(Key=key, ConsistentRead=True).get("Item") or {}
    counts = {k: int(state.get("counts", {}).get(k, 0)) for k in ("scanned", *counted)}
    if state.get("finished_at"):
        return {"finished": True, "finished_at": state["finished_at"], "counts": counts}
    started = time.monotonic()
    kwargs: dict[str, Any] = {"Limit": page_items, "FilterExpression": Attr("PK").ne(key["PK"])}
    cursor = state.get("cursor")
    while True:
        if cursor:
            kwargs["ExclusiveStartKey"] = cursor
        page = table.scan(**kwargs)
        for item in page.get("Items", []):
            counts["scanned"] += 1
            migrate(table, item, counts)
        cursor = page.get("LastEvaluatedKey")
        done = cursor is None
        at = datetime.now(UTC).isoformat()
        table.put_item(
            Item={**key, "counts": counts, "updated_at": at, **({"finished_at": at} if done else {"cursor": cursor})}
        )
        if done or time.monotonic() - started >= budget_seconds:
            return {"finished": done, "counts": counts}
