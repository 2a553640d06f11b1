"""The event catalogue: every event on the FinView bus, in one place.

An event is a versioned pydantic model. ``SOURCE`` is the publishing service, ``DETAIL_TYPE`` carries the
name and the schema version (``CaseFileImported.v1``); a breaking change adds a ``.v2`` class beside the old one
and consumers move over while both are published. The detail always carries ``event_id`` (the consumers'
idempotency key), ``occurred_at`` and ``correlation_id`` (carried from the S3 drop or the API call through
every event to the e-mail).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SOURCE_CONTACTS = "finview.contacts"
SOURCE_IMPORTS = "finview.imports"
SOURCE_ENRICHMENT = "finview.enrichment"
SOURCE_NOTIFICATIONS = "finview.notifications"

ContactPointType = Literal["email", "phone", "postal_address"]


def _now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Event(BaseModel):
    """Base of every event: the common detail fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    SOURCE: ClassVar[str]
    DETAIL_TYPE: ClassVar[str]

    event_id: str = Field(default_factory=new_id)
    occurred_at: datetime = Field(default_factory=_now)
    correlation_id: str


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- shared payload parts -------------------------------------------------------------------------------


class PostalAddress(Payload):
    street: str
    postcode: str = ""
    city: str = ""
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")


class ContactPointData(Payload):
    """A contact point as another service proposes it; contacts decides its state."""

    type: ContactPointType
    value: str = Field(description="e-mail, E.164 phone, or a one-line address for display")
    address: PostalAddress | None = None
    observation: str | None = None


class CaseData(Payload):
    case_id: str
    client_case_number: str | None = None
    invoice_numbers: list[str] = Field(default_factory=list)
    amount: Decimal
    currency: str = "EUR"
    opened_on: date
    portfolio: str | None = None


class CaseOwnerData(Payload):
    case_owner_id: str
    client_reference: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    birth_date: date | None = None


# ---- contacts -------------------------------------------------------------------------------------------


class ClientRegistered(Event):
    SOURCE = SOURCE_CONTACTS
    DETAIL_TYPE = "ClientRegistered.v1"

    client_id: str
    legal_name: str
    business_unit_id: str
    sender_email: str


class ClientUserCreated(Event):
    """A client user was created or linked; notifications sends the invitation when platform access is on."""

    SOURCE = SOURCE_CONTACTS
    DETAIL_TYPE = "ClientUserCreated.v1"

    client_id: str
    user_id: str
    email: str
    first_name: str
    last_name: str
    commercial: bool
    operational: bool
    platform_access: bool
    linked_existing: bool = False
    sender_email: str


class ClientUserRightsChanged(Event):
    """A client user's rights or platform access changed; notifications keeps its recipients in step."""

    SOURCE = SOURCE_CONTACTS
    DETAIL_TYPE = "ClientUserRightsChanged.v1"

    client_id: str
    user_id: str
    email: str
    first_name: str
    commercial: bool
    operational: bool
    platform_access: bool
    platform_access_granted: bool = Field(description="access was off before this change and is on now")
    sender_email: str


class ClientSettingsChanged(Event):
    """The whole new settings of a client; consumers keep their own copy of the part they need."""

    SOURCE = SOURCE_CONTACTS
    DETAIL_TYPE = "ClientSettingsChanged.v1"

    client_id: str
    settings: dict[str, Any]


class CaseOpened(Event):
    SOURCE = SOURCE_CONTACTS
    DETAIL_TYPE = "CaseOpened.v1"

    client_id: str
    case_owner_id: str
    case_id: str
    opened_on: date


class ContactActionRequested(Event):
    SOURCE = SOURCE_CONTACTS
    DETAIL_TYPE = "ContactActionRequested.v1"

    client_id: str
    case_owner_id: str
    case_id: str | None = None
    action: Literal["call", "letter", "sms", "email"]
    contact_point_id: str
    contact_point_value: str
    automatic: bool = False
    requested_by: str
    subject: str | None = None
    message: str | None = Field(default=None, description="the collector's text for an e-mail or SMS")


# ---- imports --------------------------------------------------------------------------------------------


class CaseFileImported(Event):
    """One case owner of an import with the cases and contact points the file gave for it."""

    SOURCE = SOURCE_IMPORTS
    DETAIL_TYPE = "CaseFileImported.v1"

    import_id: str
    client_id: str
    row_numbers: list[int]
    matched_by: str = Field(description="the matching rule that chose the case owner, or 'new'")
    case_owner: CaseOwnerData
    cases: list[CaseData]
    contact_points: list[ContactPointData]


class ImportCompleted(Event):
    SOURCE = SOURCE_IMPORTS
    DETAIL_TYPE = "ImportCompleted.v1"

    import_id: str
    client_id: str
    object_key: str
    rows_read: int
    case_owners_created: int
    case_owners_merged: int
    rows_rejected: int
    rejected_rows_key: str | None = None


class ImportFailed(Event):
    SOURCE = SOURCE_IMPORTS
    DETAIL_TYPE = "ImportFailed.v1"

    import_id: str
    client_id: str | None
    object_key: str
    reason_code: str
    reason: str


# ---- enrichment -----------------------------------------------------------------------------------------


class EnrichmentResultFound(Event):
    SOURCE = SOURCE_ENRICHMENT
    DETAIL_TYPE = "EnrichmentResultFound.v1"

    client_id: str
    case_owner_id: str
    case_id: str
    attempt: int
    provider: str
    contact_points: list[ContactPointData]


# ---- notifications --------------------------------------------------------------------------------------


class NotificationSent(Event):
    SOURCE = SOURCE_NOTIFICATIONS
    DETAIL_TYPE = "NotificationSent.v1"

    kind: str
    recipient: str
    message_id: str
    cause_event_id: str


CATALOGUE: dict[tuple[str, str], type[Event]] = {
    (cls.SOURCE, cls.DETAIL_TYPE): cls
    for cls in (
        ClientRegistered,
        ClientUserCreated,
        ClientUserRightsChanged,
        ClientSettingsChanged,
        CaseOpened,
        ContactActionRequested,
        CaseFileImported,
        ImportCompleted,
        ImportFailed,
        EnrichmentResultFound,
        NotificationSent,
    )
}


class UnknownEvent(ValueError):
    pass


def parse_envelope(envelope: dict[str, Any]) -> Event:
    """Turn an EventBridge envelope (as delivered to SQS) into its catalogue model.

    Consumers are lenient: fields the model does not know are dropped (a producer may add an optional field to
    a ``.v1`` event before every consumer knows it). Producers stay strict: the models forbid unknown fields.
    """
    key = (envelope.get("source", ""), envelope.get("detail-type", ""))
    cls = CATALOGUE.get(key)  # type: ignore[arg-type]
    if cls is None:
        raise UnknownEvent(f"no event {key[1]!r} from {key[0]!r} in the catalogue")
    detail = envelope.get("detail", {})
    try:
        return cls.model_validate(detail)
    except ValidationError as exc:
        unknown = [e["loc"] for e in exc.errors() if e["type"] == "extra_forbidden"]
        if not unknown or len(unknown) != exc.error_count():
            raise
        return cls.model_validate(_without(detail, unknown))


def _without(value: Any, paths: list[tuple[int | str, ...]]) -> Any:
    """A deep copy of ``value`` without the items at ``paths`` (pydantic error locations)."""
    copy = json.loads(json.dumps(value, default=str))
    for path in paths:
        node = copy
        for step in path[:-1]:
            node = node[step]
        node.pop(path[-1], None)
    return copy
