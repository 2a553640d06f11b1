"""The two validation paths of a row (services/imports/domain.py): the plain-function path taken by ordinary rows
must give exactly what the pydantic model gives (the line and the warnings), on generated debtor files and on
arbitrary text in every field; and it must be the path ordinary rows actually take."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.bench_imports_core import generated_csv
from services.imports import domain, rows
from services.imports.domain import ImportSettings, RowRejected
from services.imports.parsing import Record, open_table
from services.imports.pipeline import process_records

SETTINGS = (
    ImportSettings(),
    ImportSettings(default_country="FR", date_format="MDY"),
    ImportSettings(date_format="YMD"),
)
FIELDS = ("client_case_number", "first_name", "last_name", "company_name", "birth_date", "email", "phone", "street",
          "postcode", "city", "country", "language", "invoice_number", "amount", "currency", "opened_on")  # fmt: skip
# Cells seen in real files, good and bad, mixed with arbitrary text below.
SAMPLES = {
    "birth_date": ["1980-04-01", "01.04.1980", "04/01/1980", "19800401", "1850-01-01", "31.02.1980", "-", "2099-01-01"],
    "email": ["anna@example.com", "Anna.Schmidt@EXAMPLE.de", "nope", "a@b", "-", "=1+1@x.de"],
    "phone": ["030 1234567", "+49 30 1234567", "0049301234567", "01 42 68 53 00", "12", "+44 20 7946 0958"],
    "postcode": ["10115", "D-10115", "1067", "75001", "SW1A 1AA", "ABC", "-", "+1"],
    "country": ["DE", "de", "Deutschland", "France", "UK", "Atlantis", "", "F"],
    "amount": ["10,00", "1.250,50", "1,250.50", "€ 45.99", "0", "-5", "abc", "1e5", "12345678901", "1.250"],
    "currency": ["EUR", "eur", "€", " chf ", "EURO", "E1R"],
    "language": ["de", "FR", "fr-CH", "de_AT", "German", "Französisch", "anglais", "klingon", "-"],
    "opened_on": ["2026-01-02", "02.01.2026", "13/01/2026", "01/13/2026", "2026/1/2", "45123", "31.02.2026", "soon"],
    "invoice_number": ["INV-1", "R 2026/001", "-1+1", "=SUM(A1)", "", "x" * 101],
    "last_name": ["Schmidt", "Müller-Lüdenscheidt", "-", "@home", "x" * 201, "O'Brien"],
    "street": ["Hauptstraße 5", "12 rue de la Paix", "+ 5", "x" * 301],
}


def both(raw: dict[str, str], s: ImportSettings) -> tuple[Any, Any]:
    """(fast, model): each a (line dump, warnings) or the rejection's text; fast is None when it passes the row on."""
    warnings: list[str] = []
    fast = plain_path(raw, s).line_without_model(list(raw.values()), warnings)
    try:
        line, model_warnings = domain.line_by_model(raw, s, {})
        model: Any = (line.model_dump(), model_warnings)
    except RowRejected as exc:
        model = f"rejected: {exc}"
    if not isinstance(model, str):
        assert_staged_as_the_model_writes(line)
    if fast is None:
        return None, model
    assert_staged_as_the_model_writes(fast)
    try:  # validate's own check after either path
        line, _ = domain.validate(raw, s, {})
    except RowRejected as exc:
        return f"rejected: {exc}", model
    assert line == fast
    return (fast.model_dump(), warnings), model


def plain_path(raw: dict[str, str], s: ImportSettings) -> domain.RowValidator:
    """The validator of a file whose columns are the row's fields, in the row's order."""
    return domain.ColumnMap({name: i for i, name in enumerate(raw)}, list(raw)).validator(s)


def assert_staged_as_the_model_writes(line: domain.DebtorLine, review: domain.ReviewNote | None = None) -> None:
    """What the stage writes of a row is the JSON of its ``StagedRow``, byte for byte, and what publish reads back
    (``read_staged``) is that ``StagedRow``."""
    staged = domain.StagedRow(
        row=7, line=8, case_owner_id="owner-1", matched_by="email", owner_new=False, debtor=line, review=review
    )
    written = domain.staged_json(7, 8, "owner-1", "email", False, line, review)
    assert written == staged.model_dump_json()
    validated = domain.StagedRow.model_validate_json(written)
    assert validated == domain.StagedRow.model_validate_json(staged.model_dump_json())
    # and the publish phase reads back the very row that was staged, each value with its type (repr shows them)
    read = domain.read_staged(written)
    assert type(read.debtor) is domain.DebtorLine
    assert repr(read) == repr(staged)
    assert read.model_fields_set == validated.model_fields_set
    assert read.debtor.model_fields_set == validated.debtor.model_fields_set


def test_a_staged_row_with_a_review_is_written_as_the_model_writes_it() -> None:
    line, _ = domain.validate(BASE | {"last_name": 'Ö\'"\\/\u2028 名', "amount": "1.250,50"}, ImportSettings())
    review = domain.ReviewNote(candidate="owner-2", score=15, comparisons={"names": "close", "birth_date": "same"})
    assert_staged_as_the_model_writes(line, review)
    assert_staged_as_the_model_writes(line)


@pytest.mark.parametrize("text", ["0d7c1a52-33f4-4f5e-8c3e", 'a"b', "a\\b", "a\nb", "Müller", "\x7f", "名", ""])
@pytest.mark.parametrize("owner_new", [True, False])
def test_the_staged_rows_own_fields_are_written_as_the_model_writes_them(text: str, owner_new: bool) -> None:
    """The case owner id and how it was matched are written around the line's JSON: escaped where JSON needs it."""
    line, _ = domain.validate(BASE, ImportSettings())
    staged = domain.StagedRow(row=1, line=2, case_owner_id=text, matched_by=text, owner_new=owner_new, debtor=line)
    assert domain.staged_json(1, 2, text, text, owner_new, line) == staged.model_dump_json()


REQUIRED = ("last_name", "invoice_number", "amount", "opened_on")
OPTIONAL = tuple(f for f in FIELDS if f not in REQUIRED)
# Arbitrary printable text (what the plain path is for), and now and then any text at all (which it passes on).
printable = st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs")) | st.just(" "),
                    max_size=40)  # fmt: skip
cell = st.one_of(printable, printable, st.text(max_size=20), st.sampled_from(["-", "=1", "+49 30 1", "€", "0", "ß"]))


BASE = {"first_name": "Anna", "last_name": "Schmidt", "birth_date": "01.04.1980", "email": "anna@example.com",
        "phone": "030 1234567", "street": "Hauptstraße 5", "postcode": "10115", "city": "Berlin", "country": "DE",
        "language": "de", "invoice_number": "INV-1", "amount": "10,00", "currency": "EUR",
        "opened_on": "2026-01-02"}  # fmt: skip


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(
    changed=st.dictionaries(
        st.sampled_from(FIELDS),
        st.one_of(st.sampled_from([v for vs in SAMPLES.values() for v in vs]), cell),
        min_size=1,
        max_size=3,
    ),
    s=st.sampled_from(SETTINGS),
)
def test_the_plain_path_gives_what_the_model_gives_on_arbitrary_rows(
    changed: dict[str, str], s: ImportSettings
) -> None:
    """A complete row with one to three cells replaced by arbitrary text."""
    raw = {k: v for k, v in (BASE | changed).items() if v.strip()}  # ColumnMap.extract hands over no blank cells
    fast, model = both(raw, s)
    TAKEN.append(fast is not None)
    if fast is not None:
        assert fast == model


TAKEN: list[bool] = []


def test_the_arbitrary_rows_exercised_both_paths() -> None:
    test_the_plain_path_gives_what_the_model_gives_on_arbitrary_rows()
    assert 50 < sum(TAKEN) < len(TAKEN) - 50, (sum(TAKEN), len(TAKEN))


def test_the_plain_path_gives_what_the_model_gives_on_every_combination_of_real_cells() -> None:
    taken = 0
    base = {"last_name": "Schmidt", "invoice_number": "INV-1", "amount": "10,00", "opened_on": "2026-01-02"}
    for s, (field, values) in itertools.product(SETTINGS, SAMPLES.items()):
        for value in values:
            raw = {k: v for k, v in (base | {field: value}).items() if v.strip()}
            fast, model = both(raw, s)
            if fast is not None:
                taken += 1
                assert fast == model, (field, value)
    assert taken > 100


def test_ordinary_rows_take_the_plain_path_and_agree_with_the_model() -> None:
    reader = open_table(iter(list(generated_csv(3000, seed=5))), "generated.csv")
    columns = domain.resolve_columns(reader.header, ImportSettings())
    taken = rows = 0
    for record in reader.records():
        assert record.cells is not None
        raw = columns.extract(record.cells)
        fast, model = both(raw, ImportSettings())
        rows += 1
        if fast is not None:
            taken += 1
            assert fast == model
    assert rows == 3000 and taken == rows  # generated rows are all ordinary: none needs the model


def test_dates_read_once_per_file_give_what_each_row_read_alone_gives() -> None:
    """The plain path keeps the dates of a file's cells it has read (``PlainRows``): a file repeating its dates, good
    and bad, gives each row the line and the warnings that row gets read on its own, and only good dates are kept."""
    births = ["01.04.1980", "1980-04-01", "31.02.1980", "2099-01-01", "01/04/1980", "19800401", "01.04.80", "x"]
    opened = ["02.01.2026", "2026-01-02", "13/01/2026", "31.02.2026", "45123", "02.01.26"]
    raws = [BASE | {"birth_date": b, "opened_on": o} for b, o in itertools.product(births, opened)] * 2
    for s in SETTINGS:
        file = plain_path(raws[0], s)
        for raw in raws:
            together: list[str] = []
            alone: list[str] = []
            line = file.line_without_model(list(raw.values()), together)
            single = plain_path(raw, s).line_without_model(list(raw.values()), alone)
            assert (line, together) == (single, alone), raw
        kept = file.plain
        assert kept.birth_dates and kept.opened_dates
        assert not {"31.02.1980", "2099-01-01", "x"} & set(kept.birth_dates)  # refused: read again each time
        assert "31.02.2026" not in kept.opened_dates
        assert ("13/01/2026" in kept.opened_dates) is (s.date_format == "auto")  # MDY, YMD: refused


def test_a_file_keeps_a_bounded_number_of_dates() -> None:
    file = plain_path(BASE, ImportSettings())
    day = date(1950, 1, 1)
    for n in range(rows.DATES_KEPT + 50):
        cells = list((BASE | {"birth_date": (day + timedelta(days=n)).isoformat()}).values())
        assert file.line_without_model(cells, []) is not None
    assert len(file.plain.birth_dates) == rows.DATES_KEPT
    late = (day + timedelta(days=rows.DATES_KEPT + 10)).isoformat()
    line = file.line_without_model(list((BASE | {"birth_date": late}).values()), [])
    assert line is not None and line.birth_date == date.fromisoformat(late)  # read, not kept


def test_the_plain_path_builds_the_line_as_model_construct_does() -> None:
    """``rows.constructed`` stands in for ``DebtorLine.model_construct``: the same values in the same order, the same
    fields set, on the generated rows and on rows whose contact details were refused (fewer fields set)."""
    reader = open_table(iter(list(generated_csv(300, seed=9))), "generated.csv")
    columns = domain.resolve_columns(reader.header, ImportSettings())
    raws = [columns.extract(r.cells) for r in reader.records() if r.cells is not None]
    raws += [BASE | {"phone": "12", "postcode": "ABC", "email": "nope"}, {k: BASE[k] for k in REQUIRED}]
    for raw in raws:
        plain = plain_path(raw, ImportSettings()).plain
        fields: dict[str, Any] | None = plain.fields(list(raw.values()), [])
        line = plain.line(list(raw.values()), [])
        assert fields is not None and line is not None
        expected = domain.DebtorLine.model_construct(**fields)
        assert type(line) is domain.DebtorLine
        assert list(line.__dict__.items()) == list(expected.__dict__.items())
        assert line.model_fields_set == expected.model_fields_set
        assert line.__pydantic_extra__ is None and line.__pydantic_private__ is None
        assert line.model_dump_json() == expected.model_dump_json()


def test_the_plain_path_knows_the_models_text_fields_in_its_order() -> None:
    assert rows.TEXT_FIELDS == domain.TEXT_FIELDS
    assert [f for f in domain.DebtorLine.model_fields if f in domain.TEXT_FIELDS] == list(domain.TEXT_FIELDS)


def _row_by_row(
    records: list[Record], columns: domain.ColumnMap, s: ImportSettings
) -> tuple[list[Any], list[Any], list[Any]]:
    """``process_records`` as a loop over the row validator, one row at a time (what it was)."""
    valid: list[Any] = []
    rejected: list[Any] = []
    warnings: list[Any] = []
    validated = domain.RowValidator(columns, s)
    for record in records:
        if record.cells is None or record.error_code is not None:
            rejected.append((record.row, record.error_code))
            continue
        try:
            line, row_warnings = validated(record.cells)
        except RowRejected as exc:
            rejected.append((record.row, exc.field, str(exc)))
            continue
        valid.append((record.row, record.line, line.model_dump()))
        warnings += [(record.row, record.line, w) for w in row_warnings]
    return valid, rejected, warnings


def test_a_batch_reads_as_its_rows_do_one_by_one_in_their_order() -> None:
    """Ordinary rows, rows the model must judge (hidden characters, a formula), rows it rejects, rows without a last
    name, unreadable records and rows with warnings, mixed in one batch: the same lines, rejections and warnings in
    the same order as the row validator gives them one at a time."""
    odd = [BASE | {"last_name": "Sch\u200bmidt"}, BASE | {"street": "=HYPERLINK(1)"}, BASE | {"amount": "abc"},
           BASE | {"last_name": "", "first_name": "Anna"}, BASE | {"phone": "12", "email": "nope"},
           BASE | {"postcode": "ABC"}, BASE | {"country": "Atlantis"}, BASE | {"last_name": "-"}]  # fmt: skip
    generated = open_table(iter(list(generated_csv(60, seed=3))), "generated.csv")
    header = list(BASE)
    columns = domain.resolve_columns(header, ImportSettings())
    by_header = [dict(zip(generated.header, r.cells or [], strict=False)) for r in generated.records()]
    raws = [BASE | {k: v for k, v in raw.items() if k in BASE} for raw in by_header]
    for n, raw in enumerate(odd):
        raws.insert(5 * n + 2, raw)
    records = [Record(n + 1, n + 2, [raw.get(h, "") for h in header]) for n, raw in enumerate(raws)]
    records.insert(7, Record(99, 9, None, "broken_quoting", "broken quoting on line 9"))
    for s in SETTINGS:
        valid, rejected, warnings = process_records(records, columns, s)
        got = (
            [(row, line_no, line.model_dump()) for row, line_no, line in valid],
            [(r.row, r.code) if r.field == "row" else (r.row, r.field, r.reason) for r in rejected],
            warnings,
        )
        assert got == _row_by_row(records, columns, s)
        assert len(got[1]) >= 4 and got[2]  # the rejections and warnings above are there


def test_ordinary_rows_are_read_without_a_call_of_the_row_validator_per_row(monkeypatch: pytest.MonkeyPatch) -> None:
    reader = open_table(iter(list(generated_csv(200, seed=5))), "generated.csv")
    columns = domain.resolve_columns(reader.header, ImportSettings())
    records = list(reader.records())
    expected = process_records(records, columns, ImportSettings())[0]

    def refused(self: domain.RowValidator, cells: list[str]) -> Any:
        raise AssertionError("called for an ordinary row")

    monkeypatch.setattr(domain.RowValidator, "__call__", refused)
    valid, rejected, _ = process_records(records, columns, ImportSettings())
    assert len(valid) == 200 and not rejected
    assert [(r, n, line.model_dump()) for r, n, line in valid] == [(r, n, x.model_dump()) for r, n, x in expected]


def test_a_files_country_cells_are_kept_up_to_the_bound_a_bad_one_never() -> None:
    """The country column is read once per distinct cell in a file (at most ``COUNTRIES_KEPT``); a cell that is not
    a country is judged (and warned about) on every row."""
    validator = plain_path(BASE, ImportSettings())
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    codes = [a + b for a in letters for b in letters][: rows.COUNTRIES_KEPT + 5]
    for code in codes:
        line = validator.line_without_model(list((BASE | {"country": code.lower()}).values()), [])
        assert line is not None and line.country == code
    assert len(validator.plain.countries) == rows.COUNTRIES_KEPT
    assert "aa" in validator.plain.countries and codes[-1].lower() not in validator.plain.countries
    for _ in range(2):
        warnings: list[str] = []
        line = validator.line_without_model(list((BASE | {"country": "Atlantis"}).values()), warnings)
        assert line is not None and line.country == "DE"
        assert warnings == ["country: 'Atlantis' is not a country (use the ISO code, e.g. DE, FR, GB)"]
    assert "Atlantis" not in validator.plain.countries
