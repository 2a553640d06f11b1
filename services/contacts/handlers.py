"""Contacts use cases: what the API routes and the bus consumer do (no HTTP, no SQS parsing here)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.contacts import domain, repository
from services.contacts.identity import Identity
from services.contacts.models import (
    Case,
    CaseFile,
    Client,
    ClientSettings,
    ClientUser,
    NewClient,
    NewClientUser,
    Page,
)
from shared import bus
from shared.api import Forbidden, NotFound
from shared.consumer import consume
from shared.events import (
    CaseFileImported,
    CaseOpened,
    ClientRegistered,
    ClientSettingsChanged,
    ClientUserCreated,
    EnrichmentResultFound,
    Event,
    new_id,
)
from shared.observability import lambda_handler, logger, metrics

SERVICE = "contacts"
DEFAULT_SENDER = "no-reply@finview.example"
log = logger(SERVICE)


# ---- API use cases ----------------------------------------------------------------------------------------


def create_client(body: NewClient, who: Identity, correlation_id: str) -> Client:
    who.require_admin()
    client = Client(client_id=new_id(), created_at=datetime.now(UTC), **body.model_dump())
    repository.put_client(client)
    bus.publish(
        [
            ClientRegistered(
                correlation_id=correlation_id,
                client_id=client.client_id,
                legal_name=client.legal_name,
                business_unit_id=client.business_unit_id,
                sender_email=DEFAULT_SENDER,
            )
        ]
    )
    return client


def get_client(client_id: str, who: Identity) -> Client:
    who.require_client_access(client_id)
    client = repository.get_client(client_id)
    if client is None:
        raise NotFound("client", client_id)
    return client


def create_client_user(client_id: str, body: NewClientUser, who: Identity, correlation_id: str) -> ClientUser:
    client = get_client(client_id, who)
    if not who.is_agency:
        raise Forbidden("only agency staff may add users to a client")
    person_id = repository.person_id_for(str(body.email), new_id())
    user = ClientUser(
        user_id=person_id,
        client_id=client.client_id,
        first_name=body.first_name,
        last_name=body.last_name,
        email=str(body.email).lower(),
        phone=body.phone,
        commercial=body.commercial,
        operational=body.operational,
        employee=not (body.commercial or body.operational),
        platform_access=body.platform_access,
        portfolios=body.portfolios,
    )
    created = repository.put_client_user(user)
    if created:
        bus.publish(
            [
                ClientUserCreated(
                    correlation_id=correlation_id,
                    client_id=client_id,
                    user_id=user.user_id,
                    email=user.email,
                    first_name=user.first_name,
                    last_name=user.last_name,
                    commercial=user.commercial,
                    operational=user.operational,
                    platform_access=user.platform_access,
                    sender_email=DEFAULT_SENDER,
                )
            ]
        )
    return user


def get_case_file(case_id: str, who: Identity, include_invalid: bool = False) -> CaseFile:
    case_file = repository.get_case_file(case_id, include_invalid=include_invalid)
    if case_file is None or not who.may_see_client(case_file.case.client_id):
        # A client user asking for another client's case learns nothing, not even that it exists.
        raise NotFound("case", case_id)
    return case_file


def get_settings(client_id: str, who: Identity) -> ClientSettings:
    get_client(client_id, who)
    stored = repository.get_settings(client_id)
    return ClientSettings.model_validate(stored) if stored else ClientSettings()


def put_settings(client_id: str, body: ClientSettings, who: Identity, correlation_id: str) -> ClientSettings:
    get_client(client_id, who)
    if not who.is_agency:
        raise Forbidden("only agency staff may change a client's settings")
    current = get_settings(client_id, who)
    if body.enrichment.granted and not current.enrichment.granted:
        who.require_admin()  # only an agency administrator may grant enrichment: every attempt costs money
    settings = body.model_dump(mode="json")
    repository.put_settings(client_id, settings)
    bus.publish([ClientSettingsChanged(correlation_id=correlation_id, client_id=client_id, settings=settings)])
    return body


def list_cases(client_id: str, who: Identity) -> Page[Case]:
    get_client(client_id, who)
    cases, _ = repository.list_cases(client_id, limit=100)
    return Page[Case](items=cases)


# ---- bus consumers ----------------------------------------------------------------------------------------


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


@lambda_handler(SERVICE)
def on_bus_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return consume(
        event,
        context,
        service=SERVICE,
        table_name=_table_name(),
        handlers={CaseFileImported: on_case_file_imported, EnrichmentResultFound: on_enrichment_result},
    )


def _table_name() -> str:
    from shared import aws

    return aws.env("CONTACTS_TABLE")
