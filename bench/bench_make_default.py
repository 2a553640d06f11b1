"""50 concurrent make-default requests on one type of one case owner: how many defaults remain (must be 1),
whether the DEFAULT#<type> pointer agrees, how many requests lost the race for good (409) and how many retries
the optimistic transactions needed. Each round on a fresh case owner, through the API handler in-process against
moto's server on loopback, with moto's DynamoDB backend serialised as DynamoDB isolates transactions (see
``infra.local.fidelity``).

Twice, each in a fresh process, on a contacts table that already holds ``FILL`` other items (an agency's data):
with the local stack's fidelity patches, and with moto's own transactions (``FINVIEW_MOTO_AS_IS=1``), which
deep-copy the whole table for every TransactWriteItems."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from boto3.dynamodb.conditions import Key

from bench.bench_contacts_api import backend
from bench.harness import Report, median
from services.contacts import store
from services.contacts.cases import contact_points
from services.contacts.cases import repository as case_repository

REQUESTS = 50


def one_round(owner: str) -> dict[str, Any]:
    from tests.integration.contacts.cases.support import (
        Api,
        deliver,
        imported,
    )

    phones = tuple(("phone", f"+4176{i:07d}") for i in range(REQUESTS))
    assert deliver(imported(owner, case_ids=(f"{owner}-case",), points=phones))["batchItemFailures"] == []
    api = Api()
    base = f"/case-owners/{owner}/contact-points"
    _, page = api.call("GET", base, query={"type": "phone", "limit": "200"})
    ids = [p["contact_point_id"] for p in page["items"]]
    for cp in ids:
        status, body = api.call("POST", f"{base}/{cp}/validate", {"evidence": {"kind": "successful_call"}})
        assert status == 200, body

    retries_before, gave_up_before = contact_points.contention.retries, contact_points.contention.gave_up
    start = time.perf_counter()
    with ThreadPoolExecutor(REQUESTS) as pool:
        statuses = [s for s, _ in pool.map(lambda cp: api.call("POST", f"{base}/{cp}/make-default"), ids)]
    elapsed = time.perf_counter() - start

    items = store.query_all(
        KeyConditionExpression=Key("PK").eq(f"OWNER#{owner}") & Key("SK").begins_with("CP#phone#"),
        ConsistentRead=True,
    )
    defaults = [str(i["contact_point_id"]) for i in items if i.get("is_default")]
    pointer = case_repository.default_pointer(owner, "phone")
    return {
        "defaults": len(defaults),
        "pointer_agrees": bool(pointer) and [pointer["contact_point_id"]] == defaults,  # type: ignore[index]
        "ok": statuses.count(200),
        "conflict": statuses.count(409),
        "other": len(statuses) - statuses.count(200) - statuses.count(409),
        "retries": contact_points.contention.retries - retries_before,
        "gave_up": contact_points.contention.gave_up - gave_up_before,
        "seconds": elapsed,
    }


def fill(items: int) -> None:
    """Other case owners' items in the contacts table, as after an import."""
    for n in range(0, items, 25):
        with store.table().batch_writer() as batch:
            for i in range(n, min(n + 25, items)):
                batch.put_item(Item={"PK": f"OWNER#filler-{i // 5}", "SK": f"CP#phone#{i}", "value": "x" * 200})


def child(rounds: int, items: int) -> None:
    """In a fresh process: fill, then the rounds; one JSON line per round on stdout."""
    with backend("server"):
        fill(items)
        for r in range(rounds):
            print(json.dumps(one_round(f"owner-{r}")), flush=True)


def rounds_in_child(rounds: int, items: int, as_is: bool) -> list[dict[str, Any]]:
    env = {**os.environ, "FINVIEW_MOTO_AS_IS": "1" if as_is else "0"}
    code = f"from bench.bench_make_default import child; child({rounds}, {items})"
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def run(report: Report, quick: bool) -> None:
    rounds = 2 if quick else 5
    items = 5_000 if quick else 20_000
    measured = {as_is: rounds_in_child(rounds, items, as_is) for as_is in (False, True)}
    for as_is, results in measured.items():
        label = "moto's own transactions" if as_is else "local stack (fidelity patches)"
        for r, result in enumerate(results, 1):
            print(f"  {label}, round {r}: {result}", flush=True)
            report.add(
                f"{label}, round {r}: defaults after {REQUESTS} concurrent make-default",
                result["defaults"],
                "defaults",
                note=f"must be 1; pointer agrees: {result['pointer_agrees']}; "
                f"200: {result['ok']}, 409: {result['conflict']}, other: {result['other']}; "
                f"retries {result['retries']} ({result['retries'] / REQUESTS:.1f} per request)",
            )
    fast = median([r["seconds"] for r in measured[False]])
    slow = median([r["seconds"] for r in measured[True]])
    report.add(
        "wall time of one round (median), local stack",
        fast,
        "s",
        baseline="moto's own transactions",
        baseline_value=slow,
        note=f"{REQUESTS} threads, one process (GIL) with moto's server; table holds {items:,} other items; "
        f"moto's own: {slow:.1f} s",
    )
