"""The enrichment schedule (and every scheduled function) reads its event leniently (hardening item 11): the
SAM CLI's scheduled-event sample has no ``version`` and used to crash the function with KeyError."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from infra.local.lambda_runtime import LambdaContext
from infra.provision import Provisioned
from services.contacts import app as contacts_app
from services.enrichment import app, domain, repository

SAMPLE = Path(__file__).parents[2] / "fixtures" / "aws_events" / "samCliScheduledEvent.json"


def test_the_sam_cli_scheduled_event_runs_the_enrichment_schedule(aws: Provisioned) -> None:
    event = json.loads(SAMPLE.read_text())
    assert "version" not in event
    repository.put_client("c-sam")
    repository.put_settings("c-sam", domain.EnrichmentSettings(granted=True, interval_days=30, attempts=1))
    repository.track_case(domain.TrackedCase("c-sam", "owner-sam", "case-sam", date(1969, 11, 1)))
    # The sample's time (1970-01-01) is the run's day: the case opened 61 days before is due.
    assert app.on_schedule(event, LambdaContext("enrichment", 300)) == {"searched": 1, "found": 1}


def test_the_outbox_publishers_take_the_same_sample(aws: Provisioned) -> None:
    event = json.loads(SAMPLE.read_text())
    assert app.publish_outbox(event, LambdaContext("enrichment", 60)) == {"published": 0}
    assert contacts_app.publish_outbox(event, LambdaContext("contacts", 60)) == {"published": 0}
