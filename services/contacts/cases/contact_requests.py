"""The ONE way a message reaches a debtor: ``request_contact``. Collectors' actions, automatic workflow steps,
payment-plan reminders and closing e-mails all call it; it asks the contact-policy gate and publishes
ContactActionRequested only when the gate allowed it (contract between issues 11 and 12, PROTOCOL.md).

Manual request refused → ``Refused`` (HTTP 409 naming the rule and ``next_allowed_at``; nothing stored).
Automatic request refused for now → deferred (status "deferred", released by the schedule); refused for good
(cease communication, an opt-out, no valid default, …) → recorded as refused, status "refused".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.contacts.cases import audit, domain
from services.contacts.cases import repository as cases_repository
from services.contacts.cases.models import ContactActionOut
from services.contacts.identity import Identity
from services.contacts.policy import gate
from services.contacts.policy.gate import Outcome, Refused
from services.contacts.policy.rules import ANY_CASE, Channel, ClientRules, MessageKind
from shared.errors import Conflict, NotFound
from shared.events import DebtorMessage

__all__ = ["Outcome", "Refused", "action_out", "request_contact", "request_from_api"]


def request_contact(
    case_id: str,
    channel: Channel,
    *,
    automatic: bool,
    requested_by: str,
    correlation_id: str,
    actor: audit.Actor | None = None,
    contact_point_id: str | None = None,
    message_kind: MessageKind = "contact_request",
    debtor_message: DebtorMessage | None = None,
    subject: str | None = None,
    message: str | None = None,
    retry_of: str | None = None,
    at_time: datetime | None = None,
    case: dict[str, Any] | None = None,
    client: ClientRules | None = None,
    flush: bool = True,
    owner: cases_repository.OwnerRead | None = None,
    action_id: str | None = None,
) -> Outcome:
    """Ask the gate for one contact with the debtor of ``case_id`` (automatic: by the default point of the
    channel's type). Returns the outcome; raises ``Refused`` for a refused manual request. ``case``,
    ``client`` and ``owner``: what the caller read already; ``flush=False``: the caller publishes the outbox in
    batches; ``action_id``: the caller's id for the contact, whose record is then its claim ("already_claimed" when
    it exists)."""
    return gate.request_contact(
        case_id,
        channel,
        automatic=automatic,
        requested_by=requested_by,
        actor=actor or audit.Actor.system(requested_by.removeprefix("system:")),
        correlation_id=correlation_id,
        contact_point_id=contact_point_id,
        message_kind=message_kind,
        debtor_message=debtor_message,
        subject=subject,
        message=message,
        retry_of=retry_of,
        at_time=at_time,
        case=case,
        client=client,
        flush=flush,
        owner=owner,
        action_id=action_id,
    )


def request_from_api(
    case_id: str | None,
    channel: Channel,
    who: Identity,
    correlation_id: str,
    *,
    automatic: bool,
    case_owner_id: str | None = None,
    contact_point_id: str | None = None,
    message_kind: MessageKind = "contact_request",
    retry_of: str | None = None,
) -> ContactActionOut:
    """A collector's action (on the case, or from one contact point): the point must fit the channel (422),
    then the gate decides; an automatic request refused for good is a 409 too."""
    if case_id is None:
        if case_owner_id is None:
            raise NotFound("case", "?")
        case_id = ANY_CASE
        gate_case = None
    else:
        gate_case = gate.case_of(case_id)
        if case_owner_id is not None and gate_case["case_owner_id"] != case_owner_id:
            raise NotFound("case", case_id)
    owner_id = case_owner_id or str(gate_case["case_owner_id"]) if gate_case else case_owner_id
    if contact_point_id is not None:
        assert owner_id is not None
        item = cases_repository.get_contact_point(owner_id, contact_point_id)
        if item is None:
            raise NotFound("contact_point", contact_point_id)
        domain.check_action_type(channel, item["type"])
    outcome = gate.request_contact(
        case_id,
        channel,
        automatic=automatic,
        requested_by=who.principal,
        actor=audit.Actor.of(who),
        correlation_id=correlation_id,
        contact_point_id=contact_point_id,
        message_kind=message_kind,
        retry_of=retry_of,
        case_owner_id=owner_id,
        case=gate_case,
    )
    if outcome.status == "refused":
        raise Refused(outcome.decision, None)
    if outcome.status == "released_elsewhere":
        raise Conflict("concurrent_change", "this contact was decided meanwhile")
    return action_out(outcome, channel, automatic)


def action_out(outcome: Outcome, channel: Channel, automatic: bool) -> ContactActionOut:
    return ContactActionOut(
        status=outcome.status,
        action_id=outcome.action_id,
        event_id=outcome.event.event_id if outcome.event else None,
        action=channel,
        automatic=automatic,
        case_owner_id=outcome.case_owner_id,
        case_id=None if outcome.case_id == ANY_CASE else outcome.case_id,
        contact_point=cases_repository.to_point(outcome.point_item) if outcome.point_item else None,
        rule=outcome.decision.rule,
        reason=outcome.decision.message or None,
        next_allowed_at=outcome.next_allowed_at,
    )
