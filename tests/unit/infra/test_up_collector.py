"""`finview up` keeps Python's own cycle collector. Freezing what survives each full collection (moto's processes do,
``fidelity.stored_items_frozen``) kept in this process every cycle a function held while a collection ran and
dropped afterwards, until a rare whole walk: ~450 MB at 100k rows (bench/RESULTS.md, fifteenth session). The
collector is process-wide, so the check runs in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from infra.local import fidelity

CHILD = """
import argparse, errno, gc, json, weakref
from infra import cli
from infra.local import fidelity
class Taken(cli.LocalStack):
    def start(self):  # the ports taken as the stack starts: stop there
        raise OSError(errno.EADDRINUSE, "taken")
cli.LocalStack = Taken
assert cli.cmd_up(argparse.Namespace(moto_port=0, api_port=0, dynamodb_port=0)) == 2
gc.collect()
class Batch:  # what a function holds across a collection: a batch and its responses, pointing at each other
    pass
batch, response = Batch(), Batch()
batch.response, response.batch = response, batch
held = weakref.ref(batch)
for _ in range(3):
    gc.collect()  # the batch is alive through full collections
del batch, response  # the function is done with it: a cycle nothing reaches
gc.collect()
print(json.dumps({"installed": fidelity.installed(), "frozen": gc.get_freeze_count(), "freed": held() is None}))
"""


def test_a_cycle_finview_up_held_through_full_collections_is_freed_by_the_next_one(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert "stored-items-frozen" not in out["installed"], out
    assert out["frozen"] == 0 and out["freed"], out


def test_the_suites_process_keeps_pythons_collector() -> None:
    assert "stored-items-frozen" not in fidelity.installed()
