"""HTTP plumbing for the contacts API: bodies into models, errors into the error contract, identities."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from chalice import Response
from chalice.app import Request
from pydantic import BaseModel, ValidationError

from services.contacts.identity import Identity, from_request_context
from shared.api import ApiError, from_validation_error
from shared.events import new_id
from shared.observability import logger

M = TypeVar("M", bound=BaseModel)
JSON_HEADERS: dict[str, str | list[str]] = {"Content-Type": "application/json"}


class Call:
    """One API call: the request, who makes it and its correlation id."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.identity: Identity = from_request_context(request.context or {})
        headers: dict[str, str] = {k.lower(): v for k, v in (request.headers or {}).items()}
        self.correlation_id: str = (
            headers.get("x-correlation-id") or (request.context or {}).get("requestId") or new_id()
        )
        logger("contacts").set_correlation_id(self.correlation_id)

    def body(self, model: type[M]) -> M:
        raw = self.request.raw_body
        if not raw:
            raise ApiError("missing_body", "the request needs a JSON body")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError("invalid_json", f"the body is not valid JSON: {exc}") from exc
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise from_validation_error(exc) from exc

    def flag(self, name: str) -> bool:
        params: Any = self.request.query_params or {}
        value = params.get(name, "false").lower()
        if value not in ("true", "false", "1", "0"):
            raise ApiError("invalid_query", f"{name} must be true or false", field=name)
        return value in ("true", "1")


def respond(request: Request | None, action: Callable[[Call], Any], status: int = 200) -> Response:
    """Run ``action`` and turn its result (a model) or its ApiError into an API Gateway response."""
    assert request is not None, "Chalice sets current_request for every route"
    try:
        result = action(Call(request))
    except ApiError as exc:
        return Response(body=json.dumps(exc.body()), status_code=exc.status, headers=JSON_HEADERS)
    if isinstance(result, BaseModel):
        body = result.model_dump_json()
    else:
        body = json.dumps(result, default=str)
    return Response(body=body, status_code=status, headers=JSON_HEADERS)
