"""Enrichment at scale, against moto's server on loopback (every DynamoDB call an HTTP round trip).

1. Selection: one client with N tracked cases of which 100 are due. The daily selection (the sparse due index
   by key range, then the owners' contacts by key lookups) against the baseline of reading every tracked case of
   the client (what a selection by opening date or a scan must do). Counted with a botocore hook: requests and
   items read (DynamoDB bills reads by items, ~RCUs). Twice, at 1k and 10k tracked cases: the selection must
   not grow with the tracked cases.
2. Attempts/s through the local stack with the sandbox: ``run_enrichment`` over the due cases (book the line and
   the budget, search, settle, publish to the bus), against the baseline of one plain PutItem per case.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.bench_contacts_api import backend
from bench.harness import Report
from services.enrichment import settings, use_cases
from shared import aws
from shared.events import TraceSubject

TODAY = date(2026, 11, 28)
DUE = 100
CLIENT = "bench-client"


class Counter:
    def __init__(self) -> None:
        self.requests = 0
        self.items = 0

    def __call__(self, parsed: dict[str, Any], **_: Any) -> None:
        self.requests += 1
        self.items += int(parsed.get("ScannedCount", parsed.get("Count", 0)) or 0)
        for rows in (parsed.get("Responses") or {}).values():
            self.items += len(rows) if isinstance(rows, list) else 0


def _counting(counter: Counter) -> None:
    for client in (aws.client("dynamodb"), aws.resource("dynamodb").meta.client):
        client.meta.events.register("after-call.dynamodb", counter, unique_id=f"bench-count-{id(client)}")


def _uncount() -> None:
    for client in (aws.client("dynamodb"), aws.resource("dynamodb").meta.client):
        client.meta.events.unregister("after-call.dynamodb", unique_id=f"bench-count-{id(client)}")


def seed(total: int, due: int) -> None:
    """``due`` cases waiting 60 days, the rest split between young cases (in the index, not due yet) and cases
    whose owner lacks nothing (out of the index). One owner per case."""
    table = aws.table(settings.get().table)
    table.put_item(
        Item={
            "PK": f"CLIENT#{CLIENT}",
            "SK": "PROFILE",
            "GSI1PK": "CLIENTS",
            "GSI1SK": CLIENT,
            "granted": True,
            "interval_days": 30,
            "attempts": 2,
            "monthly_budget": None,
        }
    )
    with table.batch_writer() as batch:
        for i in range(total):
            kind = "due" if i < due else ("young" if i % 2 else "complete")
            waiting = TODAY - timedelta(days=60 if kind == "due" else 5)
            item: dict[str, Any] = {
                "PK": f"CASE#k{i}",
                "SK": "TRACK",
                "client_id": CLIENT,
                "case_owner_id": f"o{i}",
                "opened_on": waiting.isoformat(),
                "attempts_made": 0,
            }
            if kind != "complete":
                item |= {"GSI1PK": f"CLIENT#{CLIENT}#DUE", "GSI1SK": f"{waiting.isoformat()}#k{i}"}
            else:
                item |= {"GSI1PK": f"CLIENT#{CLIENT}#TRACKED", "GSI1SK": f"{waiting.isoformat()}#k{i}"}
            batch.put_item(Item=item)
            batch.put_item(
                Item={
                    "PK": f"OWNER#o{i}",
                    "SK": "PROFILE",
                    "client_id": CLIENT,
                    "subject": TraceSubject(first_name=f"Erika {i}", last_name="Mustermann").model_dump_json(),
                    "lacking": [] if kind == "complete" else ["phone"],
                    "restricted": False,
                    "as_of": datetime(2026, 1, 1, tzinfo=UTC).isoformat(),
                }
            )


def read_every_case() -> int:
    """The baseline: a scan of the table (cases and owners), filtered to the client's tracked cases: what a
    selection without the sparse index reads."""
    table, n, start = aws.table(settings.get().table), 0, None
    while True:
        kwargs: dict[str, Any] = {
            "FilterExpression": "SK = :t AND client_id = :c",
            "ExpressionAttributeValues": {":t": "TRACK", ":c": CLIENT},
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = table.scan(**kwargs)
        n += len(page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            return n


def selection(report: Report, total: int) -> None:
    with backend("server"):
        seed(total, DUE)
        selected, baseline = Counter(), Counter()
        _counting(selected)
        found = sum(len(batch.cases) for batch in use_cases.due_cases(TODAY))
        _uncount()
        _counting(baseline)
        every = read_every_case()
        _uncount()
        assert found == DUE, found
        assert every == total, every
        report.add(
            f"selection requests, {total:,} tracked / {DUE} due",
            selected.requests,
            "requests",
            baseline="read every tracked case",
            baseline_value=baseline.requests,
            note="1 MB pages: the baseline's requests grow with the table, the selection's with the due cases",
        )
        report.add(
            f"selection items read, {total:,} tracked / {DUE} due",
            selected.items,
            "items",
            baseline="read every tracked case",
            baseline_value=baseline.items,
            note="DynamoDB bills reads by item size: ~RCUs",
        )


def attempts(report: Report, due: int) -> None:
    with backend("server"):
        seed(due, due)
        table = aws.table(settings.get().table)
        start = time.perf_counter()
        for i in range(due):
            table.put_item(Item={"PK": f"BASELINE#{i}", "SK": "X", "n": i})
        floor = due / (time.perf_counter() - start)
        start = time.perf_counter()
        result = use_cases.run_enrichment(TODAY, correlation_id="bench")
        elapsed = time.perf_counter() - start
        made = result["searched"] + result["failed"]
        assert made == due, result
        report.add(
            f"attempts through the local stack (sandbox), {due} due",
            made / elapsed,
            "attempts/s",
            baseline="one PutItem per case",
            baseline_value=floor,
            note=f"found {result['found']}, none {result['none']}, failed {result['failed']}",
        )


def run(report: Report, quick: bool = False) -> None:
    import os

    os.environ["ENRICHMENT_DNS_CHECKS"] = "false"
    for total in (1_000,) if quick else (1_000, 10_000):
        selection(report, total)
    attempts(report, 20 if quick else DUE)
