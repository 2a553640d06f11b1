"""Case use cases: case files, contact points, and the bus events that create or enrich them."""

from __future__ import annotations

from services.contacts import case_repository as repository
from services.contacts import clients, domain
from services.contacts.case_models import Case, CaseFile
from services.contacts.identity import Identity
from services.contacts.models import Page
from shared import bus
from shared.api import NotFound
from shared.events import CaseFileImported, CaseOpened, EnrichmentResultFound, Event
from shared.observability import logger, metrics

SERVICE = "contacts"
log = logger(SERVICE)


def get_case_file(case_id: str, who: Identity, include_invalid: bool = False) -> CaseFile:
    case_file = repository.get_case_file(case_id, include_invalid=include_invalid)
    if case_file is None or not who.may_see_client(case_file.case.client_id):
        # A client user asking for another client's case learns nothing, not even that it exists.
        raise NotFound("case", case_id)
    return case_file


def list_cases(client_id: str, who: Identity) -> Page[Case]:
    clients.get_client(client_id, who)
    cases, _ = repository.list_cases(client_id, limit=100)
    return Page[Case](items=cases)


def on_case_file_imported(event: CaseFileImported) -> None:
    owner_id = event.case_owner.case_owner_id
    repository.ensure_case_owner(event.client_id, event.case_owner)
    opened: list[Event] = []
    for case in event.cases:
        if repository.ensure_case(event.client_id, owner_id, case):
            opened.append(
                CaseOpened(
                    correlation_id=event.correlation_id,
                    client_id=event.client_id,
                    case_owner_id=owner_id,
                    case_id=case.case_id,
                    opened_on=case.opened_on,
                )
            )
    existing = repository.contact_point_ids(owner_id)
    for new in domain.points_to_add(owner_id, event.contact_points, existing, "import"):
        repository.add_contact_point(owner_id, new)
    metrics(SERVICE).add_metric(name="CasesOpened", unit="Count", value=len(opened))
    # CaseOpened ids are fresh per run; a re-run after a crash may publish one twice, which enrichment
    # absorbs because it keys its records on case_id.
    bus.publish(opened)


def on_enrichment_result(event: EnrichmentResultFound) -> None:
    existing = repository.contact_point_ids(event.case_owner_id)
    added = domain.points_to_add(event.case_owner_id, event.contact_points, existing, "enrichment")
    for new in added:
        repository.add_contact_point(event.case_owner_id, new)
    log.info("enrichment result merged", extra={"case_id": event.case_id, "added": len(added)})
