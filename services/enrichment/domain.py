"""Enrichment rules, free of AWS: a client's enrichment settings, when a case may be due, what to look for.

The schedule finds due cases by key range on a sparse index: a tracked case is in it only while it may need an
attempt (its case owner lacks a usable default of some type, processing is not restricted, attempts remain), keyed
by the day its waiting started (opening, or the last attempt). Due today ⇔ that day ≤ today − interval, so a new
interval needs no re-indexing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Literal

from shared.events import ContactPointChecks, ContactPointSummary, ContactPointType, TraceSubject

ALL_TYPES: frozenset[ContactPointType] = frozenset({"phone", "email", "postal_address"})
IndexState = Literal["due", "done"]


@dataclass(frozen=True)
class EnrichmentSettings:
    granted: bool = False
    interval_days: int = 30
    attempts: int = 1
    monthly_budget: Decimal | None = None  # None: no monthly cap

    @classmethod
    def from_client_settings(cls, settings: dict[str, object]) -> EnrichmentSettings:
        raw = settings.get("enrichment") or {}
        if not isinstance(raw, dict):
            raise ValueError("settings.enrichment is not an object")
        budget = raw.get("monthly_budget")
        try:
            parsed = None if budget is None else Decimal(str(budget))
        except InvalidOperation as exc:
            raise ValueError(f"settings.enrichment.monthly_budget is not a decimal: {budget!r}") from exc
        return cls(
            granted=bool(raw.get("granted", False)),
            interval_days=int(raw.get("interval_days", 30)),
            attempts=int(raw.get("attempts", 1)),
            monthly_budget=parsed,
        )


@dataclass(frozen=True)
class TrackedCase:
    client_id: str
    case_owner_id: str
    case_id: str
    opened_on: date
    attempts_made: int = 0
    last_attempt_on: date | None = None


@dataclass(frozen=True)
class OwnerContacts:
    """Enrichment's copy of what contacts published about a case owner."""

    client_id: str
    case_owner_id: str
    subject: TraceSubject
    lacking: frozenset[ContactPointType]
    restricted: bool
    as_of: datetime


def lacking_types(points: list[ContactPointSummary], checks: list[ContactPointChecks]) -> frozenset[ContactPointType]:
    """The types without a usable default: no valid default, or one the offline checks proved unreachable."""
    fresh = {c.contact_point_id: c.usable for c in checks}
    usable_defaults = {
        p.type
        for p in points
        if p.state == "default" and fresh.get(p.contact_point_id, p.usable if p.usable is not None else True)
    }
    return ALL_TYPES - usable_defaults


def waiting_since(case: TrackedCase) -> date:
    return case.last_attempt_on if case.attempts_made and case.last_attempt_on else case.opened_on


def searchable(owner: OwnerContacts) -> bool:
    """A search may be made for the owner: it lacks some type and its processing is not restricted."""
    return bool(owner.lacking) and not owner.restricted


def index_state(case: TrackedCase, owner: OwnerContacts | None, settings: EnrichmentSettings) -> IndexState | None:
    """Where the case sits in the sparse index: 'due' (may be due, by waiting day), 'done' (attempts used up; back
    when a client buys more), or nowhere (nothing to look for, or restricted). A case whose owner's contacts are not
    known yet waits as 'due': the run reads each due case's owner and never searches without its snapshot (never
    pays blindly), so an owner's first snapshot has no cases to re-index, only a snapshot that changes whether its
    owner is searchable has."""
    if case.attempts_made >= settings.attempts:
        return "done"
    if owner is not None and not searchable(owner):
        return None
    return "due"


def index_key(case: TrackedCase, state: IndexState | None) -> tuple[str, str] | None:
    if state is None:
        return None
    return f"CLIENT#{case.client_id}#{state.upper()}", f"{waiting_since(case).isoformat()}#{case.case_id}"


def due_until(settings: EnrichmentSettings, today: date) -> str:
    """The index sort key bound: cases that started waiting on or before today − interval are due."""
    return f"{(today - timedelta(days=settings.interval_days)).isoformat()}#~"


def next_attempt_due(case: TrackedCase, settings: EnrichmentSettings) -> date | None:
    if not settings.granted or case.attempts_made >= settings.attempts:
        return None
    return waiting_since(case) + timedelta(days=settings.interval_days)


def is_trusted(confidence: Decimal, threshold: Decimal) -> bool:
    """Below the threshold a traced point stays pending and is never made default automatically."""
    return confidence >= threshold
