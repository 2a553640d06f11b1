"""The import report: the rejected-rows CSV written back next to the dropped file, and the summary.

Cells that a spreadsheet would evaluate (starting with = + - @, tab or carriage return) get a leading
apostrophe, so opening the report in Excel or LibreOffice never runs what a client's file contained.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Mapping
from typing import IO, Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
REJECTED_SUFFIX = ".rejected.csv"
# Tagged so the lifecycle rule of the drop bucket (infra.operations.REJECTED_ROWS_TAG) expires them: they repeat
# debtors' rows and are kept for days only.
REJECTED_TAGGING = "finview-retention=rejected-rows"
MAX_CELL_IN_REPORT = 1000


def escape_cell(value: str) -> str:
    """Formula-injection escaping for a cell written to a CSV meant for spreadsheets."""
    value = value if len(value) <= MAX_CELL_IN_REPORT else value[:MAX_CELL_IN_REPORT] + "…"
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def rejected_key(object_key: str) -> str:
    return object_key + REJECTED_SUFFIX


def is_report(object_key: str) -> bool:
    """Our own report files land in the drop bucket too; they are never imported."""
    return object_key.endswith(REJECTED_SUFFIX)


def write_rejected_csv(header: list[str], rejections: Iterable[Mapping[str, Any]]) -> tuple[IO[bytes], int]:
    """A spooled file (memory up to 8 MB, then disk) with row, line, reason and the row's cells as sent."""
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    text = io.TextIOWrapper(spool, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text, delimiter=";")
    writer.writerow(["row", "line", "field", "reason", *(escape_cell(h) for h in header)])
    count = 0
    for r in rejections:
        cells = [escape_cell(str(c)) for c in r.get("cells") or []]
        writer.writerow([r["row"], r["line"], escape_cell(str(r["field"])), escape_cell(str(r["reason"])), *cells])
        count += 1
    text.flush()
    text.detach()
    spool.seek(0)
    return spool, count


def summary(job: Mapping[str, Any], rejections: Iterable[Mapping[str, Any]] = ()) -> str:
    """A plain-text report of a finished (or running) import, for the CLI."""
    lines = [
        f"import {job['import_id']}  {job.get('object_key', '')}",
        f"status: {job['status']}" + (f" ({job.get('reason_code')}: {job.get('reason')})" if job.get("reason") else ""),
    ]
    counts = (
        ("rows read", "rows_read"),
        ("rows imported", "rows_imported"),
        ("rows rejected", "rows_rejected"),
        ("warnings", "warnings"),
        ("case owners created", "case_owners_created"),
        ("case owners merged", "case_owners_merged"),
        ("case files", "cases"),
    )
    for label, name in counts:
        if name in job:
            lines.append(f"  {label:<20} {int(job[name]):>10,}")
    if all(k in job for k in ("rows_read", "rows_imported", "rows_rejected")):
        read, imported, rejected = (int(job[k]) for k in ("rows_read", "rows_imported", "rows_rejected"))
        balance = "every row accounted for" if read == imported + rejected else "ROWS UNACCOUNTED FOR"
        lines.append(f"  rows read = imported + rejected: {read:,} = {imported:,} + {rejected:,} ({balance})")
    lines.extend(f"note: {notice}" for notice in job.get("notices") or [])
    if job.get("rejected_rows_key"):
        lines.append(f"rejected rows: s3://{job.get('bucket')}/{job['rejected_rows_key']}")
    shown = list(rejections)
    if shown:
        lines.append("first rejected rows:")
        lines.extend(f"  row {r['row']} (line {r['line']}): {r['reason']}" for r in shown)
    return "\n".join(lines)
