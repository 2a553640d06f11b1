"""What a stored item costs moto's DynamoDB process, for items shaped like the pipeline's: the bytes it holds per
item (tracemalloc, and a walk of the table's objects saying where they go) and its CPU per item of BatchWriteItem,
PutItem, TransactWriteItems and a Query page.

The items are an import's own: a small import runs through ``finview up`` first (``BENCH_ITEMS_ROWS``, 1,000 rows;
or ``BENCH_ITEMS_FILE``, a file an earlier run captured), and every item of its tables is kept with the tables'
schemas. Each measurement then runs in a fresh process per source tree: ``BENCH_ITEMS_TREES=/old,/new`` (the
trees' roots, put first on PYTHONPATH; default this tree alone), alternated, so the trees compare in one run."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.harness import Report

ACCOUNT, REGION = "123456789012", "eu-west-1"
QUERY_REPEATS = 5  # each partition queried this many times: a query's CPU is small next to /proc's 10 ms ticks
COPIES = 3  # the captured items written this many times over (keys made distinct), for a bigger table


def _encoded(value: Any) -> Any:
    """DynamoDB JSON as boto3 returns it, in JSON (binary values base64'd under ``__b``)."""
    if isinstance(value, bytes | bytearray):
        return {"__b": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {k: _encoded(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_encoded(v) for v in value]
    return value


def _decoded(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__b"}:
            return base64.b64decode(value["__b"])
        return {k: _decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


def capture(rows: int, out: Path) -> Path:
    """Import ``rows`` generated rows through ``finview up``; every item of its tables, with their schemas, as
    JSON lines."""
    from bench.bench_imports_e2e import import_round, write_file
    from bench.stack_process import StackProcess

    with tempfile.TemporaryDirectory() as tmp:
        stack = StackProcess().start()
        try:
            status, client = stack.api("POST", "/clients", {"legal_name": "Items GmbH"})
            assert status == 201, client
            stack.wait_idle(timeout=60, settle=1)
            import_round(stack, client["client_id"], write_file(Path(tmp), rows), timeout=3600)
            ddb = stack.client("dynamodb")
            with out.open("w") as f:
                for name in ddb.list_tables()["TableNames"]:
                    table = ddb.describe_table(TableName=name)["Table"]
                    schema = {
                        "KeySchema": table["KeySchema"],
                        "AttributeDefinitions": table["AttributeDefinitions"],
                        "GlobalSecondaryIndexes": [
                            {k: g[k] for k in ("IndexName", "KeySchema", "Projection")}
                            for g in table.get("GlobalSecondaryIndexes", [])
                        ],
                    }
                    f.write(json.dumps({"schema_of": name, "schema": schema}) + "\n")
                    for page in ddb.get_paginator("scan").paginate(TableName=name):
                        for item in page["Items"]:
                            f.write(json.dumps({"table": name, "item": _encoded(item)}) + "\n")
        finally:
            stack.stop()
    return out


def load(path: Path) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    schemas: dict[str, Any] = {}
    items: list[tuple[str, dict[str, Any]]] = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if "schema_of" in record:
            schemas[record["schema_of"]] = record["schema"]
        else:
            items.append((record["table"], _decoded(record["item"])))
    return schemas, items


def _kind(item: dict[str, Any]) -> str:
    """An item's kind: its sort key (else partition key) up to the first ``#``."""
    key = item.get("SK") or item.get("PK") or {}
    return str(next(iter(key.values()), "")).split("#")[0]


def _copy(table_keys: list[str], item: dict[str, Any], copy: int) -> dict[str, Any]:
    """The item with its string key attributes made distinct for ``copy`` > 0."""
    if not copy:
        return item
    out = dict(item)
    for name in table_keys:
        if "S" in out[name]:
            out[name] = {"S": f"{out[name]['S']}~{copy}"}
    return out


# ---- bytes per item: in a fresh process, moto's backend directly (no server), the fidelity patches installed ------


def memory_child(path: str) -> None:
    """Print one JSON line: tracemalloc's bytes per stored item and a walk of the tables' objects by category."""
    import gc
    import tracemalloc

    from infra.local import fidelity
    from infra.local.moto_process import quiet_moto

    quiet_moto()
    fidelity.install()
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[ACCOUNT][REGION]
    schemas, items = load(Path(path))
    for name, s in schemas.items():
        backend.create_table(
            name,
            schema=s["KeySchema"],
            throughput=None,
            attr=s["AttributeDefinitions"],
            global_indexes=s["GlobalSecondaryIndexes"] or None,
            indexes=None,
            streams=None,
            billing_mode="PAY_PER_REQUEST",
            sse_specification=None,
            tags=[],
            deletion_protection_enabled=False,
            warm_throughput=None,
        )
    keys = {name: [k["AttributeName"] for k in s["KeySchema"]] for name, s in schemas.items()}
    # each item as its request would carry it: strings of its own, parsed from JSON
    texts = [(table, json.dumps(_encoded(item))) for table, item in items]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    n = 0
    for copy in range(COPIES):
        for table, text in texts:
            backend.put_item(table, _copy(keys[table], _decoded(json.loads(text)), copy), overwrite=True)
            n += 1
    backend.describe_table(next(iter(schemas)))  # one more operation: packing runs after the last write
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    walk = _walk(backend)
    disk = getattr(fidelity, "_disk", None)
    print(
        json.dumps(
            {
                "items": n,
                "traced": traced / n,
                "walk": {k: v / n for k, v in walk.items()},
                "installed": fidelity.installed(),
                "disk": None if disk is None else _disk_use(disk),
            }
        )
    )


def _disk_use(disk: Any) -> dict[str, float]:
    """Rows and bytes of the fidelity's disk store of packed items (in the file, not in the process's memory)."""
    pages = disk.db.execute("PRAGMA page_count").fetchone()[0]
    size = disk.db.execute("PRAGMA page_size").fetchone()[0]
    return {"rows": disk.rows(), "bytes": pages * size}


def _walk(backend: Any) -> Counter[str]:
    """``sys.getsizeof`` of every object the tables hold, each counted once, by what holds it (no allocator
    overhead: tracemalloc's figure is the total)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    from infra.local import fidelity

    seen: set[int] = set()
    out: Counter[str] = Counter()

    def count(obj: Any, category: str) -> bool:
        if id(obj) in seen:
            return False
        seen.add(id(obj))
        out[category] += sys.getsizeof(obj)
        return True

    def value(v: Any, category: str) -> None:
        if isinstance(v, DynamoType):
            if count(v, f"{category}: DynamoType"):
                value(v.value, category)
        elif isinstance(v, dict):
            if count(v, f"{category}: dicts"):
                for k, x in v.items():
                    count(k, "attribute names")
                    value(x, category)
        elif isinstance(v, list | tuple):
            if count(v, f"{category}: lists"):
                for x in v:
                    value(x, category)
        else:
            count(v, f"{category}: str, bytes, numbers")

    def item(i: Any) -> None:
        count(i, "Item objects")
        state = i.__dict__
        value(state.get("hash_key"), "item keys")
        value(state.get("range_key"), "item keys")
        attrs = state.get("_finview_attrs", state.get("attrs"))
        if isinstance(attrs, bytes):
            count(attrs, "packed bytes")
        elif attrs is getattr(fidelity, "_ON_DISK", None):
            out["packed on disk (not in memory)"] += 0
        else:
            value(attrs, "unpacked attributes")

    for table in backend.tables.values():
        count(table.items, "table dicts")
        for hash_key, partition in table.items.items():
            value(hash_key, "partition keys")
            if isinstance(partition, dict) or table.range_key_attr is not None:
                # a dict, or the fidelity's partition object (a dict inside once it holds more than one item)
                count(partition, "partition dicts" if isinstance(partition, dict) else "partition objects")
                inner = getattr(partition, "_more", None)
                if inner is not None:
                    count(inner, "partition dicts")
                for range_key, i in partition.items():
                    value(range_key, "range keys (dict keys)")
                    item(i)
            else:
                item(partition)
        extra = table.__dict__.get("_finview_keys")
        if extra is not None:
            _walk_extra(extra, count)
    return out


def _walk_extra(root: Any, count: Any) -> None:
    """The fidelity patches' own per-table structures (GSI buckets, sorted range keys), items excluded."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    stack = [root]
    while stack:
        obj = stack.pop()
        if isinstance(obj, Item) or not count(obj, "fidelity's index structures"):
            continue
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple):
            stack.extend(obj)
        elif isinstance(obj, DynamoType):
            stack.append(obj.value)
        elif hasattr(obj, "__dict__"):
            stack.append(obj.__dict__)


# ---- CPU per item: moto's server process, pipeline-shaped requests ----------------------------------------------


class Server:
    """One moto process (``infra.local.moto_process``) of a source tree, with the captured tables."""

    def __init__(self, tree: str, schemas: dict[str, Any]) -> None:
        import boto3

        from infra.local.moto_process import MotoProcess

        self.moto = MotoProcess(env=_tree_env(tree)).start()
        assert self.moto.proc is not None
        self.pid = self.moto.proc.pid
        self.ddb = boto3.client(
            "dynamodb",
            endpoint_url=self.moto.endpoint_url,
            region_name=REGION,
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        for name, s in schemas.items():
            kwargs: dict[str, Any] = {"GlobalSecondaryIndexes": s["GlobalSecondaryIndexes"]}
            for g in kwargs["GlobalSecondaryIndexes"]:
                g["Projection"] = {k: v for k, v in g["Projection"].items() if k == "ProjectionType"}
            self.ddb.create_table(
                TableName=name,
                BillingMode="PAY_PER_REQUEST",
                KeySchema=s["KeySchema"],
                AttributeDefinitions=s["AttributeDefinitions"],
                **(kwargs if kwargs["GlobalSecondaryIndexes"] else {}),
            )

    def rss(self) -> float:
        from bench.stack_process import proc_status

        return proc_status(self.pid)["VmRSS"]

    def stop(self) -> None:
        self.moto.stop()


def _cpu(pid: int) -> float:
    from bench.bench_moto_requests import cpu_seconds

    return cpu_seconds(pid)


def run(report: Report, quick: bool) -> None:
    here = str(Path(__file__).resolve().parent.parent)
    trees = [t for t in os.environ.get("BENCH_ITEMS_TREES", here).split(",") if t]
    source = os.environ.get("BENCH_ITEMS_FILE")
    if source:
        path = Path(source)
    else:
        rows = int(os.environ.get("BENCH_ITEMS_ROWS") or (300 if quick else 1000))
        path = Path(tempfile.gettempdir()) / f"finview-bench-items-{rows}.jsonl"
        if not path.exists():
            capture(rows, path)
    schemas, items = load(path)
    kinds = Counter(_kind(i) for _, i in items)
    report.add(
        "items captured from an import",
        len(items),
        "items",
        note=f"{path}; by kind: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common(8)),
    )
    _memory(report, trees, path)
    _cpu_per_item(report, trees, schemas, items, rounds=1 if quick else 2)


def _tree_env(tree: str, **extra: str) -> dict[str, str]:
    """The environment of a child that imports ``infra`` from ``tree``: first on the path, and neither the working
    directory nor a script's own directory put before it (PYTHONSAFEPATH)."""
    path = os.pathsep.join(p for p in (tree, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "PYTHONSAFEPATH": "1", **extra}


def _memory(report: Report, trees: list[str], path: Path) -> None:
    for unpacked in ("0", os.environ.get("FINVIEW_MOTO_UNPACKED_ITEMS", "20000")):
        for tree in trees:
            out = subprocess.run(
                [sys.executable, __file__, "memory-child", str(path)],
                env=_tree_env(tree, FINVIEW_MOTO_UNPACKED_ITEMS=unpacked),
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            walk = sorted(result["walk"].items(), key=lambda kv: -kv[1])
            disk = result.get("disk")
            on_disk = f"; on disk: {disk['rows']:,} rows, {disk['bytes'] / 1e6:,.1f} MB of file" if disk else ""
            report.add(
                f"bytes per stored item in moto's DynamoDB (tracemalloc), newest {int(unpacked):,} unpacked, "
                f"{Path(tree).name}",
                result["traced"],
                "B",
                note=f"{result['items']:,} items; by object (getsizeof, {sum(result['walk'].values()):.0f} B): "
                + ", ".join(f"{k} {v:.0f}" for k, v in walk if v >= 1)
                + on_disk,
            )


def _requests(schemas: dict[str, Any], items: list[tuple[str, dict[str, Any]]], copy: int) -> dict[str, Any]:
    keys = {name: [k["AttributeName"] for k in s["KeySchema"]] for name, s in schemas.items()}
    mine = [(t, _copy(keys[t], i, copy)) for t, i in items]
    batches: list[dict[str, list[Any]]] = []
    for b in range(0, len(mine), 25):
        request: dict[str, list[Any]] = {}
        for table, item in mine[b : b + 25]:
            request.setdefault(table, []).append({"PutRequest": {"Item": item}})
        batches.append(request)
    return {"items": mine, "batches": batches}


def _cpu_per_item(
    report: Report, trees: list[str], schemas: dict[str, Any], items: list[tuple[str, dict[str, Any]]], rounds: int
) -> None:
    servers = {tree: Server(tree, schemas) for tree in trees}
    try:
        spent: dict[str, dict[str, float]] = {tree: {} for tree in trees}
        counted: Counter[str] = Counter()
        load = os.getloadavg()[0]
        for r in range(rounds):
            for tree in trees if r % 2 == 0 else reversed(trees):
                server = servers[tree]
                work = _requests(schemas, items, copy=3 * r)
                for name, n, fn in _operations(server, schemas, work, r):
                    c0 = _cpu(server.pid)
                    fn()
                    spent[tree][name] = spent[tree].get(name, 0.0) + _cpu(server.pid) - c0
                    if tree == trees[0]:
                        counted[name] += n
        for name, n in counted.items():
            values = [spent[tree][name] / n * 1e6 for tree in trees]
            report.add(
                f"moto CPU per item: {name}, {Path(trees[-1]).name}",
                values[-1],
                "µs",
                baseline=Path(trees[0]).name if len(trees) > 1 else None,
                baseline_value=values[0] if len(trees) > 1 else None,
                note=f"{n:,} items over {rounds} round(s), trees alternated; load average {load:.1f} → "
                f"{os.getloadavg()[0]:.1f}",
            )
        for tree, server in servers.items():
            report.add(f"RSS of moto's process after the CPU rounds, {Path(tree).name}", server.rss(), "MB")
    finally:
        for server in servers.values():
            server.stop()


def _operations(server: Server, schemas: dict[str, Any], work: dict[str, Any], r: int) -> list[tuple[str, int, Any]]:
    """(name, items, run) of each measured operation, over the captured items."""
    ddb = server.ddb
    items: list[tuple[str, dict[str, Any]]] = work["items"]
    keys = {name: [k["AttributeName"] for k in s["KeySchema"]] for name, s in schemas.items()}

    def batch_write() -> None:
        def write(request: dict[str, Any]) -> None:
            while request:
                request = ddb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(write, work["batches"]))

    # PutItem and TransactWriteItems on fresh keys, as contacts writes a new case owner: conditional
    puts = [(t, _copy(keys[t], i, 3 * r + 1)) for t, i in items[: len(items) // 4]]
    txs = [(t, _copy(keys[t], i, 3 * r + 2)) for t, i in items[: len(items) // 4]]

    def put_item() -> None:
        for table, item in puts:
            ddb.put_item(
                TableName=table,
                Item=item,
                ConditionExpression="attribute_not_exists(#k)",
                ExpressionAttributeNames={"#k": keys[table][0]},
            )

    def transact() -> None:
        for b in range(0, len(txs), 4):
            ddb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": table,
                            "Item": item,
                            "ConditionExpression": "attribute_not_exists(#k)",
                            "ExpressionAttributeNames": {"#k": keys[table][0]},
                        }
                    }
                    for table, item in txs[b : b + 4]
                ]
            )

    partitions: dict[tuple[str, str], int] = Counter()
    for table, item in items:
        if len(keys[table]) == 2 and "S" in item[keys[table][0]]:
            partitions[(table, item[keys[table][0]]["S"])] += 1
    queried = [p for p, n in partitions.items() if n >= 3][:300]

    def query() -> None:
        for table, pk in queried * QUERY_REPEATS:
            ddb.query(
                TableName=table,
                KeyConditionExpression="#k = :v",
                ExpressionAttributeNames={"#k": keys[table][0]},
                ExpressionAttributeValues={":v": {"S": pk}},
            )

    return [
        ("BatchWriteItem (25 a request, 8 threads)", len(items), batch_write),
        ("PutItem (conditional)", len(puts), put_item),
        ("TransactWriteItems (4 conditional puts)", len(txs), transact),
        ("Query of a partition (3+ items, one page)", sum(partitions[p] for p in queried) * QUERY_REPEATS, query),
    ]


if __name__ == "__main__" and sys.argv[1:2] == ["memory-child"]:
    memory_child(sys.argv[2])
elif __name__ == "__main__":
    start = time.perf_counter()
    report = Report(title="moto_items")
    run(report, quick="--quick" in sys.argv)
    print(report.markdown())
    print(f"{time.perf_counter() - start:.0f} s", file=sys.stderr)
