"""Enrichment use cases: keep copies of clients, case owners' contacts and cases from the bus; check contact
points offline; on schedule, make each due case's attempt once, within the client's monthly budget."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from services.enrichment import budget, domain, offline_checks, repository, settings
from services.enrichment.bureau import HttpBureau, load_secret
from services.enrichment.provider import (
    ProviderError,
    ProviderUnavailable,
    SearchRequest,
    SearchResult,
    SkipTracingProvider,
)
from services.enrichment.sandbox import SandboxProvider
from shared import bus, outbox, subject_requests
from shared.events import (
    CaseOpened,
    CaseOwnerContactsChanged,
    CaseOwnersMerged,
    ClientRegistered,
    ClientSettingsChanged,
    ContactPointData,
    ContactPointsChecked,
    ContactPointsTraced,
    EnrichmentAttemptSettled,
    EnrichmentBudgetReached,
    EnrichmentSubjectAccessCompleted,
    EnrichmentSubjectErasureCompleted,
    Event,
    SubjectAccessRequested,
    SubjectErasureRequested,
    TracedContactPoint,
    new_id,
)
from shared.observability import logger, metrics

SERVICE = "enrichment"
EVENT_NAMESPACE = uuid.UUID("b5d0f0f4-8c55-4c43-9b4c-1f2b8f1a9e61")
# Longer than one run (the schedule function's timeout): a booked line older than this belongs to a dead run.
LEASE = timedelta(minutes=15)
log = logger(SERVICE)


def clock() -> datetime:
    return datetime.now(UTC)


AttemptOutcome = Literal["found", "none", "failed", "over_budget", "busy", "unavailable", "not_due"]


def provider() -> SkipTracingProvider:
    """A new adapter per run: the HTTP bureau's circuit breaker counts the failures of one run."""
    config = settings.get()
    if config.provider == "bureau":
        if not config.bureau_secret:
            raise RuntimeError("ENRICHMENT_PROVIDER=bureau needs ENRICHMENT_BUREAU_SECRET")
        return HttpBureau(
            load_secret(config.bureau_secret),
            timeout_seconds=config.bureau_timeout_seconds,
            breaker_threshold=config.bureau_breaker_threshold,
        )
    return SandboxProvider()


@lru_cache(maxsize=1)
def _mail_domains() -> offline_checks.MailDomains:
    return offline_checks.MailDomains(timeout_seconds=settings.get().dns_timeout_seconds)


def mail_domains() -> offline_checks.MailDomains | None:
    """One resolver and verdict cache per Lambda container; None where DNS is switched off (local stack)."""
    return _mail_domains() if settings.get().dns_checks else None


def _id(*parts: object) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, "#".join(map(str, parts))))


# ---- the schedule ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueCases:
    client_id: str
    settings: domain.EnrichmentSettings
    cases: list[domain.TrackedCase]
    owners: dict[str, domain.OwnerContacts]


def due_cases(today: date) -> Iterator[DueCases]:
    """Per granted client, its due cases and their owners' contacts: a key range on the sparse due index and key
    lookups, so the requests grow with the due cases, not with all tracked cases."""
    for client_id, client in repository.clients():
        if not client.granted:
            continue
        due = repository.cases_in_index(client_id, "due", domain.due_until(client, today))
        if due:
            yield DueCases(client_id, client, due, repository.owners(case.case_owner_id for case in due))


def run_enrichment(today: date, correlation_id: str, source: SkipTracingProvider | None = None) -> dict[str, int]:
    """Make the attempt of every due case of every client with enrichment granted; returns counts."""
    source = source or provider()
    counts: Counter[str] = Counter()
    # A retried or later run first publishes what an earlier one settled and did not get out (the outbox).
    counts["republished"] = outbox.sweep(settings.get().table, grace=timedelta(0))
    for batch in due_cases(today):
        for case in batch.cases:
            owner = batch.owners.get(case.case_owner_id)
            outcome = attempt_case(case, owner, batch.settings, source, today, correlation_id)
            counts[outcome] += 1
            if outcome == "over_budget":
                break  # the client's other cases wait for next month or a larger budget
            if outcome == "unavailable":
                break
        if counts["unavailable"]:
            log.warning("provider unavailable: the rest of the run waits for the next one")
            break
    searched = counts["found"] + counts["none"]
    metrics(SERVICE).add_metric(name="EnrichmentSearches", unit="Count", value=searched)
    report = {"searched": searched, **{k: counts[k] for k in ("found", "none", "failed", "over_budget", "busy")}}
    report["republished"] = counts["republished"]
    log.info("enrichment run", extra=report)
    return report


def attempt_case(
    case: domain.TrackedCase,
    owner: domain.OwnerContacts | None,
    client: domain.EnrichmentSettings,
    source: SkipTracingProvider,
    today: date,
    correlation_id: str,
) -> AttemptOutcome:
    """One attempt, idempotent: booked (line + budget) before the provider is asked, settled with its result after;
    a second run finds the line and either leaves it (its run is alive) or reuses the booking (its run died)."""
    if owner is None:
        return "not_due"  # its snapshot is not here yet: it waits in the index, nothing is searched blindly
    state = domain.index_state(case, owner, client)
    if state != "due":
        repository.set_index(case, state)  # attempts lowered, restriction, defaults found: out of the due index
        return "not_due"
    attempt = case.attempts_made + 1
    now = clock()
    lease_id = new_id()
    request = SearchRequest(
        reference=_id(case.case_id, attempt),
        client_id=case.client_id,
        case_owner_id=case.case_owner_id,
        case_id=case.case_id,
        attempt=attempt,
        wanted=owner.lacking,
        subject=owner.subject,
    )
    month, quote, booked_at = budget.month_of(today), source.quote(request), now.isoformat()
    booked = repository.book(
        case,
        attempt,
        reference=request.reference,
        provider=source.name,
        quote=quote,
        month=month,
        ceiling=budget.ceiling_before_booking(client.monthly_budget, quote),
        wanted=request.wanted,
        now=now,
        lease_until=now + LEASE,
        lease_id=lease_id,
    )
    if not booked:
        existing = repository.line(case.case_id, attempt)
        if existing is None or existing["status"] == "failed":  # the line was free: the budget refused it
            _tell_budget_reached(case.client_id, month, client, correlation_id)
            return "over_budget"
        if existing["status"] != "booked" or not repository.take_over(
            case.case_id, attempt, now, now + LEASE, lease_id
        ):
            return "busy"  # another run holds it (a double-fired schedule)
        # Reuse the dead run's booking: same reference (the bureau answers it once), month and quote.
        month, quote, booked_at = str(existing["month"]), Decimal(str(existing["quote"])), str(existing["booked_at"])
        wanted = frozenset(existing.get("wanted") or request.wanted)
        request = replace(request, reference=str(existing["reference"]), wanted=wanted)  # type: ignore[arg-type]
    try:
        result = source.search(request)
    except ProviderError as exc:
        repository.settle(
            case, attempt, month=month, lease_id=lease_id, result=None, booked_delta=-quote, moved_on=None, state=None
        )
        log.warning("search failed", extra={"case_id": case.case_id, "attempt": attempt, "error": str(exc)})
        return "unavailable" if isinstance(exc, ProviderUnavailable) else "failed"
    stored = _stored_result(result, now, clock(), settings.get().confidence_threshold)
    line = {
        "PK": f"CASE#{case.case_id}",
        "SK": f"ATTEMPT#{attempt:03d}",
        "client_id": case.client_id,
        "case_owner_id": case.case_owner_id,
        "month": month,
        "booked_at": booked_at,
        "result": json.dumps(stored),
    }
    moved = replace(case, attempts_made=attempt, last_attempt_on=today)
    table = settings.get().table
    with outbox.cause(request.reference):
        if not repository.settle(
            case,
            attempt,
            month=month,
            lease_id=lease_id,
            result=stored,
            booked_delta=result.cost - quote,
            moved_on=moved,
            state=domain.index_state(moved, owner, client),
            events=line_events(line, correlation_id),
        ):
            return "busy"
        outbox.flush(table)
    return "none" if result.outcome == "none" else "found"


def _stored_result(result: SearchResult, obtained: datetime, settled: datetime, threshold: Decimal) -> dict[str, Any]:
    """What the ledger line keeps of the answer: the points used, their confidence; never the raw response."""
    return {
        "provider": result.provider,
        "outcome": result.outcome,
        "cost": str(result.cost),
        "currency": result.currency,
        "obtained_at": obtained.isoformat(),
        "settled_at": settled.isoformat(),
        "candidates": [
            {
                "point": c.point.model_dump(mode="json", exclude_none=True),
                "confidence": str(c.confidence),
                "trusted": domain.is_trusted(c.confidence, threshold),
            }
            for c in result.candidates
        ],
    }


def line_events(line: dict[str, Any], correlation_id: str) -> list[Event]:
    """The events of a settled line, built from what the line stores (its result and booking) only, with ids
    derived from the line: they go into the outbox in the settling transaction."""
    case_id, attempt = str(line["PK"]).removeprefix("CASE#"), int(str(line["SK"]).removeprefix("ATTEMPT#"))
    result = json.loads(str(line["result"]))
    common: dict[str, Any] = {
        "correlation_id": correlation_id,
        "client_id": str(line["client_id"]),
        "case_owner_id": str(line["case_owner_id"]),
        "case_id": case_id,
        "attempt": attempt,
        "provider": result["provider"],
    }
    events: list[Event] = [
        EnrichmentAttemptSettled(
            event_id=_id(case_id, attempt, "settled"),
            **common,
            month=str(line["month"]),
            outcome=result["outcome"],
            candidates=len(result["candidates"]),
            cost=Decimal(result["cost"]),
            currency=result["currency"],
            booked_at=datetime.fromisoformat(str(line["booked_at"])),
            settled_at=datetime.fromisoformat(result["settled_at"]),
        )
    ]
    if result["candidates"]:
        events.append(
            ContactPointsTraced(
                event_id=_id(case_id, attempt, "traced"),
                **common,
                obtained_at=datetime.fromisoformat(result["obtained_at"]),
                candidates=[
                    TracedContactPoint(
                        point=ContactPointData.model_validate(c["point"]),
                        confidence=Decimal(c["confidence"]),
                        trusted=bool(c["trusted"]),
                    )
                    for c in result["candidates"]
                ],
            )
        )
    return events


def _tell_budget_reached(client_id: str, month: str, client: domain.EnrichmentSettings, correlation_id: str) -> None:
    """Once per client and month: published first, recorded after (a re-publish carries the same id)."""
    if client.monthly_budget is None or repository.budget_notice_sent(client_id, month):
        return
    spent = repository.spend(client_id, month)["spent"]
    bus.publish(
        [
            EnrichmentBudgetReached(
                event_id=_id(client_id, month, "budget"),
                correlation_id=correlation_id,
                client_id=client_id,
                month=month,
                budget=client.monthly_budget,
                spent=spent,
            )
        ]
    )
    repository.record_budget_notice(client_id, month, datetime.now(UTC))


# ---- the bus -----------------------------------------------------------------------------------------------------


def on_client_registered(event: ClientRegistered) -> None:
    repository.put_client(event.client_id)


def on_settings_changed(event: ClientSettingsChanged) -> None:
    new = domain.EnrichmentSettings.from_client_settings(event.settings)
    old = repository.put_settings(event.client_id, new)
    if old is not None and new.attempts <= old.attempts:
        return
    # More attempts bought: cases that had used theirs up may be due again (only those, by their own index).
    done = [c for c in repository.cases_in_index(event.client_id, "done") if c.attempts_made < new.attempts]
    owners = repository.owners(c.case_owner_id for c in done) if done else {}
    for case in done:
        repository.set_index(case, domain.index_state(case, owners.get(case.case_owner_id), new))


def on_case_opened(event: CaseOpened) -> None:
    on_cases_opened([event])


def on_cases_opened(events: list[CaseOpened]) -> dict[str, list[Event]]:
    """Track the opened cases, each indexed by its owner's snapshot: one BatchGetItem for the snapshots and which
    cases are tracked already, the new ones written 50 to a TransactWriteItems (put-if-new: a redelivery changes
    nothing, attempts made are never reset). A case left out of the index (its owner not searchable) looks at its
    owner again after it is written: a snapshot making the owner searchable meanwhile looked for the owner's cases
    before this one was there (both sides write first, then read, so one of them indexes the case)."""
    cases = list(
        {e.case_id: domain.TrackedCase(e.client_id, e.case_owner_id, e.case_id, e.opened_on) for e in events}.values()
    )
    owners, tracked = repository.tracking(cases)

    def state(case: domain.TrackedCase, owner: domain.OwnerContacts | None) -> domain.IndexState | None:
        return domain.index_state(case, owner, repository.client_settings(case.client_id))

    new = [(c, state(c, owners.get(c.case_owner_id))) for c in cases if c.case_id not in tracked]
    written = repository.track_cases(new)
    unindexed = [c for (c, s), w in zip(new, written, strict=True) if w and s is None]
    if unindexed:
        now = repository.owners(c.case_owner_id for c in unindexed)
        for case in unindexed:
            if (later := state(case, now.get(case.case_owner_id))) is not None:
                repository.set_index(case, later)
    return {}


def _checked(event: CaseOwnerContactsChanged) -> tuple[list[Event], domain.OwnerContacts]:
    """The offline checks of the snapshot's new points (free), to publish, and what enrichment keeps of it."""
    address = event.subject.last_known_address
    checks = offline_checks.check_points(
        event.contact_points, mail_domains(), datetime.now(UTC), address.country if address else "DE"
    )
    published: list[Event] = []
    if checks:
        published.append(
            ContactPointsChecked(
                event_id=_id(event.event_id, "checked"),
                correlation_id=event.correlation_id,
                client_id=event.client_id,
                case_owner_id=event.case_owner_id,
                checks=checks,
            )
        )
    owner = domain.OwnerContacts(
        client_id=event.client_id,
        case_owner_id=event.case_owner_id,
        subject=event.subject,
        lacking=domain.lacking_types(event.contact_points, checks),
        restricted=event.processing_restricted,
        as_of=event.occurred_at,
    )
    return published, owner


def on_case_owner_contacts_changed(event: CaseOwnerContactsChanged) -> None:
    """Check the new points offline (free) and publish the results; keep what the owner lacks; re-index the
    owner's cases (a found default takes them out of the due index, a lost one puts them back)."""
    bus.publish(on_case_owners_contacts_changed([event]).get(event.event_id, []))


def on_case_owners_contacts_changed(events: list[CaseOwnerContactsChanged]) -> dict[str, list[Event]]:
    """``on_case_owner_contacts_changed`` for a batch: what enrichment knew of the owners read in one BatchGetItem,
    the snapshots stored in as few TransactWriteItems as fit (the newest of each owner; one older than stored is
    dropped), nothing read back. Only an owner that becomes searchable or stops being so has its cases re-indexed
    (a Query of them each, one BatchGetItem for all, and only the index entries that change written): an owner's
    first snapshot finds its cases waiting as 'due' already. Returns the checks to publish."""
    published: dict[str, list[Event]] = {}
    newest: dict[str, domain.OwnerContacts] = {}
    for event in events:
        checks, owner = _checked(event)
        if checks:
            published[event.event_id] = checks
        kept = newest.get(owner.case_owner_id)
        if kept is None or kept.as_of <= owner.as_of:
            newest[owner.case_owner_id] = owner
    before = repository.owners(newest)
    owners = list(newest.values())
    written = repository.put_owners(owners, known=before)
    stored = {o.case_owner_id: o for o, how in zip(owners, written, strict=True) if how}
    # an owner with no item when read whose put-if-new was refused: another snapshot came first, and what that one
    # did is unknown here (a first snapshot put-if-new had none before it)
    raced = {
        o.case_owner_id
        for o, how in zip(owners, written, strict=True)
        if how == "newer" and o.case_owner_id not in before
    }
    flipped = [
        o
        for o in stored.values()
        if (o.case_owner_id in before and domain.searchable(before[o.case_owner_id]) != domain.searchable(o))
        or o.case_owner_id in raced
    ]
    if not flipped:
        return published  # new owners, older snapshots delivered late, or nothing that moves a case
    for owner_id, cases in repository.owners_cases(o.case_owner_id for o in flipped).items():
        owner = stored[owner_id]
        client = repository.client_settings(owner.client_id)
        for case, indexed in cases:
            state = domain.index_state(case, owner, client)
            if domain.index_key(case, state) != indexed:
                repository.set_index(case, state)
    return published


def on_case_owners_merged(event: CaseOwnersMerged) -> None:
    """Contacts merged two case owners (an accepted match review): the merged one's tracked cases are the survivor's
    now, indexed by the survivor's snapshot (contacts publishes a fresh one for it; until it is here they wait out
    of the index), and the merged one's snapshot goes, so no search is made for a case owner that is no more.
    Rerunnable: a redelivery finds no case left under the merged owner."""
    survivor_id, merged_id = event.surviving_case_owner_id, event.merged_case_owner_id
    survivor = repository.owners([survivor_id]).get(survivor_id)
    client = repository.client_settings(event.client_id)
    for case in repository.owner_cases(merged_id):
        moved = replace(case, case_owner_id=survivor_id)
        repository.move_case(case, survivor_id, domain.index_state(moved, survivor, client))
    repository.drop_owner(merged_id)


def on_subject_access_requested(event: SubjectAccessRequested) -> None:
    """What enrichment holds about the person (GDPR Art. 15): its copy of the contacts snapshot, the tracked cases
    and every search with what the bureau found and what it cost."""
    section: dict[str, list[dict[str, Any]]] = {}
    for person in (event.case_owner_id, *event.merged_case_owner_ids):  # and the same person's earlier files
        found = repository.subject_data(person, event.case_ids if person == event.case_owner_id else [])
        for kind, items in found.items():
            section.setdefault(kind, []).extend(subject_requests.without_keys(i) for i in items)
    bus.publish(subject_requests.answer(EnrichmentSubjectAccessCompleted, event, SERVICE, section))


def on_subject_erasure_requested(event: SubjectErasureRequested) -> None:
    """Erase what enrichment holds about the person (GDPR Art. 17): its copy of the snapshot, the tracked cases,
    the searches and what the bureau found."""
    counts = repository.erase_subject(event.case_owner_id, event.case_ids)
    for merged in event.merged_case_owner_ids:  # the same person's earlier files: their copies
        counts = {k: counts.get(k, 0) + v for k, v in repository.erase_subject(merged, []).items()}
    bus.publish(
        [
            EnrichmentSubjectErasureCompleted(
                event_id=subject_requests.answer_id(event.request_id, SERVICE),
                correlation_id=event.correlation_id,
                request_id=event.request_id,
                case_owner_id=event.case_owner_id,
                service=SERVICE,
                counts=counts,
            )
        ]
    )
