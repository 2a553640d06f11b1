"""The invoice numbers one file's kept rows carried so far, each with the row (and line) it was first on: what the
stage's check for an invoice number repeated within a file looks up, batch after batch.

Kept by the run in SQLite's private temporary database (opened with an empty name): it pages past its cache to a
file in the temporary directory (Lambda's /tmp) that SQLite unlinks as it creates it, so a run that is killed (a
Lambda timeout, a stopped stack) leaves nothing in a warm container's /tmp. Not in DynamoDB and not in memory: an
``INVOICE#`` item per row cost a write unit per row, for nobody to read but this job's later batches; a dict of every
invoice number would grow with the file, which the stage reads in flat memory. A run that resumes a job (a
continuation, a retry) rebuilds it from the rows the job has staged up to its checkpoint (``remember``), so it sees
what a single run would have seen. Only the standard library's sqlite3, in a form old SQLite versions read too (no
upsert): Lambda's runtime may link an old one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from types import TracebackType

LOOKUP_CHUNK = 500  # bound parameters per statement: old SQLite versions allow 999


class InvoicesSeen:
    """Invoice key → (row, line) of its first kept row; gone on ``close`` or when the process ends."""

    def __init__(self) -> None:
        # An empty name: SQLite's private temporary database, paged past its cache to an unlinked file in TMPDIR.
        self._db = sqlite3.connect("", isolation_level=None)
        # Scratch data: rebuilt from the staged rows if the run dies, so neither journal nor fsync.
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY, row INTEGER NOT NULL, line INTEGER NOT NULL)")

    def first_rows(self, keys: Iterable[str]) -> dict[str, tuple[int, int]]:
        wanted = list(dict.fromkeys(keys))
        found: dict[str, tuple[int, int]] = {}
        for n in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[n : n + LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, row, line in self._db.execute(f"SELECT key, row, line FROM seen WHERE key IN ({marks})", chunk):
                found[key] = (row, line)
        return found

    def remember(self, first: Mapping[str, tuple[int, int]] | Iterable[tuple[str, int, int]]) -> None:
        """Add first rows; a key already known keeps the earlier of the two rows (staged rows are read back in
        case-owner order, not in the file's)."""
        entries = [(k, r, n) for k, (r, n) in first.items()] if isinstance(first, Mapping) else list(first)
        self._db.execute("BEGIN")
        self._db.executemany("INSERT OR IGNORE INTO seen (key, row, line) VALUES (?, ?, ?)", entries)
        self._db.executemany(
            "UPDATE seen SET row = ?, line = ? WHERE key = ? AND row > ?", [(r, n, k, r) for k, r, n in entries]
        )
        self._db.execute("COMMIT")

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM seen").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> InvoicesSeen:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
