"""The enrichment schedule (and every scheduled function) reads its event leniently (hardening item 11): the
SAM CLI's scheduled-event sample has no ``version`` and used to crash the function with KeyError."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from infra.local.lambda_runtime import LambdaContext
from infra.provision import Provisioned
from services.contacts import app as contacts_app
from services.enrichment import app, use_cases
from shared.events import CaseOpened, CaseOwnerContactsChanged, ClientSettingsChanged, TraceSubject

SAMPLE = Path(__file__).parents[2] / "fixtures" / "aws_events" / "samCliScheduledEvent.json"


def test_the_sam_cli_scheduled_event_runs_the_enrichment_schedule(aws: Provisioned) -> None:
    event = json.loads(SAMPLE.read_text())
    assert "version" not in event
    enrichment = {"granted": True, "interval_days": 30, "attempts": 1}
    use_cases.on_settings_changed(
        ClientSettingsChanged(correlation_id="c", client_id="c-sam", settings={"enrichment": enrichment})
    )
    use_cases.on_case_owner_contacts_changed(
        CaseOwnerContactsChanged(
            correlation_id="c",
            client_id="c-sam",
            case_owner_id="owner-sam",
            subject=TraceSubject(first_name="Sam", last_name="Cli"),
            contact_points=[],
        )
    )
    use_cases.on_case_opened(
        CaseOpened(
            correlation_id="c",
            client_id="c-sam",
            case_owner_id="owner-sam",
            case_id="case-sam",
            opened_on=date(1969, 11, 1),
        )
    )
    # The sample's time (1970-01-01) is the run's day: the case opened 61 days before is due.
    ran = app.on_schedule(event, LambdaContext("enrichment", 300))
    assert ran["searched"] + ran["failed"] == 1, ran


def test_the_outbox_publishers_take_the_same_sample(aws: Provisioned) -> None:
    event = json.loads(SAMPLE.read_text())
    assert app.publish_outbox(event, LambdaContext("enrichment", 60)) == {"published": 0}
    assert contacts_app.publish_outbox(event, LambdaContext("contacts", 60)) == {"published": 0}
