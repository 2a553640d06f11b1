"""Lambda entry points of the contacts service that are not API routes: the bus inbox → the use cases, and the
contact policy's schedule that releases deferred automatic contacts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.contacts import store
from services.contacts.cases import use_cases as cases
from services.contacts.policy import gate
from services.contacts.policy import use_cases as policy
from shared.consumer import bus_consumer, outbox_publisher
from shared.events import (
    CaseFileImported,
    EnrichmentResultFound,
    MessageBounced,
    MessageComplained,
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
        MessageBounced: policy.on_message_bounced,
        MessageComplained: policy.on_message_complained,
        SmsFailed: policy.on_sms_failed,
        OptOutReceived: policy.on_opt_out_received,
    },
)

publish_outbox = outbox_publisher(SERVICE, store.table_name)


@lambda_handler(SERVICE)
def release_deferred_contacts(event: dict[str, Any], context: Any) -> dict[str, int]:
    """EventBridge schedule: ask the gate again for every deferred automatic contact whose time has come."""
    when = event.get("time")
    at = datetime.fromisoformat(when.replace("Z", "+00:00")) if when else None
    return gate.release_deferred(at)
