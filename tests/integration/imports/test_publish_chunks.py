"""The publish phase sends CaseFileImported.v2: several case owners' files an event, bounded by count and size, a case
owner at most once an event (a case file in parts goes one part an event), ids that follow from the content."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from infra.provision import Provisioned
from services.imports import domain, pipeline
from shared.events import CASE_FILES_EVENT_BYTES, MAX_CASE_FILES_PER_EVENT
from tests.integration.imports.support import HEADER, bus_events, drop, job_for, people_csv, register_client, run_drops

pytestmark = pytest.mark.integration


def _chunks(aws: Provisioned) -> list[dict[str, Any]]:
    events = bus_events(aws)
    assert not [e for e in events if e["detail-type"] == "CaseFileImported.v1"]
    return [e["detail"] for e in events if e["detail-type"] == "CaseFileImported.v2"]


def test_case_owners_go_fifty_an_event_each_once(aws: Provisioned) -> None:
    register_client("ch")
    drop(aws, "ch/file.csv", people_csv(120, seed_dupes=False))
    run_drops(aws)
    job = job_for(aws, "ch/file.csv")
    assert (job["status"], job["case_owners_created"], job["cases"]) == ("completed", 120, 120)
    chunks = _chunks(aws)
    assert [len(c["case_files"]) for c in chunks] == [MAX_CASE_FILES_PER_EVENT, MAX_CASE_FILES_PER_EVENT, 20]
    owners = [f["case_owner"]["case_owner_id"] for c in chunks for f in c["case_files"]]
    assert len(owners) == len(set(owners)) == 120
    for c in chunks:
        first = c["case_files"][0]["case_file_id"]
        assert c["event_id"] == str(uuid.uuid5(domain.NAMESPACE, f"{c['import_id']}|case-files|{first}"))
        assert len(json.dumps(c["case_files"], separators=(",", ":"))) <= CASE_FILES_EVENT_BYTES


def test_a_size_bound_closes_an_event_before_its_count_does(aws: Provisioned, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "CASE_FILES_EVENT_BYTES", 4_000)
    register_client("sz")
    drop(aws, "sz/file.csv", people_csv(30, seed_dupes=False))
    run_drops(aws)
    chunks = _chunks(aws)
    assert len(chunks) > 1 and sum(len(c["case_files"]) for c in chunks) == 30
    assert all(len(json.dumps(c["case_files"], separators=(",", ":"))) <= 4_000 for c in chunks)


def test_a_case_file_in_parts_goes_one_part_an_event(aws: Provisioned, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(domain, "MAX_CASES_PER_EVENT", 2)
    register_client("pt", {"new_file_per_invoice": True})
    rows = [f"K-1;Anna;Weber;anna@example.de;;;;;DE;INV-{i};1{i},00;2026-01-0{i}\n" for i in range(1, 6)]
    rows += ["K-2;Otto;Klein;otto@example.de;;;;;DE;INV-9;9,00;2026-01-09\n"]
    drop(aws, "pt/file.csv", (HEADER + "".join(rows)).encode())
    run_drops(aws)
    job = job_for(aws, "pt/file.csv")
    assert (job["status"], job["case_owners_created"], job["cases"]) == ("completed", 2, 6)
    chunks = _chunks(aws)
    for c in chunks:
        owners = [f["case_owner"]["case_owner_id"] for f in c["case_files"]]
        assert len(owners) == len(set(owners))  # a case owner at most once an event
    parts = [f for c in chunks for f in c["case_files"] if f["case_owner"]["last_name"] == "Weber"]
    assert [len(f["cases"]) for f in parts] == [2, 2, 1]
    assert len({f["case_file_id"] for f in parts}) == 3
