"""Contact point use cases: list, add, qualify (validate / invalidate / cancel validation), make default,
observations, and contact actions (call, letter, SMS, e-mail) that notifications carries out.

State changes are optimistic: read the point (and the type's default pointer), let ``domain`` decide, then write
one conditional transaction with the audit entry; if someone else wrote first, re-read and decide again.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from services.contacts import pagination, store
from services.contacts.cases import audit, contact_requests, domain, enrichment, observations, repository
from services.contacts.cases.models import (
    CaseOwner,
    ContactActionIn,
    ContactActionOut,
    ContactPoint,
    ContactPointChange,
    EvidenceIn,
    NewContactPointIn,
)
from services.contacts.clients import repository as clients_repository
from services.contacts.clients.models import ImportSettings
from services.contacts.identity import Identity
from services.contacts.models import Page
from shared.errors import Conflict, Forbidden, Invalid, NotFound
from shared.events import ContactPointData, ContactPointType
from shared.observability import logger

SERVICE = "contacts"
MAX_ATTEMPTS = 40
log = logger(SERVICE)


class Contention:
    """How often a change had to be re-read and retried because another one won the race (for benchmarks)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.retries = 0
        self.gave_up = 0

    def retried(self) -> None:
        with self._lock:
            self.retries += 1

    def failed(self) -> None:
        with self._lock:
            self.gave_up += 1


contention = Contention()


# ---- access ----------------------------------------------------------------------------------------------


def visible_owner(case_owner_id: str, who: Identity) -> CaseOwner:
    owner = repository.get_owner(case_owner_id)
    if owner is None or not who.may_see_client(owner.client_id) or (owner.restricted_since and not who.is_agency):
        # A client user asking for another client's case owner learns nothing, not even that it exists; nor for a
        # restricted one (GDPR Art. 18: the agency keeps it, to answer the debtor and to lift the restriction).
        raise NotFound("case_owner", case_owner_id)
    return owner


def current_owner(case_owner_id: str, who: Identity) -> CaseOwner:
    """The case owner, or the one it was merged into (an accepted match review): old links still lead to the file."""
    owner = visible_owner(case_owner_id, who)
    for _ in range(5):  # a chain of merges, never in a circle
        if owner.merged_into is None:
            break
        owner = visible_owner(owner.merged_into, who)
    return owner


def owner_for_change(case_owner_id: str, who: Identity) -> CaseOwner:
    owner = visible_owner(case_owner_id, who)
    if not who.is_agency:
        raise Forbidden("client users may read their case owners' contact points, not change them")
    return not_merged(owner)


def not_merged(owner: CaseOwner) -> CaseOwner:
    """A merged case owner (a tombstone) has nothing left to change: 409 naming the one it was merged into."""
    if owner.merged_into is not None:
        error = Conflict("case_owner_merged", f"the case owner was merged into {owner.merged_into}: use that one")
        error.details = {"merged_into": owner.merged_into}
        raise error
    return owner


def state_of(item: dict[str, Any]) -> domain.PointState:
    return domain.PointState(bool(item["valid"]), item["qualification"], bool(item.get("is_default", False)))


def _point(case_owner_id: str, contact_point_id: str) -> dict[str, Any]:
    item = repository.get_contact_point(case_owner_id, contact_point_id)
    if item is None:
        raise NotFound("contact_point", contact_point_id)
    return item


# ---- reads -----------------------------------------------------------------------------------------------


def list_contact_points(
    case_owner_id: str,
    who: Identity,
    *,
    include_invalid: bool,
    point_type: ContactPointType | None,
    limit: int,
    next_token: str | None,
) -> Page[ContactPoint]:
    case_owner_id = current_owner(case_owner_id, who).case_owner_id
    points, last = repository.list_contact_points(
        case_owner_id,
        include_invalid=include_invalid,
        point_type=point_type,
        limit=limit,
        start=pagination.decode(next_token, {"PK": f"OWNER#{case_owner_id}"}),
    )
    return Page[ContactPoint](items=points, next_token=pagination.encode(last))


def get_contact_point(case_owner_id: str, contact_point_id: str, who: Identity) -> ContactPoint:
    case_owner_id = current_owner(case_owner_id, who).case_owner_id
    return repository.to_point(_point(case_owner_id, contact_point_id))


# ---- add, observation ------------------------------------------------------------------------------------


def add_contact_point(case_owner_id: str, body: NewContactPointIn, who: Identity, correlation_id: str) -> ContactPoint:
    owner = owner_for_change(case_owner_id, who)
    observations.check(body.observation)
    if body.country is not None and body.type != "phone":
        raise Invalid("country_not_for_type", "a country is given with a phone number only", "country")
    country = (body.country or phone_country(owner)).upper() if body.type == "phone" else None
    value = domain.check_value(body.type, body.value, country)
    data = ContactPointData(type=body.type, value=value, address=body.address, observation=body.observation or None)
    cp_id = domain.contact_point_id(case_owner_id, data)
    new = domain.NewContactPoint(cp_id, data, "manual")
    item = repository.add_contact_point(case_owner_id, new, audit.Actor.of(who), correlation_id)
    if item is None:
        raise Conflict("contact_point_exists", f"the case owner already has this {body.type} ({cp_id})")
    enrichment.publish_contacts_changed(case_owner_id, correlation_id)
    return repository.to_point(item)


def phone_country(owner: CaseOwner) -> str:
    """Where a national phone number of this case owner is read when the caller names no country: the country of
    the owner's default postal address, else the client's import default country (as the import reads it)."""
    pointer = repository.default_pointer(owner.case_owner_id, "postal_address")
    if pointer and pointer.get("contact_point_id"):
        item = repository.get_contact_point(owner.case_owner_id, str(pointer["contact_point_id"]))
        country = ((item or {}).get("address") or {}).get("country")
        if country:
            return str(country)
    settings = clients_repository.get_settings(owner.client_id) or {}
    return str((settings.get("imports") or {}).get("default_country") or ImportSettings().default_country)


def edit_observation(
    case_owner_id: str, contact_point_id: str, observation: str | None, who: Identity, correlation_id: str
) -> ContactPoint:
    owner_for_change(case_owner_id, who)
    observations.check(observation)
    new = observation or None

    def change(item: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        if item.get("observation") == new:
            return None
        return {"observation": new}, {}

    return _change(
        case_owner_id, contact_point_id, who, correlation_id, "contact_point.observation_edited", change
    ).contact_point


# ---- qualification and default ---------------------------------------------------------------------------

# A change: from the stored point, the fields to set and the "why" for the audit (None: nothing to do).
Change = Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]] | None]


def _state_change(
    rule: Callable[[domain.PointState, ContactPointType], domain.PointState], why: dict[str, Any]
) -> Change:
    def change(item: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        before = state_of(item)
        after = rule(before, item["type"])
        if after == before:
            return None
        fields: dict[str, Any] = {
            "valid": after.valid,
            "qualification": after.qualification,
            "is_default": after.is_default,
        }
        if after.qualification == "validated" and before.qualification != "validated":
            fields["validated_at"] = store.now()  # without a default, the most recently validated point is used
        return fields, why

    return change


def validate(
    case_owner_id: str, contact_point_id: str, evidence: EvidenceIn, who: Identity, correlation_id: str
) -> ContactPointChange:
    owner_for_change(case_owner_id, who)
    proof = domain.Evidence(evidence.kind, evidence.note)
    rule = _state_change(
        lambda s, t: domain.validated(s, t, proof), {"evidence": evidence.model_dump(exclude_none=True)}
    )
    return _change(case_owner_id, contact_point_id, who, correlation_id, "contact_point.validated", rule)


def invalidate(
    case_owner_id: str, contact_point_id: str, reason: str, who: Identity, correlation_id: str
) -> ContactPointChange:
    owner_for_change(case_owner_id, who)
    rule = _state_change(lambda s, _t: domain.invalidated(s), {"reason": reason})
    return _change(case_owner_id, contact_point_id, who, correlation_id, "contact_point.invalidated", rule)


def cancel_validation(
    case_owner_id: str, contact_point_id: str, reason: str | None, who: Identity, correlation_id: str
) -> ContactPointChange:
    owner_for_change(case_owner_id, who)
    rule = _state_change(lambda s, _t: domain.validation_cancelled(s), {"reason": reason} if reason else {})
    return _change(case_owner_id, contact_point_id, who, correlation_id, "contact_point.validation_cancelled", rule)


def make_default(
    case_owner_id: str, contact_point_id: str, who: Identity, correlation_id: str, reason: str | None = None
) -> ContactPointChange:
    owner_for_change(case_owner_id, who)
    rule = _state_change(lambda s, _t: domain.made_default(s), {"reason": reason} if reason else {})
    return _change(case_owner_id, contact_point_id, who, correlation_id, "contact_point.made_default", rule)


def _change(
    case_owner_id: str,
    contact_point_id: str,
    who: Identity | audit.Actor,
    correlation_id: str,
    action: str,
    change: Change,
) -> ContactPointChange:
    """Apply ``change`` to the point in one transaction with the default pointer (when the default moves) and
    the audit entry; retry from a fresh read whenever another writer got there first."""
    for attempt in range(MAX_ATTEMPTS):
        item = _point(case_owner_id, contact_point_id)
        decided = change(item)
        if decided is None:
            return ContactPointChange(contact_point=repository.to_point(item), changed=False)
        fields, why = decided
        point_type = str(item["type"])
        was_default = bool(item.get("is_default"))
        is_default = bool(fields.get("is_default", was_default))
        tx = repository.Tx()
        repository.update_point(tx, item, fields)
        previous: str | None = None
        if is_default != was_default:
            # The default moves: its pointer (with its own revision) changes in the same transaction, so two
            # concurrent changes can never both succeed and leave two defaults (or a pointer that disagrees).
            pointer = repository.default_pointer(case_owner_id, point_type)
            previous = str(pointer["contact_point_id"]) if pointer and pointer.get("contact_point_id") else None
            if is_default and previous and previous != contact_point_id:
                old = repository.get_contact_point(case_owner_id, previous)
                if old is not None:
                    repository.update_point(tx, old, {"is_default": False})
            repository.set_default_pointer(
                tx, case_owner_id, point_type, pointer, contact_point_id if is_default else None
            )
        before = {k: item.get(k) for k in fields}
        tx.audit(
            audit.entry(
                case_owner_id,
                audit.Actor.of(who) if isinstance(who, Identity) else who,
                action,
                target_type="contact_point",
                target_id=contact_point_id,
                before=before,
                after=fields,
                why={**why, **({"previous_default_id": previous} if is_default and previous else {})} or None,
                correlation_id=correlation_id,
            )
        )
        try:
            tx.commit()
        except repository.WriteConflict as exc:
            contention.retried()
            log.info("contact point changed meanwhile; retrying", extra={"attempt": attempt, "reasons": exc.reasons})
            time.sleep(random.uniform(0, min(0.25, 0.01 * 2 ** min(attempt, 5))))
            continue
        updated = {**item, **fields}
        if {"valid", "qualification", "is_default"} & fields.keys():
            enrichment.publish_contacts_changed(case_owner_id, correlation_id)
        return ContactPointChange(
            contact_point=repository.to_point(updated),
            default_cleared=was_default and not is_default,
            previous_default_id=previous if is_default and previous != contact_point_id else None,
        )
    contention.failed()
    raise Conflict("concurrent_change", "the contact point kept changing meanwhile; read it again and retry")


# ---- contact actions -------------------------------------------------------------------------------------


def action_from_point(
    case_owner_id: str,
    contact_point_id: str,
    body: ContactActionIn,
    who: Identity,
    correlation_id: str,
) -> ContactActionOut:
    """An action from one contact point: through the contact-policy gate like every contact with a debtor."""
    owner_for_change(case_owner_id, who)
    return contact_requests.request_from_api(
        body.case_id,
        body.action,
        who,
        correlation_id,
        automatic=body.automatic,
        case_owner_id=case_owner_id,
        contact_point_id=contact_point_id,
        message_kind=body.message_kind,
        retry_of=body.retry_of,
    )


def invalidate_with_evidence(
    case_owner_id: str, contact_point_id: str, evidence: dict[str, Any], actor: audit.Actor, correlation_id: str
) -> bool:
    """An outcome proved the point wrong (a bounce, a wrong number, a returned letter): invalid, with the evidence
    in the audit entry. False when it already was invalid."""
    rule = _state_change(
        lambda s, _t: domain.invalidated(s) if s.valid else s, {k: v for k, v in evidence.items() if v is not None}
    )
    result = _change(case_owner_id, contact_point_id, actor, correlation_id, "contact_point.invalidated", rule)
    return result.changed


def default_point(case_owner_id: str, point_type: ContactPointType) -> dict[str, Any]:
    pointer = repository.default_pointer(case_owner_id, point_type)
    cp_id = pointer.get("contact_point_id") if pointer else None
    item = repository.get_contact_point(case_owner_id, str(cp_id)) if cp_id else None
    if item is None:
        raise Conflict("no_default", f"the case owner has no default {point_type}")
    return item
