"""Bad input through real drops: a clear reason in the report, the rest imported where that makes sense."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook

from infra.provision import Provisioned
from tests.integration.imports.support import HEADER, bus_events, drop, job_for, register_client, run_drops
from tests.integration.support import case_files, client

pytestmark = pytest.mark.integration
GOOD = "K-1;Anna;Schmidt;anna@example.de;030 1234567;Hauptstr. 5;10115;Berlin;DE;INV-1;10,00;2026-01-02\n"


@pytest.mark.parametrize(
    ("name", "body", "code"),
    [
        ("empty.csv", b"", "empty_file"),
        ("header-only.csv", HEADER.encode(), "no_rows"),
        ("no-amount.csv", b"name;invoice;date\nSchmidt;INV-1;2026-01-01\n", "missing_columns"),
        ("picture.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "unsupported_file_type"),
        ("binary.csv", b"\x00\x01\x02\x03" * 100, "not_text"),
        ("fake.xlsx", b"name;amount\n", "unreadable_spreadsheet"),
    ],
)
def test_files_that_cannot_be_imported_fail_with_a_reason(aws: Provisioned, name: str, body: bytes, code: str) -> None:
    register_client("c")
    drop(aws, f"c/{name}", body)
    results = run_drops(aws)
    assert all(not r.get("batchItemFailures") for r in results), "a bad file must never loop"
    job = job_for(aws, f"c/{name}")
    assert (job["status"], job["reason_code"]) == ("failed", code)
    (failed,) = [e["detail"] for e in bus_events(aws) if e["detail-type"] == "ImportFailed.v1"]
    assert failed["reason_code"] == code and failed["reason"]


def test_unknown_client_and_no_client_folder(aws: Provisioned) -> None:
    drop(aws, "nobody/debtors.csv", (HEADER + GOOD).encode())
    drop(aws, "loose.csv", (HEADER + GOOD).encode())
    results = run_drops(aws)
    assert all(not r.get("batchItemFailures") for r in results)
    codes = sorted(e["detail"]["reason_code"] for e in bus_events(aws) if e["detail-type"] == "ImportFailed.v1")
    assert codes == ["no_client_folder", "unknown_client"]


def test_bad_rows_are_reported_and_the_rest_is_imported(aws: Provisioned) -> None:
    register_client("c")
    rows = [
        GOOD,
        'K-2;"broken;Quote;x@example.de;;;;;DE;INV-2;1;2026-01-01\n',
        "K-3;Jean;Dupont;jean@example.fr;01 42 68 53 00;12 rue de Rivoli;75001;Paris;FR;INV-3;1.250,00;15/03/2026\n",
        '=HYPERLINK("http://evil.example","click");Evil;Row;;;;;;DE;INV-4;1;2026-01-01\n',
        "K-5;Max;" + "M" * 40_000 + ";;;;;;DE;INV-5;1;2026-01-01\n",
        ";".join(["x"] * 10_000) + "\n",
        "K-7;Lena;Weber;lena@;not a phone;Weg 1;ABCDE;Köln;DE;INV-7;7,00;2026-02-01\n",
        "K-8;Otto;Normal;;;;;;DE;;-5;yesterday\n",
    ]
    drop(aws, "c/mixed.csv", (HEADER + "".join(rows)).encode("cp1252", errors="replace"))
    run_drops(aws)
    job = job_for(aws, "c/mixed.csv")
    assert job["status"] == "completed"
    assert (job["rows_imported"], job["rows_rejected"]) == (3, 5)
    reasons = {r["row"]: (r["code"], r["reason"]) for r in job["rejections"]}
    assert reasons[2][0] == "broken_quoting"
    assert reasons[4][0] == "formula_injection"
    assert reasons[5][0] == "cell_too_large"
    assert reasons[6][0] == "too_many_columns"
    assert reasons[8][0] == "invalid_row" and "invoice_number" in reasons[8][1] and "amount" in reasons[8][1]
    assert job["warnings"] == 3  # Lena: e-mail, phone, postcode; her invoice is still imported

    body = client(aws, "s3").get_object(Bucket=aws.names.bucket("drops"), Key="c/mixed.csv.rejected.csv")["Body"]
    report = list(csv.reader(io.StringIO(body.read().decode("utf-8-sig")), delimiter=";"))
    assert report[0][:4] == ["row", "line", "field", "reason"]
    evil = next(r for r in report[1:] if r[0] == "4")
    assert evil[4].startswith("'=HYPERLINK")  # escaped when written back, never a live formula
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in report for cell in r)
    big = next(r for r in report[1:] if r[0] == "5")  # the 40,000-character name: the invoice is still named
    assert "K-5" in big and "INV-5" in big and "'last_name'" in big[3]
    completed = next(e["detail"] for e in bus_events(aws) if e["detail-type"] == "ImportCompleted.v1")
    assert completed["rejected_rows_key"] == "c/mixed.csv.rejected.csv"
    # the report landing in the drop bucket is not imported in turn
    assert run_drops(aws) == []


def test_xlsx_drop_with_german_headers_one_case_file_per_invoice(aws: Provisioned) -> None:
    register_client("x", {"new_file_per_invoice": True, "default_country": "DE"})
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Nachname", "Vorname", "Telefon", "PLZ", "Straße", "Rechnungsnummer", "Betrag", "Rechnungsdatum"])
    sheet.append(["Müller", "Eva", "030 9876543", 1067, "Pragerstr. 1", "R-1", 99.9, "02.05.2026"])
    sheet.append(["Müller", "Eva", "+49 30 9876543", "01067", "Pragerstr. 1", "R-2", 10, "03.05.2026"])
    out = io.BytesIO()
    book.save(out)
    drop(aws, "x/liste.xlsx", out.getvalue())
    run_drops(aws)
    job = job_for(aws, "x/liste.xlsx")
    assert (job["status"], job["rows_imported"], job["case_owners_created"], job["cases"]) == ("completed", 2, 1, 2)
    (event,) = case_files(bus_events(aws))
    assert sorted(c["invoice_numbers"][0] for c in event["cases"]) == ["R-1", "R-2"]
    address = next(cp for cp in event["contact_points"] if cp["type"] == "postal_address")
    assert address["address"]["postcode"] == "01067"


def test_a_later_file_joins_the_existing_case_owner(aws: Provisioned) -> None:
    register_client("m")
    drop(aws, "m/january.csv", (HEADER + GOOD).encode())
    run_drops(aws)
    first = case_files(bus_events(aws))[0]
    later = "K-1;ANNA;SCHMIDT;;+49 30 123 4567;;;;DE;INV-9;5,00;2026-03-01\n"
    drop(aws, "m/march.csv", (HEADER + later).encode())
    run_drops(aws)
    second = case_files(bus_events(aws))[0]
    assert second["case_owner"]["case_owner_id"] == first["case_owner"]["case_owner_id"]
    assert second["matched_by"] == "model:name+phone"
    assert second["cases"][0]["case_id"] != first["cases"][0]["case_id"]
    job = job_for(aws, "m/march.csv")
    assert (job["case_owners_created"], job["case_owners_merged"]) == (0, 1)


def test_a_file_without_invoice_dates_is_imported_dated_with_the_import_day(aws: Provisioned) -> None:
    register_client("d")
    body = "given_name,surname,date_of_birth,invoice_number,amount\nmitchell,green,19560409,I-1,10\n"
    drop(aws, "d/no-dates.csv", body.encode())
    run_drops(aws)
    job = job_for(aws, "d/no-dates.csv")
    assert (job["status"], job["rows_imported"], job["rows_rejected"], job["warnings"]) == ("completed", 1, 0, 0)
    day = str(job["received_at"])[:10]
    assert job["notices"] == [f"no invoice-date column: every invoice is dated with the import date {day}"]
    (event,) = case_files(bus_events(aws))
    assert event["cases"][0]["opened_on"] == day and event["case_owner"]["birth_date"] == "1956-04-09"


def test_a_repeated_invoice_number_is_reported_never_dropped(aws: Provisioned) -> None:
    register_client("r")
    again = "K-9;Tom;Weber;;;;;;DE;INV-1;99,00;2026-01-05\n"  # INV-1 again, another debtor even
    drop(aws, "r/repeat.csv", (HEADER + GOOD + again).encode())
    run_drops(aws)
    job = job_for(aws, "r/repeat.csv")
    assert (job["rows_read"], job["rows_imported"], job["rows_rejected"]) == (2, 1, 1)
    (rejection,) = job["rejections"]
    assert rejection["row"] == 2 and rejection["code"] == "repeated_invoice" and "row 1 (line 2)" in rejection["reason"]

    register_client("s", {"repeated_invoice": "separate"})
    drop(aws, "s/repeat.csv", (HEADER + GOOD + again).encode())
    run_drops(aws)
    job = job_for(aws, "s/repeat.csv")
    assert (job["rows_read"], job["rows_imported"], job["rows_rejected"], job["warnings"]) == (2, 2, 0, 1)
