"""The imports service through real S3 drops and their SQS notifications (moto server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.provision import Provisioned
from tests.integration.imports.support import bus_events, drop, job_for, register_client, run_drops
from tests.integration.support import case_files

pytestmark = pytest.mark.integration
SAMPLE = (Path(__file__).resolve().parents[3] / "samples" / "debtors.csv").read_bytes()


def test_sample_file_becomes_three_case_files_and_a_report(aws: Provisioned) -> None:
    register_client("c-1", {"new_file_per_invoice": False})
    drop(aws, "c-1/debtors.csv", SAMPLE)
    run_drops(aws)

    job = job_for(aws, "c-1/debtors.csv")
    assert job["status"] == "completed"
    assert (job["rows_read"], job["rows_imported"], job["rows_rejected"]) == (5, 4, 1)
    assert (job["case_owners_created"], job["case_owners_merged"], job["cases"]) == (3, 0, 3)
    assert job["rejections"][0]["row"] == 5 and "amount" in job["rejections"][0]["reason"]
    events = bus_events(aws)
    imported = case_files(events)
    assert len(imported) == 3
    anna = next(e for e in imported if e["case_owner"]["last_name"] == "Schmidt")
    assert anna["cases"][0]["invoice_numbers"] == ["INV-5001", "INV-5002"]
    assert anna["cases"][0]["amount"] == "200.50"
    assert {cp["value"] for cp in anna["contact_points"]} >= {"anna.schmidt@example.de", "+49301234567"}
    completed = [e["detail"] for e in events if e["detail-type"] == "ImportCompleted.v1"]
    assert completed[0]["rows_rejected"] == 1 and completed[0]["rejected_rows_key"] == "c-1/debtors.csv.rejected.csv"
