"""`finview up` freezes what survives a full collection of the cycle collector out of the next ones
(``fidelity.stored_items_frozen``, as moto's processes do); the test suite's process keeps Python's own collector.
The collector is process-wide, so the check runs in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from infra.local import fidelity

CHILD = """
import argparse, errno, gc, json
from infra import cli
from infra.local import fidelity
before = fidelity.installed()
class Taken(cli.LocalStack):
    def start(self):  # the ports taken as the stack starts: stop there
        raise OSError(errno.EADDRINUSE, "taken")
cli.LocalStack = Taken
assert cli.cmd_up(argparse.Namespace(moto_port=0, api_port=0, dynamodb_port=0)) == 2
gc.collect()  # the process's modules and models, collected once
tracked = len(gc.get_objects()) + gc.get_freeze_count()
walked = []
def measure(phase, info):
    if phase == "start" and info["generation"] == 2:
        walked.append(len(gc.get_objects()))  # the objects in the collector's generations: what it walks
gc.callbacks.insert(0, measure)
made_since = [[n] for n in range(1000)]
gc.collect()
print(json.dumps({"before": before, "after": fidelity.installed(), "tracked": tracked, "walked": walked[-1]}))
"""


def test_finview_up_freezes_what_survives_full_collections(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert "stored-items-frozen" not in out["before"] and "stored-items-frozen" in out["after"], out
    # the stack's code (~100,000 tracked objects) is not walked again: what was made since, and little more
    assert out["tracked"] > 100_000 and out["walked"] < 10_000, out


def test_the_suites_process_keeps_pythons_collector() -> None:
    assert "stored-items-frozen" not in fidelity.installed()
