"""End to end on ``finview up``, as a user runs it: a generated client file dropped into the stack's S3 bucket,
imported (S3 → SQS → imports → DynamoDB → EventBridge), consumed by contacts (and enrichment, notifications),
until every consumer queue is empty: rows/s from the drop to the last contact point stored, with the share of
each phase. ``finview up`` runs as its own process (``python -m infra.cli up --moto-port 0 --api-port 0``), so
its resident set is measured alone, and it is stopped with one SIGTERM at the end.

In the same run, on the same moto server: plain ``BatchWriteItem`` of as many items (8 threads × 25 items, the
fastest a client can write into moto) is the raw limit the pipeline's items/s are compared with.

Then the biggest file again (an identical second round: the same rows, every id deterministic, so nothing new
is stored) with ``API_WRITES`` API writes after each round (notes, validations, make-default): the RSS after the
second round against the first says whether anything grows with time.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.bench_imports_core import generated_csv
from bench.harness import Report
from bench.stack_process import StackProcess

API_WRITES = 10_000
BASELINE_THREADS = 8


def write_file(directory: Path, rows: int, crlf: bool = False) -> Path:
    """The generated file; ``crlf``: the same rows with Windows line ends (imports refuses a file whose bytes
    it has imported already, so an identical second round needs other bytes for the same data)."""
    path = directory / f"debtors-{rows}{'-crlf' if crlf else ''}.csv"
    if not path.exists():
        with path.open("wb") as f:
            for chunk in generated_csv(rows, seed=3):
                f.write(chunk.replace(b"\n", b"\r\n") if crlf else chunk)
    return path


def _epoch(job: dict[str, Any], field: str) -> float:
    return datetime.fromisoformat(str(job[field])).timestamp()


def stored_items(stack: StackProcess) -> int:
    """Items in the stack's tables (moto's DescribeTable counts them live)."""
    assert stack.provisioned
    ddb = stack.client("dynamodb")
    names = [n for n in ddb.list_tables()["TableNames"] if n.startswith(f"finview-{stack.provisioned.names.stage}-")]
    return sum(int(ddb.describe_table(TableName=n)["Table"]["ItemCount"]) for n in names)


def process_cpu(stack: Any) -> dict[str, float]:
    """CPU seconds used so far by the functions' process (``finview up``, or this one when the stack runs in it)
    and by moto's server process(es)."""
    from bench.bench_reminders import cpu_seconds
    from bench.stack_process import descendants

    proc = getattr(stack, "proc", None)
    if proc is not None:  # ``finview up`` as its own process; moto's server is its child
        functions, motos = proc.pid, descendants(proc.pid)
    else:  # ``LocalStack`` in this process
        functions, motos = os.getpid(), stack.moto_pids
    return {"functions": cpu_seconds(functions), "moto": sum(cpu_seconds(m) for m in motos)}


def import_round(stack: StackProcess, client_id: str, path: Path, timeout: float) -> dict[str, Any]:
    """Drop ``path`` for the client and wait for contacts to have stored everything; times per phase, and the CPU
    each process used from the drop until the stack was idle."""
    from services.imports import repository

    assert stack.provisioned
    bucket = stack.provisioned.names.bucket("drops")
    key = f"{client_id}/{time.time_ns()}-{path.name}"
    s3 = stack.client("s3")
    items_before = stored_items(stack)
    load_before = os.getloadavg()[0]
    cpu_before = process_cpu(stack)
    wall0, start = time.time(), time.perf_counter()
    s3.upload_file(str(path), bucket, key)
    head = s3.head_object(Bucket=bucket, Key=key)
    refs = [r for r in (head.get("VersionId"), str(head["ETag"]).strip('"')) if r]
    job: dict[str, Any] | None = None
    while time.perf_counter() - start < timeout:
        import_id = next((i for r in refs if (i := repository.get_drop(f"{bucket}/{key}", r))), None)
        job = repository.get_job(import_id) if import_id else None
        if job and job["status"] in ("completed", "failed"):
            break
        time.sleep(0.5)
    assert job and job["status"] == "completed", job
    idle_at = stack.wait_idle(timeout=max(60.0, timeout - (time.perf_counter() - start)))
    cpu = {k: v - cpu_before[k] for k, v in process_cpu(stack).items()}
    elapsed = idle_at - start
    started, staged, finished = (_epoch(job, f) for f in ("started_at", "staged_at", "finished_at"))
    phases = {
        "drop": started - wall0,  # upload, S3 notification, the drop function picking it up
        "stage": staged - started,
        "publish": finished - staged,
        "contacts": (wall0 + elapsed) - finished,  # the consumers' tail after the last event was published
    }
    return {
        "elapsed": elapsed,
        "load": f"load average {load_before:.1f} → {os.getloadavg()[0]:.1f} (2 cores, shared)",
        "phases": phases,
        "job": job,
        "items": stored_items(stack) - items_before,
        "cpu": cpu,
    }


def check_readable(stack: StackProcess, client_id: str, expected_cases: int) -> list[dict[str, Any]]:
    """Every case through the API (paged), and the contact points of a sample of case owners."""
    cases: list[dict[str, Any]] = []
    token = ""
    while True:
        status, page = stack.api("GET", f"/clients/{client_id}/cases", query=f"limit=100{token}")
        assert status == 200, page
        cases.extend(page["items"])
        if not page.get("next_token"):
            break
        token = f"&next_token={page['next_token']}"
    assert len(cases) == expected_cases, (len(cases), expected_cases)
    for case in random.Random(1).sample(cases, min(50, len(cases))):
        status, points = stack.api("GET", f"/case-owners/{case['case_owner_id']}/contact-points")
        assert status == 200 and points["items"], points
    return cases


class Writes:
    """What a phase of API writes answered: statuses counted (a refusal with its error code), and every request
    the server failed (5xx) with its answer, so a run that saw one can say which."""

    def __init__(self) -> None:
        self.outcome: dict[str, int] = {}
        self.server_faults: list[str] = []
        self._lock = threading.Lock()

    def record(self, method: str, path: str, answer: tuple[int, Any]) -> None:
        code, body = answer
        error = body.get("error") if code >= 400 and isinstance(body, dict) else None
        key = f"{code} {error.get('code')}" if isinstance(error, dict) else str(code)
        with self._lock:
            self.outcome[key] = self.outcome.get(key, 0) + 1
            if code >= 500:
                self.server_faults.append(f"{method} {path} → {code} {json.dumps(body)[:300]}")

    def summary(self) -> str:
        faults = f"; server faults: {' | '.join(self.server_faults)}" if self.server_faults else ""
        return f"statuses {self.outcome}{faults}"


def api_writes(stack: StackProcess, cases: list[dict[str, Any]], n: int, seed: int) -> Writes:
    """``n`` writes through the API, 8 at a time: per case owner a validation and a make-default of a phone
    (or e-mail), and notes on its case; the outcome counts statuses, a refusal with its error code. Each round
    picks its owners by its own seed, so an owner the first round validated may come again: its validation is
    refused (409 already_validated, nothing changes) and its make-default succeeds again. A server fault (5xx)
    keeps ``finview up``'s log (``StackProcess.keep_log``) for its traceback."""
    rng = random.Random(seed)
    owners = {c["case_owner_id"]: c["case_id"] for c in cases}
    picked = rng.sample(sorted(owners), min(len(owners), n // 4))
    writes = Writes()

    def post(path: str, body: Any = None) -> None:
        writes.record("POST", path, answer := stack.api("POST", path, body))
        if answer[0] >= 500:
            stack.keep_log()

    def one_owner(owner: str) -> None:
        sent = 0
        _, points = stack.api("GET", f"/case-owners/{owner}/contact-points")
        usable = sorted(
            (p for p in points["items"] if p["type"] in ("phone", "email")), key=lambda p: p["type"] != "phone"
        )
        if usable:
            p = usable[0]
            base = f"/case-owners/{owner}/contact-points/{p['contact_point_id']}"
            # what confirms each type (an e-mail address only a reason, PRODUCT.md)
            evidence = {"kind": "successful_call"} if p["type"] == "phone" else {"kind": "reason", "note": "confirmed"}
            post(f"{base}/validate", {"evidence": evidence})
            post(f"{base}/make-default")
            sent = 2
        for _ in range(sent, 4):
            post(f"/cases/{owners[owner]}/notes", {"text": "called, no answer"})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one_owner, picked))
    return writes


def kept_log(stack: StackProcess) -> str:
    return f"; `finview up`'s log kept in {stack.kept_log}" if stack.kept_log else ""


def batch_write_baseline(stack: StackProcess, items: int) -> float:
    """Items/s of plain BatchWriteItem into a table of its own on the same moto server."""
    ddb = stack.client("dynamodb")
    name = f"bench-baseline-{time.time_ns()}"
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("PK", "SK")],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
    )
    filler = "x" * 300  # about the size of a stored contact point or case
    batches = [
        [
            {"PutRequest": {"Item": {"PK": {"S": f"OWNER#{n // 4}"}, "SK": {"S": f"CP#{n}"}, "v": {"S": filler}}}}
            for n in range(b, min(b + 25, items))
        ]
        for b in range(0, items, 25)
    ]

    def write(batch: list[dict[str, Any]]) -> None:
        client = stack.client("dynamodb")
        while batch:
            batch = client.batch_write_item(RequestItems={name: batch}).get("UnprocessedItems", {}).get(name, [])

    start = time.perf_counter()
    with ThreadPoolExecutor(BASELINE_THREADS) as pool:
        list(pool.map(write, batches))
    elapsed = time.perf_counter() - start
    ddb.delete_table(TableName=name)
    return items / elapsed


def run(report: Report, quick: bool) -> None:
    sizes: tuple[int, ...] = (500, 2_000) if quick else (10_000, 100_000)
    # BENCH_E2E_SIZES=2000,10000 (and BENCH_E2E_WRITES=…): other sizes, e.g. what fits the time a session has
    if os.environ.get("BENCH_E2E_SIZES"):
        sizes = tuple(int(n) for n in os.environ["BENCH_E2E_SIZES"].split(","))
    writes = int(os.environ.get("BENCH_E2E_WRITES") or (400 if quick else API_WRITES))
    with tempfile.TemporaryDirectory() as tmp:
        stack = StackProcess().start()
        try:
            _run(report, stack, sizes, writes, Path(tmp))
        finally:
            stop_seconds = stack.stop()
            report.add("SIGTERM to exit of `finview up`", stop_seconds, "s", note="one signal; goal ≤ 5 s")


def _run(report: Report, stack: StackProcess, sizes: tuple[int, ...], writes: int, tmp: Path) -> None:
    rates: dict[int, float] = {}
    results: dict[int, dict[str, Any]] = {}
    for n, rows in enumerate(sizes):
        status, client = stack.api("POST", "/clients", {"legal_name": f"Bench {rows} GmbH"})
        assert status == 201, client
        stack.wait_idle(timeout=60, settle=1)  # imports learns of the client from ClientCreated
        path = write_file(tmp, rows)
        result = import_round(stack, client["client_id"], path, timeout=3600)
        results[rows] = result | {"client_id": client["client_id"]}
        rates[rows] = rows / result["elapsed"]
        phases = result["phases"]
        total = sum(phases.values())
        job = result["job"]
        report.add(
            f"drop to last contact point stored, {rows:,} rows",
            rates[rows],
            "rows/s",
            baseline=f"{sizes[0]:,} rows" if n else None,
            baseline_value=rates[sizes[0]] if n else None,
            note=(
                f"{result['elapsed']:.0f} s; "
                + ", ".join(f"{k} {v:.0f} s ({v / total:.0%})" for k, v in phases.items())
                + f"; {job['case_owners_created']:,} case owners, {job['cases']:,} cases, "
                f"{result['items']:,} items stored; {result['load']}; goal ≥ 500 rows/s"
            ),
        )
        for name, label in (("functions", "`finview up` (the functions)"), ("moto", "moto's process")):
            report.add(
                f"CPU per row of {label}, {rows:,} rows",
                result["cpu"][name] / rows * 1000,
                "ms",
                note=f"{result['cpu'][name]:.0f} s of CPU from the drop until idle; goal: 4 ms per row on 2 cores",
            )
    biggest = sizes[-1]
    first = results[biggest]
    pipeline_rate = first["items"] / first["elapsed"]
    raw_rate = batch_write_baseline(stack, min(first["items"], 50_000))
    report.add(
        f"items stored per second by the pipeline, {biggest:,} rows",
        pipeline_rate,
        "items/s",
        baseline="plain BatchWriteItem, same moto",
        baseline_value=raw_rate,
        note=f"{first['items']:,} items in {first['elapsed']:.0f} s; raw {raw_rate:,.0f} items/s "
        f"(load average {os.getloadavg()[0]:.1f}); goal ratio ≥ 0.5",
    )
    cases = check_readable(stack, first["client_id"], int(first["job"]["cases"]))
    outcome = api_writes(stack, cases, writes, seed=1)
    stack.wait_idle(timeout=600)
    after_first = stack.status()
    report.add(
        f"RSS of `finview up` after {biggest:,} rows + {sum(outcome.outcome.values()):,} API writes",
        after_first["VmRSS"],
        "MB",
        note=f"peak {after_first['VmHWM']:,.0f} MB; `finview up` {after_first['first']:,.0f} MB, moto's process "
        f"{after_first['VmRSS'] - after_first['first']:,.0f} MB; {int(after_first['Threads'])} threads; "
        f"{outcome.summary()}{kept_log(stack)}; goal peak ≤ 1500 MB",
    )
    second = import_round(stack, first["client_id"], write_file(tmp, biggest, crlf=True), timeout=3600)
    outcome = api_writes(stack, cases, writes, seed=2)
    stack.wait_idle(timeout=600)
    after_second = stack.status()
    report.add(
        "RSS after an identical second round",
        after_second["VmRSS"],
        "MB",
        baseline="after the first round",
        baseline_value=after_first["VmRSS"],
        note=f"peak {after_second['VmHWM']:,.0f} MB; moto's process "
        f"{after_second['VmRSS'] - after_second['first']:,.0f} MB; {int(after_second['Threads'])} threads; "
        f"second import {biggest / second['elapsed']:.0f} rows/s ({second['load']}), {second['items']:,} new items; "
        f"{outcome.summary()}{kept_log(stack)}; goal within 10 %",
    )
