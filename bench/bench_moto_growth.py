"""What grows with the store in moto's DynamoDB process: its CPU per item written while the store is small, and
while it grows to the size a 100k-row import leaves (~1.4M items), in minutes instead of a 20-minute import.

moto's backend runs in a fresh process per source tree (the local stack's fidelity patches installed, as in moto's
DynamoDB process, with ``stored_items_frozen`` when the tree has it), without a server: what a request costs on the
wire does not depend on the store. It is filled with copies of an import's own items (``bench_moto_items``: a
small import captured through ``finview up``, or ``BENCH_ITEMS_FILE``), keys made distinct per copy; the staged
rows keep their one ``JOB#`` partition, as an import writes them. Then, at the large store, the CPU per item of
puts of new items, gets of just-written and of old (packed) items, conditional updates of old items and queries of
old partitions. ``BENCH_GROWTH_COPIES=small,large`` (default 2,30: ~57k and ~0.9M items);
``BENCH_GROWTH_TREES=/new,/old`` runs new, old, new (each tree first on PYTHONPATH), so they compare in one run.
A cost that does not grow with the store has a ratio large/small near 1."""

from __future__ import annotations

import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import Report

ACCOUNT, REGION = "123456789012", "eu-west-1"
PROBES = {"get_old": 10_000, "update_old": 5_000, "query_old": 2_000}


def child(path: str, small: int, large: int) -> None:
    """Print one JSON line: CPU per put filling the small and the large store, the full collections, the probes."""
    from bench.bench_moto_items import _encoded, load
    from infra.local import fidelity
    from infra.local.moto_process import quiet_moto

    quiet_moto()
    fidelity.install()
    frozen = hasattr(fidelity, "stored_items_frozen")
    if frozen:
        fidelity.stored_items_frozen()
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[ACCOUNT][REGION]
    schemas, items = load(Path(path))
    for name, s in schemas.items():
        backend.create_table(
            name, schema=s["KeySchema"], throughput=None, attr=s["AttributeDefinitions"],
            global_indexes=s["GlobalSecondaryIndexes"] or None, indexes=None, streams=None,
            billing_mode="PAY_PER_REQUEST", sse_specification=None, tags=[], deletion_protection_enabled=False,
            warm_throughput=None,
        )  # fmt: skip
    texts = [(table, json.dumps(_encoded(item))) for table, item in items]
    full: dict[str, float] = {"n": 0, "s": 0.0, "started": 0.0}

    def collected(phase: str, info: dict[str, Any]) -> None:
        if info["generation"] == 2:
            if phase == "start":
                full["started"] = time.process_time()
            else:
                full["n"] += 1
                full["s"] += time.process_time() - full["started"]

    gc.callbacks.insert(0, collected)

    def request(n: int, copy: int) -> tuple[str, dict[str, Any]]:
        """The item as a request carries it (strings of its own, parsed from JSON), keys made distinct per copy."""
        from bench.bench_moto_items import _decoded

        table, text = texts[n]
        item: dict[str, Any] = _decoded(json.loads(text))
        pk = item["PK"]["S"]
        if copy and pk.startswith("JOB#"):
            item["SK"] = {"S": f"{item['SK']['S']}~{copy}"}
        elif copy:
            item["PK"] = {"S": f"{pk}~{copy}"}
        return table, item

    def fill(copies: range) -> dict[str, float]:
        n0, s0, c0 = full["n"], full["s"], time.process_time()
        for copy in copies:
            for n in range(len(texts)):
                backend.put_item(*request(n, copy))
        puts = len(copies) * len(texts)
        return {
            "us_per_put": (time.process_time() - c0) / puts * 1e6,
            "full_collections": full["n"] - n0,
            "collector_us_per_put": (full["s"] - s0) / puts * 1e6,
        }

    out: dict[str, Any] = {"tree": str(Path(fidelity.__file__).parents[2]), "frozen": frozen}
    out["small"] = fill(range(1, small + 1))
    out["large"] = fill(range(small + 1, large + 1))
    out["items"] = sum(len(p) for t in backend.tables.values() for p in t.items.values())
    rnd = random.Random(7)
    contacts = [n for n, (t, _) in enumerate(texts) if t.endswith("contacts")]
    owners = [n for n in contacts if '"OWNER#' in texts[n][1]]

    def key(n: int, copy: int) -> tuple[str, dict[str, Any]]:
        table, item = request(n, copy)
        return table, {"PK": item["PK"], "SK": item["SK"]}

    def get_old() -> None:
        for _ in range(PROBES["get_old"]):
            found = backend.get_item(*key(rnd.randrange(len(texts)), rnd.randint(1, large)))
            assert found is not None
            found.attrs  # noqa: B018 - unpacks, as a response does

    def update_old() -> None:
        for _ in range(PROBES["update_old"]):
            table, k = key(rnd.choice(contacts), rnd.randint(1, large))
            backend.update_item(
                table, k, "SET #x = :v", {"#x": "growth_probe"}, {":v": {"S": "x"}},
                condition_expression="attribute_exists(PK)",
            )  # fmt: skip

    def query_old() -> None:
        for _ in range(PROBES["query_old"]):
            table, k = key(rnd.choice(owners), rnd.randint(1, large))
            query: Any = backend.query  # moto's hints say Limit and ExclusiveStartKey are never None
            found, _, _ = query(table, k["PK"], None, [], None, None, True, None, hash_key_conditions=[("PK", k["PK"])])
            for item in found:
                item.attrs  # noqa: B018 - unpacks, as a response does

    for name, fn in (("get_old", get_old), ("update_old", update_old), ("query_old", query_old)):
        c0 = time.process_time()
        fn()
        out[name] = (time.process_time() - c0) / PROBES[name] * 1e6
    print(json.dumps(out), flush=True)


def run(report: Report, quick: bool) -> None:
    here = str(Path(__file__).resolve().parent.parent)
    trees = [t for t in os.environ.get("BENCH_GROWTH_TREES", here).split(",") if t]
    small, large = (int(c) for c in os.environ.get("BENCH_GROWTH_COPIES", "1,3" if quick else "2,30").split(","))
    source = os.environ.get("BENCH_ITEMS_FILE")
    if source:
        path = Path(source)
    else:
        from bench.bench_moto_items import capture

        rows = 300 if quick else 2000
        path = Path(tempfile.gettempdir()) / f"finview-bench-items-{rows}.jsonl"
        if not path.exists():
            capture(rows, path)
    order = trees + trees[:1] if len(trees) > 1 else trees
    for tree in order:
        from bench.bench_moto_items import _tree_env

        load = os.getloadavg()[0]
        done = subprocess.run(
            [sys.executable, __file__, str(path), str(small), str(large)],
            env=_tree_env(tree),
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(done.stdout.strip().splitlines()[-1])
        label = f"{Path(tree).name}{' (frozen store)' if r['frozen'] else ''}, load {load:.1f}"
        s, g = r["small"], r["large"]
        report.add(
            f"moto CPU a put, store to {small} copies / from {small} to {large} copies ({r['items']:,} items), {label}",
            g["us_per_put"],
            "µs",
            note=f"small {s['us_per_put']:.0f} µs → large {g['us_per_put']:.0f} µs: "
            f"×{g['us_per_put'] / s['us_per_put']:.2f}; "
            f"full collections {s['full_collections']:.0f} / {g['full_collections']:.0f}, their CPU a put "
            f"{s['collector_us_per_put']:.0f} / {g['collector_us_per_put']:.0f} µs",
        )
        report.add(
            f"moto CPU at the large store: get / conditional update / query of old items, {label}",
            r["get_old"],
            "µs",
            note=f"get {r['get_old']:.0f}, update {r['update_old']:.0f}, query {r['query_old']:.0f} µs",
        )


if __name__ == "__main__":
    child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
