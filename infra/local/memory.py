"""glibc's malloc arenas in the local stack's processes: two, not eight per core.

glibc gives each thread that meets a busy arena a new one, up to eight per core, and every arena keeps what its
threads freed. ``finview up`` runs every function's copies and the API on ~70 threads, and moto's servers serve a
connection per thread, so the memory a big batch used and freed stayed spread over up to 16 arenas per process.
With two: ``finview up`` 385 → 341 MB and moto's processes 568 → 521 MB after 10,000 rows end to end, at
129.3 → 134.8 rows/s (bench/RESULTS.md, 2026-11-29). ``FINVIEW_MALLOC_ARENA_MAX``: another count, 0 for glibc's
default (the bench compares them).

The variable is read by glibc when a process starts, so moto's processes get it in their environment; the
running process (``finview up``) sets it with ``mallopt``.

And the pages glibc holds free go back to the system every few seconds (``trim_periodically``): glibc returns
freed memory only from the top of its heap, and a request's big strings (a PutEvents of ten 50 KB events, the
SQS messages that carry them, the responses that deliver them) are freed in between longer-lived objects, so after
an import moto's SQS/EventBridge/S3 process held ~115 MB free inside its heap for ~150 MB in use (glibc's
``mallinfo2``, 10,000 rows; bench/RESULTS.md, 2026-11-29). ``malloc_trim`` gives back every whole free page.
``FINVIEW_MALLOC_TRIM_SECONDS``: another period, 0 for none.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from typing import Any

ARENAS = 2
M_ARENA_MAX = -8  # glibc's malloc.h
TRIM_SECONDS = 5.0


def arena_limit() -> int | None:
    """The arenas a local stack's process gets; None: glibc's default."""
    n = int(os.environ.get("FINVIEW_MALLOC_ARENA_MAX") or ARENAS)
    return n if n > 0 else None


def _libc() -> Any:
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None


def limit_arenas() -> bool:
    """Limit this process's arenas (from now on: arenas already made stay); False where it cannot (not glibc)."""
    n = arena_limit()
    libc = _libc() if n is not None else None
    mallopt = getattr(libc, "mallopt", None)
    return bool(mallopt is not None and mallopt(M_ARENA_MAX, n) == 1)


def child_environment(env: dict[str, str] | None) -> dict[str, str] | None:
    """``env`` (None: this process's) for a child process of the local stack, with the arena limit unless the
    caller set ``MALLOC_ARENA_MAX`` itself."""
    n = arena_limit()
    base = dict(os.environ if env is None else env)
    if n is None or "MALLOC_ARENA_MAX" in base:
        return env
    return {**base, "MALLOC_ARENA_MAX": str(n)}


def trim_period() -> float | None:
    """Seconds between two trims of a local stack's process; None: never."""
    seconds = float(os.environ.get("FINVIEW_MALLOC_TRIM_SECONDS") or TRIM_SECONDS)
    return seconds if seconds > 0 else None


def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None where there is none."""
    return getattr(_libc(), "malloc_trim", None)


def trim() -> bool:
    """Give the whole pages glibc's malloc holds free back to the system; False where it cannot (not glibc)."""
    malloc_trim = _malloc_trim()
    return bool(malloc_trim is not None and malloc_trim(0) in (0, 1))


def trim_periodically(stop: threading.Event) -> threading.Thread | None:
    """A daemon thread that trims this process every ``trim_period()`` seconds until ``stop`` is set; None when
    trimming is off or cannot work here."""
    period = trim_period()
    malloc_trim = _malloc_trim() if period is not None else None
    if period is None or malloc_trim is None:
        return None

    def run() -> None:
        while not stop.wait(period):
            malloc_trim(0)  # holds each arena's lock for the walk: ~ms for hundreds of MB, every few seconds

    thread = threading.Thread(target=run, name="malloc-trim", daemon=True)
    thread.start()
    return thread
