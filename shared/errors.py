"""Domain errors: what a rule or a use case refuses, with a machine-readable code and the field at fault.

They carry no HTTP status: the API edge maps each kind to one (``shared.api.STATUS``), in one place.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal; ``code`` is stable for clients, ``field`` the dotted path of the input at fault (if any)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field
        # More machine-readable facts about the refusal, added to the error body (e.g. ``next_allowed_at``).
        self.details: dict[str, Any] = {}


class Invalid(DomainError):
    """The input breaks a rule (a value, or values together)."""


class Conflict(DomainError):
    """The current state forbids the change (already done, still in use, changed meanwhile)."""


class NotFound(DomainError):
    def __init__(self, what: str, ident: str) -> None:
        super().__init__(f"{what}_not_found", f"{what.replace('_', ' ')} {ident!r} does not exist")


class Forbidden(DomainError):
    def __init__(self, message: str = "you may not do this") -> None:
        super().__init__("forbidden", message)
