"""glibc's malloc arenas in the local stack's processes: two, not eight per core.

glibc gives each thread that meets a busy arena a new one, up to eight per core, and every arena keeps what its
threads freed. ``finview up`` runs every function's copies and the API on ~70 threads, and moto's servers serve a
connection per thread, so the memory a big batch used and freed stayed spread over up to 16 arenas per process.
With two: ``finview up`` 385 → 341 MB and moto's processes 568 → 521 MB after 10,000 rows end to end, at
129.3 → 134.8 rows/s (bench/RESULTS.md, 2026-11-29). ``FINVIEW_MALLOC_ARENA_MAX``: another count, 0 for glibc's
default (the bench compares them).

The variable is read by glibc when a process starts, so moto's processes get it in their environment; the
running process (``finview up``) sets it with ``mallopt``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import Any

ARENAS = 2
M_ARENA_MAX = -8  # glibc's malloc.h


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
