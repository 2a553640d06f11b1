"""The run's scratch index of invoice numbers first seen (``services.imports.invoices``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.imports.invoices import LOOKUP_CHUNK, InvoicesSeen


def test_first_rows_answers_the_known_keys_with_their_first_row_and_line() -> None:
    with InvoicesSeen() as seen:
        seen.remember({"inv-1": (2, 3), "inv-2": (5, 7)})
        assert seen.first_rows(["inv-2", "inv-3", "inv-1", "inv-2"]) == {"inv-1": (2, 3), "inv-2": (5, 7)}


def test_a_key_remembered_again_keeps_its_earliest_row_in_whatever_order_they_come() -> None:
    # A resumed stage rebuilds the index from the staged rows, which come back in case-owner order.
    with InvoicesSeen() as seen:
        seen.remember([("inv-1", 40, 41), ("inv-2", 9, 10)])
        seen.remember([("inv-1", 12, 13), ("inv-2", 30, 31), ("inv-1", 20, 21)])
        assert seen.first_rows(["inv-1", "inv-2"]) == {"inv-1": (12, 13), "inv-2": (9, 10)}
        assert len(seen) == 2


def test_more_keys_than_one_statement_binds_are_looked_up_in_chunks() -> None:
    keys = [f"inv-{n}" for n in range(3 * LOOKUP_CHUNK + 7)]
    with InvoicesSeen() as seen:
        seen.remember({k: (n, n + 1) for n, k in enumerate(keys) if n % 2 == 0})
        found = seen.first_rows(keys)
    assert found == {k: (n, n + 1) for n, k in enumerate(keys) if n % 2 == 0}


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads the run's open files from /proc")
def test_a_run_killed_mid_way_leaves_nothing_in_the_temporary_directory(tmp_path: Path) -> None:
    # A Lambda timeout or a stopped stack ends the process without ``close``; a warm container keeps its /tmp. The
    # run's index still pages to a file there (unlinked), not to memory.
    script = (
        "import os\n"
        "from services.imports.invoices import InvoicesSeen\n"
        "seen = InvoicesSeen()\n"
        "for b in range(20):\n"
        "    seen.remember({f'invoice-{b}-{n:08d}': (n, n) for n in range(5000)})\n"
        "assert seen.first_rows(['invoice-7-00004999']) == {'invoice-7-00004999': (4999, 4999)}\n"
        "for fd in os.listdir('/proc/self/fd'):\n"
        "    try:\n"
        "        print(os.readlink(f'/proc/self/fd/{fd}'))\n"
        "    except OSError:\n"
        "        pass\n"
        "os._exit(0)\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    root = Path(__file__).resolve().parents[3]
    run = subprocess.run([sys.executable, "-c", script], env=env, cwd=root, capture_output=True, text=True, check=True)
    open_files = run.stdout.splitlines()
    assert any(f.startswith(str(tmp_path)) and f.endswith("(deleted)") for f in open_files), open_files
    assert list(tmp_path.iterdir()) == []
