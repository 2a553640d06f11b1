"""Import core on one core: parse + validate + normalise + match (in-memory match index), rows/s.

Also home of the generated debtor files the other imports benchmarks use (Faker de_DE, fr_FR, en_GB pools,
combined with a seeded RNG so that 1M rows generate in seconds).
"""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.harness import Report
from services.imports import domain
from services.imports.domain import ImportSettings
from services.imports.matching import InMemoryMatchIndex, Matcher, MatchIndex
from services.imports.parsing import open_table
from services.imports.pipeline import BATCH_ROWS, fewer_collections, process_records

HEADER = [
    "case_number", "first_name", "last_name", "birth_date", "email", "phone", "street", "postcode", "city", "country",
    "invoice_number", "amount", "opened_on",
]  # fmt: skip
LOCALES = {"DE": "de_DE", "FR": "fr_FR", "GB": "en_GB"}


@dataclass(frozen=True)
class Person:
    pid: int
    first: str
    last: str
    dob: date
    email: str
    phone: str  # national spelling
    street: str
    postcode: str
    city: str
    country: str


class Pools:
    """Names, streets, postcodes and cities per country, drawn once from Faker."""

    def __init__(self, seed: int = 7, size: int = 400) -> None:
        from faker import Faker

        self.by_country: dict[str, dict[str, list[str]]] = {}
        for country, locale in LOCALES.items():
            fake = Faker(locale)
            fake.seed_instance(seed)
            self.by_country[country] = {
                "first": [fake.first_name() for _ in range(size)],
                "last": [fake.last_name() for _ in range(size * 2)],
                "street": [fake.street_name() for _ in range(size)],
                "place": [f"{fake.postcode()}|{fake.city()}" for _ in range(size)],
            }


def _phone(rng: random.Random, country: str) -> str:
    if country == "DE":
        prefix = rng.choice(["30", "40", "89", "151", "170"])
        return f"0{prefix} {rng.randint(10**7, 10**8 - 1) if prefix[0] == '1' else rng.randint(10**6, 10**7 - 1)}"
    if country == "FR":
        return f"0{rng.choice('123456')} " + " ".join(f"{rng.randint(10, 99)}" for _ in range(4))
    return f"020 7{rng.randint(100, 999)} {rng.randint(1000, 9999)}"


def make_people(n: int, seed: int = 1, pools: Pools | None = None) -> list[Person]:
    pools = pools or Pools()
    rng = random.Random(seed)
    people = []
    for pid in range(n):
        country = rng.choice(list(LOCALES))
        pool = pools.by_country[country]
        first, last = rng.choice(pool["first"]), rng.choice(pool["last"])
        postcode, city = rng.choice(pool["place"]).split("|", 1)
        number = rng.randint(1, 120)
        street = f"{pool['street'][rng.randrange(len(pool['street']))]} {number}"
        if country == "FR":
            street = f"{number} {pool['street'][rng.randrange(len(pool['street']))]}"
        dob = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 65))
        local = domain.norm.fold(f"{first}.{last}").replace(" ", ".")
        people.append(
            Person(pid, first, last, dob, f"{local}.{pid}@example.{country.lower()}", _phone(rng, country), street,
                   postcode, city, country)
        )  # fmt: skip
    return people


def row_of(p: Person, invoice: int, rng: random.Random) -> list[str]:
    return [
        f"K-{p.pid}", p.first, p.last, p.dob.isoformat(), p.email, p.phone, p.street, p.postcode, p.city, p.country,
        f"INV-{invoice}", f"{rng.randint(10, 99999)},{rng.randint(0, 99):02d}",
        (date(2026, 1, 1) + timedelta(days=rng.randrange(300))).strftime("%d.%m.%Y"),
    ]  # fmt: skip


def csv_line(cells: list[str]) -> str:
    return ";".join(c.replace(";", ",").replace('"', "") for c in cells) + "\n"


def generated_csv(rows: int, seed: int = 1, repeat_rate: float = 0.3, people: int | None = None) -> Iterator[bytes]:
    """A debtor file as 1 MB chunks: ``repeat_rate`` of the rows are further invoices of an earlier debtor."""
    rng = random.Random(seed)
    pool = make_people(people or max(1, int(rows * (1 - repeat_rate))) + 1, seed)
    buffer = [csv_line(HEADER)]
    size = 0
    seen = 0
    for invoice in range(1, rows + 1):
        if seen and rng.random() < repeat_rate:
            person = pool[rng.randrange(seen)]
        else:
            person = pool[seen % len(pool)]
            seen += 1
        line = csv_line(row_of(person, invoice, rng))
        buffer.append(line)
        size += len(line)
        if size >= 1 << 20:
            yield "".join(buffer).encode()
            buffer, size = [], 0
    yield "".join(buffer).encode()


def core_import(chunks: Iterator[bytes], index: MatchIndex, import_id: str = "bench") -> dict[str, int]:
    """What the stage phase does per batch, without DynamoDB: read, validate, normalise, match, serialise."""
    settings = ImportSettings()
    reader = open_table(chunks, "bench.csv")
    columns = domain.resolve_columns(reader.header, settings)
    matcher = Matcher(index, "client", import_id, settings, rerun=False)  # as in an import's first run
    domain.norm.forget_cached_values()  # as the stage does
    counts = {"rows": 0, "valid": 0, "new": 0, "staged_bytes": 0}
    batch = []

    def run(batch: list[Any]) -> None:
        valid, _, _ = process_records(batch, columns, settings)
        decisions = matcher.match_batch([(row, line) for row, _, line in valid])
        for (row, line_no, debtor), d in zip(valid, decisions, strict=True):
            staged = domain.staged_json(row, line_no, d.case_owner_id, d.matched_by, d.owner_new, debtor)
            counts["staged_bytes"] += len(staged)
            counts["new"] += d.matched_by == "new"
        matcher.flush()
        matcher.forget()
        counts["rows"] += len(batch)
        counts["valid"] += len(valid)

    with fewer_collections() as batch_done:  # as the stage does
        for record in reader.records():
            batch.append(record)
            if len(batch) >= BATCH_ROWS:
                run(batch)
                batch = []
                batch_done()
        if batch:
            run(batch)
    return counts


def _parse_only(chunks: Iterator[bytes]) -> int:
    reader = open_table(chunks, "bench.csv")
    return sum(1 for _ in reader.records())


def _validation_rates(data: list[bytes]) -> tuple[float, float]:
    """Rows/s of row validation alone: the file's row validator (the plain path for ordinary rows, read from the
    cells) and the pydantic model per row (``line_by_model``, on the mapped rows), best of three each (caches warm)."""
    reader = open_table(iter(data), "bench.csv")
    settings = ImportSettings()
    columns = domain.resolve_columns(reader.header, settings)
    cells = [r.cells for r in reader.records() if r.cells is not None]
    raws = [columns.extract(c) for c in cells]
    validated = columns.validator(settings)
    checks = {
        "plain": lambda: [validated(c) for c in cells],
        "model": lambda: [domain.line_by_model(raw, settings, columns.date_formats) for raw in raws],
    }
    checks["plain"]()
    rates = {}
    for name, check in checks.items():
        best = 0.0
        for _ in range(3):
            start = time.perf_counter()
            check()
            best = max(best, len(cells) / (time.perf_counter() - start))
        rates[name] = best
    return rates["plain"], rates["model"]


# Run in a fresh interpreter inside a checkout (this one or an earlier commit's): CPU seconds of the import core.
_CHILD = """
import sys, time
from bench.bench_imports_core import core_import, generated_csv
from services.imports.matching import InMemoryMatchIndex
data = list(generated_csv(int(sys.argv[1])))
start = time.process_time()
counts = core_import(iter(data), InMemoryMatchIndex())
rate = counts["rows"] / (time.process_time() - start)
from pathlib import Path
# The tree's own module (this venv's editable install would find this checkout's shared.compiled for an older tree).
if Path("shared", "compiled.py").exists():
    from shared import compiled
elif Path("services", "imports", "compiled.py").exists():  # a tree from before the phone reader was compiled
    from services.imports import compiled
else:  # a tree from before the compiled core
    compiled = None
core = "compiled" if compiled is not None and compiled.active() else "pure"
print(rate, core)
"""


def _rate_in(tree: str, rows: int) -> tuple[float, str]:
    """CPU rows/s of the core in ``tree``, and which core ran there (``compiled`` or ``pure``)."""
    env = {**os.environ, "PYTHONPATH": tree}
    out = subprocess.run([sys.executable, "-c", _CHILD, str(rows)], cwd=tree, env=env, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    rate, core = out.strip().splitlines()[-1].split()
    return float(rate), core


def _listed(rates: list[float]) -> str:
    return ", ".join(f"{r:,.0f}" for r in rates)


def against_commit(report: Report, revision: str, sizes: tuple[int, ...], runs: int = 3) -> None:
    """The import core of this checkout against ``revision`` (``BENCH_BASELINE``: a commit, or a directory with an
    earlier tree) in the same run: each in its own interpreter, alternating, best CPU-time rate of ``runs`` each
    (the machine is shared: CPU time, not wall)."""
    here = str(Path(__file__).resolve().parent.parent)
    with tempfile.TemporaryDirectory() as tmp:
        old = revision  # a directory holding the earlier tree, or a commit to take it from
        if not Path(revision).is_dir():
            archive = subprocess.run(["git", "-C", here, "archive", revision], check=True, capture_output=True).stdout
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(tmp, filter="data")
            old = tmp
        for rows in sizes:
            new_rates: list[float] = []
            old_rates: list[float] = []
            cores: set[tuple[str, str]] = set()
            for _ in range(runs):
                for rates, tree in ((new_rates, here), (old_rates, old)):
                    rate, core = _rate_in(tree, rows)
                    rates.append(rate)
                    cores.add(("this" if tree == here else revision, core))
            report.add(
                f"import core, {rows:,} rows, against {revision}",
                max(new_rates),
                "rows/s",
                baseline=f"the same at {revision}",
                baseline_value=max(old_rates),
                note=f"CPU time, best of {runs} alternating runs each; this: {_listed(new_rates)}; "
                f"{revision}: {_listed(old_rates)}; core: "
                + ", ".join(f"{name} {core}" for name, core in sorted(cores)),
            )


def run(report: Report, quick: bool) -> None:
    sizes = (10_000, 30_000) if quick else (10_000, 100_000)
    if revision := os.environ.get("BENCH_BASELINE"):
        against_commit(report, revision, sizes[-1:])
    plain, model = _validation_rates(list(generated_csv(30_000 if quick else 100_000)))
    report.add(
        "row validation alone, plain path",
        plain,
        "rows/s",
        baseline="the pydantic model per row",
        baseline_value=model,
        note="the same mapped rows; best of three",
    )
    for rows in sizes:
        data = list(generated_csv(rows))
        start = time.perf_counter()
        parsed = _parse_only(iter(data))
        parse_rate = parsed / (time.perf_counter() - start)
        start = time.perf_counter()
        counts = core_import(iter(data), InMemoryMatchIndex())
        elapsed = time.perf_counter() - start
        assert counts["rows"] == rows and counts["valid"] == rows, counts
        report.add(
            f"import core, {rows:,} rows",
            rows / elapsed,
            "rows/s",
            baseline="CSV parsing alone",
            baseline_value=parse_rate,
            note=f"{counts['new']:,} case owners; {sum(map(len, data)) / 2**20:.1f} MB; one core",
        )
