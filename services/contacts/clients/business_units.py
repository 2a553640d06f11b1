"""Business unit use cases: the agency's own identity (company, e-mail, invoices, footers, templates).

Business units are global; only an agency administrator creates or changes them, agency staff read them.
A built-in business unit ``default`` is seeded lazily, the first time anything needs it (a client created
without choosing one, or a read of the list or of ``default``), so a fresh stage works without set-up; an
administrator can then change it with PUT /business-units/default like any other.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.contacts.clients import repository, senders
from services.contacts.clients.domain import effective_business_unit
from services.contacts.clients.models import (
    BusinessUnit,
    BusinessUnitDefinition,
    BusinessUnitOverrides,
    Client,
    CompanyInformation,
    EmailSettings,
    NewBusinessUnit,
)
from services.contacts.identity import Identity
from services.contacts.models import Page
from shared import bus, message_templates
from shared.errors import Conflict, Invalid, NotFound
from shared.events import ClientRegistered, MessageTemplate, Sender, new_id

DEFAULT_ID = "default"


def built_in_default() -> BusinessUnit:
    now = datetime.now(UTC)
    return BusinessUnit(
        business_unit_id=DEFAULT_ID,
        name="FinView",
        company=CompanyInformation(legal_name="FinView"),
        # The deployment's sender (SenderEmail), the one identity every stage verifies in SES.
        email=EmailSettings(sender_email=senders.default_sender(), sender_name="FinView"),
        email_footers={"en": "FinView — debt collection on behalf of our clients."},
        created_at=now,
        updated_at=now,
    )


def ensure_default() -> None:
    repository.put_new_business_unit(built_in_default())  # a no-op once it exists


def find(business_unit_id: str) -> BusinessUnit | None:
    unit = repository.get_business_unit(business_unit_id)
    if unit is None and business_unit_id == DEFAULT_ID:
        ensure_default()
        unit = repository.get_business_unit(DEFAULT_ID)
    return unit


def chosen(business_unit_id: str, field: str = "business_unit_id") -> BusinessUnit:
    """The business unit a client picks: it must exist (422 naming the field otherwise)."""
    unit = find(business_unit_id)
    if unit is None:
        raise Invalid("unknown_business_unit", f"business unit {business_unit_id!r} does not exist", field)
    return unit


def sender(unit: BusinessUnit, overrides: BusinessUnitOverrides) -> Sender:
    """Who writes a client's messages: its business unit with the client's overrides, as the events carry it."""
    effective = effective_business_unit(unit, overrides)
    company = effective.company
    return Sender(
        name=effective.email.sender_name or effective.name,
        email=str(effective.email.sender_email),
        reply_to=str(effective.email.reply_to) if effective.email.reply_to else None,
        company_name=company.legal_name,
        address=company.address,
        registration_number=company.registration_number,
        supervisory_authority=company.supervisory_authority,
        footers=dict(effective.email_footers),
        language=effective.language,
        templates={
            key: MessageTemplate(subject=template.subject, body=template.body)
            for key, template in effective.communication_templates.items()
        },
    )


def registered(client: Client, unit: BusinessUnit, correlation_id: str) -> ClientRegistered:
    """The client as its consumers keep it (name, sender); published again whenever either changes (an upsert)."""
    return ClientRegistered(
        correlation_id=correlation_id,
        client_id=client.client_id,
        legal_name=client.legal_name,
        business_unit_id=client.business_unit_id,
        sender_email=str(unit.email.sender_email),
        sender=sender(unit, client.business_unit_overrides),
    )


def check_templates(body: BusinessUnitDefinition) -> None:
    """Editable templates must be usable before they are stored: 422 naming the template and what is wrong."""
    message_templates.check_all({k: (t.subject, t.body) for k, t in body.communication_templates.items()})


def create(body: NewBusinessUnit, who: Identity) -> BusinessUnit:
    who.require_admin()
    check_templates(body)
    senders.check(str(body.email.sender_email))
    now = datetime.now(UTC)
    unit = BusinessUnit(
        created_at=now,
        updated_at=now,
        **{**body.model_dump(exclude={"business_unit_id"}), "business_unit_id": body.business_unit_id or new_id()},
    )
    if not repository.put_new_business_unit(unit):
        raise Conflict("business_unit_exists", f"business unit {unit.business_unit_id!r} already exists")
    return unit


def get(business_unit_id: str, who: Identity) -> BusinessUnit:
    who.require_agency()
    unit = find(business_unit_id)
    if unit is None:
        raise NotFound("business_unit", business_unit_id)
    return unit


def replace(business_unit_id: str, body: BusinessUnitDefinition, who: Identity, correlation_id: str) -> BusinessUnit:
    who.require_admin()
    current = find(business_unit_id)
    if current is None:
        raise NotFound("business_unit", business_unit_id)
    check_templates(body)
    if body.email.sender_email != current.email.sender_email:
        senders.check(str(body.email.sender_email))
    unit = BusinessUnit(
        business_unit_id=business_unit_id,
        created_at=current.created_at,
        updated_at=datetime.now(UTC),
        **body.model_dump(),
    )
    if not repository.replace_business_unit(unit):
        raise NotFound("business_unit", business_unit_id)
    # Notifications keeps each client's sender from ClientRegistered (an upsert): tell it about every client
    # whose sender changed, or its e-mails would still leave from the old address, name or footer.
    bus.publish(
        [
            registered(client, unit, correlation_id)
            for client in repository.clients_of_business_unit(business_unit_id)
            if sender(unit, client.business_unit_overrides) != sender(current, client.business_unit_overrides)
        ]
    )
    return unit


def list_all(who: Identity, limit: int, next_token: str | None) -> Page[BusinessUnit]:
    who.require_agency()
    if next_token is None:
        ensure_default()
    units, token = repository.list_business_units(limit, next_token)
    return Page[BusinessUnit](items=units, next_token=token)
