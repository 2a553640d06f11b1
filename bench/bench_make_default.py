"""50 concurrent make-default requests on one type of one case owner: how many defaults remain (must be 1),
whether the DEFAULT#<type> pointer agrees, how many requests lost the race for good (409) and how many retries
the optimistic transactions needed. Each round on a fresh case owner, through the API handler in-process against
moto's server on loopback, with moto's DynamoDB backend serialised as DynamoDB isolates transactions (see
``infra.local.fidelity``)."""

from __future__ import annotations

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


def run(report: Report, quick: bool) -> None:
    rounds = 2 if quick else 5
    results = []
    with backend("server"):
        for r in range(rounds):
            result = one_round(f"owner-{r}")
            print(f"  round {r + 1}: {result}", flush=True)
            results.append(result)
    for r, result in enumerate(results, 1):
        report.add(
            f"round {r}: defaults after {REQUESTS} concurrent make-default",
            result["defaults"],
            "defaults",
            note=f"must be 1; pointer agrees: {result['pointer_agrees']}; "
            f"200: {result['ok']}, 409: {result['conflict']}, other: {result['other']}",
        )
        report.add(
            f"round {r}: retries (re-read after a lost race)",
            result["retries"],
            "retries",
            note=f"{result['retries'] / REQUESTS:.1f} per request; gave up (409): {result['gave_up']}",
        )
    report.add(
        "wall time of one round (median)",
        median([r["seconds"] for r in results]),
        "s",
        note=f"{REQUESTS} threads, one process (GIL) with moto's server",
    )
