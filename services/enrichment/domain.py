"""Enrichment rules, free of AWS: when a case is due, and the provider port."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Protocol

from shared.events import ContactPointData


@dataclass(frozen=True)
class EnrichmentSettings:
    granted: bool = False
    interval_days: int = 30
    attempts: int = 1

    @classmethod
    def from_client_settings(cls, settings: dict[str, object]) -> EnrichmentSettings:
        raw = settings.get("enrichment") or {}
        assert isinstance(raw, dict)
        return cls(
            granted=bool(raw.get("granted", False)),
            interval_days=int(raw.get("interval_days", 30)),
            attempts=int(raw.get("attempts", 1)),
        )


@dataclass(frozen=True)
class TrackedCase:
    client_id: str
    case_owner_id: str
    case_id: str
    opened_on: date
    attempts_made: int = 0
    last_attempt_on: date | None = None


def next_attempt_due(case: TrackedCase, settings: EnrichmentSettings) -> date | None:
    """The first attempt is due ``interval`` days after the case opened, each further one ``interval`` days after
    the previous attempt; None when no attempt is left.

    Every attempt costs money, so nothing runs unless an administrator granted enrichment and attempts remain.
    """
    if not settings.granted or case.attempts_made >= settings.attempts:
        return None
    since = case.last_attempt_on if case.attempts_made and case.last_attempt_on else case.opened_on
    return since + timedelta(days=settings.interval_days)


def oldest_due_opening(settings: EnrichmentSettings, today: date) -> date:
    """Cases opened on or before this date may be due (the first attempt's bound; used as a key range)."""
    return today - timedelta(days=settings.interval_days)


@dataclass(frozen=True)
class ProviderResult:
    provider: str
    cost: Decimal
    contact_points: list[ContactPointData]


class SkipTracingProvider(Protocol):
    name: str

    def search(self, case: TrackedCase, attempt: int) -> ProviderResult: ...


class SandboxProvider:
    """Deterministic stand-in for a skip-tracing bureau, for the local stack and tests.

    A real bureau adapter implements the same ``search``; which one runs is chosen by ``ENRICHMENT_PROVIDER``.
    """

    name = "sandbox"
    cost_per_search = Decimal("0.45")

    def search(self, case: TrackedCase, attempt: int) -> ProviderResult:
        digest = hashlib.sha256(f"{case.case_owner_id}|{attempt}".encode()).hexdigest()
        number = "+4930" + str(int(digest[:12], 16))[:8]
        return ProviderResult(self.name, self.cost_per_search, [ContactPointData(type="phone", value=number)])
