"""Models both sides of contacts share: the strict request-body base and the page of a list route."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.text import strip_invisible

T = TypeVar("T")


class In(BaseModel):
    """A request body: unknown fields are refused (a typo must not be silently dropped); every text loses its
    invisible characters and surrounding whitespace before its length limits are checked (``shared.text``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _visible_text(cls, value: Any) -> Any:
        return _visible(value)


def _visible(value: Any) -> Any:
    """Strings anywhere in a JSON value (lists, maps of footers, nested objects) without invisible characters."""
    if isinstance(value, str):
        return strip_invisible(value)
    if isinstance(value, list):
        return [_visible(v) for v in value]
    if isinstance(value, dict):
        return {k: _visible(v) for k, v in value.items()}
    return value


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_token: str | None = Field(default=None, description="pass it back as ?next_token= for the next page")
