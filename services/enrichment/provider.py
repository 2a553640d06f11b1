"""The skip-tracing provider port: what enrichment asks a bureau, what it gets back, how a bureau fails.

Adapters: ``sandbox.SandboxProvider`` (local stack, tests) and ``bureau.HttpBureau`` (a real bureau over HTTPS).
The port is free of AWS and HTTP; an adapter never returns more than was asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from shared.events import AttemptOutcome, ContactPointData, ContactPointType, TraceSubject


@dataclass(frozen=True)
class SearchRequest:
    """One paid search. ``reference`` is the booked attempt's id: a bureau that receives it twice (a retry after
    a crash) answers and bills it once."""

    reference: str
    client_id: str
    case_owner_id: str
    case_id: str
    attempt: int
    wanted: frozenset[ContactPointType]
    subject: TraceSubject


@dataclass(frozen=True)
class Candidate:
    point: ContactPointData
    confidence: Decimal  # 0..1, the provider's own score mapped to one scale


@dataclass(frozen=True)
class SearchResult:
    provider: str
    cost: Decimal
    candidates: tuple[Candidate, ...]
    currency: str = "EUR"

    @property
    def outcome(self) -> AttemptOutcome:
        if not self.candidates:
            return "none"
        return "found" if len(self.candidates) == 1 else "several"


class ProviderError(Exception):
    """The search did not happen or its answer is unusable (timeout, 5xx after retries, garbage). Not billed;
    the case stays due and a later run retries with the same reference."""


class ProviderUnavailable(ProviderError):
    """The circuit breaker is open: too many failures in this run, the bureau is not called again until the
    next run."""


class SkipTracingProvider(Protocol):
    name: str

    def quote(self, request: SearchRequest) -> Decimal:
        """The most one search may cost: booked against the client's budget before the call."""
        ...

    def search(self, request: SearchRequest) -> SearchResult: ...


def keep_wanted(request: SearchRequest, candidates: Iterable[Candidate]) -> tuple[Candidate, ...]:
    """Only the types asked for, best first, each value once (data minimisation: the rest is dropped unread)."""
    seen: set[tuple[str, str]] = set()
    out: list[Candidate] = []
    for candidate in sorted(candidates, key=lambda c: c.confidence, reverse=True):
        key = (candidate.point.type, candidate.point.value.strip().casefold())
        if candidate.point.type not in request.wanted or key in seen:
            continue
        seen.add(key)
        out.append(candidate)
    return tuple(out)
