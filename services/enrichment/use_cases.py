"""Enrichment use cases: keep copies of clients and cases from the bus; on schedule, enrich the due cases."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from services.enrichment import domain, repository
from services.enrichment import settings as service_settings
from shared import outbox
from shared.events import CaseOpened, ClientRegistered, ClientSettingsChanged, EnrichmentResultFound
from shared.observability import logger, metrics

SERVICE = "enrichment"
EVENT_NAMESPACE = uuid.UUID("b5d0f0f4-8c55-4c43-9b4c-1f2b8f1a9e61")
log = logger(SERVICE)


def provider() -> domain.SkipTracingProvider:
    return domain.SandboxProvider()


def run_enrichment(today: date, correlation_id: str) -> dict[str, int]:
    """Enrich every due case of every client with enrichment granted; returns counts.

    Each paid result is stored with its settled ledger line and its event in one transaction (the outbox), so
    the ledger and the published results agree whatever crashes: the run (or the next) publishes from there.
    """
    searched = found = 0
    source = provider()
    table = service_settings.get().table
    # A retried or later run first publishes what an earlier one booked and did not get out.
    outbox.sweep(table, grace=timedelta(0))
    for client_id, settings in repository.clients():
        if not settings.granted:
            continue
        for case in repository.cases_opened_until(client_id, domain.oldest_due_opening(settings, today)):
            due = domain.next_attempt_due(case, settings)
            if due is None or due > today:
                continue
            attempt = case.attempts_made + 1
            # Booked before the provider is asked: a retried run never pays twice for one attempt.
            if not repository.reserve_attempt(case, attempt, source.name, today):
                continue
            result = source.search(case, attempt)
            announced = [
                EnrichmentResultFound(
                    event_id=str(uuid.uuid5(EVENT_NAMESPACE, f"{case.case_id}#{attempt}")),
                    correlation_id=correlation_id,
                    client_id=client_id,
                    case_owner_id=case.case_owner_id,
                    case_id=case.case_id,
                    attempt=attempt,
                    provider=result.provider,
                    contact_points=result.contact_points,
                )
            ] if result.contact_points else []
            repository.settle_attempt(case.case_id, attempt, result.cost, result.contact_points, announced)
            outbox.flush(table)
            searched += 1
            found += bool(result.contact_points)
    metrics(SERVICE).add_metric(name="EnrichmentSearches", unit="Count", value=searched)
    log.info("enrichment run", extra={"searched": searched, "found": found})
    return {"searched": searched, "found": found}


def on_client_registered(event: ClientRegistered) -> None:
    repository.put_client(event.client_id)


def on_settings_changed(event: ClientSettingsChanged) -> None:
    repository.put_settings(event.client_id, domain.EnrichmentSettings.from_client_settings(event.settings))


def on_case_opened(event: CaseOpened) -> None:
    repository.track_case(
        domain.TrackedCase(
            client_id=event.client_id,
            case_owner_id=event.case_owner_id,
            case_id=event.case_id,
            opened_on=event.opened_on,
        )
    )
