"""Per-row matching time with 10k vs 1M existing case owners: the cost must not grow with the client's size.

1. In-memory match index (dict lookups, the same Matcher code) pre-filled with 10k and with 1M case owners.
2. The DynamoDB match index (BatchGetItem on moto's server) pre-filled with 1k and with 20k case owners
   (moto is too slow to fill with 1M; the point is that key lookups do not look at the other owners).
The rows matched are half further invoices of existing debtors, half new debtors.
"""

from __future__ import annotations

import gc
import random
import re
import time
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from bench.bench_imports_core import Person, make_people
from bench.harness import Report
from services.imports.domain import DebtorLine, ImportSettings, validate
from services.imports.matching import InMemoryMatchIndex, Matcher, MatchIndex, OwnerProfile, RowFeatures, tag_for

CALLING = {"DE": "49", "FR": "33", "GB": "44"}
QUERY_ROWS = 2000


def e164(p: Person) -> str:
    return "+" + CALLING[p.country] + re.sub(r"\D", "", p.phone)[1:]


def constructed(p: Person) -> DebtorLine:
    """A debtor line without validation (fast filling); values as validation would have left them."""
    return DebtorLine.model_construct(
        client_case_number=f"K-{p.pid}", first_name=p.first, last_name=p.last, company_name=None,
        birth_date=p.dob, email=p.email, phone=e164(p), street=p.street, postcode=p.postcode, city=p.city,
        country=p.country, invoice_number="-", amount=Decimal(1), opened_on=date(2026, 1, 1),
    )  # fmt: skip


def fill(people: Iterable[Person]) -> tuple[dict[str, dict[str, str]], dict[str, OwnerProfile]]:
    keys: dict[str, dict[str, str]] = {}
    profiles: dict[str, OwnerProfile] = {}
    for p in people:
        f = RowFeatures.of(constructed(p))
        owner, tag = f"owner-{p.pid}", tag_for("seed", p.pid)
        profiles[owner] = OwnerProfile.first_seen(owner, tag, f)
        for k in f.block_keys():
            owners = keys.setdefault(k, {})
            if len(owners) < 20:
                owners[owner] = tag
    return keys, profiles


def queries(existing: list[Person], fresh: list[Person]) -> list[tuple[int, DebtorLine]]:
    rng = random.Random(11)
    rows = []
    for i in range(QUERY_ROWS):
        p = existing[rng.randrange(len(existing))] if i % 2 else fresh[i // 2]
        raw = {"first_name": p.first, "last_name": p.last, "email": p.email, "phone": p.phone, "street": p.street,
               "postcode": p.postcode, "country": p.country, "birth_date": p.dob.isoformat(),
               "invoice_number": f"N-{i}", "amount": "10", "opened_on": "2026-01-01"}  # fmt: skip
        rows.append((i + 1, validate(raw)[0]))
    return rows


def time_per_row(index: MatchIndex, rows: list[tuple[int, DebtorLine]]) -> tuple[float, int]:
    matcher = Matcher(index, "client", "bench", ImportSettings())
    matched = 0
    start = time.perf_counter()
    for n in range(0, len(rows), 500):
        decisions = matcher.match_batch(rows[n : n + 500])
        matched += sum(d.matched_by != "new" for d in decisions)
        matcher.forget()  # no flush: every run sees the same pre-filled index
    return (time.perf_counter() - start) / len(rows), matched


def run(report: Report, quick: bool) -> None:
    small, big = 10_000, (200_000 if quick else 1_000_000)
    people = make_people(big + QUERY_ROWS, seed=21)
    fresh = people[big:]
    results = {}
    for size in (small, big):
        index = InMemoryMatchIndex()
        index.keys, index.profiles = fill(people[:size])
        rows = queries(people[:size], fresh)
        index.lookups = 0
        # The index lives in DynamoDB in the service: keep Python's GC from walking a million profiles.
        gc.collect()
        gc.freeze()
        per_row, matched = time_per_row(index, rows)
        gc.unfreeze()
        results[size] = (per_row, index.lookups / len(rows), matched)
        del index
    base = results[small]
    for size in (small, big):
        per_row, lookups, matched = results[size]
        report.add(
            f"match time per row, in-memory index, {size:,} case owners",
            per_row * 1e6,
            "µs",
            baseline=f"{small:,} case owners" if size != small else None,
            baseline_value=base[0] * 1e6 if size != small else None,
            note=f"{lookups:.1f} key/profile lookups per row; {matched} of {QUERY_ROWS} rows matched",
        )
    _dynamo(report, people, fresh, quick)


def _dynamo(report: Report, people: list[Person], fresh: list[Person], quick: bool) -> None:
    import os

    from moto.server import ThreadedMotoServer

    from infra.definition import Names
    from infra.local.stack import local_environment, quiet_moto
    from infra.provision import provision
    from services.imports.repository import DynamoMatchIndex

    quiet_moto()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    saved = dict(os.environ)
    try:
        os.environ.update(local_environment(provision(f"http://{host}:{port}", Names("benchmatch")), None))
        sizes = (1_000, 5_000 if quick else 20_000)
        timings = {}
        filled = 0
        for size in sizes:
            index = DynamoMatchIndex("client")
            keys, profiles = fill(people[filled:size])
            index.put(keys, profiles)
            filled = size
            rows = queries(people[:size], fresh)[:500]
            gc.collect()
            gc.freeze()  # moto's server runs in this process: its item store is not ours to garbage-collect
            timings[size] = time_per_row(index, rows)
            gc.unfreeze()
        for size in sizes:
            per_row, matched = timings[size]
            report.add(
                f"match time per row, DynamoDB index (moto), {size:,} case owners",
                per_row * 1e6,
                "µs",
                baseline=f"{sizes[0]:,} case owners" if size != sizes[0] else None,
                baseline_value=timings[sizes[0]][0] * 1e6 if size != sizes[0] else None,
                note=f"BatchGetItem per 500-row batch; {matched} of 500 rows matched",
            )
    finally:
        os.environ.clear()
        os.environ.update(saved)
        server.stop()
