"""``finview up`` gives the pages glibc holds free back to the system every few seconds while it runs
(``infra.local.memory.trim_periodically``), as moto's processes do, and stops doing so when it stops."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from infra.local.stack import LocalStack

pytestmark = pytest.mark.e2e


def _trimmers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "malloc-trim"]


def test_the_stack_s_own_process_trims_while_it_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINVIEW_MALLOC_TRIM_SECONDS", raising=False)
    before = _trimmers()
    with LocalStack(stage="trims", log_file=str(tmp_path / "l.log"), dispatch=False):
        started = [t for t in _trimmers() if t not in before]
        assert len(started) == 1 and started[0].is_alive()
    started[0].join(10)  # woken by the stop
    assert not started[0].is_alive()
