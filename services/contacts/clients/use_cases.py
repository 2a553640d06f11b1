"""Client use cases: clients, their users and settings (no HTTP, no DynamoDB details here).

Who may do what (the roles are described in ``identity``):
- create a client, change its business unit or finances, grant/revoke enrichment: agency administrator;
- change a client's company information or portfolios, add/link users, change rights, change settings other
  than the enrichment grant: agency staff (administrator or collector);
- read: agency staff anything, a client user its own client only (another client's data is "not found").
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.contacts import store
from services.contacts.clients import business_units, domain, repository
from services.contacts.clients.models import (
    BusinessUnit,
    Client,
    ClientChange,
    ClientSettings,
    ClientUser,
    ClientUserChange,
    ClientUserLink,
    EffectiveBusinessUnit,
    EffectiveWorkflow,
    NewClient,
    NewClientUser,
)
from services.contacts.identity import Identity
from services.contacts.models import Page
from shared import outbox
from shared.errors import Conflict, Forbidden, Invalid, NotFound
from shared.events import ClientSettingsChanged, ClientUserCreated, ClientUserRightsChanged, new_id

ADMIN_FIELDS = frozenset({"business_unit_id", "finances"})  # the agency's commercial terms with the client

# ---- clients ----------------------------------------------------------------------------------------------


def _with_business_unit(client: Client, unit: BusinessUnit | None = None) -> Client:
    unit = unit or business_units.chosen(client.business_unit_id)
    effective = domain.effective_business_unit(unit, client.business_unit_overrides)
    return client.model_copy(update={"business_unit": effective})


def create_client(body: NewClient, who: Identity, correlation_id: str) -> Client:
    who.require_admin()
    unit = business_units.chosen(body.business_unit_id)
    domain.check_portfolios(body.portfolios)
    client = Client(client_id=new_id(), created_at=datetime.now(UTC), **body.model_dump())
    repository.put_client(client, events=[business_units.registered(client, unit, correlation_id)])
    outbox.try_flush(store.table_name())
    return _with_business_unit(client, unit)


def get_client(client_id: str, who: Identity) -> Client:
    """The client as stored (without its effective business unit); 404 for a client user of another client."""
    who.require_client_read(client_id)
    client = repository.get_client(client_id)
    if client is None:
        raise NotFound("client", client_id)
    return client


def get_client_profile(client_id: str, who: Identity) -> Client:
    return _with_business_unit(get_client(client_id, who))


def effective_business_unit(client_id: str, who: Identity) -> EffectiveBusinessUnit:
    profile = get_client_profile(client_id, who)
    assert profile.business_unit is not None
    return profile.business_unit


def list_clients(who: Identity, limit: int, next_token: str | None) -> Page[Client]:
    if not who.is_agency:
        assert who.client_id is not None  # identity guarantees it for a client user
        own = repository.get_client(who.client_id)
        return Page[Client](items=[own] if own else [])
    found, token = repository.list_clients(limit, next_token)
    return Page[Client](items=found, next_token=token)


def change_client(client_id: str, change: ClientChange, who: Identity, correlation_id: str) -> Client:
    who.require_agency()
    current = get_client(client_id, who)
    sent = change.model_fields_set
    if sent & ADMIN_FIELDS:
        who.require_admin()  # the business unit and the billing agreement are the agency's commercial terms
    new = domain.changed_client(current, change)
    unit = business_units.chosen(new.business_unit_id)
    if change.portfolios is not None:
        _check_portfolios_unused(new)
    old_unit = business_units.find(current.business_unit_id)
    old_sender = business_units.sender(old_unit, current.business_unit_overrides) if old_unit else None
    announced = []
    if new.legal_name != current.legal_name or business_units.sender(unit, new.business_unit_overrides) != old_sender:
        # The consumers keep the client's name and sender from ClientRegistered (an upsert on their side).
        announced.append(business_units.registered(new, unit, correlation_id))
    repository.replace_client(new, events=announced)
    outbox.try_flush(store.table_name())
    return _with_business_unit(new, unit)


def _check_portfolios_unused(client: Client) -> None:
    """A portfolio still used by a workflow override or a user cannot be removed."""
    settings = _stored_settings(client.client_id)
    in_use = domain.portfolios_in_use(client, settings)
    known = {p.portfolio_id for p in client.portfolios}
    token: str | None = None
    while True:
        users, token = repository.list_client_users(client.client_id, next_token=token)
        in_use += [p for u in users for p in u.portfolios if p not in known]
        if token is None:
            break
    if in_use:
        raise Conflict(
            "portfolio_in_use",
            f"portfolio {', '.join(sorted(set(in_use)))} is still used by workflow overrides or users",
            "portfolios",
        )


# ---- client users -----------------------------------------------------------------------------------------


def _user_created(client: Client, user: ClientUser, correlation_id: str, *, linked_existing: bool) -> ClientUserCreated:
    unit = business_units.chosen(client.business_unit_id)
    return ClientUserCreated(
        correlation_id=correlation_id,
        client_id=client.client_id,
        user_id=user.user_id,
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        commercial=user.commercial,
        operational=user.operational,
        platform_access=user.platform_access,
        linked_existing=linked_existing,
        sender_email=str(unit.email.sender_email),
        sender=business_units.sender(unit, client.business_unit_overrides),
        language=user.language,
    )


def create_client_user(client_id: str, body: NewClientUser, who: Identity, correlation_id: str) -> ClientUser:
    who.require_agency()
    client = get_client(client_id, who)
    domain.check_user_portfolios(body.portfolios, client)
    phone = domain.e164(body.phone, body.phone_country) if body.phone else None
    user = ClientUser(
        user_id=new_id(),
        client_id=client.client_id,
        first_name=body.first_name,
        last_name=body.last_name,
        email=str(body.email).lower(),
        phone=phone,
        commercial=body.commercial,
        operational=body.operational,
        employee=not (body.commercial or body.operational),
        platform_access=body.platform_access,
        portfolios=body.portfolios,
        language=body.language,
    )
    try:
        repository.create_person_with_membership(
            user, events=[_user_created(client, user, correlation_id, linked_existing=False)]
        )
    except repository.PersonExists:
        raise Conflict(
            "person_exists",
            f"{user.email} is already on the platform: link the existing user with "
            f"POST /clients/{client_id}/users/link instead of creating it again",
            "email",
        ) from None
    # Notifications sends the invitation (platform access only) and records operational contacts.
    outbox.try_flush(store.table_name())
    return user


def link_client_user(client_id: str, body: ClientUserLink, who: Identity, correlation_id: str) -> ClientUser:
    who.require_agency()
    client = get_client(client_id, who)
    if (body.user_id is None) == (body.email is None):
        raise Invalid("user_id_or_email", "name the existing user by exactly one of user_id or email", "user_id")
    email = str(body.email).lower() if body.email else repository.email_of_user(str(body.user_id))
    person = repository.get_person(email) if email else None
    if person is None:
        raise NotFound("user", str(body.user_id or body.email))
    domain.check_user_portfolios(body.portfolios, client)
    user = ClientUser(
        user_id=str(person["person_id"]),
        client_id=client.client_id,
        first_name=str(person.get("first_name", "")),
        last_name=str(person.get("last_name", "")),
        email=str(person["email"]),
        phone=person.get("phone"),
        language=person.get("language"),
        commercial=body.commercial,
        operational=body.operational,
        employee=not (body.commercial or body.operational),
        platform_access=body.platform_access,
        portfolios=body.portfolios,
    )
    linked = _user_created(client, user, correlation_id, linked_existing=True)
    if not repository.put_new_membership(user, events=[linked]):
        raise Conflict("already_linked", f"{user.email} is already a user of client {client_id!r}", "user_id")
    outbox.try_flush(store.table_name())
    return user


def list_client_users(client_id: str, who: Identity, limit: int, next_token: str | None) -> Page[ClientUser]:
    get_client(client_id, who)
    users, token = repository.list_client_users(client_id, limit, next_token)
    return Page[ClientUser](items=users, next_token=token)


def get_client_user(client_id: str, user_id: str, who: Identity) -> ClientUser:
    get_client(client_id, who)
    user = repository.get_client_user(client_id, user_id)
    if user is None:
        raise NotFound("user", user_id)
    return user


def _rights_changed(client: Client, user: ClientUser, granted: bool, correlation_id: str) -> ClientUserRightsChanged:
    unit = business_units.chosen(client.business_unit_id)
    return ClientUserRightsChanged(
        correlation_id=correlation_id,
        client_id=client.client_id,
        user_id=user.user_id,
        email=user.email,
        first_name=user.first_name,
        commercial=user.commercial,
        operational=user.operational,
        platform_access=user.platform_access,
        platform_access_granted=granted,
        sender_email=str(unit.email.sender_email),
        sender=business_units.sender(unit, client.business_unit_overrides),
        language=user.language,
    )


def change_client_user(
    client_id: str, user_id: str, change: ClientUserChange, who: Identity, correlation_id: str
) -> ClientUser:
    """A user's rights for this client, and the person's language (for every client it belongs to: notifications
    hears of it wherever the person receives the automatic e-mails)."""
    who.require_agency()
    client = get_client(client_id, who)
    user = get_client_user(client_id, user_id, who)
    update = {
        name: getattr(change, name)
        for name in change.model_fields_set - {"language"}
        if getattr(change, name) is not None
    }
    if "language" in change.model_fields_set:
        update["language"] = change.language
    if "portfolios" in update:
        domain.check_user_portfolios(update["portfolios"], client)
    new = user.model_copy(update=update)
    new = new.model_copy(update={"employee": not (new.commercial or new.operational)})
    language_changed = new.language != user.language
    announced = []
    if (new.operational, new.platform_access) != (user.operational, user.platform_access) or (
        language_changed and new.operational
    ):
        granted = new.platform_access and not user.platform_access
        announced.append(_rights_changed(client, new, granted, correlation_id))
    if not language_changed:
        repository.replace_membership(new, events=announced)
    else:
        others = [
            m.model_copy(update={"language": new.language})
            for m in repository.memberships_of(user_id)
            if m.client_id != client_id
        ]
        for other in others:
            other_client = repository.get_client(other.client_id)
            if other.operational and other_client is not None:
                announced.append(_rights_changed(other_client, other, False, correlation_id))
        repository.replace_membership_and_language(new, others, events=announced)
    outbox.try_flush(store.table_name())
    return new


# ---- settings ---------------------------------------------------------------------------------------------


def _stored_settings(client_id: str) -> ClientSettings:
    stored = repository.get_settings(client_id)
    return ClientSettings.model_validate(stored) if stored else ClientSettings()


def get_settings(client_id: str, who: Identity) -> ClientSettings:
    get_client(client_id, who)
    return _stored_settings(client_id)


def put_settings(client_id: str, body: ClientSettings, who: Identity, correlation_id: str) -> ClientSettings:
    if not who.is_agency:
        raise Forbidden("only agency staff may change a client's settings")
    client = get_client(client_id, who)
    current = _stored_settings(client_id)
    kept_fields = {"granted", "monthly_budget"} - body.enrichment.model_fields_set
    if kept_fields:
        # Not saying whether enrichment is granted, or what it may cost a month, keeps it as it is (admin only).
        kept = body.enrichment.model_copy(update={f: getattr(current.enrichment, f) for f in kept_fields})
        body = body.model_copy(update={"enrichment": kept})
    # Every enrichment attempt costs money: only an agency administrator grants, revokes or budgets it.
    if domain.enrichment_grant_changed(current, body) and who.role != "agency_admin":
        raise Forbidden("only an agency administrator may grant, revoke or budget enrichment")
    domain.check_settings(body, [p.portfolio_id for p in client.portfolios])
    settings = body.model_dump(mode="json")
    changed = ClientSettingsChanged(correlation_id=correlation_id, client_id=client_id, settings=settings)
    repository.put_settings(client_id, settings, events=[changed])
    outbox.try_flush(store.table_name())
    return body


def portfolio_workflow(client_id: str, portfolio_id: str, who: Identity) -> EffectiveWorkflow:
    client = get_client(client_id, who)
    if portfolio_id not in {p.portfolio_id for p in client.portfolios}:
        raise NotFound("portfolio", portfolio_id)
    workflow = _stored_settings(client_id).workflow
    return domain.effective_workflow(workflow, workflow.portfolio_overrides.get(portfolio_id), portfolio_id)
