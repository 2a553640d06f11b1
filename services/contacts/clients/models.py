"""The contacts API's models, in and out (pydantic): business units, clients, client users, client settings.

``In`` models are request bodies: unknown fields are refused (a typo must not be silently dropped). The
cross-field rules (breathing space, portfolio overrides, column mapping) live in ``clients.domain`` so they can
name the exact field path in the error they raise.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, EmailStr, Field, StringConstraints, field_validator

from services.contacts.models import In
from shared.events import PostalAddress

Qualification = Literal["pending", "validated"]

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]  # ISO 639-1, e.g. "de", "fr", "en"
# A message kind, optionally with the language its text is in: "invitation", "closing_fully_paid.fr".
TemplateKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}(\.[a-z]{2})?$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]  # ISO 4217
Country = Annotated[  # ISO 3166-1 alpha-2, upper-cased before the check
    str,
    BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v),
    StringConstraints(pattern=r"^[A-Z]{2}$"),
]
DateFormat = Literal["auto", "DMY", "MDY", "YMD"]


# ---- business units ---------------------------------------------------------------------------------------


class CompanyInformation(In):
    legal_name: str = Field(min_length=1, max_length=200)
    registration_number: str | None = Field(default=None, max_length=64)
    vat_number: str | None = Field(default=None, max_length=32)
    address: PostalAddress | None = None
    supervisory_authority: str | None = Field(
        default=None, max_length=300, description="RDG §13a: the authority the agency is registered with"
    )


class EmailSettings(In):
    sender_email: EmailStr = Field(description="the From address of every e-mail (an identity verified in SES)")
    sender_name: str | None = Field(default=None, max_length=100)
    reply_to: EmailStr | None = None


class InvoiceSettings(In):
    currency: Currency = "EUR"
    payment_terms_days: int = Field(default=30, ge=0, le=365)
    vat_rate_percent: Decimal = Field(default=Decimal("19"), ge=0, le=100)
    invoice_number_prefix: str = Field(default="INV-", max_length=20)
    iban: str | None = Field(default=None, max_length=34)


class CommunicationTemplate(In):
    """Text with the kind's variables (``{{ debtor_name }}``, already formatted for the message's locale),
    ``{% if %}`` and a few text filters; see ``shared.message_templates``."""

    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20000, description="the text between our greeting and signature")


class BusinessUnitDefinition(In):
    """Everything a business unit defines; the body of PUT /business-units/{id}."""

    name: str = Field(min_length=1, max_length=100)
    company: CompanyInformation
    email: EmailSettings
    invoice: InvoiceSettings = Field(default_factory=InvoiceSettings)
    email_footers: dict[Language, Annotated[str, Field(max_length=5000)]] = Field(
        default_factory=dict, description="language → footer text"
    )
    communication_templates: dict[TemplateKey, CommunicationTemplate] = Field(
        default_factory=dict,
        description="the unit's own wording of a message, replacing our subject and body (never the greeting, "
        "signature, legal block, footer or opt-out): <kind> (in the unit's language) or <kind>.<language> "
        "(e.g. closing_fully_paid.fr) → template; checked when saved (422 naming what is wrong)",
    )
    language: Language | None = Field(
        default=None, description="the language of debtor messages when the case owner's is not known"
    )


class NewBusinessUnit(BusinessUnitDefinition):
    business_unit_id: Slug | None = Field(default=None, description="chosen id; generated when left out")


class BusinessUnit(BusinessUnitDefinition):
    business_unit_id: str
    created_at: datetime
    updated_at: datetime


class BusinessUnitOverrides(In):
    """What a client may set differently from its business unit; the rest is inherited as is."""

    reply_to: EmailStr | None = None
    email_footers: dict[Language, Annotated[str, Field(max_length=5000)]] = Field(
        default_factory=dict, description="language → footer text, replacing the business unit's for that language"
    )


class EffectiveBusinessUnit(BaseModel):
    """The business unit settings a client actually uses: its business unit's, with the client's overrides."""

    business_unit_id: str
    name: str
    company: CompanyInformation
    email: EmailSettings
    invoice: InvoiceSettings
    email_footers: dict[str, str]
    language: str | None = None
    communication_templates: dict[str, CommunicationTemplate]
    overridden: list[str] = Field(description="field paths whose value comes from the client, not the business unit")


# ---- clients ----------------------------------------------------------------------------------------------


class BillingAgreement(In):
    """Finances: what the agency charges the client."""

    commission_percent: Decimal = Field(ge=0, le=100, description="share of each collected amount")
    fee_per_case: Decimal = Field(default=Decimal("0"), ge=0)
    currency: Currency = "EUR"
    payment_terms_days: int = Field(default=30, ge=0, le=365)
    invoice_email: EmailStr | None = None
    signed_on: date | None = None


class Portfolio(In):
    """A portfolio (bucket) of the client's cases; workflow settings may be overridden per portfolio."""

    portfolio_id: Slug
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=1000)


class NewClient(In):
    legal_name: str = Field(min_length=1, max_length=200)
    registration_number: str | None = Field(default=None, max_length=64)
    address: PostalAddress | None = None
    business_unit_id: str = Field(default="default", min_length=1, max_length=64)
    finances: BillingAgreement | None = None
    portfolios: list[Portfolio] = Field(default_factory=list)
    business_unit_overrides: BusinessUnitOverrides = Field(default_factory=BusinessUnitOverrides)


class ClientChange(In):
    """PATCH /clients/{id}: only the fields sent change; null clears an optional field."""

    legal_name: str | None = Field(default=None, min_length=1, max_length=200)
    registration_number: str | None = Field(default=None, max_length=64)
    address: PostalAddress | None = None
    business_unit_id: str | None = Field(default=None, min_length=1, max_length=64)
    finances: BillingAgreement | None = None
    portfolios: list[Portfolio] | None = None
    business_unit_overrides: BusinessUnitOverrides | None = None

    @field_validator("portfolios", mode="before")
    @classmethod
    def _portfolios_not_null(cls, value: object) -> object:
        # null would otherwise remove every portfolio without the "still in use" check; [] removes them with it.
        if value is None:
            raise ValueError("portfolios may not be null: leave the field out to keep them, send [] to remove all")
        return value


class Client(BaseModel):
    client_id: str
    legal_name: str
    registration_number: str | None = None
    address: PostalAddress | None = None
    business_unit_id: str
    finances: BillingAgreement | None = None
    portfolios: list[Portfolio] = Field(default_factory=list)
    business_unit_overrides: BusinessUnitOverrides = Field(default_factory=BusinessUnitOverrides)
    created_at: datetime
    business_unit: EffectiveBusinessUnit | None = Field(
        default=None, description="the effective business unit settings (on single-client responses, not in lists)"
    )


# ---- client users -----------------------------------------------------------------------------------------


class Rights(In):
    commercial: bool = False
    operational: bool = False
    platform_access: bool = True
    portfolios: list[Slug] = Field(default_factory=list)


class NewClientUser(Rights):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    email: EmailStr
    phone: str | None = Field(default=None, max_length=40)
    phone_country: Country | None = Field(default=None, description="ISO alpha-2 of the dialling code, e.g. DE")
    language: Language | None = Field(
        default=None, description="the language of the user's e-mails; else the business unit's, else English"
    )


class ClientUserLink(Rights):
    """Link a person already on the platform (e.g. a user of another client): by ``user_id`` or ``email``."""

    user_id: str | None = Field(default=None, max_length=64)
    email: EmailStr | None = None


class ClientUserChange(In):
    """PATCH /clients/{id}/users/{user_id}: the rights sent change; ``language`` (the person's, so for every client
    the user belongs to) changes when sent, null clears it."""

    commercial: bool | None = None
    operational: bool | None = None
    platform_access: bool | None = None
    portfolios: list[Slug] | None = None
    language: Language | None = Field(
        default=None, description="the language of the user's e-mails; null: the business unit's, else English"
    )


class ClientUser(BaseModel):
    user_id: str
    client_id: str
    first_name: str
    last_name: str
    email: str
    phone: str | None = None
    commercial: bool
    operational: bool
    employee: bool = Field(description="neither commercial nor operational")
    platform_access: bool
    portfolios: list[str]
    language: str | None = Field(default=None, description="ISO 639-1: the language of the user's e-mails")


# ---- client settings --------------------------------------------------------------------------------------


class EnrichmentSettings(In):
    granted: bool = Field(default=False, description="only an agency administrator may grant or revoke it")
    interval_days: int = Field(default=30, ge=1, le=3650, description="case age before skip tracing starts")
    attempts: int = Field(default=1, ge=1, le=20, description="how many times enrichment runs; each one costs")
    monthly_budget: Decimal | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        decimal_places=2,
        description="most enrichment may cost per calendar month (EUR); no attempt is made beyond it; null: no cap",
    )


class ImportSettings(In):
    new_file_per_invoice: bool = False
    match_on_client_case_number: bool = False
    column_mapping: dict[str, Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=dict, description="our field name → the client's column header"
    )
    date_format: DateFormat = "auto"
    default_country: Country = "DE"


class WorkflowSettings(In):
    breathing_space_enabled: bool = False
    breathing_space_days: int | None = Field(
        default=None, ge=1, le=365, description="required when breathing space is enabled, refused otherwise"
    )
    payment_plan_reminder_days: int = Field(default=7, ge=0, le=90)
    max_phone_call_retries: int = Field(default=3, ge=0, le=20)


class WorkflowOverride(In):
    """A portfolio's workflow settings: every field left out (or null) falls back to the client's value."""

    breathing_space_enabled: bool | None = None
    breathing_space_days: int | None = Field(default=None, ge=1, le=365)
    payment_plan_reminder_days: int | None = Field(default=None, ge=0, le=90)
    max_phone_call_retries: int | None = Field(default=None, ge=0, le=20)


class ClientWorkflowSettings(WorkflowSettings):
    portfolio_overrides: dict[str, WorkflowOverride] = Field(
        default_factory=dict, description="portfolio id → the fields that differ from the client's workflow"
    )


class DebtorCommunicationSettings(In):
    closing_email_on_full_payment: bool = Field(default=False, description="e-mail the debtor: case fully paid")
    closing_email_on_settlement_paid: bool = Field(
        default=False, description="e-mail the debtor: case paid while in settlement mode"
    )
    max_sms_segments: int = Field(
        default=3, ge=1, le=10, description="an SMS needing more segments (each one charged) is not sent"
    )


class DataProtectionSettings(In):
    retention_years: int | None = Field(
        default=None,
        ge=1,
        le=30,
        description="years a closed case's records are kept before erasure; never shorter than the law of the "
        "client's country (services/contacts/privacy/retention.json)",
    )


class ClientSettings(In):
    enrichment: EnrichmentSettings = Field(default_factory=EnrichmentSettings)
    data_protection: DataProtectionSettings = Field(default_factory=DataProtectionSettings)
    imports: ImportSettings = Field(default_factory=ImportSettings)
    workflow: ClientWorkflowSettings = Field(default_factory=ClientWorkflowSettings)
    debtor_communication: DebtorCommunicationSettings = Field(default_factory=DebtorCommunicationSettings)


class EffectiveWorkflow(WorkflowSettings):
    """GET /clients/{id}/portfolios/{portfolio_id}/workflow: the settings that apply to that portfolio."""

    portfolio_id: str
    overridden: list[str] = Field(description="fields whose value comes from the portfolio override")


# ---- enrichment costs (read model of enrichment's settled ledger lines) ------------------------------------


class EnrichmentCostLine(BaseModel):
    case_id: str
    case_owner_id: str
    attempt: int
    provider: str
    outcome: Literal["found", "none", "several", "error"]
    candidates: int
    cost: Decimal
    currency: str
    booked_at: datetime
    settled_at: datetime


class EnrichmentCosts(BaseModel):
    """GET /clients/{id}/enrichment/costs?month=YYYY-MM: what skip tracing cost the client in that month."""

    client_id: str
    month: str
    currency: str = "EUR"
    total: Decimal
    attempts: int
    budget: Decimal | None = Field(description="the client's current monthly budget (null: no cap)")
    lines: list[EnrichmentCostLine]
