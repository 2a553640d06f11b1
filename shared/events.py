"""The event catalogue: every event on the FinView bus, in one place.

An event is a versioned pydantic model. ``SOURCE`` is the publishing service, ``DETAIL_TYPE`` carries the
name and the schema version (``CaseFileImported.v1``); a breaking change adds a ``.v2`` class beside the old one
and consumers move over while both are published. The detail always carries ``event_id`` (the consumers'
idempotency key), ``occurred_at`` and ``correlation_id`` (carried from the S3 drop or the API call through
every event to the e-mail).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import uuid
from collections.abc import Iterator
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


_id_seed: contextvars.ContextVar[tuple[uuid.UUID, list[int]] | None] = contextvars.ContextVar("id_seed", default=None)


def new_id() -> str:
    """A fresh id; inside :func:`ids_from` the n-th id of the block is derived from the seed instead."""
    seeded = _id_seed.get()
    if seeded is None:
        return str(uuid.uuid4())
    namespace, counter = seeded
    counter[0] += 1
    return str(uuid.uuid5(namespace, str(counter[0])))


@contextlib.contextmanager
def ids_from(seed: str) -> Iterator[None]:
    """Ids (records and events) derived from ``seed``: a request retried with the same Idempotency-Key after a
    crash writes the same records and events again instead of a second client, note or payment."""
    token = _id_seed.set((uuid.uuid5(uuid.NAMESPACE_URL, f"finview:{seed}"), [0]))
    try:
        yield
    finally:
        _id_seed.reset(token)


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


# An event of many: the v2 of a v1 that goes out by the hundred (a reminder run's contacts, their messages and
# outcomes), carrying whole v1 events as its members (shared.bus packs them, shared.consumer unpacks them).
MAX_MEMBERS = 50
# EventBridge takes an entry of up to 256 KiB; the envelope SQS receives adds ~0.5 KiB, and SQS's own limit is 256 KiB.
MEMBERS_EVENT_BYTES = 255 * 1024
_MEMBERS_NAMESPACE = uuid.UUID("6f1d2c3b-4a5e-4f60-8d71-92a3b4c5d6e7")


class Members:
    """An event that carries several events of one v1 type (``ONE``) whole, each with its own id, time and
    correlation, as ``members``: one entry on the bus, one routing, one SQS message, one parse for all of them. A
    consumer handles each member as the v1 event it is, with that event's own idempotency (its id, its claims): a
    redelivered v2, or the same members packed otherwise by another publication, finishes what an earlier delivery
    left and repeats nothing. The v2's own id is derived from its members' (:func:`members_event_id`), so the same
    set published twice is recognisably one event."""

    ONE: ClassVar[type[Event]]

    def as_v1(self) -> list[Event]:
        return list(getattr(self, "members"))  # noqa: B009 - declared by each v2 with its member type


def members_event_id(detail_type: str, member_ids: list[str]) -> str:
    """The id of the v2 event carrying these members (in any order)."""
    return str(uuid.uuid5(_MEMBERS_NAMESPACE, "|".join([detail_type, *sorted(member_ids)])))


def _members_field() -> Any:
    return Field(min_length=1, max_length=MAX_MEMBERS, description="the v1 events carried, each whole")


# ---- shared payload parts -------------------------------------------------------------------------------


class PostalAddress(Payload):
    street: str
    postcode: str = ""
    city: str = ""
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")


class MessageTemplate(Payload):
    """A business unit's own subject and body of a message kind (shared.message_templates)."""

    subject: str
    body: str


class Sender(Payload):
    """Who writes: the client's effective business unit (with the client's overrides), as contacts knows it."""

    name: str
    email: str
    reply_to: str | None = None
    company_name: str
    address: PostalAddress | None = None
    registration_number: str | None = None
    supervisory_authority: str | None = Field(default=None, description="RDG §13a: the registration authority")
    footers: dict[str, str] = Field(default_factory=dict, description="language → footer text")
    language: str | None = Field(default=None, description="the business unit's language, the debtor's fallback")
    templates: dict[str, MessageTemplate] = Field(
        default_factory=dict,
        description="the business unit's own wording, checked when saved: <kind> or <kind>.<language> → template "
        "(shared.message_templates)",
    )


class ContactPointData(Payload):
    """A contact point as another service proposes it; contacts decides its state."""

    type: ContactPointType
    value: str = Field(description="e-mail, E.164 phone, or a one-line address for display")
    address: PostalAddress | None = None
    observation: str | None = None


PhoneLineType = Literal[
    "mobile",
    "fixed_line",
    "fixed_line_or_mobile",
    "voip",
    "premium_rate",
    "toll_free",
    "shared_cost",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "unknown",
]
PointState = Literal["invalid", "pending", "validated", "default"]


class PhoneCheck(Payload):
    """What phonenumbers' metadata says about a number (free, offline)."""

    valid: bool
    e164: str | None = None
    line_type: PhoneLineType = "unknown"
    region: str | None = Field(default=None, description="ISO 3166-1 alpha-2 of the number's region")
    time_zones: list[str] = Field(default_factory=list, description="IANA zones the number may ring in")


class EmailCheck(Payload):
    """email-validator's verdict and normalisation, and whether the domain accepts mail (DNS MX)."""

    valid: bool
    normalised: str | None = None
    domain: str | None = None
    mail_server: Literal["found", "none", "unknown"] = Field(
        default="unknown", description="none: the domain cannot receive mail; unknown: DNS did not answer in time"
    )
    reason: str | None = None


class ContactPointChecks(Payload):
    """The offline checks of one contact point, for the value that was checked."""

    contact_point_id: str
    type: ContactPointType
    value: str
    checked_at: datetime
    phone: PhoneCheck | None = None
    email: EmailCheck | None = None

    @property
    def usable(self) -> bool:
        """False when the checks prove the point cannot reach anybody (bad number, domain without mail)."""
        if self.phone is not None:
            return self.phone.valid
        if self.email is not None:
            return self.email.valid and self.email.mail_server != "none"
        return True


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
    language: str | None = Field(default=None, description="ISO 639-1, when the file says it")


# ---- contacts -------------------------------------------------------------------------------------------


class ClientRegistered(Event):
    SOURCE = SOURCE_CONTACTS
    DETAIL_TYPE = "ClientRegistered.v1"

    client_id: str
    legal_name: str
    business_unit_id: str
    sender_email: str
    sender: Sender | None = Field(
        default=None, description="the client's effective business unit: what its e-mails to client users say"
    )


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
    sender: Sender | None = Field(default=None, description="the client's effective business unit")
    language: str | None = Field(default=None, description="the user's language (ISO 639-1), when set")


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
    sender: Sender | None = Field(default=None, description="the client's effective business unit")
    language: str | None = Field(default=None, description="the user's language (ISO 639-1), when set")


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


class CasesOpenedV2(Event, Members):
    """``CasesOpened.v2``: the cases a contacts batch opened (an import's case owners, 50 an event), announced
    together: one entry on the bus and one SQS message for up to 50 cases instead of one each. Enrichment tracks
    each member as it tracks a v1 (put-if-new); v1 is still published for a lone case and consumed
    (:class:`Members`)."""

    SOURCE = SOURCE_CONTACTS
    DETAIL_TYPE = "CasesOpened.v2"
    ONE: ClassVar[type[Event]] = CaseOpened

    members: list[CaseOpened] = _members_field()


MessageKind = Literal[
    "contact_request",
    "payment_plan_reminder",
    "closing_fully_paid",
    "closing_settlement_paid",
    "cease_efforts_ended",
    "cease_remedies_may_be_used",
    "cease_remedy_intended",
]
Channel = Literal["email", "sms", "letter", "call"]
CloseReason = Literal["fully_paid", "paid_in_settlement", "recalled_by_client", "uncollectable"]


class Creditor(Payload):
    """The client the agency collects for (RDG §13a: name and address of the creditor)."""

    legal_name: str
    address: PostalAddress | None = None


class Instalment(Payload):
    number: int = Field(ge=1)
    due_on: date
    amount: Decimal


class CaseSummary(Payload):
    """What a message to a debtor says about the case: amounts in the case currency, never floats."""

    case_id: str
    client_case_number: str | None = None
    invoice_numbers: list[str] = Field(default_factory=list)
    currency: str = "EUR"
    claim_amount: Decimal = Field(description="the original claim")
    open_amount: Decimal
    interest: Decimal = Decimal("0")
    costs: Decimal = Decimal("0")
    claim_basis: str | None = Field(default=None, description="RDG §13a: what the claim rests on")
    cost_basis: str | None = Field(default=None, description="RDG §13a: how the costs are calculated")
    opened_on: date | None = None


class DebtorMessage(Payload):
    """Everything notifications needs to write one debtor message: it never reads contacts' data itself."""

    kind: MessageKind
    language: str | None = Field(default=None, description="the case owner's language, if known")
    debtor_name: str
    address: PostalAddress | None = Field(default=None, description="the postal address (letters, RDG block)")
    address_from_enrichment: bool = Field(default=False, description="the address was found by skip tracing")
    sender: Sender
    creditor: Creditor
    case: CaseSummary | None = None
    instalment: Instalment | None = Field(default=None, description="the instalment a reminder is about")
    remedy: str | None = Field(default=None, description="cease_remedy_intended: the remedy the agency intends")
    max_sms_segments: int = Field(default=3, ge=1, le=10, description="the client's limit per SMS")
    unsubscribe_url: str | None = None


class ContactActionRequested(Event):
    """A contact with a debtor that contacts decided (and its contact policy allowed); notifications delivers it."""

    SOURCE = SOURCE_CONTACTS
    DETAIL_TYPE = "ContactActionRequested.v1"

    client_id: str
    case_owner_id: str
    case_id: str | None = None
    action: Channel
    contact_point_id: str
    contact_point_value: str
    automatic: bool = False
    requested_by: str
    subject: str | None = None
    message: str | None = Field(default=None, description="the collector's text for an e-mail or SMS")
    debtor_message: DebtorMessage | None = Field(
        default=None, description="a templated message (kind, language, data); absent for the collector's own text"
    )
    # Set by the contact-policy gate (issue 11): its record of this contact, what the contact is for, and
    # when an automatic contact was first asked for if the policy deferred it.
    action_id: str | None = Field(default=None, description="contacts' id of this contact (call outcomes name it)")
    message_kind: str | None = Field(
        default=None,
        description="the policy's kind of contact: a DebtorMessage kind, reply_to_debtor or statutory_notice",
    )
    deferred_from: datetime | None = None
    traced_data: bool | None = Field(
        default=None,
        description="the case owner had contact points from skip tracing when the gate decided (GDPR Art. 14: "
        "the first message to them may make a notice due); null: not known",
    )


class ContactActionsRequestedV2(Event, Members):
    """``ContactActionsRequested.v2``: contacts that contacts decided and wrote together (a reminder schedule's page:
    its outbox rows as one event), each member the ContactActionRequested.v1 the gate decided, recorded and would
    have published on its own. Notifications delivers each member as it delivers a v1 (a claim per message); v1 is
    still published for a lone contact and consumed (:class:`Members`)."""

    SOURCE = SOURCE_CONTACTS
    DETAIL_TYPE = "ContactActionsRequested.v2"
    ONE: ClassVar[type[Event]] = ContactActionRequested

    members: list[ContactActionRequested] = _members_field()


class PaymentRecorded(Event):
    SOURCE = SOURCE_CONTACTS
    DETAIL_TYPE = "PaymentRecorded.v1"

    client_id: str
    case_owner_id: str
    case_id: str
    payment_id: str
    amount: Decimal
    currency: str
    paid_on: date
    reference: str | None = None
    open_amount: Decimal = Field(description="what is still open after this payment")


class PaymentPlanAgreed(Event):
    SOURCE = SOURCE_CONTACTS
    DETAIL_TYPE = "PaymentPlanAgreed.v1"

    client_id: str
    case_owner_id: str
    case_id: str
    plan_id: str
    currency: str
    instalments: list[Instalment]


class CaseClosed(Event):
    SOURCE = SOURCE_CONTACTS
    DETAIL_TYPE = "CaseClosed.v1"

    client_id: str
    case_owner_id: str
    case_id: str
    reason: CloseReason
    status: Literal["paid", "closed"]
    was_in_settlement: bool
    open_amount: Decimal
    currency: str


class ContactPointSummary(Payload):
    contact_point_id: str
    type: ContactPointType
    value: str
    state: PointState
    checked: bool = Field(default=False, description="offline checks are stored for this value")
    usable: bool | None = Field(default=None, description="the stored checks' verdict; None when unchecked")


class TraceSubject(Payload):
    """Only what a skip-tracing bureau needs to find the person (data minimisation)."""

    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    birth_date: date | None = None
    last_known_address: PostalAddress | None = None


class CaseOwnerContactsChanged(Event):
    """A case owner's contact points changed: enrichment learns which valid defaults exist, which points still
    need the offline checks, and whether processing is restricted (GDPR Art. 18/21 stop skip tracing)."""

    SOURCE = SOURCE_CONTACTS
    DETAIL_TYPE = "CaseOwnerContactsChanged.v1"

    client_id: str
    case_owner_id: str
    subject: TraceSubject
    contact_points: list[ContactPointSummary]
    processing_restricted: bool = False


class CaseOwnersContactsChangedV2(Event, Members):
    """``CaseOwnersContactsChanged.v2``: the snapshots of the case owners a contacts batch wrote (an import's new
    owners), announced together; each member is the v1 snapshot it would have published alone, kept by enrichment
    as a v1 is (the newest per owner). v1 is still published for a lone snapshot and consumed (:class:`Members`)."""

    SOURCE = SOURCE_CONTACTS
    DETAIL_TYPE = "CaseOwnersContactsChanged.v2"
    ONE: ClassVar[type[Event]] = CaseOwnerContactsChanged

    members: list[CaseOwnerContactsChanged] = _members_field()


class CaseOwnersMerged(Event):
    """Two case owners are one person (an accepted match review): the cases and contact points of
    ``merged_case_owner_id`` now belong to ``surviving_case_owner_id``."""

    SOURCE = SOURCE_CONTACTS
    DETAIL_TYPE = "CaseOwnersMerged.v1"

    client_id: str
    surviving_case_owner_id: str
    merged_case_owner_id: str
    review_id: str | None = None


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


class ImportedCaseFile(Payload):
    """One case owner's case file within :class:`CaseFileImportedV2`: what ``CaseFileImported.v1`` carries."""

    case_file_id: str = Field(
        description="deterministic per import, case owner and part (the v1 event id of the same case file)"
    )
    row_numbers: list[int]
    matched_by: str = Field(description="the matching rule that chose the case owner, or 'new'")
    case_owner: CaseOwnerData
    cases: list[CaseData]
    contact_points: list[ContactPointData]


MAX_CASE_FILES_PER_EVENT = 50
CASE_FILES_EVENT_BYTES = 64 * 1024  # one EventBridge billing chunk; a single larger case file goes alone


class CaseFileImportedV2(Event):
    """``CaseFileImported.v2``: the case files of several case owners of one import in one event (at most
    ``MAX_CASE_FILES_PER_EVENT``, and about ``CASE_FILES_EVENT_BYTES`` unless one case file is bigger on its own),
    so a consumer writes them set-at-a-time. A case owner appears at most once per event. The event id is
    deterministic (the import and the first case file's id): a re-publication of the same chunk after a crash
    carries the same id. v1 (:class:`CaseFileImported`) is still accepted during the rollout."""

    SOURCE = SOURCE_IMPORTS
    DETAIL_TYPE = "CaseFileImported.v2"

    import_id: str
    client_id: str
    case_files: list[ImportedCaseFile] = Field(min_length=1, max_length=MAX_CASE_FILES_PER_EVENT)

    def as_v1(self) -> list[CaseFileImported]:
        """Each case file as the v1 event of the same content and id (the per-owner path consumes those)."""
        return [
            CaseFileImported(
                event_id=f.case_file_id,
                occurred_at=self.occurred_at,
                correlation_id=self.correlation_id,
                import_id=self.import_id,
                client_id=self.client_id,
                row_numbers=f.row_numbers,
                matched_by=f.matched_by,
                case_owner=f.case_owner,
                cases=f.cases,
                contact_points=f.contact_points,
            )
            for f in self.case_files
        ]


class MatchReviewRequested(Event):
    """An uncertain pair for the client's review queue: a row got its own case owner ``case_owner_id``, though it
    may be ``candidate_case_owner_id`` (a score in the review band, or strong with a doubt a person can lift).
    Accepting the review merges the two case owners (``CaseOwnersMerged``)."""

    SOURCE = SOURCE_IMPORTS
    DETAIL_TYPE = "MatchReviewRequested.v1"

    review_id: str
    import_id: str
    client_id: str
    row: int
    case_owner_id: str
    candidate_case_owner_id: str
    score: float = Field(description="the summed Fellegi–Sunter match weight (log2 m/u) of the pair")
    auto_score: float = Field(description="the score from which a pair is merged without review")
    comparisons: dict[str, str] = Field(description="field → agreement level, e.g. family: close")


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


class TracedContactPoint(Payload):
    point: ContactPointData
    confidence: Decimal = Field(ge=0, le=1)
    trusted: bool = Field(description="confidence at or above the threshold; below it the point stays pending")


class ContactPointsTraced(Event):
    """What a skip-tracing attempt found (supersedes EnrichmentResultFound, still consumed for events in flight):
    every point carries where it came from (provider, attempt, obtained_at) and how sure the provider is."""

    SOURCE = SOURCE_ENRICHMENT
    DETAIL_TYPE = "ContactPointsTraced.v1"

    client_id: str
    case_owner_id: str
    case_id: str
    attempt: int
    provider: str
    obtained_at: datetime
    candidates: list[TracedContactPoint]


class ContactPointsChecked(Event):
    """Offline checks (phone line type, region, time zone; e-mail normalisation and MX) of a case owner's points."""

    SOURCE = SOURCE_ENRICHMENT
    DETAIL_TYPE = "ContactPointsChecked.v1"

    client_id: str
    case_owner_id: str
    checks: list[ContactPointChecks]


class ContactPointsCheckedV2(Event, Members):
    """``ContactPointsChecked.v2``: the offline checks of the case owners an enrichment batch checked (an import's
    snapshots), sent together; contacts stores each member's checks as it stores a v1's. v1 is still published for
    a lone owner's checks and consumed (:class:`Members`)."""

    SOURCE = SOURCE_ENRICHMENT
    DETAIL_TYPE = "ContactPointsChecked.v2"
    ONE: ClassVar[type[Event]] = ContactPointsChecked

    members: list[ContactPointsChecked] = _members_field()


AttemptOutcome = Literal["found", "none", "several", "error"]


class EnrichmentAttemptSettled(Event):
    """One settled line of the cost ledger (what the client is billed for); contacts keeps the read model."""

    SOURCE = SOURCE_ENRICHMENT
    DETAIL_TYPE = "EnrichmentAttemptSettled.v1"

    client_id: str
    case_owner_id: str
    case_id: str
    attempt: int
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    provider: str
    outcome: AttemptOutcome
    candidates: int = Field(ge=0)
    cost: Decimal = Field(ge=0)
    currency: str = "EUR"
    booked_at: datetime
    settled_at: datetime


class EnrichmentBudgetReached(Event):
    """An attempt was not made because it would exceed the client's monthly budget (published once a month)."""

    SOURCE = SOURCE_ENRICHMENT
    DETAIL_TYPE = "EnrichmentBudgetReached.v1"

    client_id: str
    month: str
    budget: Decimal
    spent: Decimal
    currency: str = "EUR"


# ---- notifications --------------------------------------------------------------------------------------


class NotificationSent(Event):
    SOURCE = SOURCE_NOTIFICATIONS
    DETAIL_TYPE = "NotificationSent.v1"

    kind: str
    recipient: str
    message_id: str
    cause_event_id: str


class MessageFields(BaseModel):
    """Common fields of every message event (the contract between notifications and contacts' contact policy)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: str = Field(description="notifications' record id of the message")
    case_id: str | None
    case_owner_id: str | None
    contact_point_id: str | None
    channel: Channel
    provider_message_id: str | None


class MessageSent(Event, MessageFields):
    """A message left through its provider (or into the outbox); contacts keeps it in the case's messages."""

    SOURCE = SOURCE_NOTIFICATIONS
    DETAIL_TYPE = "MessageSent.v1"

    client_id: str | None = None
    kind: str
    recipient: str
    template: str
    language: str
    cause_event_id: str
    sent_at: datetime
    segments: int | None = Field(default=None, description="SMS segments charged")
    traced_data: bool | None = Field(
        default=None, description="the request's traced_data (contacts' Art. 14 check); null: not known"
    )


class MessageDelivered(Event, MessageFields):
    SOURCE = SOURCE_NOTIFICATIONS
    DETAIL_TYPE = "MessageDelivered.v1"


class MessageBounced(Event, MessageFields):
    SOURCE = SOURCE_NOTIFICATIONS
    DETAIL_TYPE = "MessageBounced.v1"

    bounce_type: Literal["permanent", "transient"]
    diagnostic: str | None = None


class MessageComplained(Event, MessageFields):
    SOURCE = SOURCE_NOTIFICATIONS
    DETAIL_TYPE = "MessageComplained.v1"


class SmsFailed(Event, MessageFields):
    SOURCE = SOURCE_NOTIFICATIONS
    DETAIL_TYPE = "SmsFailed.v1"

    reason: str | None = None


class MessageFailed(Event, MessageFields):
    """Notifications gave up on a message (refused recipient, throttled past its retries, render error)."""

    SOURCE = SOURCE_NOTIFICATIONS
    DETAIL_TYPE = "MessageFailed.v1"

    reason_code: str
    reason: str


class OptOutReceived(Event, MessageFields):
    """The debtor answered STOP / unsubscribe (a reply SMS or the List-Unsubscribe link)."""

    SOURCE = SOURCE_NOTIFICATIONS
    DETAIL_TYPE = "OptOutReceived.v1"

    keyword: str


class MessagesSentV2(Event, Members):
    """``MessagesSent.v2``: the messages a notifications batch sent, announced together (:class:`Members`)."""

    SOURCE = SOURCE_NOTIFICATIONS
    DETAIL_TYPE = "MessagesSent.v2"
    ONE: ClassVar[type[Event]] = MessageSent

    members: list[MessageSent] = _members_field()


class MessagesDeliveredV2(Event, Members):
    """``MessagesDelivered.v2``: the deliveries a batch of provider notifications reported (:class:`Members`)."""

    SOURCE = SOURCE_NOTIFICATIONS
    DETAIL_TYPE = "MessagesDelivered.v2"
    ONE: ClassVar[type[Event]] = MessageDelivered

    members: list[MessageDelivered] = _members_field()


class MessagesBouncedV2(Event, Members):
    SOURCE = SOURCE_NOTIFICATIONS
    DETAIL_TYPE = "MessagesBounced.v2"
    ONE: ClassVar[type[Event]] = MessageBounced

    members: list[MessageBounced] = _members_field()


class MessagesComplainedV2(Event, Members):
    SOURCE = SOURCE_NOTIFICATIONS
    DETAIL_TYPE = "MessagesComplained.v2"
    ONE: ClassVar[type[Event]] = MessageComplained

    members: list[MessageComplained] = _members_field()


class SmsesFailedV2(Event, Members):
    SOURCE = SOURCE_NOTIFICATIONS
    DETAIL_TYPE = "SmsesFailed.v2"
    ONE: ClassVar[type[Event]] = SmsFailed

    members: list[SmsFailed] = _members_field()


class MessagesFailedV2(Event, Members):
    SOURCE = SOURCE_NOTIFICATIONS
    DETAIL_TYPE = "MessagesFailed.v2"
    ONE: ClassVar[type[Event]] = MessageFailed

    members: list[MessageFailed] = _members_field()


class OptOutsReceivedV2(Event, Members):
    SOURCE = SOURCE_NOTIFICATIONS
    DETAIL_TYPE = "OptOutsReceived.v2"
    ONE: ClassVar[type[Event]] = OptOutReceived

    members: list[OptOutReceived] = _members_field()


# ---- data protection: a data subject's requests (GDPR Art. 15/20, 17) ---------------------------------------


class SubjectAccessRequested(Event):
    """A data subject asked what we hold about them (Art. 15) or for a copy (Art. 20): every service answers for
    its own data with its ``…SubjectAccessCompleted`` (contacts assembles the export from the answers)."""

    SOURCE = SOURCE_CONTACTS
    DETAIL_TYPE = "SubjectAccessRequested.v1"

    request_id: str
    client_id: str
    case_owner_id: str
    case_ids: list[str]
    import_ids: list[str] = Field(default_factory=list, description="the imports that created or changed the person")
    contact_event_ids: list[str] = Field(
        default_factory=list,
        description="the ContactActionRequested events of the person's contacts: notifications finds by them what it "
        "recorded before it linked each delivery to the person",
    )
    merged_case_owner_ids: list[str] = Field(
        default_factory=list,
        description="the case owners merged into this one (accepted match reviews): the same person's earlier files",
    )


class SubjectAccessAnswer(BaseModel):
    """One service's answer, in ``parts`` events when its section is large (each part under the bus's 256 KB):
    ``section`` maps a kind of record to the records (plain JSON, as stored, without keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: str
    case_owner_id: str
    service: str
    part: int = Field(ge=1)
    parts: int = Field(ge=1)
    counts: dict[str, int] = Field(description="records per kind in the whole section (every part)")
    section: dict[str, list[dict[str, Any]]]


class ImportsSubjectAccessCompleted(Event, SubjectAccessAnswer):
    SOURCE = SOURCE_IMPORTS
    DETAIL_TYPE = "ImportsSubjectAccessCompleted.v1"


class EnrichmentSubjectAccessCompleted(Event, SubjectAccessAnswer):
    SOURCE = SOURCE_ENRICHMENT
    DETAIL_TYPE = "EnrichmentSubjectAccessCompleted.v1"


class NotificationsSubjectAccessCompleted(Event, SubjectAccessAnswer):
    SOURCE = SOURCE_NOTIFICATIONS
    DETAIL_TYPE = "NotificationsSubjectAccessCompleted.v1"


SubjectAccessCompleted = (
    ImportsSubjectAccessCompleted | EnrichmentSubjectAccessCompleted | NotificationsSubjectAccessCompleted
)


class SubjectErasureRequested(Event):
    """The day has come to erase a person (GDPR Art. 17; the legal exceptions have run out): every service erases
    what it holds about them and replies with its ``…SubjectErasureCompleted`` (counts only, never the data)."""

    SOURCE = SOURCE_CONTACTS
    DETAIL_TYPE = "SubjectErasureRequested.v1"

    request_id: str
    client_id: str
    case_owner_id: str
    case_ids: list[str]
    import_ids: list[str] = Field(default_factory=list)
    contact_event_ids: list[str] = Field(default_factory=list, description="as in SubjectAccessRequested")
    merged_case_owner_ids: list[str] = Field(
        default_factory=list,
        description="the case owners merged into this one (accepted match reviews): the same person's earlier files",
    )


class SubjectErasureAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: str
    case_owner_id: str
    service: str
    counts: dict[str, int] = Field(description="what was erased, per kind of record")


class ImportsSubjectErasureCompleted(Event, SubjectErasureAnswer):
    SOURCE = SOURCE_IMPORTS
    DETAIL_TYPE = "ImportsSubjectErasureCompleted.v1"


class EnrichmentSubjectErasureCompleted(Event, SubjectErasureAnswer):
    SOURCE = SOURCE_ENRICHMENT
    DETAIL_TYPE = "EnrichmentSubjectErasureCompleted.v1"


class NotificationsSubjectErasureCompleted(Event, SubjectErasureAnswer):
    SOURCE = SOURCE_NOTIFICATIONS
    DETAIL_TYPE = "NotificationsSubjectErasureCompleted.v1"


SubjectErasureCompleted = (
    ImportsSubjectErasureCompleted | EnrichmentSubjectErasureCompleted | NotificationsSubjectErasureCompleted
)

CATALOGUE: dict[tuple[str, str], type[Event]] = {
    (cls.SOURCE, cls.DETAIL_TYPE): cls
    for cls in (
        ClientRegistered,
        ClientUserCreated,
        ClientUserRightsChanged,
        ClientSettingsChanged,
        CaseOpened,
        CasesOpenedV2,
        ContactActionRequested,
        ContactActionsRequestedV2,
        PaymentRecorded,
        PaymentPlanAgreed,
        CaseClosed,
        CaseOwnersMerged,
        CaseFileImported,
        CaseFileImportedV2,
        MatchReviewRequested,
        ImportCompleted,
        ImportFailed,
        CaseOwnerContactsChanged,
        CaseOwnersContactsChangedV2,
        EnrichmentResultFound,
        ContactPointsTraced,
        ContactPointsChecked,
        ContactPointsCheckedV2,
        EnrichmentAttemptSettled,
        EnrichmentBudgetReached,
        NotificationSent,
        MessageSent,
        MessageDelivered,
        MessageBounced,
        MessageComplained,
        SmsFailed,
        MessageFailed,
        OptOutReceived,
        MessagesSentV2,
        MessagesDeliveredV2,
        MessagesBouncedV2,
        MessagesComplainedV2,
        SmsesFailedV2,
        MessagesFailedV2,
        OptOutsReceivedV2,
        SubjectAccessRequested,
        ImportsSubjectAccessCompleted,
        EnrichmentSubjectAccessCompleted,
        NotificationsSubjectAccessCompleted,
        SubjectErasureRequested,
        ImportsSubjectErasureCompleted,
        EnrichmentSubjectErasureCompleted,
        NotificationsSubjectErasureCompleted,
    )
}

# v1 type → its v2 of many (what shared.bus packs a lone type's events into when several go out together)
MANY: dict[type[Event], type[Event]] = {
    cls.ONE: cls
    for cls in CATALOGUE.values()
    if issubclass(cls, Members)  # type: ignore[misc]
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
