"""The contacts API's models for case owners, cases and contact points (pydantic)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from shared.events import ContactPointType, PostalAddress

Qualification = Literal["pending", "validated"]


class ContactPoint(BaseModel):
    contact_point_id: str
    type: ContactPointType
    value: str
    address: PostalAddress | None = None
    valid: bool
    qualification: Qualification
    is_default: bool
    observation: str | None = None
    source: str
    created_at: datetime


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


class CaseOwner(BaseModel):
    case_owner_id: str
    client_id: str
    client_reference: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    birth_date: date | None = None


class CaseFile(BaseModel):
    """GET /cases/{id}: the case, its owner and the owner's contact points."""

    case: Case
    case_owner: CaseOwner
    contact_points: list[ContactPoint]
