"""Enrichment's Lambda entry points: the daily schedule and the bus inbox → ``use_cases``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.enrichment import settings, use_cases
from shared.consumer import bus_consumer, outbox_publisher, rerunnable, set_at_a_time
from shared.events import (
    CaseOpened,
    CaseOwnerContactsChanged,
    CaseOwnersMerged,
    ClientRegistered,
    ClientSettingsChanged,
    SubjectAccessRequested,
    SubjectErasureRequested,
    new_id,
)
from shared.observability import lambda_handler

SERVICE = use_cases.SERVICE


@lambda_handler(SERVICE)
def on_schedule(event: dict[str, Any], context: Any) -> dict[str, int]:
    """EventBridge scheduled event: ``time`` is the run's date (so a late retry enriches as of its day)."""
    when = event.get("time")
    today = datetime.fromisoformat(when.replace("Z", "+00:00")).date() if when else datetime.now(UTC).date()
    return use_cases.run_enrichment(today, correlation_id=str(event.get("id") or new_id()))


on_bus_events = bus_consumer(
    SERVICE,
    lambda: settings.get().table,
    {
        ClientRegistered: use_cases.on_client_registered,
        ClientSettingsChanged: use_cases.on_settings_changed,
        # tracked with put-if-new, the newest snapshot kept, the checks published with a fixed event id: a
        # redelivery may run them again (no idempotency record). A batch's snapshots and opened cases are handled
        # set-at-a-time, snapshots first: a case opened with its owner's snapshot in the batch is indexed at once.
        CaseOwnerContactsChanged: set_at_a_time(
            use_cases.on_case_owner_contacts_changed, use_cases.on_case_owners_contacts_changed
        ),
        CaseOpened: set_at_a_time(use_cases.on_case_opened, use_cases.on_cases_opened),
        CaseOwnersMerged: rerunnable(use_cases.on_case_owners_merged),
        SubjectAccessRequested: use_cases.on_subject_access_requested,
        SubjectErasureRequested: use_cases.on_subject_erasure_requested,
    },
)

publish_outbox = outbox_publisher(SERVICE, lambda: settings.get().table)
