"""The contacts API's models for case owners, cases, contact points, notes, attachments and the audit trail."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

from services.contacts.cases.domain import ActionKind, EvidenceKind, PointState, Qualification, State
from services.contacts.clients.models import Language
from services.contacts.models import In
from services.contacts.policy.rules import MessageKind
from shared.events import CloseReason, ContactPointChecks, ContactPointType, Instalment, PostalAddress


class Trace(BaseModel):
    """Where a contact point from skip tracing came from (GDPR Art. 14 and RDG §13a notices rely on it)."""

    provider: str
    obtained_at: datetime
    confidence: Decimal
    trusted: bool = Field(description="at or above the confidence threshold; below it the point needs a human")
    case_id: str
    attempt: int


class ContactPoint(BaseModel):
    contact_point_id: str
    case_owner_id: str | None = None
    type: ContactPointType
    value: str
    address: PostalAddress | None = None
    valid: bool
    qualification: Qualification
    is_default: bool
    observation: str | None = None
    source: str
    trace: Trace | None = Field(default=None, description="set when the point came from skip tracing")
    checks: ContactPointChecks | None = Field(default=None, description="offline checks of the current value")
    created_at: datetime
    updated_at: datetime | None = None
    validated_at: datetime | None = Field(default=None, description="when the point was last validated")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def state(self) -> State:
        """One word for the star of the UI: invalid, pending (no star), validated (empty), default (full)."""
        return PointState(self.valid, self.qualification, self.is_default).name


class Case(BaseModel):
    case_id: str
    case_owner_id: str
    client_id: str
    client_case_number: str | None = None
    invoice_numbers: list[str]
    amount: Decimal
    currency: str
    status: Literal["open", "in_settlement", "paid", "closed"]
    portfolio: str | None = None
    opened_on: date
    collector: str | None = None
    open_amount: Decimal | None = Field(default=None, description="what is still owed (the amount before payments)")
    paid_amount: Decimal | None = None
    plan_id: str | None = None
    closed_reason: CloseReason | None = None
    address_traced: Trace | None = Field(
        default=None, description="an address of this case came from skip tracing: the first letter must say so"
    )
    restricted: bool = Field(default=False, description="its owner's processing is restricted (GDPR Art. 18)")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def age_days(self) -> int:
        return (date.today() - self.opened_on).days


class CaseOwner(BaseModel):
    case_owner_id: str
    client_id: str
    client_reference: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    birth_date: date | None = None
    language: str | None = Field(default=None, description="ISO 639-1, the language debtor messages are written in")
    merged_into: str | None = Field(
        default=None,
        description="merged into this case owner (an accepted match review): its cases and points are there",
    )
    restricted_since: datetime | None = Field(
        default=None, description="processing restricted (GDPR Art. 18): hidden from lists, never contacted or traced"
    )
    objected_since: datetime | None = Field(
        default=None, description="the debtor objected (GDPR Art. 21): no chasing, no skip tracing until ended"
    )

    erased_at: datetime | None = Field(
        default=None, description="erased (GDPR Art. 17): only this id, the client and the audit trail are left"
    )

    @property
    def processing_restricted(self) -> bool:
        return self.restricted_since is not None or self.objected_since is not None


class CaseOwnerChange(In):
    """PATCH /case-owners/{id}: only the fields sent change; null clears one."""

    language: Language | None = Field(
        default=None,
        description="ISO 639-1: the language debtor messages are written in (null: the business unit's)",
    )


class CaseFile(BaseModel):
    """GET /cases/{id}: the case, its owner and the owner's contact points."""

    case: Case
    case_owner: CaseOwner
    contact_points: list[ContactPoint]


class CaseOwnerFile(BaseModel):
    """GET /case-owners/{id}: the owner, all its cases, and the default contact point of each type that has one."""

    case_owner: CaseOwner
    cases: list[Case]
    defaults: dict[ContactPointType, str] = Field(default_factory=dict, description="type → contact_point_id")


# ---- contact point commands ------------------------------------------------------------------------------


class NewContactPointIn(In):
    type: ContactPointType
    value: str = Field(min_length=1, max_length=320)
    country: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{2}$",
        description="a phone's country (ISO 3166-1 alpha-2), to read a national number like 030 1234567; "
        "default: the country of the case owner's default postal address, else the client's import default country",
    )
    address: PostalAddress | None = None
    observation: str | None = Field(default=None, max_length=500)


class EvidenceIn(In):
    kind: EvidenceKind
    note: str | None = Field(default=None, max_length=1000)


class ValidateIn(In):
    evidence: EvidenceIn


class ReasonIn(In):
    reason: str = Field(min_length=1, max_length=1000)


class ObservationIn(In):
    observation: str | None = Field(max_length=500, description="null removes the observation")


class ContactPointChange(BaseModel):
    """The point after a change; ``default_cleared`` says its type has no default any more."""

    contact_point: ContactPoint
    default_cleared: bool = False
    previous_default_id: str | None = None
    changed: bool = True


class ContactActionIn(In):
    action: ActionKind
    automatic: bool = False
    case_id: str | None = Field(default=None, max_length=64)
    message_kind: MessageKind = Field(
        default="contact_request",
        description="what the contact is for (holds); a cease_* kind sends that cease-communication notice, as "
        "POST /cases/{id}/cease-notices does (letter or email, while the debtor's cease request covers the case)",
    )
    retry_of: str | None = Field(default=None, max_length=64, description="the call request this call retries")
    remedy: str | None = Field(
        default=None,
        min_length=3,
        max_length=300,
        description="message_kind cease_remedy_intended only (required there): the remedy we intend to use",
    )


class CaseActionIn(In):
    action: ActionKind
    automatic: bool = False
    contact_point_id: str | None = Field(default=None, max_length=64, description="default of its type if absent")
    message_kind: MessageKind = Field(
        default="contact_request",
        description="what the contact is for (holds); a cease_* kind sends that cease-communication notice, as "
        "POST /cases/{id}/cease-notices does (letter or email, while the debtor's cease request covers the case)",
    )
    retry_of: str | None = Field(default=None, max_length=64, description="the call request this call retries")
    remedy: str | None = Field(
        default=None,
        min_length=3,
        max_length=300,
        description="message_kind cease_remedy_intended only (required there): the remedy we intend to use",
    )


class ContactActionOut(BaseModel):
    """What the contact-policy gate did: requested (published to notifications) or, for an automatic contact the
    policy refuses for now, deferred until ``next_allowed_at``."""

    status: Literal["requested", "deferred"] = "requested"
    action_id: str
    event_id: str | None = Field(default=None, description="the ContactActionRequested event, once requested")
    action: ActionKind
    automatic: bool
    case_owner_id: str
    case_id: str | None = None
    contact_point: ContactPoint | None = None
    rule: str | None = Field(default=None, description="why a deferred contact waits")
    reason: str | None = None
    next_allowed_at: datetime | None = None


# ---- case file -------------------------------------------------------------------------------------------


class CollectorIn(In):
    collector: str = Field(min_length=1, max_length=200, description="the collector's principal (e-mail)")
    reason: str | None = Field(default=None, max_length=1000)


class NoteIn(In):
    text: str = Field(min_length=1, max_length=5000)


class Note(BaseModel):
    note_id: str
    case_id: str
    author: str
    created_at: datetime
    text: str


class NewAttachmentIn(In):
    filename: str = Field(min_length=1, max_length=200)
    content_type: str = Field(min_length=1, max_length=120)
    size: int = Field(gt=0, description="bytes")
    description: str | None = Field(default=None, max_length=1000)


class Attachment(BaseModel):
    attachment_id: str
    case_id: str
    filename: str
    content_type: str
    size: int
    description: str | None = None
    uploaded_by: str
    created_at: datetime


class AttachmentUpload(BaseModel):
    attachment: Attachment
    upload_url: str
    upload_method: Literal["PUT"] = "PUT"
    upload_headers: dict[str, str]
    expires_in: int


class AttachmentDownload(BaseModel):
    attachment: Attachment
    download_url: str
    expires_in: int


# ---- audit trail -----------------------------------------------------------------------------------------


class AuditEntry(BaseModel):
    audit_id: str
    case_owner_id: str
    at: datetime
    actor: str
    actor_role: str
    action: str
    target_type: Literal["case_owner", "case", "contact_point", "note", "attachment", "hold", "data_request"]
    target_id: str
    case_id: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    why: dict[str, Any] | None = None
    correlation_id: str | None = None


class OptionalReasonIn(In):
    reason: str | None = Field(default=None, max_length=1000)


# ---- case lifecycle: payments, payment plan, closing, messages ----------------------------------------------


class PaymentIn(In):
    amount: Decimal = Field(gt=0, max_digits=15, description='in the case currency, e.g. "250.00"')
    currency: str | None = Field(default=None, min_length=3, max_length=3, description="must be the case's if given")
    paid_on: date
    reference: str | None = Field(default=None, max_length=200, description="bank reference, receipt number")


class Payment(BaseModel):
    payment_id: str
    case_id: str
    amount: Decimal
    currency: str
    paid_on: date
    reference: str | None = None
    recorded_by: str
    recorded_at: datetime
    overpaid: Decimal = Field(default=Decimal(0), description="what the payment brought beyond the open amount")


class PaymentOut(BaseModel):
    payment: Payment
    case: Case


class InstalmentIn(In):
    due_on: date
    amount: Decimal = Field(gt=0, max_digits=15)


class PaymentPlanIn(In):
    instalments: list[InstalmentIn] = Field(min_length=1, max_length=120, description="in due-date order")
    currency: str | None = Field(default=None, min_length=3, max_length=3, description="must be the case's if given")


class PaymentPlan(BaseModel):
    plan_id: str
    case_id: str
    currency: str
    instalments: list[Instalment]


class CaseClosingIn(In):
    reason: CloseReason


class CaseClosingOut(BaseModel):
    case: Case
    closing_message: str | None = Field(
        default=None,
        description="the id of the closing message request: the closing e-mail the client's settings ask for, or "
        "(recalled or uncollectable) the notice that efforts ended to a debtor who asked us to cease communication",
    )
    closing_message_status: str | None = Field(default=None, description="requested | deferred | refused")


CeaseNotice = Literal["efforts_ended", "remedies_may_be_used", "remedy_intended"]


class CeaseNoticeIn(In):
    """POST /cases/{id}/cease-notices: one of the three messages still allowed after "cease communication"."""

    notice: CeaseNotice = Field(
        description="efforts_ended: we stop collecting; remedies_may_be_used: we or the client may use the remedies "
        "the law provides; remedy_intended: we or the client intend to use the named remedy"
    )
    channel: Literal["letter", "email"] = Field(default="letter", description="a written notice")
    contact_point_id: str | None = Field(default=None, max_length=64, description="default of its type if absent")
    remedy: str | None = Field(
        default=None,
        min_length=3,
        max_length=300,
        description='remedy_intended only (required there): the remedy, as it completes "we intend to …"',
    )


class CaseMessage(BaseModel):
    """One message to the debtor about the case, as notifications reported it."""

    message_id: str
    case_id: str
    kind: str | None = None
    channel: str
    recipient: str | None = None
    contact_point_id: str | None = None
    template: str | None = Field(default=None, description="the template used, e.g. de/payment_plan_reminder")
    language: str | None = None
    cause_event_id: str | None = None
    provider_message_id: str | None = None
    status: str | None = Field(default=None, description="sent | queued | delivered | bounced | complained | failed")
    outcome: str | None = None
    opt_out: str | None = None
    segments: int | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None


# ---- the match review queue ------------------------------------------------------------------------------

ReviewStatus = Literal["pending", "accepted", "rejected"]


class ReviewedCaseOwner(BaseModel):
    """One side of a reviewed pair as it is now: the case owner, its cases and its contact points (invalid ones
    too: a person comparing two files wants to see everything). None while contacts has not stored it yet."""

    case_owner: CaseOwner
    cases: list[Case]
    contact_points: list[ContactPoint]


class MatchReview(BaseModel):
    """An uncertain pair from an import: the row's case owner may be the candidate (an earlier case owner)."""

    review_id: str
    client_id: str
    import_id: str
    row: int = Field(description="the row of the import file that made the case owner")
    status: ReviewStatus
    case_owner_id: str = Field(description="the row's own case owner; merged into the candidate when accepted")
    candidate_case_owner_id: str = Field(description="the earlier case owner it may be; it survives a merge")
    score: float = Field(description="the summed Fellegi–Sunter match weight (log2 m/u) of the pair")
    auto_score: float = Field(description="the threshold: from this score imports merges without review")
    comparisons: dict[str, str] = Field(description="field → agreement level, e.g. family: close")
    requested_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    reason: str | None = None
    case_owner: ReviewedCaseOwner | None = None
    candidate: ReviewedCaseOwner | None = None
