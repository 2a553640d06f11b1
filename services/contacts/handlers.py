"""Lambda entry points of the contacts service that are not API routes: the bus inbox → the use cases, the contact
policy's schedule that releases deferred automatic contacts, and the daily payment-plan reminder schedule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.contacts import store
from services.contacts.cases import case_messages, enrichment, match_reviews, reminders
from services.contacts.cases import use_cases as cases
from services.contacts.clients import enrichment_costs
from services.contacts.policy import gate
from services.contacts.policy import use_cases as policy
from services.contacts.privacy import art14, erasure, subject_access
from shared.consumer import bus_consumer, outbox_publisher, rerunnable, set_at_a_time, with_batch_steps
from shared.events import (
    CaseFileImported,
    CaseFileImportedV2,
    ContactPointsChecked,
    ContactPointsTraced,
    EnrichmentAttemptSettled,
    EnrichmentResultFound,
    EnrichmentSubjectAccessCompleted,
    EnrichmentSubjectErasureCompleted,
    Event,
    ImportsSubjectAccessCompleted,
    ImportsSubjectErasureCompleted,
    MatchReviewRequested,
    MessageBounced,
    MessageComplained,
    MessageDelivered,
    MessageFailed,
    MessageSent,
    NotificationsSubjectAccessCompleted,
    NotificationsSubjectErasureCompleted,
    OptOutReceived,
    SmsFailed,
)
from shared.observability import lambda_handler

SERVICE = "contacts"


def _both(*steps: Callable[[Any], Any]) -> Callable[[Event], None]:
    """One event, two consumers in contacts: the case's messages (read model) and the contact policy."""

    def run(event: Event) -> None:
        for step in steps:
            step(event)

    return run


on_bus_events = bus_consumer(
    SERVICE,
    store.table_name,
    {
        # conditional, deterministically keyed writes: a redelivery may run them again (no idempotency record)
        CaseFileImported: rerunnable(cases.on_case_file_imported),  # v1: no longer published, kept for events in flight
        CaseFileImportedV2: rerunnable(cases.on_case_files_imported),  # CaseFileImported.v2, several owners
        EnrichmentResultFound: cases.on_enrichment_result,
        # upserts whose status only moves forward, and a first contact set once: a redelivery may run them again;
        # a batch's message events are written together, blind (case_messages.Batch)
        MessageSent: with_batch_steps(_both(case_messages.on_message_sent, art14.contacted), case_messages.Batch),
        MessageDelivered: with_batch_steps(case_messages.on_outcome, case_messages.Batch),
        MessageFailed: with_batch_steps(case_messages.on_outcome, case_messages.Batch),
        MessageBounced: _both(case_messages.on_outcome, policy.on_message_bounced),
        MessageComplained: _both(case_messages.on_outcome, policy.on_message_complained),
        SmsFailed: _both(case_messages.on_outcome, policy.on_sms_failed),
        OptOutReceived: _both(case_messages.on_outcome, policy.on_opt_out_received),
        ContactPointsTraced: enrichment.on_contact_points_traced,
        ContactPointsChecked: set_at_a_time(
            enrichment.on_contact_points_checked, enrichment.on_many_contact_points_checked
        ),
        EnrichmentAttemptSettled: enrichment_costs.on_attempt_settled,
        MatchReviewRequested: match_reviews.on_match_review_requested,
        ImportsSubjectAccessCompleted: subject_access.on_access_completed,
        EnrichmentSubjectAccessCompleted: subject_access.on_access_completed,
        NotificationsSubjectAccessCompleted: subject_access.on_access_completed,
        ImportsSubjectErasureCompleted: erasure.on_erasure_completed,
        EnrichmentSubjectErasureCompleted: erasure.on_erasure_completed,
        NotificationsSubjectErasureCompleted: erasure.on_erasure_completed,
    },
)

publish_outbox = outbox_publisher(SERVICE, store.table_name)


@lambda_handler(SERVICE)
def release_deferred_contacts(event: dict[str, Any], context: Any) -> dict[str, int]:
    """EventBridge schedule: ask the gate again for every deferred automatic contact whose time has come."""
    when = event.get("time")
    at = datetime.fromisoformat(when.replace("Z", "+00:00")) if when else None
    return gate.release_deferred(at)


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


@lambda_handler(SERVICE)
def erase_due(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Daily: request the erasure of the people whose retention has run out though nobody asked (Art. 5(1)(e)), then
    erase the people whose earliest erasure date has passed (Art. 17); finish half-done erasures."""
    when = event.get("time")
    at = datetime.fromisoformat(when.replace("Z", "+00:00")) if when else None
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)  # half the run for the sweep
    expired = erasure.sweep_expired(at, budget_seconds=remaining_ms() / 1000 / 2 if remaining_ms else 120.0)
    return {**expired, **erasure.erase_due(at)}
