"""Reading files as streams: encodings, delimiters, quoting, caps, XLSX."""

from __future__ import annotations

import io
import tracemalloc
from datetime import datetime

import pytest
from openpyxl import Workbook

from services.imports import parsing
from services.imports.parsing import CsvReader, FileRejected, open_table


def chunked(data: bytes, size: int = 7) -> list[bytes]:
    """Tiny chunks: multi-byte characters and CRLF pairs get split across chunk borders."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def cells(reader: parsing.TableReader) -> list[list[str] | None]:
    return [r.cells for r in reader.records()]


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("cp1252", b""), ("iso8859-15", b""), ("latin-1", b"")],
)
def test_encodings_are_detected(encoding: str, bom: bytes) -> None:
    text = "Name;Straße;Betrag\r\nMüller;Hauptstraße 5;12,50\r\nGérard;Rue de l'Église;3\r\n"
    reader = CsvReader(chunked(bom + text.encode(encoding)))
    assert reader.header == ["Name", "Straße", "Betrag"]
    assert cells(reader) == [["Müller", "Hauptstraße 5", "12,50"], ["Gérard", "Rue de l'Église", "3"]]


def test_euro_sign_in_windows_1252() -> None:
    reader = CsvReader([("a;b\n1 €;x\n" + "y;z\n" * 10).encode("cp1252")])
    assert next(reader.records()).cells == ["1 €", "x"]


def test_utf16_with_bom_as_excel_unicode_text_writes_it() -> None:
    reader = CsvReader(chunked("name\tamount\r\nMüller\t12,50\r\n".encode("utf-16")))
    assert reader.delimiter == "\t"
    assert cells(reader) == [["Müller", "12,50"]]


def test_a_stray_windows_byte_in_an_utf8_file_does_not_fail_it() -> None:
    data = "name,city\nMüller,Köln\n".encode() + "Größe,Düsseldorf\n".encode("cp1252")
    assert cells(CsvReader(chunked(data))) == [["Müller", "Köln"], ["Größe", "Düsseldorf"]]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(delimiter: str) -> None:
    data = delimiter.join(["name", "amount", "date"]) + "\n" + delimiter.join(["A", "1,5", "2026-01-01"]) + "\n"
    reader = CsvReader([data.encode()])
    assert reader.delimiter == delimiter
    assert len(reader.header) == 3


def test_quoted_fields_with_newlines_and_delimiters() -> None:
    data = b'name,street\r\n"Schmidt, Anna","Hauptstr. 5\r\nHinterhaus"\r\n"Say ""hi""",x\r\n'
    reader = CsvReader(chunked(data, 3))
    records = list(reader.records())
    assert [r.cells for r in records] == [["Schmidt, Anna", "Hauptstr. 5\r\nHinterhaus"], ['Say "hi"', "x"]]
    assert [r.line for r in records] == [2, 4]


def test_an_unclosed_quote_costs_one_row_not_the_rest_of_the_file() -> None:
    rows = b"\n".join(b"%d,ok" % i for i in range(2, 80))
    reader = CsvReader([b'a,b\n1,"broken\n' + rows + b"\n"])
    records = list(reader.records())
    assert records[0].error_code == "broken_quoting" and records[0].line == 2
    assert [r.cells for r in records[1:]] == [[str(i), "ok"] for i in range(2, 80)]


def test_garbage_after_a_closing_quote_is_a_row_error() -> None:
    records = list(CsvReader([b'a,b\n1,"abc"x\n2,3\n']).records())
    assert records[0].error_code == "broken_quoting"
    assert records[1].cells == ["2", "3"]


def test_huge_cell_and_huge_line_are_rejected_rows_without_holding_them() -> None:
    big_cell = b"x" * (parsing.MAX_FIELD_CHARS + 10)
    huge_line = b"y" * (parsing.MAX_LINE_CHARS * 3)
    data = b"a,b\n1," + big_cell + b"\n2,3\n4," + huge_line + b"\n5,6\n"
    records = list(CsvReader(chunked(data, 64 * 1024)).records())
    assert [(r.row, r.error_code) for r in records] == [
        (1, "cell_too_large"),
        (2, None),
        (3, "row_too_long"),
        (4, None),
    ]


def test_a_row_with_ten_thousand_columns() -> None:
    data = b"a,b\n" + b",".join([b"x"] * 10_000) + b"\n1,2\n"
    records = list(CsvReader([data]).records())
    assert records[0].error_code == "too_many_columns"
    assert records[1].cells == ["1", "2"]


def test_empty_blank_and_binary_files_are_refused() -> None:
    for data, code in ((b"", "empty_file"), (b"\n\n  \n", "empty_file"), (b"\x00\x01\x02" * 10, "not_text")):
        with pytest.raises(FileRejected) as err:
            open_table([data], "x.csv")
        assert err.value.code == code


def test_header_only_file_has_no_records() -> None:
    reader = CsvReader([b"name,amount\n\n"])
    assert reader.header == ["name", "amount"]
    assert list(reader.records()) == []


def test_old_excel_and_fake_xlsx_are_refused() -> None:
    with pytest.raises(FileRejected, match="xls"):
        open_table([parsing.OLE_MAGIC + b"\x00" * 100], "x.xls")
    with pytest.raises(FileRejected) as err:
        open_table([b"name,amount\n"], "x.xlsx")
    assert err.value.code == "unreadable_spreadsheet"


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_values_only_formulas_never_evaluated() -> None:
    data = _xlsx(
        [
            ["Nachname", "Betrag", "Datum", "PLZ"],
            ["Müller", 120.5, datetime(2026, 5, 2), 1067],
            ["=1+1", 3, "2026-01-01", "10115"],
            [None, None, None, None],
            ["Dupont", 80, datetime(2026, 5, 3, 12, 30), None],
        ]
    )
    reader = open_table(chunked(data, 4096), "book.xlsx")
    assert reader.header == ["Nachname", "Betrag", "Datum", "PLZ"]
    rows = cells(reader)
    assert rows[0] == ["Müller", "120.5", "2026-05-02", "1067"]
    assert rows[1] is not None and rows[1][0] in ("", "=1+1")  # no cached value, or the formula text; never 2
    assert rows[2] == ["Dupont", "80", "2026-05-03T12:30:00"]


def test_corrupt_xlsx_is_refused() -> None:
    with pytest.raises(FileRejected) as err:
        open_table([parsing.XLSX_MAGIC + b"garbage" * 50], "x.xlsx")
    assert err.value.code == "unreadable_spreadsheet"


def test_a_rejected_200k_character_cell_keeps_the_cells_that_identify_the_invoice() -> None:
    data = b"invoice;last_name;amount\nINV-7;" + b"M" * 200_000 + b";10\nINV-8;Weber;5\n"
    first, second = CsvReader(chunked(data, 64 * 1024)).records()
    assert first.error_code == "cell_too_large" and not first.readable
    assert first.cells is not None and first.cells[0] == "INV-7" and first.cells[2] == "10"
    assert len(first.cells[1]) == parsing.MAX_FIELD_CHARS
    assert first.error is not None and "'last_name'" in first.error and "200,000" in first.error
    assert second.readable and second.cells == ["INV-8", "Weber", "5"]


def test_utf16_without_bom_is_read_as_utf16() -> None:
    text = "Nachname;Betrag\nMüller;10\nGérard;5\n"
    for codec in ("utf-16-le", "utf-16-be"):
        reader = CsvReader(chunked(text.encode(codec)))
        assert reader.encoding == codec
        assert cells(reader) == [["Müller", "10"], ["Gérard", "5"]]


def test_one_nul_byte_costs_no_file() -> None:
    reader = open_table([b"name;amount\nSch\x00midt;10\nWeber;5\n"], "x.csv")
    assert cells(reader) == [["Sch\x00midt", "10"], ["Weber", "5"]]  # the cell is cleaned during validation


def test_an_xlsx_formula_without_a_stored_value_is_named_not_taken_for_an_empty_cell() -> None:
    data = _xlsx([["Nachname", "Vorname", "Betrag"], ['=CONCAT("Mül","ler")', "Eva", 10], ["Weber", "Tom", 5]])
    first, second = open_table([data], "book.xlsx").records()
    assert first.error_code == "formula_without_value"
    assert first.error is not None and "'Nachname'" in first.error and "CONCAT" in first.error
    assert first.cells == ['=CONCAT("Mül","ler")', "Eva", "10"]
    assert second.readable and second.cells == ["Weber", "Tom", "5"]


def test_a_chunk_is_handed_out_without_copying_what_is_left_of_it() -> None:
    """The text reader reads 8 KB at a time; each read must not copy the rest of a 4 MB chunk (it did: ~64 MB copied
    per MB of file). Peak allocation while reading the chunk through, against the chunk's own size."""
    chunk = b"a;b;c\n" * (4 * 1024 * 1024 // 6)
    stream = io.BufferedReader(parsing.ChunkStream([chunk, b"", chunk[:10]]), buffer_size=256 * 1024)
    tracemalloc.start()
    try:
        read = 0
        while piece := stream.read1(8192):
            read += len(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read == len(chunk) + 10
    assert peak < 1024 * 1024, peak


def test_an_ordinary_record_is_the_named_tuple_its_constructor_makes() -> None:
    records = list(CsvReader(chunked(b"Name;Betrag\nM\xc3\xbcller;12,50\n\nGerd;3\n")).records())
    assert records == [parsing.Record(1, 2, ["Müller", "12,50"]), parsing.Record(2, 4, ["Gerd", "3"])]
    assert [type(r) for r in records] == [parsing.Record] * 2
    assert [(r.error_code, r.error, r.readable) for r in records] == [(None, None, True)] * 2
