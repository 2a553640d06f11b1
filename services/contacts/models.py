"""Models both sides of contacts share: the strict request-body base and the page of a list route."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class In(BaseModel):
    """A request body: unknown fields are refused (a typo must not be silently dropped). Its texts arrive without
    invisible characters (``http.Call.body`` removes them before validation, so length limits count what people
    see) and are stripped of surrounding whitespace."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_token: str | None = Field(default=None, description="pass it back as ?next_token= for the next page")
