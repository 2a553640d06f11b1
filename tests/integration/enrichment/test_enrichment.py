"""Enrichment on moto's server: the schedule enriches due cases once per attempt and books every attempt."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from infra.local.dispatcher import scheduled_event
from infra.local.lambda_runtime import LambdaContext
from infra.provision import Provisioned
from services.enrichment import domain, handlers, repository
from tests.integration.support import receive_all


def _setup(client_id: str, *, granted: bool = True, interval: int = 30, attempts: int = 2) -> None:
    repository.put_client(client_id)
    repository.put_settings(client_id, domain.EnrichmentSettings(granted, interval, attempts))


def _track(client_id: str, case_id: str, opened: date) -> None:
    repository.track_case(domain.TrackedCase(client_id, f"owner-{case_id}", case_id, opened))


def _fire(day: date) -> dict[str, int]:
    when = datetime(day.year, day.month, day.day, 3, tzinfo=UTC)
    return handlers.on_schedule(scheduled_event("rule", "eu-west-1", when), LambdaContext("enrichment", 300))


def test_schedule_enriches_only_due_cases_once_per_attempt(aws: Provisioned) -> None:
    _setup("granted")
    _setup("not-granted", granted=False)
    _track("granted", "old", date(2026, 1, 1))
    _track("granted", "young", date(2026, 4, 20))
    _track("not-granted", "other", date(2026, 1, 1))

    assert _fire(date(2026, 5, 1)) == {"searched": 1, "found": 1}
    assert _fire(date(2026, 5, 1)) == {"searched": 0, "found": 0}  # retried run: nothing paid twice
    assert _fire(date(2026, 5, 30)) == {"searched": 1, "found": 1}  # "young" is now 40 days old
    assert _fire(date(2026, 5, 31)) == {"searched": 1, "found": 1}  # "old": second attempt, 30 days after the 1st
    assert _fire(date(2026, 12, 31)) == {"searched": 1, "found": 1}  # "young": second and last attempt
    assert _fire(date(2027, 6, 30)) == {"searched": 0, "found": 0}  # both used their two attempts

    ledger = repository.ledger("old")
    assert [i["SK"] for i in ledger] == ["ATTEMPT#001", "ATTEMPT#002"]
    assert all(i["status"] == "settled" and i["cost"] == domain.SandboxProvider.cost_per_search for i in ledger)
    assert repository.ledger("other") == []

    published = [json.loads(m["Body"]) for m in receive_all(aws, "contacts-inbox")]
    assert len(published) == 4
    assert {(e["detail"]["case_id"], e["detail"]["attempt"]) for e in published} == {
        ("old", 1),
        ("old", 2),
        ("young", 1),
        ("young", 2),
    }


def test_same_case_opened_twice_is_tracked_once(aws: Provisioned) -> None:
    _setup("c2")
    _track("c2", "k", date(2026, 1, 1))
    _track("c2", "k", date(2026, 1, 1))
    assert len(repository.cases_opened_until("c2", date(2026, 12, 31))) == 1
