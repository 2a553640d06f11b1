"""The API's error contract: ``{"error": {"code", "message", "field"}}`` with a 4xx status.

``ApiError`` is raised by the API edge itself (a body that is not JSON, a bad query parameter, no identity);
the domain's errors (``shared.errors``) are mapped to their status here, in ``STATUS``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from shared.dynamo import TransactionCancelled
from shared.errors import Conflict, DomainError, Forbidden, Invalid, NotFound


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    status = 400

    def __init__(self, code: str, message: str, field: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field
        if status is not None:
            self.status = status
        self.details: dict[str, Any] = {}

    def body(self) -> dict[str, Any]:
        body = ErrorResponse(error=ErrorBody(code=self.code, message=self.message, field=self.field)).model_dump()
        body["error"].update(self.details)
        return body


# The one place a domain error gets its HTTP status.
STATUS: dict[type[DomainError], int] = {Invalid: 422, Conflict: 409, NotFound: 404, Forbidden: 403}


def from_domain_error(exc: DomainError) -> ApiError:
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
    error = ApiError(exc.code, exc.message, exc.field, status=status)
    error.details = dict(exc.details)
    return error


def from_cancelled(exc: TransactionCancelled) -> ApiError:
    """A write cancelled because another request changed the same items at the same moment, which the use case did
    not retry itself (a use case with a read-decide loop re-reads and retries; one that only adds, such as a note, has
    nothing to re-read). Nothing was written: the caller may send the request again."""
    return ApiError(
        "concurrent_change",
        "another request changed the same data at the same moment; nothing was written, retry",
        status=409,
    )


def from_validation_error(exc: ValidationError) -> ApiError:
    """The first pydantic error as an API error naming the field (dotted path)."""
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or None
    return ApiError(
        "invalid_" + str(first.get("type", "value")).replace(".", "_"), first.get("msg", "invalid"), field, status=422
    )
