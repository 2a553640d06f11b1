"""Request and response bodies of a data subject's requests."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from services.contacts.models import In
from shared.errors import Invalid
from shared.redaction import personal_data_in


class DataExportIn(In):
    reason: str | None = Field(
        default=None, max_length=2000, description="e.g. 'Art. 15 request, letter of 20.11.'; no e-mails or phones"
    )
    received_on: date | None = Field(default=None, description="when the debtor's request arrived (the month starts)")


def refuse_personal_data(text: str | None, field: str) -> None:
    """Text the agency types about a request is kept with it, an erasure's reason even after the person is gone:
    it may not hold their e-mail address or phone number. Refused rather than redacted, so the agency rewrites it
    in its own words and nothing is altered silently."""
    found = personal_data_in(text) if text else []
    if found:
        raise Invalid(
            "personal_data_in_text",
            f"{field} must not hold personal data ({' and '.join(found)}): it is kept after the person is erased; "
            "refer to the letter or the file instead",
            field,
        )


class ServiceProgress(BaseModel):
    answered: bool
    parts_received: int
    parts: int | None = Field(description="how many parts the service's answer has; None until the first arrives")
    counts: dict[str, int] = Field(description="records per kind in the service's answer")


class DataRequestOut(BaseModel):
    request_id: str
    kind: str = Field(description="access")
    case_owner_id: str
    status: str = Field(description="collecting | ready | expired")
    requested_by: str
    requested_at: datetime
    reason: str | None = None
    received_on: date | None = None
    answer_due_on: date | None = Field(default=None, description="one month after receipt (GDPR Art. 12(3))")
    progress: dict[str, ServiceProgress]
    download_url: str | None = Field(default=None, description="presigned, until link_expires_at")
    link_expires_at: datetime | None = None


class ErasureIn(In):
    reason: str = Field(
        min_length=1,
        max_length=2000,
        description="why: e.g. 'Art. 17 request, letter of 20.11.'; no e-mail addresses or phone numbers",
    )
    received_on: date | None = Field(default=None, description="when the debtor's request arrived")


class ErasureOut(BaseModel):
    request_id: str
    kind: str = Field(description="erasure")
    case_owner_id: str
    status: str = Field(description="waiting (restricted until earliest_erasure) | erasing | erased")
    requested_by: str
    requested_at: datetime
    received_on: date
    reason: str
    retention_years: int
    retention_law: str = Field(description="the law (or the client's setting) that keeps the records until then")
    earliest_erasure: date | None = Field(
        default=None, description="the first day the job may erase; None while a case is open"
    )
    erasing_since: datetime | None = None
    erased_at: datetime | None = None
    answers: dict[str, dict[str, int]] = Field(default_factory=dict, description="what each service erased")


class Art14Notice(BaseModel):
    case_owner_id: str
    case_id: str | None = None
    contact_point_id: str
    type: str
    provider: str
    obtained_at: datetime
    notice_due_on: date = Field(description="one month after obtaining it, or the first contact if sooner")
    first_contact_at: datetime | None = Field(default=None, description="a message reached the person meanwhile")
    overdue: bool


class Art14Report(BaseModel):
    """The people whose traced data still needs the GDPR Art. 14 notice."""

    client_id: str
    as_of: date
    notices: list[Art14Notice]


class Art14GivenIn(In):
    evidence: str = Field(min_length=1, max_length=2000, description="how: e.g. 'paragraph in the letter of 02.12.'")
    given_on: date


class Art14Given(BaseModel):
    case_owner_id: str
    notices_cleared: int
    given_on: date
