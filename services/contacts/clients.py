"""Client use cases: clients, their users and settings (no HTTP, no DynamoDB details here)."""

from __future__ import annotations

from datetime import UTC, datetime

from services.contacts import client_repository as repository
from services.contacts.identity import Identity
from services.contacts.models import Client, ClientSettings, ClientUser, NewClient, NewClientUser
from shared import bus
from shared.api import Forbidden, NotFound
from shared.events import ClientRegistered, ClientSettingsChanged, ClientUserCreated, new_id

DEFAULT_SENDER = "no-reply@finview.example"


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
