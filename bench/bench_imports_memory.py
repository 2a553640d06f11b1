"""Peak memory of the import core for 100k vs 1M rows, each in a fresh subprocess (VmHWM: the peak resident set
of the process's own memory; ru_maxrss would carry the parent's peak over fork+exec on Linux).

The file is written to disk first and streamed from it in 1 MB chunks, as the handler streams the S3 body.
The match index is an SQLite file (its page cache is bounded), standing in for the DynamoDB match-key index,
so what grows with the file is only what the pipeline itself would keep.
"""

from __future__ import annotations

import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from bench.bench_imports_core import core_import, generated_csv
from bench.harness import Report
from services.imports.matching import OwnerProfile


class SqliteMatchIndex:
    """A disk-backed match index with the same contract as the DynamoDB one (key lookups only)."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("PRAGMA cache_size=-16000")  # 16 MB
        self.db.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID")

    def _get(self, keys: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for n in range(0, len(keys), 500):
            chunk = keys[n : n + 500]
            marks = ",".join("?" * len(chunk))
            out.update(self.db.execute(f"SELECT k, v FROM kv WHERE k IN ({marks})", chunk).fetchall())
        return out

    def get_keys(self, keys: Iterable[str]) -> dict[str, dict[str, str]]:
        return {k: json.loads(v) for k, v in self._get(list(keys)).items()}

    def get_profiles(self, owner_ids: Iterable[str]) -> dict[str, OwnerProfile]:
        got = self._get([f"owner#{o}" for o in owner_ids])
        return {k[6:]: OwnerProfile.from_item(json.loads(v)) for k, v in got.items()}

    def put(self, keys: Mapping[str, dict[str, str]], profiles: Mapping[str, OwnerProfile]) -> None:
        rows = [(k, json.dumps(v)) for k, v in keys.items()]
        rows += [(f"owner#{o}", json.dumps(p.to_item())) for o, p in profiles.items()]
        self.db.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?)", rows)
        self.db.commit()


def _stream(path: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            yield chunk


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(path: str) -> None:
    """Run in a fresh interpreter: import the file, print peak RSS and rows/s as JSON."""
    before = peak_rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        index = SqliteMatchIndex(str(Path(tmp) / "index.sqlite"))
        start = time.perf_counter()
        counts = core_import(_stream(path), index)
        elapsed = time.perf_counter() - start
    peak = peak_rss_mb()
    print(json.dumps({"rows": counts["rows"], "seconds": elapsed, "start_mb": before, "peak_mb": peak}))


def measure(rows: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "debtors.csv"
        with path.open("wb") as f:
            for chunk in generated_csv(rows, seed=5):
                f.write(chunk)
        size = path.stat().st_size
        code = f"from bench.bench_imports_memory import child; child({str(path)!r})"
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    result["size_mb"] = size / 2**20
    return result


def run(report: Report, quick: bool) -> None:
    small, big = (20_000, 200_000) if quick else (100_000, 1_000_000)
    first = measure(small)
    report.add(
        f"peak RSS, import core, {small:,} rows",
        first["peak_mb"],
        "MB",
        note=f"{first['size_mb']:.0f} MB file; {first['seconds']:.0f} s; after imports {first['start_mb']:.0f} MB",
    )
    second = measure(big)
    report.add(
        f"peak RSS, import core, {big:,} rows",
        second["peak_mb"],
        "MB",
        baseline=f"{small:,} rows",
        baseline_value=first["peak_mb"],
        note=(f"{second['size_mb']:.0f} MB file; {second['seconds']:.0f} s; after imports {second['start_mb']:.0f} MB"),
    )
