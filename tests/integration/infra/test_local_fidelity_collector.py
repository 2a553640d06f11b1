"""infra.local.fidelity.stored_items_frozen: in moto's DynamoDB process, a full collection of the cycle collector walks
what was made since the last one, not the whole store; everything is still freed (by reference counting at once,
a cycle at the next whole walk). The collector is process-wide, so each test runs in a child process."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap

from infra.local import fidelity
from infra.local.moto_process import MotoProcess

CHILD_SETUP = """
import gc, json, sys, weakref
from infra.local import fidelity
fidelity.install()
if "--frozen" in sys.argv:
    fidelity.stored_items_frozen()
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
backend = dynamodb_backends["123456789012"]["eu-west-1"]
keys = [{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}]
types = [{"AttributeName": "PK", "AttributeType": "S"}, {"AttributeName": "SK", "AttributeType": "S"}]
backend.create_table(
    "t", schema=keys, throughput=None, attr=types,
    global_indexes=None, indexes=None, streams=None, billing_mode="PAY_PER_REQUEST", sse_specification=None,
    tags=[], deletion_protection_enabled=False, warm_throughput=None,
)

def put(n, text="v"):
    backend.put_item("t", {"PK": {"S": f"MATCH#{n}"}, "SK": {"S": "KEY"}, "owners": {"M": {"o": {"S": text}}}})

def stored(n):
    return backend.tables["t"].items[DynamoType({"S": f"MATCH#{n}"})][DynamoType({"S": "KEY"})]

walked = []
def measure(phase, info):
    if phase == "start" and info["generation"] == 2:
        walked.append(len(gc.get_objects()))  # the objects in the collector's generations: what it walks
"""


def _child(body: str, *args: str) -> dict[str, object]:
    script = CHILD_SETUP + textwrap.dedent(body)
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


WALKED = """
for n in range(20000):
    put(n)
gc.collect()  # the store as a long import leaves it, collected once
gc.collect()
gc.callbacks.insert(0, measure)
for n in range(20000, 20100):
    put(n)
gc.collect()
print(json.dumps({"walked": walked[-1], "stats": fidelity.stats.get("full_collections", 0)}))
"""


def test_a_full_collection_walks_what_was_made_since_not_the_whole_store() -> None:
    frozen = _child(WALKED, "--frozen")
    as_python = _child(WALKED)
    # 20,000 stored items are ~60,000 tracked objects (item, key, partition): Python's own walks them all again
    assert as_python["walked"] > 60_000  # type: ignore[operator]
    assert frozen["walked"] < 20_000  # type: ignore[operator]


def test_a_replaced_or_deleted_frozen_item_is_freed_at_once() -> None:
    out = _child(
        """
        for n in range(1000):
            put(n)
        gc.collect()
        gc.collect()
        assert gc.get_freeze_count() > 1000
        replaced, deleted = weakref.ref(stored(1)), weakref.ref(stored(2))
        put(1, "new")
        backend.delete_item("t", {"PK": {"S": "MATCH#2"}, "SK": {"S": "KEY"}})
        print(json.dumps({"replaced": replaced() is None, "deleted": deleted() is None,
                          "now": stored(1).attrs["owners"].value["o"].value}))
        """,
        "--frozen",
    )
    assert out == {"replaced": True, "deleted": True, "now": "new"}


def test_a_cycle_frozen_while_alive_is_freed_by_a_later_whole_walk() -> None:
    out = _child(
        """
        class Node:
            pass
        a, b = Node(), Node()
        a.other, b.other = b, a
        alive = weakref.ref(a)
        for n in range(5000):
            put(n)
        gc.collect()
        gc.collect()  # the cycle is frozen with the store
        frozen = gc.get_freeze_count()
        del a, b
        whole = fidelity.stats["whole_walks"]
        collections = 0
        while fidelity.stats["whole_walks"] == whole and collections < 200:
            for n in range(2000):  # work between collections, as an import's requests make
                put(5000 + 2000 * collections + n)
            gc.collect()
            collections += 1
        print(json.dumps({"was_frozen": frozen > 5000, "freed": alive() is None, "collections": collections}))
        """,
        "--frozen",
    )
    assert out["was_frozen"] and out["freed"], out


def test_moto_process_runs_with_the_store_frozen_out_of_full_collections() -> None:
    moto = MotoProcess().start()
    try:
        assert "stored-items-frozen" in moto.patches()
    finally:
        moto.stop()
    assert "stored-items-frozen" not in fidelity.installed()  # never where our own code freezes objects


def test_whole_walks_take_at_most_a_fifth_of_the_collectors_time() -> None:
    """A whole walk (every stored item) comes once the partial walks since the last one cost four times what it did.
    The collector's clock is made to say: a whole walk costs 1.0 s, a partial one 0.3 s."""
    out = _child(
        """
        import time
        clock = {"now": 0.0}
        time.thread_time = lambda: clock["now"]

        def advance(phase, info):  # runs after the fidelity's callback: the collection's cost, as the clock says
            if phase == "start" and info["generation"] == 2:
                clock["now"] += 1.0 if fidelity.stats["whole_walks"] > walks[-1] else 0.3
                walks.append(fidelity.stats["whole_walks"])

        walks = [0]
        gc.callbacks.append(advance)
        for n in range(50):
            put(n)
            gc.collect()
        print(json.dumps({"whole": [i for i in range(1, len(walks)) if walks[i] > walks[i - 1]]}))
        """,
        "--frozen",
    )
    # from the first whole walk the clock timed on: 0.3 s a partial walk, 14 of them reach 4 × 1.0 s (one to one,
    # every 5th collection would walk everything)
    whole: list[int] = out["whole"]  # type: ignore[assignment]
    assert len(whole) >= 3 and [b - a for a, b in itertools.pairwise(whole)] == [15] * (len(whole) - 1), out
