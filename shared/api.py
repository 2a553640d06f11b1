"""The API's error contract: ``{"error": {"code", "message", "field"}}`` with a 4xx status."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError


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

    def body(self) -> dict[str, Any]:
        return ErrorResponse(error=ErrorBody(code=self.code, message=self.message, field=self.field)).model_dump()


class NotFound(ApiError):
    status = 404

    def __init__(self, what: str, ident: str) -> None:
        super().__init__(f"{what}_not_found", f"{what.replace('_', ' ')} {ident!r} does not exist")


class Forbidden(ApiError):
    status = 403

    def __init__(self, message: str = "you may not do this") -> None:
        super().__init__("forbidden", message)


class Conflict(ApiError):
    status = 409


def from_validation_error(exc: ValidationError) -> ApiError:
    """The first pydantic error as an API error naming the field (dotted path)."""
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or None
    return ApiError(
        "invalid_" + str(first.get("type", "value")).replace(".", "_"), first.get("msg", "invalid"), field, status=422
    )
