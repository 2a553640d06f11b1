"""The local stack's processes run with two glibc arenas (``infra.local.memory``): moto's processes get
``MALLOC_ARENA_MAX`` in the environment they start with, ``finview up`` sets it with ``mallopt``. And each gives
the pages glibc holds free back to the system every few seconds (``malloc_trim``)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from infra.local import memory
from infra.local.moto_process import MotoProcess

ROOT = Path(__file__).resolve().parents[3]


class _Started(Exception):
    pass


def _launched_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str] | None = None) -> Any:
    seen: list[Any] = []

    def popen(args: list[str], **kwargs: Any) -> Any:
        seen.append(kwargs.get("env"))
        raise _Started

    monkeypatch.setattr("infra.local.moto_process.subprocess.Popen", popen)
    with pytest.raises(_Started):
        MotoProcess(0, env=env).launch()
    return seen[0]


def test_moto_processes_start_with_two_arenas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINVIEW_MALLOC_ARENA_MAX", raising=False)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setenv("SOMETHING_ELSE", "kept")
    env = _launched_env(monkeypatch)
    assert env["MALLOC_ARENA_MAX"] == "2"
    assert env["SOMETHING_ELSE"] == "kept"  # the rest of the environment is inherited as before


def test_a_caller_s_own_setting_and_the_default_switch_are_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINVIEW_MALLOC_ARENA_MAX", raising=False)
    assert _launched_env(monkeypatch, {"MALLOC_ARENA_MAX": "4"}) == {"MALLOC_ARENA_MAX": "4"}
    monkeypatch.setenv("FINVIEW_MALLOC_ARENA_MAX", "0")  # glibc's default: the environment as it is
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert _launched_env(monkeypatch) is None


def test_the_running_process_limits_its_arenas_with_mallopt(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []

    class Libc:
        def mallopt(self, param: int, value: int) -> int:
            calls.append((param, value))
            return 1

    monkeypatch.delenv("FINVIEW_MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(memory, "_libc", Libc)
    assert memory.limit_arenas() is True
    assert calls == [(-8, 2)]  # M_ARENA_MAX
    monkeypatch.setenv("FINVIEW_MALLOC_ARENA_MAX", "0")
    assert memory.limit_arenas() is False
    assert calls == [(-8, 2)]


def test_without_glibc_nothing_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINVIEW_MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(memory, "_libc", lambda: None)
    assert memory.limit_arenas() is False


def test_the_stack_s_processes_give_free_pages_back_every_few_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    trimmed = threading.Event()

    class Libc:
        def malloc_trim(self, pad: int) -> int:
            calls.append(pad)
            if len(calls) >= 3:
                trimmed.set()
            return 1

    monkeypatch.setattr(memory, "_libc", Libc)
    monkeypatch.setenv("FINVIEW_MALLOC_TRIM_SECONDS", "0.05")
    stop = threading.Event()
    thread = memory.trim_periodically(stop)
    assert thread is not None and thread.daemon
    assert trimmed.wait(5)  # again and again, not once
    stop.set()
    thread.join(2)
    assert not thread.is_alive() and set(calls) == {0}  # pad 0: every whole free page


def test_trimming_can_be_turned_off_and_needs_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINVIEW_MALLOC_TRIM_SECONDS", "0")
    assert memory.trim_periodically(threading.Event()) is None
    monkeypatch.delenv("FINVIEW_MALLOC_TRIM_SECONDS")
    monkeypatch.setattr(memory, "_libc", lambda: None)
    assert memory.trim_periodically(threading.Event()) is None and memory.trim() is False


FRAGMENTED = """
import sys
from infra.local import memory
def rss():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")) // 1024
held = [bytearray(60_000) for _ in range(3_000)]  # below glibc's mmap threshold: in the heap, ~180 MB
held = held[::100]  # every 100th kept: the heap cannot shrink from its top, its free pages stay resident
before = rss()
assert memory.trim()
print(before, rss())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim, /proc")
def test_a_trim_gives_back_what_the_heap_holds_free_between_live_objects() -> None:
    """What the periodic trim is for: memory freed between objects still alive stays resident without it."""
    out = subprocess.run(
        [sys.executable, "-c", FRAGMENTED], capture_output=True, text=True, check=True, cwd=ROOT, timeout=60
    )
    before, after = map(int, out.stdout.split())
    assert before - after >= 100, (before, after)  # MB


MOTO_CHILD_IMPORTS = """
import sys
from infra.local import fidelity, moto_process, ses_feedback  # what moto's process runs, SES's feedback included
fidelity.install()
product = {"services", "fpdf", "fontTools", "numpy"}
print(sorted({m.split(".")[0] for m in sys.modules} & product), "infra.definition" in sys.modules)
"""


def test_moto_s_processes_do_not_import_the_product() -> None:
    """moto's processes serve AWS's APIs: the services' code (and fpdf, fontTools, numpy with it) is
    ``finview up``'s to run. It came in for the account id alone and cost each of them ~76 MB."""
    out = subprocess.run(
        [sys.executable, "-c", MOTO_CHILD_IMPORTS], capture_output=True, text=True, check=True, cwd=ROOT, timeout=120
    )
    assert out.stdout.split() == ["[]", "False"], out.stdout
