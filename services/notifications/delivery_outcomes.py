"""Provider notifications (SES, SMS, via SNS → SQS) → the message's outcome, recorded and published to contacts."""

from __future__ import annotations

import uuid
from typing import Any

from services.notifications import message_records, outcomes
from shared import bus
from shared.events import (
    Event,
    MessageBounced,
    MessageComplained,
    MessageDelivered,
    OptOutReceived,
    SmsFailed,
    new_id,
)
from shared.observability import logger

log = logger("notifications")
_NAMESPACE = uuid.UUID("b0b1d9e4-2f0a-4c57-8a55-5b7f0c1d2e3f")
# A later, weaker outcome never overwrites a stronger one (a delivery notice after a complaint, say).
_RANK = {
    "claimed": 0,
    "sending": 0,
    "queued": 1,
    "sent": 1,
    "delivered": 2,
    "sms_failed": 3,
    "bounced": 3,
    "complained": 4,
}


def _find(found: outcomes.ProviderOutcome) -> dict[str, Any] | None:
    """The message a notification is about: by our tag (SES configuration-set events carry the e-mail's tags,
    End User Messaging events the SMS's context), else by the provider's id (SES identity notifications, the
    SNS fallback)."""
    record = None
    if found.tags and "message_id" in found.tags:
        record = message_records.get(found.tags["message_id"])
    if record is None and found.provider_message_id:
        record = message_records.by_provider_id(found.provider_message_id)
    return record


def _status(found: outcomes.ProviderOutcome) -> str | None:
    """The status an outcome gives its message (None: it changes none, a transient bounce say)."""
    return found.outcome if not (found.outcome == "bounced" and found.bounce_type == "transient") else None


def _tagged_status(found: outcomes.ProviderOutcome) -> tuple[str, str, list[str]] | None:
    """(our message id, the status, the stronger statuses) of an outcome that carries our tag and sets a status."""
    status = _status(found)
    if found.outcome == "ignored" or not status or status == "opt_out" or not found.tags:
        return None
    if "message_id" not in found.tags:
        return None
    return found.tags["message_id"], status, [s for s, rank in _RANK.items() if rank > _RANK[status]]


class OutcomeBatch:
    """A batch of provider notifications set at a time: the tagged outcomes' messages read in one BatchGetItem and
    advanced in one TransactWriteItems (each unless a stronger outcome is there), instead of one UpdateItem each.
    Worth it from three messages on; fewer, or a message with two outcomes in the batch, go one by one."""

    MINIMUM = 3

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], dict[str, Any]] = {}  # (message id, status) → the record after it

    def prepare(self, bodies: list[str]) -> None:
        changes: dict[str, tuple[str, list[str], str | None]] = {}
        twice: set[str] = set()
        for body in bodies:
            try:
                found_all = outcomes.parse(body)
            except Exception:
                continue  # its record fails on its own
            for found in found_all:
                tagged = _tagged_status(found)
                if tagged is None:
                    continue
                message_id, status, stronger = tagged
                if message_id in changes:
                    twice.add(message_id)
                changes[message_id] = (status, stronger, found.diagnostic)
        for message_id in twice:
            changes.pop(message_id)
        if len(changes) < self.MINIMUM:
            return
        read = message_records.get_many(changes)
        ids = [m for m in changes if m in read]
        written = message_records.advance_many(
            [(m, changes[m][0], changes[m][1], {"outcome_detail": changes[m][2]}) for m in ids]
        )
        for message_id, done in zip(ids, written, strict=True):
            status, _, detail = changes[message_id]
            if done:
                after = {"status": status, **({"outcome_detail": detail} if detail is not None else {})}
                self.records[(message_id, status)] = {**read[message_id], **after}
            elif done is False:  # a stronger outcome is there: the message stays as it is
                self.records[(message_id, status)] = read[message_id]


def outcome_events(body: str, batch: OutcomeBatch | None = None) -> list[Event]:
    """Read one queue record, update the messages it is about, and return the events to publish. ``batch``: what
    its batch advanced already."""
    events: list[Event] = []
    for found in outcomes.parse(body):
        if found.outcome == "ignored":
            continue
        status = _status(found)
        record = None
        tagged = _tagged_status(found)
        if tagged is not None:
            # Tagged (every e-mail through the configuration set, every SMS through End User Messaging): the
            # outcome is written and the record read back in one request, a stronger outcome left as it is.
            message_id, _, stronger = tagged
            record = batch.records.get((message_id, tagged[1])) if batch is not None else None
            if record is None:
                record = message_records.advance(message_id, tagged[1], stronger, outcome_detail=found.diagnostic)
            if record is not None:
                status = None  # written, or a stronger outcome was there
        if record is None:
            record = _find(found)
        if record is None:
            log.warning("outcome for an unknown message", extra={"provider_message_id": found.provider_message_id})
            continue
        # Derived from what happened, so a notification SNS delivers twice gives the same event id.
        event_id = str(uuid.uuid5(_NAMESPACE, f"{found.provider_message_id}|{found.outcome}|{found.recipient}"))
        common: dict[str, Any] = {
            "event_id": event_id,
            "correlation_id": str(record.get("correlation_id") or new_id()),
            "message_id": str(record["message_id"]),
            "case_id": record.get("case_id"),
            "case_owner_id": record.get("case_owner_id"),
            "contact_point_id": record.get("contact_point_id"),
            "channel": record["channel"],
            "provider_message_id": found.provider_message_id,
        }
        if found.outcome == "opt_out":
            message_records.mark(str(record["message_id"]), str(record["status"]), opted_out_keyword=found.keyword)
            events.append(OptOutReceived(keyword=found.keyword or "STOP", **common))
            continue
        if status and _RANK.get(status, 0) >= _RANK.get(str(record.get("status")), 0):
            message_records.mark(str(record["message_id"]), status, outcome_detail=found.diagnostic)
        if found.outcome == "delivered":
            events.append(MessageDelivered(**common))
        elif found.outcome == "bounced":
            events.append(
                MessageBounced(bounce_type=found.bounce_type or "transient", diagnostic=found.diagnostic, **common)
            )
        elif found.outcome == "complained":
            events.append(MessageComplained(**common))
        elif found.outcome == "sms_failed":
            events.append(SmsFailed(reason=found.diagnostic, **common))
    return events


def on_provider_notification(body: str, batch: OutcomeBatch | None = None) -> int:
    events = outcome_events(body, batch)
    if events:
        bus.publish(events)
    return len(events)
