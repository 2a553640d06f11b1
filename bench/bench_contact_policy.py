"""The contact-policy gate: what a decision costs in our code, and whether the call cap holds under a race.

1. ``rules.decide`` alone (pure, a US debtor with a week of calls, a hold, named inconvenient times), allowed and
   refused (a refusal also walks to the next allowed time); baseline: one GetItem on moto's server, the cheapest
   store call a decision could ever make.
2. The whole gate (``POST /cases/{id}/actions`` through the API handler, moto's server on loopback): p50/p99 of the
   call and of our code only (the time outside boto3 calls); baseline: the whole call.
3. 20 concurrent call requests on one case with Reg F's cap of 7, several rounds on fresh case owners: accepted
   must be exactly 7; retries = decisions re-taken after a lost conditional write.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from datetime import time as day_time
from typing import Any
from zoneinfo import ZoneInfo

from bench.bench_contacts_api import aws_clock, backend, clocked_aws_calls
from bench.harness import Report, percentile, timings
from services.contacts import store
from services.contacts.cases.audit import Actor
from services.contacts.policy import gate, rules

NOON_NY = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
NY = (ZoneInfo("America/New_York"),)


def _situation() -> tuple[rules.PointFacts, rules.Situation]:
    policy = rules.effective(rules.PRESETS["US"], rules.ClientRules())
    attempts = tuple(
        rules.Attempt(NOON_NY - timedelta(hours=20 * i), "call", "case-1", "cp-1", f"a{i}") for i in range(1, 7)
    )
    hold = rules.new_hold(
        "h", "care", NOON_NY - timedelta(days=30), NOON_NY - timedelta(days=2), "c", "illness", None, None
    )
    lunch = rules.InconvenientTime(day_time(12, 30), day_time(13, 30), frozenset({0, 1, 2, 3, 4}))
    point = rules.PointFacts("cp-1", "phone", True, True, ("America/New_York",))
    return point, rules.Situation(policy, (hold,), (lunch,), rules.History(attempts))


def pure(report: Report, n: int) -> None:
    point, situation = _situation()
    allowed = rules.Request("call", "case-1", False, NOON_NY)
    night = rules.Request("call", "case-1", True, NOON_NY + timedelta(hours=10))

    def refused() -> None:
        decision = rules.decide(night, point, situation, NY)
        assert not decision.allowed
        rules.next_allowed(night, point, situation, NY)

    assert rules.decide(allowed, point, situation, NY).allowed
    store_get = timings(
        lambda: store.table().get_item(Key={"PK": "OWNER#bench", "SK": "POLICY#HISTORY"}), max(50, n // 20)
    )
    base = percentile(store_get, 50) * 1000
    for name, fn in (
        ("decide, allowed", lambda: rules.decide(allowed, point, situation, NY)),
        ("decide + next allowed time, refused", refused),
    ):
        samples = timings(fn, n)
        for p in (50, 99):
            report.add(
                f"pure rules: {name} p{p}",
                percentile(samples, p) * 1000,
                "ms",
                baseline="one GetItem p50 (moto server)",
                baseline_value=base,
                note=f"n={n}; goal p50 < 2 ms, p99 < 10 ms",
            )


def _owner(owner: str, case: str) -> None:
    from tests.integration.contacts.cases.support import Api, deliver, imported

    points = (("phone", "+12125550123"), ("email", f"{owner}@example.com"))
    assert deliver(imported(owner, case_ids=(case,), points=points))["batchItemFailures"] == []
    api = Api()
    base = f"/case-owners/{owner}/contact-points"
    _, page = api.call("GET", base)
    for p in page["items"]:
        api.call("POST", f"{base}/{p['contact_point_id']}/validate", {"evidence": {"kind": "reason", "note": "ok"}})
        api.call("POST", f"{base}/{p['contact_point_id']}/make-default")


def gate_cost(report: Report, n: int) -> None:
    from tests.integration.contacts.cases.support import Api

    _owner("bench-gate", "bench-gate-case")
    api = Api()
    clock = [NOON_NY - timedelta(days=400)]

    def one() -> None:
        # E-mail has no cap: every call is decided and allowed, a fresh minute each time.
        clock[0] += timedelta(minutes=1)
        if clock[0].astimezone(NY[0]).hour >= 20:
            clock[0] += timedelta(hours=12)
        status, body = api.call("POST", "/cases/bench-gate-case/actions", {"action": "email"})
        assert status == 202, body

    def direct() -> None:
        clock[0] += timedelta(minutes=1)
        outcome = gate.request_contact(
            "bench-gate-case",
            "email",
            automatic=False,
            requested_by="bench",
            actor=Actor("bench", "collector"),
            correlation_id="bench",
        )
        assert outcome.status == "requested"

    gate.now = lambda: clock[0]  # type: ignore[assignment]
    totals, own, gate_own = [], [], []
    with clocked_aws_calls():
        for _ in range(3):
            one()
        for i in range(2 * n):
            aws_clock.seconds = 0.0
            start = time.perf_counter()
            (one if i % 2 else direct)()
            total = time.perf_counter() - start
            if i % 2:
                totals.append(total)
                own.append(total - aws_clock.seconds)
            else:
                gate_own.append(total - aws_clock.seconds)
    for p in (50, 99):
        report.add(
            f"gate.request_contact p{p}, our code only",
            percentile(gate_own, p) * 1000,
            "ms",
            baseline=f"the API call's own code p{p}",
            baseline_value=percentile(own, p) * 1000,
            note=f"n={n}; the gate alone (read, decide, write, publish) outside boto3 calls; goal p50 < 2, p99 < 10 ms",
        )
    for p in (50, 99):
        whole = percentile(totals, p) * 1000
        report.add(
            f"POST /cases/{{id}}/actions p{p}, our code only",
            percentile(own, p) * 1000,
            "ms",
            baseline=f"whole call p{p} (moto server)",
            baseline_value=whole,
            note=f"n={n}; time outside boto3 calls (API handler, pydantic, gate); whole call = {whole:.1f} ms",
        )


def race_round(r: int, requests: int = 20) -> dict[str, Any]:
    from tests.integration.contacts.cases.support import Api

    owner, case = f"bench-race-{r}", f"bench-race-case-{r}"
    _owner(owner, case)
    gate.now = lambda: NOON_NY  # type: ignore[assignment]
    retries = [0]
    original = gate.repository.Tx.commit

    def counting(self: Any) -> None:
        try:
            original(self)
        except gate.repository.WriteConflict:
            retries[0] += 1
            raise

    gate.repository.Tx.commit = counting  # type: ignore[method-assign]
    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(requests) as pool:
            statuses = list(
                pool.map(lambda _: Api().call("POST", f"/cases/{case}/actions", {"action": "call"})[0], range(requests))
            )
        elapsed = time.perf_counter() - start
    finally:
        gate.repository.Tx.commit = original  # type: ignore[method-assign]
    history = store.table().get_item(Key={"PK": f"OWNER#{owner}", "SK": "POLICY#HISTORY"}, ConsistentRead=True)
    stored = len(history.get("Item", {}).get("attempts", []))
    return {
        "accepted": statuses.count(202),
        "refused": statuses.count(409),
        "other": len(statuses) - statuses.count(202) - statuses.count(409),
        "stored_attempts": stored,
        "retries": retries[0],
        "seconds": elapsed,
    }


def run(report: Report, quick: bool) -> None:
    n = 200 if quick else 2000
    saved_now = gate.now
    try:
        with backend("server"):
            pure(report, n)
            gate_cost(report, 30 if quick else 200)
            for r in range(2 if quick else 5):
                result = race_round(r)
                print(f"  race round {r + 1}: {result}", flush=True)
                report.add(
                    f"race round {r + 1}: calls accepted of 20 concurrent (cap 7)",
                    result["accepted"],
                    "calls",
                    baseline="the cap",
                    baseline_value=7,
                    note=f"must be 7 (ratio 1.00); 409: {result['refused']}, other: {result['other']}, "
                    f"attempts stored: {result['stored_attempts']}, lost conditional writes retried: "
                    f"{result['retries']}, {result['seconds']:.1f} s",
                )
    finally:
        gate.now = saved_now  # type: ignore[method-assign]
