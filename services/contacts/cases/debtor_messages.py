"""The templated messages contacts decides (reminders, closing e-mails, cease-communication notices): each one
built from contacts' own data (case, case owner, client, business unit) and handed to ``contact_requests.
request_contact``, the ONE way a message leaves contacts (the contact-policy gate). Notifications renders and
delivers what the gate lets through; it never reads contacts' data.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.contacts.cases import audit, contact_requests, repository
from services.contacts.cases.models import ContactPoint
from services.contacts.clients import business_units
from services.contacts.clients import repository as clients_repository
from services.contacts.clients.models import ClientSettings
from services.contacts.identity import Identity
from services.contacts.policy import gate
from services.contacts.policy.rules import ClientRules
from shared.errors import NotFound
from shared.events import (
    CaseSummary,
    Channel,
    Creditor,
    DebtorMessage,
    Instalment,
    MessageKind,
    PostalAddress,
    Sender,
)
from shared.observability import logger

log = logger("contacts")


def _money(item: dict[str, Any], name: str, default: Decimal) -> Decimal:
    value = item.get(name)
    return Decimal(str(value)) if value is not None else default


def _debtor_name(owner: dict[str, Any]) -> str:
    person = " ".join(str(owner[k]) for k in ("first_name", "last_name") if owner.get(k))
    return str(owner.get("company_name") or person or owner.get("client_reference") or "")


def _postal_address(
    case_owner_id: str,
    chosen_point_id: str | None = None,
    defaults: dict[str, str] | None = None,
    owner: repository.OwnerRead | None = None,
) -> tuple[PostalAddress | None, bool]:
    """The debtor's postal address (the point a collector chose for a letter, else ``preferred_address``) and
    whether enrichment found it (RDG §13a: the debtor must be told so). ``defaults``: the owner's default
    pointers (type → id) when the caller read them already; ``owner``: the owner's partition, read already."""
    if owner is not None:
        return _postal_address_in(owner, chosen_point_id)
    if chosen_point_id is None:
        if defaults is not None:
            chosen_point_id = defaults.get("postal_address")
        else:
            pointer = repository.default_pointer(case_owner_id, "postal_address")
            chosen_point_id = str(pointer["contact_point_id"]) if pointer else None
    item = repository.get_contact_point(case_owner_id, chosen_point_id) if chosen_point_id else None
    if item is not None and item.get("valid", True) and item.get("type") == "postal_address":
        if not item.get("address"):
            return None, False
        return PostalAddress.model_validate(item["address"]), str(item.get("source", "")).startswith("enrichment")
    points, _ = repository.list_contact_points(
        case_owner_id, include_invalid=False, point_type="postal_address", limit=50, start=None
    )
    chosen = preferred_address(points)
    if chosen is None or chosen.address is None:
        return None, False
    return chosen.address, chosen.source.startswith("enrichment")


def _postal_address_in(owner: repository.OwnerRead, chosen_point_id: str | None) -> tuple[PostalAddress | None, bool]:
    """``_postal_address`` from the owner's partition as read already: no request."""
    chosen_point_id = chosen_point_id or owner.defaults.get("postal_address")
    item = (
        next((p for p in owner.points if p["contact_point_id"] == chosen_point_id), None) if chosen_point_id else None
    )
    if item is not None and item.get("valid", True) and item.get("type") == "postal_address":
        if not item.get("address"):
            return None, False
        return PostalAddress.model_validate(item["address"]), str(item.get("source", "")).startswith("enrichment")
    points = [
        repository.to_point(p) for p in owner.points if p.get("type") == "postal_address" and p.get("valid") is True
    ]
    chosen = preferred_address(points)
    if chosen is None or chosen.address is None:
        return None, False
    return chosen.address, chosen.source.startswith("enrichment")


def preferred_address(points: list[ContactPoint]) -> ContactPoint | None:
    """Seeds 000/003: the default address is used for everything automatic; without one, the address with the
    freshest evidence: the most recently validated, else (nothing confirmed) the newest the client gave, and
    only then one skip tracing found (a traced point is pending until a person confirms it)."""
    candidates = [p for p in points if p.valid and p.address is not None]
    if not candidates:
        return None
    default = next((p for p in candidates if p.is_default), None)
    if default is not None:
        return default

    def freshness(p: ContactPoint) -> tuple[bool, bool, datetime]:
        validated = p.qualification == "validated"
        when = (p.validated_at or p.updated_at or p.created_at) if validated else p.created_at
        return validated, validated or not p.source.startswith("enrichment"), when

    return max(candidates, key=freshness)


def sender_of(client: Any) -> Sender:
    unit = business_units.find(client.business_unit_id)
    if unit is None:
        raise NotFound("business_unit", client.business_unit_id)
    return business_units.sender(unit, client.business_unit_overrides)


@dataclass
class ClientLookups:
    """What every message of one client shares (client, settings, sender, contact rules), read once per
    schedule run."""

    found: dict[str, tuple[Any, ClientSettings, Sender]] = field(default_factory=dict)
    rules: dict[tuple[str, str | None], ClientRules] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def rules_of(self, client_id: str, portfolio: str | None) -> ClientRules:
        key = (client_id, portfolio)
        with self.lock:
            if key in self.rules:
                return self.rules[key]
        value = gate.client_rules(client_id, portfolio)
        with self.lock:
            self.rules[key] = value
        return value

    def of(self, client_id: str) -> tuple[Any, ClientSettings, Sender]:
        with self.lock:
            if client_id in self.found:
                return self.found[client_id]
        value = _client_facts(client_id)
        with self.lock:
            self.found[client_id] = value
        return value


def _client_facts(client_id: str) -> tuple[Any, ClientSettings, Sender]:
    client = clients_repository.get_client(client_id)
    if client is None:
        raise NotFound("client", client_id)
    settings_item = clients_repository.get_settings(client_id)
    settings = ClientSettings.model_validate(settings_item) if settings_item else ClientSettings()
    return client, settings, sender_of(client)


def debtor_message(
    case_id: str,
    kind: MessageKind,
    *,
    instalment: Instalment | None = None,
    remedy: str | None = None,
    case_changes: dict[str, Any] | None = None,
    lookups: ClientLookups | None = None,
    address_point_id: str | None = None,
    case_item: dict[str, Any] | None = None,
    defaults: dict[str, str] | None = None,
    owner_read: repository.OwnerRead | None = None,
) -> tuple[dict[str, Any], DebtorMessage]:
    """The case item and the message of ``kind`` about it, with everything notifications needs to write it.
    ``case_item``, ``defaults`` (the owner's default pointers) and ``owner_read`` (the owner's partition): what
    the caller read already."""
    item: dict[str, Any] | None
    if case_item is not None:
        item = case_item
        owner_id, client_id = str(item["case_owner_id"]), str(item["client_id"])
    else:
        pointer = repository.case_pointer(case_id)
        if pointer is None:
            raise NotFound("case", case_id)
        owner_id, client_id = str(pointer["case_owner_id"]), str(pointer["client_id"])
        item = repository.get_case_item(owner_id, case_id)
    if owner_read is not None:
        owner = owner_read.profile or {}
    else:
        owner = repository.get_item(f"OWNER#{owner_id}", "PROFILE") or {}
    if item is None:
        raise NotFound("case", case_id)
    client, settings, sender = (lookups or ClientLookups()).of(client_id)
    item = {**item, **(case_changes or {})}
    address, traced = _postal_address(owner_id, address_point_id, defaults, owner_read)
    amount = _money(item, "amount", Decimal(0))
    message = DebtorMessage(
        kind=kind,
        language=owner.get("language") or language_of_country(address),
        debtor_name=_debtor_name(owner),
        address=address,
        address_from_enrichment=traced,
        sender=sender,
        creditor=Creditor(legal_name=client.legal_name, address=client.address),
        case=CaseSummary(
            case_id=case_id,
            client_case_number=item.get("client_case_number"),
            invoice_numbers=list(item.get("invoice_numbers") or []),
            currency=str(item.get("currency", "EUR")),
            claim_amount=amount,
            open_amount=_money(item, "open_amount", amount),
            claim_basis=item.get("claim_basis"),
            opened_on=item.get("opened_on"),
        ),
        instalment=instalment,
        remedy=remedy,
        max_sms_segments=settings.debtor_communication.max_sms_segments,
    )
    return item, message


# Where the case owner's language is not known, the language of the country they live in, when it is one of
# ours, is a better guess than the business unit's (a French debtor of a German agency reads French).
COUNTRY_LANGUAGE = {"DE": "de", "AT": "de", "LI": "de", "FR": "fr", "BE": "fr", "LU": "fr", "MC": "fr"}
COUNTRY_LANGUAGE |= {"GB": "en", "IE": "en", "US": "en", "CA": "en", "AU": "en", "NZ": "en"}


def language_of_country(address: PostalAddress | None) -> str | None:
    return COUNTRY_LANGUAGE.get(address.country.upper()) if address else None


def request_message(
    case_id: str,
    kind: MessageKind,
    channel: Channel,
    *,
    automatic: bool,
    who: Identity | None,
    correlation_id: str,
    instalment: Instalment | None = None,
    remedy: str | None = None,
    case_changes: dict[str, Any] | None = None,
    lookups: ClientLookups | None = None,
    contact_point_id: str | None = None,
    case_item: dict[str, Any] | None = None,
    defaults: dict[str, str] | None = None,
    flush: bool = True,
    owner: repository.OwnerRead | None = None,
    action_id: str | None = None,
) -> contact_requests.Outcome:
    """Build the templated message of ``kind`` and ask the gate for it (``contact_requests.request_contact``), on
    ``contact_point_id`` (a collector's choice) or the default point of the channel's type.

    A schedule passes what it read already (``case_item``, the owner's ``defaults`` or whole partition
    ``owner``, its ``lookups`` with the clients' contact rules), ``flush=False`` to publish the requests in
    batches, and the ``action_id`` of what it reminds, whose record is its claim ("already_claimed" if there)."""
    item, message = debtor_message(
        case_id,
        kind,
        instalment=instalment,
        remedy=remedy,
        case_changes=case_changes,
        lookups=lookups,
        address_point_id=contact_point_id if channel == "letter" else None,
        case_item=case_item,
        defaults=defaults,
        owner_read=owner,
    )
    client = None
    if lookups is not None:
        client = lookups.rules_of(str(item["client_id"]), item.get("portfolio"))
    return contact_requests.request_contact(
        case_id,
        channel,
        automatic=automatic,
        requested_by=who.principal if who is not None else "system:reminder-schedule",
        actor=audit.Actor.of(who) if who is not None else audit.Actor.system("contacts"),
        correlation_id=correlation_id,
        message_kind=kind,
        debtor_message=message,
        contact_point_id=contact_point_id,
        case=case_item,
        client=client,
        flush=flush,
        owner=owner,
        action_id=action_id,
    )


def ask_for_reminder(
    case_item: dict[str, Any],
    owner: repository.OwnerRead,
    channel: Channel,
    instalment: Instalment,
    action_id: str,
    lookups: ClientLookups,
    correlation_id: str,
) -> gate.Ask:
    """The payment-plan reminder of ``instalment`` as the schedule asks the gate for it with others
    (``gate.request_contacts``): built from what the schedule read, ``action_id`` derived from the instalment."""
    case_id = str(case_item["case_id"])
    item, message = debtor_message(
        case_id, "payment_plan_reminder", instalment=instalment, lookups=lookups, case_item=case_item, owner_read=owner
    )
    return gate.Ask(
        case=item,
        owner=owner,
        channel=channel,
        action_id=action_id,
        correlation_id=correlation_id,
        requested_by="system:reminder-schedule",
        actor=audit.Actor.system("contacts"),
        debtor_message=message,
        client=lookups.rules_of(str(item["client_id"]), item.get("portfolio")),
    )
