"""The stage gives the heap pages a batch freed back to the system (``pipeline.give_back_freed_memory``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.imports import pipeline


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(pipeline._trim is None or not Path("/proc/self/status").exists(), reason="glibc on Linux only")
def test_freed_blocks_in_the_middle_of_the_heap_are_given_back() -> None:
    """64 MB of 2 KB blocks (above pymalloc's 512 bytes: glibc's heap), one in 64 kept: free() alone cannot shrink the
    heap past the kept ones, so the resident set stays; giving back the freed pages lowers it by most of the 63 MB."""
    blocks = [bytes(2048 - 33) for _ in range(32 * 1024)]
    kept = blocks[::64]
    del blocks
    before = resident_mb()
    pipeline.give_back_freed_memory()
    after = resident_mb()
    assert before - after > 30, (before, after)
    assert len(kept) == 512
