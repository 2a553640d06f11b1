"""What the match index costs per row, beside the matching itself: the DynamoDB index (BatchGetItem / BatchWriteItem
against moto's server in its own process) against the in-memory index of the ``imports_core`` bench.

The ``imports_core`` bench matches against ``InMemoryMatchIndex``, which hands out and keeps its objects without
copies: it measures the matching, not the index. In the service every batch reads its keys and candidates' profiles
from DynamoDB and writes what changed; this bench measures what that costs *our* process per row (botocore's
requests, the (de)serialisation, the threads of ``batch_get``), and moto's CPU beside it, on the same generated
rows (``BENCH_INDEX_ROWS``, 5,000 by default; ``--quick``: 1,000), imported twice: new case owners, then the same
rows again (known owners).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from bench.bench_imports_core import generated_csv
from bench.harness import Report
from services.imports import domain
from services.imports.domain import DebtorLine, ImportSettings
from services.imports.matching import InMemoryMatchIndex, Matcher, MatchIndex, OwnerProfile
from services.imports.parsing import open_table
from services.imports.pipeline import BATCH_ROWS, process_records


class Timed:
    """A match index whose calls' CPU time (this process, all threads) is counted."""

    def __init__(self, index: MatchIndex) -> None:
        self.index, self.cpu = index, 0.0

    def get_keys(self, keys: Iterable[str]) -> dict[str, dict[str, str]]:
        start = time.process_time()
        try:
            return self.index.get_keys(keys)
        finally:
            self.cpu += time.process_time() - start

    def get_profiles(self, owner_ids: Iterable[str]) -> dict[str, OwnerProfile]:
        start = time.process_time()
        try:
            return self.index.get_profiles(owner_ids)
        finally:
            self.cpu += time.process_time() - start

    def put(self, keys: Mapping[str, dict[str, str]], profiles: Mapping[str, OwnerProfile]) -> None:
        start = time.process_time()
        try:
            self.index.put(keys, profiles)
        finally:
            self.cpu += time.process_time() - start


def batches(rows: int) -> list[list[tuple[int, DebtorLine]]]:
    settings = ImportSettings()
    reader = open_table(iter(list(generated_csv(rows))), "bench.csv")
    columns = domain.resolve_columns(reader.header, settings)
    records = list(reader.records())
    out = []
    for n in range(0, len(records), BATCH_ROWS):
        valid, _, _ = process_records(records[n : n + BATCH_ROWS], columns, settings)
        out.append([(row, line) for row, _, line in valid])
    return out


def import_round(index: Timed, import_id: str, lines: list[list[tuple[int, DebtorLine]]]) -> tuple[float, float]:
    """CPU seconds of one import's matching: all of it, and the index's calls within it."""
    matcher = Matcher(index, "client", import_id, ImportSettings())
    before, start = index.cpu, time.process_time()
    for batch in lines:
        matcher.match_batch(batch)
        matcher.flush()
        matcher.forget()
    return time.process_time() - start, index.cpu - before


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def moto_server() -> Iterator[tuple[str, int]]:
    """moto's server in its own process (its CPU is not ours): the endpoint and its pid."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


def run(report: Report, quick: bool) -> None:
    from infra.definition import Names
    from infra.local.stack import local_environment
    from infra.provision import provision
    from services.imports.repository import DynamoMatchIndex

    rows = 1_000 if quick else int(os.environ.get("BENCH_INDEX_ROWS", "5000"))
    lines = batches(rows)
    valid = sum(map(len, lines))
    memory = Timed(InMemoryMatchIndex())
    in_memory = [import_round(memory, name, lines) for name in ("first", "again")]
    saved = dict(os.environ)
    try:
        with moto_server() as (endpoint, pid):
            os.environ.update(local_environment(provision(endpoint, Names("benchindex")), None))
            dynamo = Timed(DynamoMatchIndex("client"))
            moto_before = _cpu_of(pid)
            in_dynamo = []
            for name in ("first", "again"):
                moto_start = _cpu_of(pid)
                in_dynamo.append((*import_round(dynamo, name, lines), _cpu_of(pid) - moto_start))
            assert _cpu_of(pid) > moto_before
    finally:
        os.environ.clear()
        os.environ.update(saved)
    for label, (mem_all, mem_index), (dyn_all, dyn_index, moto) in zip(
        ("new case owners", "the same rows again"), in_memory, in_dynamo, strict=True
    ):
        report.add(
            f"match index calls per row, DynamoDB (moto), {label}",
            dyn_index / valid * 1e6,
            "µs CPU",
            baseline="the in-memory index's calls",
            baseline_value=mem_index / valid * 1e6,
            note=f"{valid:,} rows; this process, all threads; moto's server beside it: {moto / valid * 1e6:,.0f} µs",
        )
        report.add(
            f"matching per row without the index calls, {label}",
            (dyn_all - dyn_index) / valid * 1e6,
            "µs CPU",
            baseline="the same against the in-memory index",
            baseline_value=(mem_all - mem_index) / valid * 1e6,
            note="the same decisions either way; the difference is the matcher's own work on what each index returns",
        )
