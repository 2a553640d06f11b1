"""What one imported row costs in AWS terms: requests, items written and items left stored, per function and per
kind of item, for a generated file dropped into the local stack (``LocalStack`` in this process, every AWS call
the handlers make recorded by ``tests.aws_calls``).

``python -m bench imports_calls`` (``BENCH_CALLS_ROWS=2000`` by default; ``--quick``: 300 rows; the tables also
go to the file ``BENCH_CALLS_OUT`` names). Two rounds: the file (new case owners), then the same rows again in
other bytes (known owners). Per case owner: requests by function and operation; written items by table, write
kind and item kind (a TransactWriteItems entry, a BatchWriteItem put or delete, a PutItem/UpdateItem/DeleteItem
each count one item; AWS bills a transactional write twice); PutEvents entries by detail type with their 64 KB
chunks; the items each table holds afterwards by kind, those with a TTL marked. The rates are not the point (the
stack shares this process); the counts are.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from bench.bench_imports_e2e import import_round, write_file
from bench.harness import Report

ROWS = 2_000
MOTO, PROCESS = "(moto's process)", "(this process, all threads)"  # CPU beside the functions'
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX = re.compile(r"\b[0-9a-f]{16,}\b")


def kind(pk: str, sk: str) -> str:
    """An item's kind from its keys: the key prefixes with ids, hashes, numbers and dates taken out."""

    def shape(key: str) -> str:
        key = _HEX.sub("<h>", _UUID.sub("<id>", key))
        key = re.sub(r"\d{4}-\d\d-\d\d[T0-9:.+\-]*", "<t>", key)
        key = re.sub(r"\d+", "<n>", key)
        parts = key.split("#")
        return "#".join(parts[:2]) if len(parts) > 2 else key

    return f"{shape(pk)} / {shape(sk)}"


def _keys(item: dict[str, Any]) -> tuple[str, str]:
    def s(v: Any) -> str:
        return str(v.get("S", v.get("N", ""))) if isinstance(v, dict) else str(v)

    return s(item.get("PK", item.get("pk", ""))), s(item.get("SK", item.get("sk", "")))


_TYPES = frozenset({"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"})


def _typed(item: dict[str, Any]) -> bool:
    """Whether an item is in the low-level form (``{"S": …}`` values: a client's call), not a resource's."""
    return all(isinstance(v, dict) and len(v) == 1 and next(iter(v)) in _TYPES for v in item.values())


def _number_bytes(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").strip("0") or "0"
    return (len(digits) + 1) // 2 + 1  # DynamoDB: about one byte per two significant digits, plus one


def _value_bytes(v: Any, typed: bool) -> int:
    """A value's size as DynamoDB bills it (strings and binary by length, numbers by digits, 3 bytes a document
    plus one an element)."""
    if typed:
        ((t, x),) = v.items()
        if t == "S":
            return len(x.encode())
        if t == "N":
            return _number_bytes(x)
        if t == "B":
            return len(x)
        if t in ("BOOL", "NULL"):
            return 1
        if t == "M":
            return 3 + sum(len(k.encode()) + _value_bytes(e, True) + 1 for k, e in x.items())
        if t == "L":
            return 3 + sum(_value_bytes(e, True) + 1 for e in x)
        return sum(_value_bytes({t[0]: e}, True) for e in x)  # a set
    if isinstance(v, str):
        return len(v.encode())
    if isinstance(v, bool) or v is None:
        return 1
    if isinstance(v, int | float) or type(v).__name__ == "Decimal":
        return _number_bytes(str(v))
    if isinstance(v, bytes | bytearray):
        return len(v)
    if isinstance(v, dict):
        return 3 + sum(len(str(k).encode()) + _value_bytes(e, False) + 1 for k, e in v.items())
    if isinstance(v, list | tuple):
        return 3 + sum(_value_bytes(e, False) + 1 for e in v)
    return sum(_value_bytes(e, False) for e in v)  # a set


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it: its attribute names and values."""
    typed = _typed(item)
    return sum(len(k.encode()) + _value_bytes(v, typed) for k, v in item.items())


def write_units(operation: str, item: dict[str, Any]) -> int:
    """AWS write units of one written item: one per started KB, twice that in a transaction. For an UpdateItem
    the attributes it sets are counted with the key, a lower bound (AWS counts the larger of the whole item before
    and after)."""
    units = max(1, -(-item_bytes(item) // 1024))
    return 2 * units if operation.startswith("Transact") else units


def writes_of(call: Any) -> list[tuple[str, str, str, int]]:
    """(table, operation, item kind, AWS write units) of every item a DynamoDB call writes."""
    p, op = call.params, call.operation
    out: list[tuple[str, str, str, int]] = []
    if op == "TransactWriteItems":
        for entry in p["TransactItems"]:
            ((verb, body),) = entry.items()
            if verb == "ConditionCheck":
                continue
            written = body.get("Item") or _updated(body)
            out.append((body["TableName"], f"Transact{verb}", kind(*_keys(body.get("Item") or body["Key"])),
                        write_units(f"Transact{verb}", written)))  # fmt: skip
    elif op == "BatchWriteItem":
        for table, requests in p["RequestItems"].items():
            for r in requests:
                if "PutRequest" in r:
                    item = r["PutRequest"]["Item"]
                    out.append((table, "BatchPut", kind(*_keys(item)), write_units("BatchPut", item)))
                else:
                    key = r["DeleteRequest"]["Key"]
                    out.append((table, "BatchDelete", kind(*_keys(key)), write_units("BatchDelete", key)))
    elif op in ("PutItem", "UpdateItem", "DeleteItem"):
        written = p.get("Item") or _updated(p)
        out.append((p["TableName"], op, kind(*_keys(p.get("Item") or p["Key"])), write_units(op, written)))
    return out


def _updated(body: dict[str, Any]) -> dict[str, Any]:
    """The key and the values an update or delete sends: what a write-unit count can see of the item."""
    values = body.get("ExpressionAttributeValues") or {}
    return {**body["Key"], **{k.lstrip(":"): v for k, v in values.items()}}


def stored(stack: Any) -> Counter[tuple[str, str]]:
    """(table, kind) → items the stack's tables hold now; the kind says "(expires)" for items with a TTL (DynamoDB
    deletes them for free once expired; moto keeps them until ``finview expire``)."""
    ddb = stack.client("dynamodb")
    out: Counter[tuple[str, str]] = Counter()
    for name in ddb.list_tables()["TableNames"]:
        pages = ddb.get_paginator("scan").paginate(
            TableName=name, ProjectionExpression="PK, SK, #e", ExpressionAttributeNames={"#e": "expiration"}
        )
        for page in pages:
            for item in page["Items"]:
                out[(_short(name), kind(*_keys(item)) + (" (expires)" if "expiration" in item else ""))] += 1
    return out


def _short(table: str) -> str:
    return table.split("-", 2)[-1] if table.startswith("finview-") else table


def measure(rows: int) -> list[dict[str, Any]]:
    """Two rounds: the file (new case owners), then the same rows again in other bytes (every owner known, every
    case there: what a client's next file costs for the debtors it repeats)."""
    from infra.local.stack import LocalStack
    from tests import aws_calls

    saved = dict(os.environ)
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            with LocalStack(stage="calls", log_file=str(Path(tmp) / "lambda.log")) as stack:
                status, client = _api(stack, "POST", "/clients", {"legal_name": "Calls GmbH"})
                assert status == 201, client
                stack.wait_idle(timeout=60, settle=1)
                moto_pids = stack.moto_pids
                for again in (False, True):
                    path = write_file(Path(tmp), rows, crlf=again)
                    before = stored(stack)
                    start = time.perf_counter()
                    moto_before, process_before = sum(map(_cpu_of, moto_pids)), time.process_time()
                    with aws_calls.recording() as calls, _handler_cpu() as cpu:
                        result = import_round(stack, client["client_id"], path, timeout=3600)  # type: ignore[arg-type]
                    elapsed = time.perf_counter() - start  # LocalStack.wait_idle answers True, not a time
                    cpu[MOTO] = sum(map(_cpu_of, moto_pids)) - moto_before
                    cpu[PROCESS] = time.process_time() - process_before
                    after = stored(stack)
                    rounds.append({"calls": list(calls), "job": result["job"], "before": before, "after": after,
                                   "elapsed": elapsed, "dlq": stack.dlq_depths(), "cpu": dict(cpu),
                                   "load": os.getloadavg()[0]})  # fmt: skip
        finally:
            os.environ.clear()
            os.environ.update(saved)
    return rounds


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _handler_cpu() -> Iterator[dict[str, float]]:
    """CPU seconds each function's invocations use on their own thread (their botocore work included; the threads
    the dispatcher polls with are not), by function."""
    from infra.local import dispatcher

    used: dict[str, float] = {}
    lock = threading.Lock()
    resolve = dispatcher.resolve

    def timed(function: Any) -> Any:
        handler = resolve(function)

        def run(event: dict[str, Any], context: Any) -> Any:
            start = time.thread_time()
            try:
                return handler(event, context)
            finally:
                with lock:
                    used[function.logical] = used.get(function.logical, 0.0) + time.thread_time() - start

        return run

    with mock.patch.object(dispatcher, "resolve", timed):
        yield used


def _api(stack: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    from infra import demo

    return demo.call(stack, method, path, body)


def tabulate(result: dict[str, Any], rows: int) -> str:
    calls, job = result["calls"], result["job"]
    owners = int(job["case_owners_created"]) + int(job["case_owners_merged"])
    by_fn = Counter((c.function.logical, c.service, c.operation) for c in calls)
    writes: Counter[tuple[str, str, str]] = Counter()
    units: Counter[tuple[str, str, str]] = Counter()
    entries: Counter[str] = Counter()
    chunks: Counter[str] = Counter()
    for c in calls:
        if c.service == "dynamodb":
            for t, op, k, wcu in writes_of(c):
                writes[(_short(t), op, k)] += 1
                units[(_short(t), op, k)] += wcu
        if c.service == "events" and c.operation == "PutEvents":
            for e in c.params["Entries"]:
                entries[e["DetailType"]] += 1
                size = len(json.dumps(e).encode())
                chunks[e["DetailType"]] += -(-size // (64 * 1024))
    delta = result["after"] - result["before"]
    kept = sum(n for (_, k), n in delta.items() if not k.endswith("(expires)"))
    lines = [
        f"{rows:,} rows, {owners:,} case owners, {int(job['cases']):,} cases; {len(calls):,} requests "
        f"({len(calls) / rows:.2f} per row, {len(calls) / owners:.2f} per case owner); "
        f"{sum(delta.values()):,} items left stored ({sum(delta.values()) / owners:.2f} per case owner, "
        f"{kept / owners:.2f} without an expiry); "
        f"{result['elapsed']:.0f} s; DLQs {sum(result['dlq'].values())}",
        "",
        "| function | service | operation | requests | per case owner |",
        "|---|---|---|---:|---:|",
    ]
    lines += [f"| {f} | {s} | {o} | {n:,} | {n / owners:.2f} |" for (f, s, o), n in sorted(by_fn.items())]
    requests = Counter(c.function.logical for c in calls)
    lines += [
        "",
        f"CPU per case owner (load average {result['load']:.1f} at the end; the CPU hardly depends on the load):",
        "",
        "| function | CPU ms per case owner | requests per case owner | CPU ms per request |",
        "|---|---:|---:|---:|",
    ]
    for name, seconds in sorted(result["cpu"].items()):
        n = requests.get(name, 0)
        per_request = f"{seconds * 1000 / n:.2f}" if n else ""
        lines.append(f"| {name} | {seconds * 1000 / owners:.2f} | {n / owners:.2f} | {per_request} |")
    by_table: Counter[str] = Counter()
    for (t, _, _), n in units.items():
        by_table[t] += n
    lines += [
        "",
        "AWS write units per case owner (one per started KB of an item, twice in a transaction; an update's counted "
        "by what it sends): "
        + ", ".join(f"{t} {n / owners:.2f}" for t, n in sorted(by_table.items()))
        + f"; all {sum(by_table.values()) / owners:.2f}",
        "",
        "| table | write | item kind | items | per case owner | write units | per case owner |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {t} | {op} | {k} | {n:,} | {n / owners:.2f} | {units[(t, op, k)]:,} | {units[(t, op, k)] / owners:.2f} |"
        for (t, op, k), n in sorted(writes.items())
    ]
    lines += ["", "| detail type | PutEvents entries | 64 KB chunks | per case owner |", "|---|---:|---:|---:|"]
    lines += [f"| {d} | {n:,} | {chunks[d]:,} | {chunks[d] / owners:.2f} |" for d, n in sorted(entries.items())]
    lines += ["", "| table | item kind | left stored | per case owner |", "|---|---|---:|---:|"]
    lines += [f"| {t} | {k} | {n:,} | {n / owners:.2f} |" for (t, k), n in sorted(delta.items()) if n]
    return "\n".join(lines)


def run(report: Report, quick: bool) -> None:
    rows = 300 if quick else int(os.environ.get("BENCH_CALLS_ROWS") or ROWS)
    tables = []
    for n, result in enumerate(measure(rows)):
        label = "new case owners" if n == 0 else "the same rows again (known owners)"
        job = result["job"]
        owners = int(job["case_owners_created"]) + int(job["case_owners_merged"])
        delta = result["after"] - result["before"]
        tables.append(f"#### {label}\n\n" + tabulate(result, rows))
        print(tables[-1], flush=True)
        report.add(f"AWS requests per case owner, {rows:,} rows, {label}", len(result["calls"]) / owners, "requests",
                   note=f"{len(result['calls']):,} requests, {owners:,} case owners")  # fmt: skip
        handlers = sum(v for k, v in result["cpu"].items() if not k.startswith("("))
        moto = result["cpu"][MOTO] * 1000 / owners
        report.add(f"handlers' CPU per case owner, {rows:,} rows, {label}", handlers * 1000 / owners, "ms",
                   note=f"moto's process {moto:.1f} ms; load average {result['load']:.1f}")  # fmt: skip
        units = Counter[str]()
        for c in result["calls"]:
            if c.service == "dynamodb":
                for t, _, _, wcu in writes_of(c):
                    units[_short(t)] += wcu
        report.add(f"AWS write units per case owner, {rows:,} rows, {label}", sum(units.values()) / owners, "WCU",
                   note=", ".join(f"{t} {n / owners:.2f}" for t, n in sorted(units.items())))  # fmt: skip
        kept = sum(n for (_, k), n in delta.items() if not k.endswith("(expires)"))
        report.add(
            f"items left stored per case owner, {rows:,} rows, {label}",
            sum(delta.values()) / owners,
            "items",
            note=f"{sum(delta.values()):,} items in all tables, {kept / owners:.2f} per owner without an expiry",
        )
    out = os.environ.get("BENCH_CALLS_OUT")
    if out:
        Path(out).write_text("\n\n".join(tables) + "\n")
