"""Request and response bodies of a data subject's requests."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from services.contacts.models import In


class DataExportIn(In):
    reason: str | None = Field(default=None, max_length=2000, description="e.g. 'Art. 15 request, letter of 20.11.'")
    received_on: date | None = Field(default=None, description="when the debtor's request arrived (the month starts)")


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
