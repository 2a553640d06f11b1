"""Notifications' Lambda entry points: the bus inbox → ``use_cases``; provider notifications → ``delivery_outcomes``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from services.notifications import delivery_outcomes, settings, use_cases
from shared.consumer import bus_consumer, rerunnable
from shared.events import (
    ClientRegistered,
    ClientUserCreated,
    ClientUserRightsChanged,
    ContactActionRequested,
    EnrichmentBudgetReached,
    ImportCompleted,
    ImportFailed,
    SubjectAccessRequested,
    SubjectErasureRequested,
)
from shared.observability import lambda_handler

on_bus_events = bus_consumer(
    use_cases.SERVICE,
    lambda: settings.get().table,
    {
        ClientRegistered: use_cases.on_client_registered,
        ClientUserCreated: use_cases.on_client_user_created,
        ClientUserRightsChanged: use_cases.on_rights_changed,
        ImportCompleted: use_cases.on_import_finished,
        ImportFailed: use_cases.on_import_finished,
        # claimed per message before anything is sent, announced again on a redelivery (deliveries.deliver)
        ContactActionRequested: rerunnable(use_cases.on_contact_action),
        EnrichmentBudgetReached: use_cases.on_budget_reached,
        SubjectAccessRequested: use_cases.on_subject_access_requested,
        SubjectErasureRequested: use_cases.on_subject_erasure_requested,
    },
)


@lambda_handler(use_cases.SERVICE)
def on_provider_outcomes(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SES and SMS notifications (SNS → the outcomes queue); an unreadable record goes to the DLQ after retries."""
    processor = BatchProcessor(event_type=EventType.SQS)

    def handle(record: SQSRecord) -> None:
        delivery_outcomes.on_provider_notification(record.body)

    return dict(process_partial_response(event=event, record_handler=handle, processor=processor, context=context))
