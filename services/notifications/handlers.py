"""Notifications' Lambda entry points: the bus inbox → ``use_cases``; provider notifications → ``delivery_outcomes``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from services.notifications import deliveries, delivery_outcomes, settings, use_cases
from shared import bus
from shared.consumer import bus_consumer, publish_together, with_batch_steps
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
from shared.observability import lambda_handler, logger

on_bus_events = bus_consumer(
    use_cases.SERVICE,
    lambda: settings.get().table,
    {
        ClientRegistered: use_cases.on_client_registered,
        ClientUserCreated: use_cases.on_client_user_created,
        ClientUserRightsChanged: use_cases.on_rights_changed,
        ImportCompleted: use_cases.on_import_finished,
        ImportFailed: use_cases.on_import_finished,
        # claimed per message before anything is sent, announced again on a redelivery (deliveries.deliver); a
        # batch's messages are claimed together and marked together (deliveries.DeliveryBatch)
        ContactActionRequested: with_batch_steps(use_cases.on_contact_action, deliveries.DeliveryBatch),
        EnrichmentBudgetReached: use_cases.on_budget_reached,
        SubjectAccessRequested: use_cases.on_subject_access_requested,
        SubjectErasureRequested: use_cases.on_subject_erasure_requested,
    },
)


@lambda_handler(use_cases.SERVICE)
def on_provider_outcomes(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SES and SMS notifications (SNS → the outcomes queue); an unreadable record goes to the DLQ after retries.
    The batch's tagged outcomes are written together (``delivery_outcomes.OutcomeBatch``), its outcome events go
    out together (10 a PutEvents); a record whose events did not go out returns to
    the queue, and its retry publishes them again with the same ids (derived from the notification)."""
    processor = BatchProcessor(event_type=EventType.SQS)
    outgoing: dict[str, list[dict[str, Any]]] = {}
    batch = delivery_outcomes.OutcomeBatch()
    try:
        batch.prepare([str(r.get("body", "")) for r in event.get("Records", [])])
    except Exception:
        logger(use_cases.SERVICE).exception("a batch of outcomes failed; each is recorded on its own")
        batch = delivery_outcomes.OutcomeBatch()

    def handle(record: SQSRecord) -> None:
        with bus.deferred() as entries:
            delivery_outcomes.on_provider_notification(record.body, batch)
        if entries:
            outgoing[record.message_id] = entries

    response = process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    failures = list(response.get("batchItemFailures", []))
    failed = {f["itemIdentifier"] for f in failures}
    unsent = publish_together(outgoing, logger(use_cases.SERVICE))
    failures.extend({"itemIdentifier": m} for m in unsent if m not in failed)
    return {"batchItemFailures": failures}
