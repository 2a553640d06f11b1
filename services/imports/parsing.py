"""Reading a dropped file into rows (header → cell). Bytes in, dicts out; no AWS here."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator


class FileRejected(ValueError):
    """The whole file cannot be imported; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def decode(data: bytes) -> str:
    if not data.strip():
        raise FileRejected("empty_file", "the file is empty")
    if b"\x00" in data[:4096]:
        raise FileRejected("not_csv", "the file is binary, not a CSV text file")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def read_rows(data: bytes) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) for each data row; the header names are stripped and lower-cased."""
    text = decode(data)
    sample = text[:8192]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise FileRejected("no_header", "the file has no header row")
    names = [h.strip().lower() for h in header]
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        yield reader.line_num, dict(zip(names, (c.strip() for c in row), strict=False))
