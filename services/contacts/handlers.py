"""Lambda entry points of the contacts service that are not API routes: the bus inbox → the cases' use cases, and
the daily payment-plan reminder schedule."""

from __future__ import annotations

from typing import Any

from services.contacts import store
from services.contacts.cases import case_messages, reminders
from services.contacts.cases import use_cases as cases
from shared.consumer import bus_consumer
from shared.events import (
    CaseFileImported,
    EnrichmentResultFound,
    MessageBounced,
    MessageComplained,
    MessageDelivered,
    MessageFailed,
    MessageSent,
    OptOutReceived,
    SmsFailed,
)
from shared.observability import lambda_handler

SERVICE = "contacts"

on_bus_events = bus_consumer(
    SERVICE,
    store.table_name,
    {
        CaseFileImported: cases.on_case_file_imported,
        EnrichmentResultFound: cases.on_enrichment_result,
        MessageSent: case_messages.on_message_sent,
        MessageDelivered: case_messages.on_outcome,
        MessageBounced: case_messages.on_outcome,
        MessageComplained: case_messages.on_outcome,
        SmsFailed: case_messages.on_outcome,
        MessageFailed: case_messages.on_outcome,
        OptOutReceived: case_messages.on_outcome,
    },
)


@lambda_handler(SERVICE)
def on_reminder_schedule(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Daily: one payment-plan reminder per instalment whose reminder window has opened (idempotent)."""
    run = reminders.run_schedule(correlation_id=f"reminders-{event.get('id', 'manual')}")
    return {
        "day": run.day.isoformat(),
        "cases": run.cases,
        "requested": run.requested,
        "already_reminded": run.already_reminded,
        "held_back": run.held_back,
        "failed": len(run.failed),
    }
