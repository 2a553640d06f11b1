"""The client's import settings arrive as ClientSettingsChanged events (imports keeps its own copy) and steer
the column mapping, the date format, the default country and the matching on the client's case number."""

from __future__ import annotations

from typing import Any

import pytest

from infra.definition import STACK
from infra.local.dispatcher import sqs_record
from infra.local.lambda_runtime import ACCOUNT, context_for
from infra.provision import Provisioned
from services.imports import handlers
from shared import bus
from shared.events import ClientRegistered, ClientSettingsChanged
from tests.integration.imports.support import bus_events, drop, job_for, run_drops
from tests.integration.support import case_files, receive_all

pytestmark = pytest.mark.integration


def deliver_bus_events(p: Provisioned) -> dict[str, Any]:
    messages = receive_all(p, "imports-inbox")
    arn = f"arn:aws:sqs:{p.region}:{ACCOUNT}:{p.names.queue('imports-inbox')}"
    fn = next(f for f in STACK.functions if f.service == "imports" and f.handler == "on_bus_events")
    event = {"Records": [sqs_record(m, arn, p.region) for m in messages]}
    return dict(handlers.on_bus_events(event, context_for(fn, p.region, p.names.stage)))


def test_settings_from_the_bus_steer_the_import(aws: Provisioned) -> None:
    imports = {
        "match_on_client_case_number": True,
        "column_mapping": {"client_case_number": "Kd-Nr", "amount": "Saldo EUR", "last_name": "Schuldner"},
        "date_format": "MDY",
        "default_country": "FR",
    }
    bus.publish(
        [
            ClientRegistered(correlation_id="t", client_id="s-1", legal_name="S", business_unit_id="bu",
                             sender_email="s@example.com"),
            ClientSettingsChanged(correlation_id="t", client_id="s-1", settings={"imports": imports, "other": {}}),
        ]
    )  # fmt: skip
    assert deliver_bus_events(aws) == {"batchItemFailures": []}
    bus_events(aws)  # drop the two events above from the tap

    csv = (
        "Kd-Nr,Schuldner,Vorname,Telefon,Rechnungsnummer,Saldo EUR,Datum\n"
        'A-1,Martin,Luc,01 42 68 53 00,F-1,"1,250.00",03/14/2026\n'
        "A-1,Martin-Durand,Luc,06 12 34 56 78,F-2,10,03/15/2026\n"  # other name and phone, same client number
        "A-2,Martin,Luc,01 42 68 53 00,F-3,5,03/16/2026\n"  # same person by our rules, other client number
    )
    drop(aws, "s-1/export.csv", csv.encode())
    run_drops(aws)
    job = job_for(aws, "s-1/export.csv")
    assert (job["status"], job["rows_imported"], job["case_owners_created"]) == ("completed", 3, 2)
    events = sorted(case_files(bus_events(aws)), key=lambda e: e["row_numbers"][0])
    assert [e["row_numbers"] for e in events] == [[1, 2], [3]]
    first = events[0]
    assert first["case_owner"]["client_reference"] == "A-1"
    assert first["cases"][0]["amount"] == "1260.00" and first["cases"][0]["opened_on"] == "2026-03-14"
    assert {cp["value"] for cp in first["contact_points"]} == {"+33142685300", "+33612345678"}
