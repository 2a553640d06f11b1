"""The e2e bench's API writes name every request the server failed and keep `finview up`'s log of that run."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.bench_imports_e2e import api_writes
from bench.stack_process import StackProcess


class FakeStack:
    """Answers like the API; make-default of one owner's point fails with a 500."""

    def __init__(self) -> None:
        self.kept: list[bool] = []

    def api(self, method: str, path: str, body: Any = None, query: str = "") -> tuple[int, Any]:
        if method == "GET":
            owner = path.split("/")[2]
            return 200, {"items": [{"type": "phone", "contact_point_id": f"cp-{owner}"}]}
        if path == "/case-owners/o2/contact-points/cp-o2/make-default":
            return 500, {"Code": "InternalServerError", "Message": "An internal server error occurred."}
        return 200, {}

    def keep_log(self) -> Path:
        self.kept.append(True)
        return Path("/kept/stderr.log")


def test_a_server_fault_is_named_and_keeps_the_log() -> None:
    stack = FakeStack()
    cases = [{"case_owner_id": f"o{i}", "case_id": f"c{i}"} for i in range(4)]

    writes = api_writes(stack, cases, 16, seed=1)  # type: ignore[arg-type]

    assert writes.outcome == {"200": 15, "500": 1}
    assert writes.server_faults == [
        "POST /case-owners/o2/contact-points/cp-o2/make-default → 500 "
        '{"Code": "InternalServerError", "Message": "An internal server error occurred."}'
    ]
    assert "server faults: POST /case-owners/o2/contact-points/cp-o2/make-default → 500" in writes.summary()
    assert stack.kept == [True]


def test_writes_without_a_fault_keep_nothing() -> None:
    stack = FakeStack()
    cases = [{"case_owner_id": f"o{i}", "case_id": f"c{i}"} for i in (0, 1)]

    writes = api_writes(stack, cases, 8, seed=1)  # type: ignore[arg-type]

    assert writes.outcome == {"200": 8} and writes.server_faults == []
    assert "server faults" not in writes.summary() and stack.kept == []


def test_the_kept_log_survives_stop() -> None:
    stack = StackProcess()
    code = "import sys, time; sys.stderr.write('Traceback: boom\\n'); sys.stderr.flush(); time.sleep(60)"
    stack.proc = subprocess.Popen([sys.executable, "-c", code], stderr=(stack.cwd / "stderr.log").open("wb"))
    (stack.cwd / ".finview").mkdir()
    (stack.cwd / ".finview" / "lambda.log").write_text('{"level": "ERROR", "message": "a note failed"}\n')
    kept = stack.keep_log()
    while "boom" not in (stack.cwd / "stderr.log").read_text():
        time.sleep(0.01)

    assert stack.stop() < 5
    assert not stack.cwd.exists()
    assert kept.read_text() == "Traceback: boom\n"
    # the functions' own log (where a handler's traceback goes) is kept beside it
    assert (kept.parent / "lambda.log").read_text() == '{"level": "ERROR", "message": "a note failed"}\n'
    shutil.rmtree(kept.parent)
