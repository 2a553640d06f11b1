"""What contacts and enrichment tell each other about a case owner's contact points.

Contacts publishes a snapshot (CaseOwnerContactsChanged) whenever the points change: enrichment learns from it
which usable defaults exist and what still needs the offline checks, without reading this table. Enrichment sends
back the checks (stored on the point) and what skip tracing found (added pending, with where it came from).
"""

from __future__ import annotations

from typing import Any

from services.contacts.cases import audit, domain, repository
from services.contacts.cases.models import CaseOwner
from services.contacts.privacy import art14
from shared import bus
from shared.events import (
    CaseOwnerContactsChanged,
    ContactPointChecks,
    ContactPointsChecked,
    ContactPointsTraced,
    ContactPointSummary,
    Event,
    PostalAddress,
    TraceSubject,
)
from shared.observability import logger

log = logger("contacts")


def _summary(item: dict[str, Any]) -> ContactPointSummary:
    checks: dict[str, Any] = item.get("checks") or {}
    current = str(checks.get("value")) == str(item["value"])
    return ContactPointSummary(
        contact_point_id=str(item["contact_point_id"]),
        type=item["type"],
        value=str(item["value"]),
        state=domain.PointState(bool(item["valid"]), item["qualification"], bool(item.get("is_default"))).name,
        checked=current,
        usable=ContactPointChecks.model_validate(checks).usable if current else None,
    )


def contacts_changed(
    case_owner_id: str,
    correlation_id: str,
    *,
    owner: CaseOwner | None = None,
    items: list[dict[str, Any]] | None = None,
) -> CaseOwnerContactsChanged | None:
    """The snapshot of the owner's points; ``owner`` and ``items`` when the caller has them as stored already."""
    owner = owner or repository.get_owner(case_owner_id)
    if owner is None:
        return None
    items = repository.point_items(case_owner_id) if items is None else items
    address = next(
        (i["address"] for i in items if i["type"] == "postal_address" and i.get("is_default") and i.get("address")),
        None,
    )
    return CaseOwnerContactsChanged(
        correlation_id=correlation_id,
        client_id=owner.client_id,
        case_owner_id=case_owner_id,
        subject=TraceSubject(
            first_name=owner.first_name,
            last_name=owner.last_name,
            company_name=owner.company_name,
            birth_date=owner.birth_date,
            last_known_address=PostalAddress.model_validate(address) if address else None,
        ),
        contact_points=[_summary(i) for i in items],
        processing_restricted=owner.processing_restricted,
    )


def publish_contacts_changed(
    case_owner_id: str,
    correlation_id: str,
    *,
    owner: CaseOwner | None = None,
    items: list[dict[str, Any]] | None = None,
) -> None:
    event = contacts_changed(case_owner_id, correlation_id, owner=owner, items=items)
    if event is not None:
        bus.publish([event])


def on_contact_points_checked(event: ContactPointsChecked) -> None:
    on_many_contact_points_checked([event])


def on_many_contact_points_checked(events: list[ContactPointsChecked]) -> dict[str, list[Event]]:
    """Keep each point's offline checks while it still has the value that was checked: the batch's points written
    together (100 a request), a changed or removed point's checks dropped alone. Publishes nothing."""
    checked = [
        (event.case_owner_id, check.type, check.contact_point_id, check.value, check.model_dump(mode="json"))
        for event in events
        for check in event.checks
    ]
    for (_, _, contact_point_id, _, _), stored in zip(checked, repository.store_many_checks(checked), strict=True):
        if not stored:
            log.info("checks of a changed or removed point dropped", extra={"contact_point_id": contact_point_id})
    return {}


def on_contact_points_traced(event: ContactPointsTraced) -> None:
    """Add what skip tracing found as pending points with their trace; below the confidence threshold they are
    flagged untrusted (and, like every traced point, never made default automatically). A value the case owner
    has already is left exactly as it is."""
    if repository.get_owner(event.case_owner_id) is None:
        raise LookupError(f"skip tracing found something for unknown case owner {event.case_owner_id}")
    actor = audit.Actor.system("enrichment")
    why = {"event_id": event.event_id, "provider": event.provider, "attempt": event.attempt}
    existing = repository.contact_point_ids(event.case_owner_id)
    added = 0
    notices: list[dict[str, Any]] = []
    for candidate in event.candidates:
        trace = {
            "provider": event.provider,
            "obtained_at": event.obtained_at.isoformat(),
            "confidence": candidate.confidence,
            "trusted": candidate.trusted,
            "case_id": event.case_id,
            "attempt": event.attempt,
        }
        for new in domain.points_to_add(event.case_owner_id, [candidate.point], existing, "enrichment"):
            traced = domain.NewContactPoint(new.contact_point_id, new.data, new.source, trace)
            if repository.add_contact_point(event.case_owner_id, traced, actor, event.correlation_id, why):
                existing.add(new.contact_point_id)
                added += 1
                notices.append({"contact_point_id": new.contact_point_id, "type": new.data.type})
                if new.data.type == "postal_address":
                    repository.mark_address_traced(event.case_owner_id, event.case_id, trace)
    art14.owed(event, notices)  # the person must be told where we got it (GDPR Art. 14)
    log.info("traced points merged", extra={"case_id": event.case_id, "added": added})
    if added:
        publish_contacts_changed(event.case_owner_id, event.correlation_id)
