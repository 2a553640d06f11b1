"""Columns, row validation, settings and case-file building (no AWS)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.imports import domain
from services.imports.domain import ImportSettings, RowRejected, StagedRow, resolve_columns, validate
from services.imports.parsing import FileRejected
from services.imports.report import escape_cell, write_rejected_csv

ROW = {"last_name": "Schmidt", "invoice_number": "INV-1", "amount": "10,00", "opened_on": "2026-01-02"}


def test_settings_are_read_defensively() -> None:
    assert ImportSettings.from_client_settings({}) == ImportSettings()
    assert ImportSettings.from_client_settings({"imports": "junk"}) == ImportSettings()
    s = ImportSettings.from_client_settings(
        {
            "imports": {
                "new_file_per_invoice": True,
                "match_on_client_case_number": "yes",  # not a bool: default
                "column_mapping": {"amount": "Saldo", "bad": 3},
                "date_format": "mdy",
                "default_country": "fr",
                "unknown": 1,
            }
        }
    )
    assert (s.new_file_per_invoice, s.match_on_client_case_number, s.date_format, s.default_country) == (
        True,
        False,
        "MDY",
        "FR",
    )
    assert s.column_mapping == {"amount": "Saldo"}


def test_default_mapping_understands_german_and_french_headers() -> None:
    german = ["Aktenzeichen", "Vorname", "Nachname", "E-Mail", "Telefon", "Straße", "PLZ", "Ort", "Rechnungsnummer",
              "Betrag", "Rechnungsdatum", "Geburtsdatum"]  # fmt: skip
    cols = resolve_columns(german, ImportSettings()).columns
    assert cols["client_case_number"] == 0 and cols["street"] == 5 and cols["opened_on"] == 10
    assert cols["birth_date"] == 11
    french = ["Référence client", "Prénom", "Nom", "Courriel", "Téléphone", "Adresse", "Code postal", "Ville",
              "Numéro de facture", "Montant", "Date de facture"]  # fmt: skip
    cols = resolve_columns(french, ImportSettings()).columns
    assert cols["first_name"] == 1 and cols["last_name"] == 2 and cols["amount"] == 9 and cols["postcode"] == 6


def test_client_mapping_wins_and_missing_columns_are_named() -> None:
    header = ["Kunde", "Saldo", "Beleg", "Datum"]
    settings = ImportSettings(column_mapping={"last_name": "Kunde", "amount": "saldo", "invoice_number": "Beleg"})
    cols = resolve_columns(header, settings)
    assert cols.extract(["Schmidt", "5", "B-1", "2026-01-01"]) == {
        "last_name": "Schmidt",
        "amount": "5",
        "invoice_number": "B-1",
        "opened_on": "2026-01-01",
    }
    with pytest.raises(FileRejected, match="amount") as err:
        resolve_columns(["Name", "Datum", "Rechnungsnummer"], ImportSettings())
    assert err.value.code == "missing_columns"


def test_bad_contact_details_are_warnings_not_rejections() -> None:
    line, warnings = validate(ROW | {"email": "nope", "phone": "12", "street": "Hauptstr. 5", "postcode": "ABC"})
    assert line.email is None and line.phone is None and line.street is None
    assert [w.split(":")[0] for w in warnings] == ["email", "phone", "postcode"]


def test_every_problem_of_a_rejected_row_is_named() -> None:
    with pytest.raises(RowRejected) as err:
        validate({"last_name": "X", "amount": "abc", "opened_on": "31.02.2026"})
    message = str(err.value)
    assert "invoice_number: required" in message and "amount" in message and "opened_on" in message


def test_formula_injection_rejects_the_row() -> None:
    with pytest.raises(RowRejected) as err:
        validate(ROW | {"last_name": '=HYPERLINK("http://evil","x")'})
    assert err.value.code == "formula_injection"


def test_a_debtor_needs_a_name_or_a_company() -> None:
    with pytest.raises(RowRejected, match="last name or a company"):
        validate({k: v for k, v in ROW.items() if k != "last_name"} | {"first_name": "Anna"})
    line, _ = validate({k: v for k, v in ROW.items() if k != "last_name"} | {"company_name": "ACME GmbH"})
    assert line.company_name == "ACME GmbH"


def test_client_date_format_and_default_country() -> None:
    settings = ImportSettings(date_format="MDY", default_country="FR")
    line, _ = validate(ROW | {"opened_on": "01/02/2026", "phone": "01 42 68 53 00"}, settings)
    assert line.opened_on.isoformat() == "2026-01-02" and line.phone == "+33142685300" and line.country == "FR"


def _staged(row: int, invoice: str, amount: str, owner_new: bool = True) -> StagedRow:
    line, _ = validate(ROW | {"invoice_number": invoice, "amount": amount, "email": "a@example.de"})
    return StagedRow(row=row, line=row + 1, case_owner_id="o-1", matched_by="email", owner_new=owner_new, debtor=line)


def test_merged_vs_one_case_file_per_invoice() -> None:
    rows = [_staged(1, "INV-1", "10"), _staged(2, "INV-2", "5,50"), _staged(3, "INV-1", "10")]
    merged = domain.case_file_event("imp", "c", rows, ImportSettings())
    assert len(merged.cases) == 1 and merged.cases[0].amount == Decimal("15.50")
    assert merged.cases[0].invoice_numbers == ["INV-1", "INV-2"] and merged.matched_by == "new"
    split = domain.case_file_event("imp", "c", rows, ImportSettings(new_file_per_invoice=True))
    assert sorted(c.invoice_numbers[0] for c in split.cases) == ["INV-1", "INV-2"]
    assert {c.case_id for c in split.cases}.isdisjoint({merged.cases[0].case_id})
    assert len(split.contact_points) == 1  # the same e-mail once
    again = domain.case_file_event("imp", "c", list(reversed(rows)), ImportSettings())
    assert again.event_id == merged.event_id and again.cases == merged.cases  # deterministic


def test_a_debtor_with_many_invoices_is_split_over_several_events_when_one_file_per_invoice() -> None:
    rows = [_staged(i, f"INV-{i}", "1") for i in range(1, domain.MAX_CASES_PER_EVENT + 51)]
    split = domain.case_file_events("imp", "c", rows, ImportSettings(new_file_per_invoice=True))
    assert [len(e.cases) for e in split] == [domain.MAX_CASES_PER_EVENT, 50]
    assert len({e.event_id for e in split}) == 2
    assert {e.case_owner.case_owner_id for e in split} == {"o-1"}
    assert all(len(e.model_dump_json()) < 256 * 1024 for e in split)
    merged = domain.case_file_events("imp", "c", rows, ImportSettings())
    assert len(merged) == 1 and len(merged[0].cases) == 1


def test_rejected_rows_csv_escapes_formulas() -> None:
    assert escape_cell("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0"
    assert escape_cell("+49 30") == "'+49 30" and escape_cell("Anna") == "Anna"
    spool, count = write_rejected_csv(
        ["name", "amount"],
        [{"row": 3, "line": 4, "field": "amount", "reason": "bad", "cells": ["@SUM(A1)", "-2"]}],
    )
    text = spool.read().decode("utf-8-sig")
    assert count == 1
    assert text.splitlines()[1] == "3;4;amount;bad;'@SUM(A1);'-2"


def test_a_file_without_an_invoice_date_is_dated_with_the_import_date_and_says_so_once() -> None:
    cols = resolve_columns(["Nachname", "Rechnungsnummer", "Betrag"], ImportSettings(), date(2026, 11, 28))
    raw = cols.extract(["Schmidt", "R-1", "10"])
    assert raw["opened_on"] == "2026-11-28" and validate(raw)[0].opened_on == date(2026, 11, 28)
    assert cols.notices == ["no invoice-date column: every invoice is dated with the import date 2026-11-28"]
    assert resolve_columns(["Nachname", "Rechnungsnummer", "Betrag", "Datum"], ImportSettings()).notices == []


def test_street_and_house_number_columns_are_joined_in_the_file_s_order() -> None:
    german = resolve_columns(["Nachname", "Straße", "Hausnummer", "PLZ", "Rechnung", "Betrag"], ImportSettings())
    assert german.extract(["Schmidt", "Hauptstraße", "5a", "10115", "R", "1"])["street"] == "Hauptstraße 5a"
    febrl = resolve_columns(["surname", "street_number", "address_1", "suburb", "invoice", "amount"], ImportSettings())
    raw = febrl.extract(["green", "7", "wallaby place", "cleveland", "R", "1"])
    assert raw["street"] == "7 wallaby place" and raw["city"] == "cleveland"


@pytest.mark.parametrize(
    ("cells", "setting", "expected", "parsed"),
    [
        (["2026-05-02", "2026-12-31"], "auto", "auto", date(2026, 5, 2)),
        (["02.05.2026", "31.12.2026"], "auto", "auto", date(2026, 5, 2)),
        (["02/05/2026", "31/12/2026"], "auto", "auto", date(2026, 5, 2)),
        (["05/02/2026", "12/31/2026"], "auto", "MDY", date(2026, 5, 2)),  # unambiguous over the column
        (["05/02/2026", "12/31/2026", "31/12/2026"], "auto", "auto", None),  # contradicts itself: day first
        (["05/02/2026", "06/07/2026"], "MDY", "MDY", date(2026, 5, 2)),  # ambiguous: the client's setting decides
        (["20260502", "20261231"], "auto", "auto", date(2026, 5, 2)),
        (["46144", "46387", ""], "auto", "EXCEL", date(2026, 5, 2)),
    ],
)
def test_each_date_column_s_format_is_detected_from_the_column(
    cells: list[str], setting: str, expected: str, parsed: date | None
) -> None:
    settings = ImportSettings.from_client_settings({"imports": {"date_format": setting}})
    cols = resolve_columns(["Nachname", "Rechnung", "Betrag", "Datum"], settings).with_date_formats(
        [["Schmidt", "R", "1", c] for c in cells], settings
    )
    assert cols.date_formats["opened_on"] == expected
    if parsed is not None:
        line, _ = validate(cols.extract(["Schmidt", "R", "1", cells[0]]), settings, cols.date_formats)
        assert line.opened_on == parsed


def test_birth_dates_as_yyyymmdd_are_read() -> None:
    line, warnings = validate(ROW | {"birth_date": "19560409"})
    assert line.birth_date == date(1956, 4, 9) and warnings == []


@pytest.mark.parametrize("field", ["first_name", "last_name", "street", "city", "invoice_number", "postcode"])
@pytest.mark.parametrize("payload", ["-2+3+cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0", "-1+1", '=HYPERLINK("x")',
                                     "\u200b=1+1"])  # fmt: skip
def test_formulas_are_refused_in_every_text_field_and_the_postcode(field: str, payload: str) -> None:
    with pytest.raises(RowRejected) as err:
        validate(ROW | {"street": "Weg 1", "postcode": "10115", field: payload})
    assert err.value.code == "formula_injection" and field in str(err.value)


def test_a_name_of_invisible_characters_only_is_no_name() -> None:
    for invisible in ("\u200b", "\ufeff", "\u180e", "\u200b\u180e\ufeff"):
        with pytest.raises(RowRejected, match="needs a last name"):
            validate(ROW | {"last_name": invisible})


def test_terminal_escapes_and_control_characters_are_removed_with_a_warning() -> None:
    line, warnings = validate(ROW | {"last_name": "\x1b[2J\x1b[31mSchmidt\x07\x08", "city": "Ber\x00lin"})
    assert (line.last_name, line.city) == ("Schmidt", "Berlin")
    assert [w.split(":")[0] for w in warnings] == ["last_name", "city"]


def test_a_repeated_invoice_number_is_rejected_naming_the_first_row_or_kept_by_setting() -> None:
    numbers = ("INV-1", "X", "inv-1 ", "E")
    rows = [(n, n + 1, validate(ROW | {"invoice_number": number})[0]) for n, number in enumerate(numbers, start=1)]
    cells = {3: ["Schmidt", "inv-1", "10"]}
    kept, rejected, warnings, new = domain.repeated_invoices(rows, {"e": (1, 2)}, ImportSettings(), cells)
    assert [r for r, _, _ in kept] == [1, 2] and warnings == []
    assert [(r.row, r.code, r.field, r.cells) for r in rejected] == [
        (3, "repeated_invoice", "invoice_number", ["Schmidt", "inv-1", "10"]),
        (4, "repeated_invoice", "invoice_number", []),
    ]
    assert "row 1 (line 2)" in rejected[0].reason and "row 1 (line 2)" in rejected[1].reason  # both rows named
    assert new == {"inv-1": (1, 2), "x": (2, 3)}
    separate = ImportSettings.from_client_settings({"imports": {"repeated_invoice": "separate"}})
    kept, rejected, warnings, _ = domain.repeated_invoices(rows, {}, separate, cells)
    assert (
        len(kept) == 4
        and rejected == []
        and warnings == [(3, 4, "invoice_number: 'inv-1' is also on row 1 (line 2); kept as a separate invoice")]
    )


def test_kept_repeats_are_separate_cases() -> None:
    line = validate(ROW | {"invoice_number": "INV-1", "amount": "10"})[0]
    again = validate(ROW | {"invoice_number": "INV-1", "amount": "7"})[0]
    rows = [StagedRow(row=r, line=r + 1, case_owner_id="o-1", matched_by="new", owner_new=True, debtor=d)
            for r, d in ((1, line), (2, again))]  # fmt: skip
    separate = ImportSettings(new_file_per_invoice=True, repeated_invoice="separate")
    per_invoice = domain.case_file_event("imp", "c", rows, separate)
    assert len({c.case_id for c in per_invoice.cases}) == 2
    assert sorted(c.amount for c in per_invoice.cases) == [Decimal(7), Decimal(10)]
    merged = domain.case_file_event("imp", "c", rows, ImportSettings(repeated_invoice="separate"))
    assert merged.cases[0].amount == Decimal(17) and merged.cases[0].invoice_numbers == ["INV-1"]


def test_a_language_column_gives_the_case_owner_its_language() -> None:
    header = ["Nachname", "Rechnungsnummer", "Betrag", "Rechnungsdatum", "Korrespondenzsprache"]
    columns = resolve_columns(header, ImportSettings())
    assert columns.columns["language"] == 4
    raw = columns.extract(["Lefèvre", "R-1", "10,00", "2026-01-02", "Französisch"])
    line, warnings = validate(raw)
    assert (line.language, warnings) == ("fr", [])
    # A value that is no language is left out with a warning; the row is imported all the same.
    line, warnings = validate(ROW | {"language": "Klingonisch"})
    assert line.language is None and warnings == [
        "language: 'Klingonisch' is not a language (use the ISO 639-1 code, e.g. de, fr, en)"
    ]
    first, second = (
        StagedRow(row=n, line=n + 1, case_owner_id="o-1", matched_by="email", owner_new=True, debtor=debtor)
        for n, debtor in ((1, validate(ROW)[0]), (2, validate(ROW | {"invoice_number": "I-2", "language": "de-AT"})[0]))
    )
    assert domain.case_file_event("imp", "c", [first, second], ImportSettings()).case_owner.language == "de"
