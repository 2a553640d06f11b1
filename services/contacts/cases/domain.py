"""Contacts rules, free of AWS: contact point identities and states, evidence, defaults, actions, observations.

A contact point is valid or invalid. A valid one is pending, validated, or validated and default (the one used
by every automatic action of its type). At most one default per type per case owner; the repository enforces
that in DynamoDB, these functions decide which transitions are allowed at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal

from email_validator import EmailNotValidError, validate_email

from services.contacts.cases import objectivity
from shared import phones
from shared.errors import Conflict, Invalid
from shared.events import ContactPointData, ContactPointType

NAMESPACE = uuid.UUID("6f1c3c1e-5d0a-4c4b-9a55-0f1b7a2f7c10")
Source = Literal["import", "enrichment", "manual"]
Qualification = Literal["pending", "validated"]
EvidenceKind = Literal["successful_call", "inbound_call", "acknowledgement_of_receipt", "inbound_letter", "reason"]
ActionKind = Literal["call", "letter", "sms", "email"]
State = Literal["invalid", "pending", "validated", "default"]

# What may confirm a contact point of each type (seed 003); a free reason fits every type.
EVIDENCE_FOR_TYPE: dict[ContactPointType, frozenset[str]] = {
    "phone": frozenset({"successful_call", "inbound_call", "reason"}),
    "postal_address": frozenset({"acknowledgement_of_receipt", "inbound_letter", "reason"}),
    "email": frozenset({"reason"}),
}
ACTION_TYPE: dict[str, ContactPointType] = {
    "call": "phone",
    "sms": "phone",
    "letter": "postal_address",
    "email": "email",
}


def normalised_value(point: ContactPointData) -> str:
    """The value two contact points of one type share when they are the same point."""
    if point.type == "email":
        return point.value.strip().lower()
    if point.type == "phone":
        return "".join(ch for ch in point.value if ch.isdigit() or ch == "+")
    return " ".join(point.value.casefold().split())


def contact_point_id(case_owner_id: str, point: ContactPointData) -> str:
    """Deterministic: the same value proposed twice (re-delivery, re-import) is the same contact point."""
    return str(uuid.uuid5(NAMESPACE, f"{case_owner_id}|{point.type}|{normalised_value(point)}"))


@dataclass(frozen=True)
class NewContactPoint:
    contact_point_id: str
    data: ContactPointData
    source: Source
    trace: dict[str, Any] | None = None  # provider, obtained_at, confidence, trusted, case_id, attempt


def points_to_add(
    case_owner_id: str, proposed: list[ContactPointData], existing_ids: set[str], source: Source
) -> list[NewContactPoint]:
    """Proposed points that the case owner does not have yet, each once.

    An existing point is never touched: a validated or default point keeps its state, whatever a later import
    or enrichment result says about the same value. New points start valid and pending.
    """
    seen = set(existing_ids)
    out: list[NewContactPoint] = []
    for point in proposed:
        cp_id = contact_point_id(case_owner_id, point)
        if cp_id in seen:
            continue
        seen.add(cp_id)
        out.append(NewContactPoint(cp_id, point, source))
    return out


# ---- qualification states --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointState:
    valid: bool
    qualification: Qualification
    is_default: bool

    @property
    def name(self) -> State:
        if not self.valid:
            return "invalid"
        if self.is_default:
            return "default"
        return self.qualification


@dataclass(frozen=True)
class Evidence:
    kind: EvidenceKind
    note: str | None = None


def check_evidence(point_type: ContactPointType, evidence: Evidence) -> None:
    if evidence.kind not in EVIDENCE_FOR_TYPE[point_type]:
        allowed = ", ".join(sorted(EVIDENCE_FOR_TYPE[point_type]))
        raise Invalid(
            "evidence_not_for_type",
            f"{evidence.kind} cannot confirm a {point_type} contact point (allowed: {allowed})",
            "evidence.kind",
        )
    if evidence.kind == "reason" and not (evidence.note or "").strip():
        raise Invalid("reason_required", "a free reason needs its text", "evidence.note")


def validated(state: PointState, point_type: ContactPointType, evidence: Evidence) -> PointState:
    """Evidence confirms the point; an invalid point that evidence confirms is valid again."""
    check_evidence(point_type, evidence)
    if state.valid and state.qualification == "validated":
        raise Conflict("already_validated", "the contact point is already validated")
    return PointState(valid=True, qualification="validated", is_default=False)


def invalidated(state: PointState) -> PointState:
    """Invalid: never proposed, never used; it stops being the default (none of its type is left)."""
    if not state.valid:
        raise Conflict("already_invalid", "the contact point is already invalid")
    return PointState(valid=False, qualification="pending", is_default=False)


def validation_cancelled(state: PointState) -> PointState:
    """Back to pending; a default point stops being the default."""
    if not state.valid:
        raise Conflict("contact_point_invalid", "an invalid contact point has no validation to cancel")
    if state.qualification != "validated":
        raise Conflict("not_validated", "the contact point is not validated")
    return replace(state, qualification="pending", is_default=False)


def made_default(state: PointState) -> PointState:
    if not state.valid:
        raise Conflict("contact_point_invalid", "an invalid contact point cannot become the default")
    if state.qualification != "validated":
        raise Conflict("not_validated", "only a validated contact point can become the default")
    return replace(state, is_default=True)


# ---- contact actions -------------------------------------------------------------------------------------


def check_action_type(action: ActionKind, point_type: str) -> None:
    """A call or SMS needs a phone, a letter an address, an e-mail an e-mail (the rest is the contact policy's)."""
    if ACTION_TYPE[action] != point_type:
        raise Invalid("action_not_for_type", f"a {action} needs a {ACTION_TYPE[action]}, not a {point_type}", "action")


# ---- observations ----------------------------------------------------------------------------------------


def parse_terms(lines: Iterable[str]) -> objectivity.Terms:
    """A term list: one word or phrase a line; '#' starts a comment; [en]/[de]/[fr] start a language's terms."""
    return objectivity.parse_terms(lines)


def offending_term(observation: str, terms: objectivity.Terms) -> str | None:
    """The first listed word or phrase the observation contains, however spelled, as written in it."""
    found = objectivity.find(observation, terms)
    return None if found is None else found[0]


def check_objective(text: str | None, terms: objectivity.Terms, what: str, field: str) -> None:
    """Free text about a debtor stays objective, related to the case, and must not harm the person's image (seed 003;
    the same holds for every free comment a collector writes about a person)."""
    if text is None:
        return
    found = objectivity.find(text, terms)
    if found is not None:
        written, term = found
        reads = "" if objectivity.term_words(written) == term.words else f" (it reads as {term.text!r})"
        raise Invalid(
            f"{what}_not_objective",
            f"the {what} must stay objective and related to the case; {written!r} is not allowed{reads}",
            field,
        )


def check_observation(observation: str | None, terms: objectivity.Terms) -> None:
    """Observations stay objective and must not harm the person's image (seed 003)."""
    check_objective(observation, terms, "observation", "observation")


# ---- values ----------------------------------------------------------------------------------------------


def check_value(point_type: ContactPointType, value: str, country: str | None = None) -> str:
    """The value as stored: an e-mail in lower case, a phone in E.164, an address on one line.

    A phone's national form is read in ``country`` (the import reads it the same way, with the same normaliser).
    """
    value = value.strip()
    if point_type == "email":
        try:
            return validate_email(value, check_deliverability=False).normalized.lower()
        except EmailNotValidError as exc:
            raise Invalid("invalid_email", f"not an e-mail address: {exc}", "value") from exc
    if point_type == "phone":
        try:
            return phones.normalise_phone(value, country)
        except phones.PhoneRefused as exc:
            if exc.code == "phone_country":
                raise Invalid("invalid_country", str(exc), "country") from exc
            raise Invalid("invalid_phone", str(exc), "value") from exc
    return " ".join(value.split())


# ---- a case's messages (read model of notifications' events; case_messages keeps them) ------------------------

# A message's status only moves forward: sent < delivered < bounced/failed < complained.
MESSAGE_RANK = {"queued": 1, "sent": 1, "delivered": 2, "bounced": 3, "sms_failed": 3, "failed": 3, "complained": 4}
# An event item's own bookkeeping, not part of the message it describes (nor are an old whole item's).
MESSAGE_EVENT_STATUS, MESSAGE_EVENT_AT, MESSAGE_EVENT_ID = "event_status", "occurred_at", "event_id"
_MESSAGE_BOOKKEEPING = {"PK", "SK", MESSAGE_EVENT_STATUS, MESSAGE_EVENT_AT, MESSAGE_EVENT_ID, "version", "status_rank"}


def _occurred(item: dict[str, Any]) -> tuple[str, str]:
    return str(item[MESSAGE_EVENT_AT]), str(item[MESSAGE_EVENT_ID])


def merged_messages(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The case's messages from its ``MSG#`` items (old whole ones and event items alike), each as one dict of its
    fields and status: what the old upserts left, whatever order the events arrived in."""
    bases: dict[str, dict[str, Any]] = {}
    events: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        message_id = str(item["message_id"])
        if MESSAGE_EVENT_AT in item:
            events.setdefault(message_id, []).append(item)
        else:  # the message's item as the read-modify-write consumer kept it
            bases[message_id] = item
    messages = []
    for message_id in dict.fromkeys([*bases, *events]):
        base = bases.get(message_id)
        message = {k: v for k, v in (base or {}).items() if k not in _MESSAGE_BOOKKEEPING}
        rank = int((base or {}).get("status_rank", 0))
        for item in sorted(events.get(message_id, []), key=_occurred):
            message.update((k, v) for k, v in item.items() if k not in _MESSAGE_BOOKKEEPING)
            status = item.get(MESSAGE_EVENT_STATUS)
            if status is not None and rank < MESSAGE_RANK[str(status)]:  # only forward: no late delivery hides a bounce
                message["status"], rank = status, MESSAGE_RANK[str(status)]
        messages.append(message)
    return messages
