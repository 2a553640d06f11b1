"""Columns, row validation, settings and case-file building (no AWS)."""

from __future__ import annotations

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
