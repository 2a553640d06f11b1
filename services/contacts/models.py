"""The contacts API's models, in and out (pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from shared.events import PostalAddress

Qualification = Literal["pending", "validated"]
T = TypeVar("T")


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NewClient(In):
    legal_name: str = Field(min_length=1, max_length=200)
    registration_number: str | None = Field(default=None, max_length=64)
    address: PostalAddress | None = None
    business_unit_id: str = Field(default="default", max_length=64)


class Client(BaseModel):
    client_id: str
    legal_name: str
    registration_number: str | None = None
    address: PostalAddress | None = None
    business_unit_id: str
    created_at: datetime


class NewClientUser(In):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    email: EmailStr
    phone: str | None = Field(default=None, max_length=40)
    phone_country: str | None = Field(default=None, min_length=2, max_length=2)
    commercial: bool = False
    operational: bool = False
    platform_access: bool = True
    portfolios: list[str] = Field(default_factory=list)


class ClientUser(BaseModel):
    user_id: str
    client_id: str
    first_name: str
    last_name: str
    email: str
    phone: str | None = None
    commercial: bool
    operational: bool
    employee: bool
    platform_access: bool
    portfolios: list[str]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_token: str | None = None


class EnrichmentSettings(In):
    granted: bool = False
    interval_days: int = Field(default=30, ge=1, le=3650)
    attempts: int = Field(default=1, ge=0, le=20)


class ImportSettings(In):
    new_file_per_invoice: bool = False
    match_on_client_case_number: bool = False


class ClientSettings(In):
    enrichment: EnrichmentSettings = Field(default_factory=EnrichmentSettings)
    imports: ImportSettings = Field(default_factory=ImportSettings)
