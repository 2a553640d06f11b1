"""HTTP plumbing for the contacts API: bodies into models, errors into the error contract, identities."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from chalice import Response
from chalice.app import Request
from pydantic import BaseModel, ValidationError

from services.contacts import pagination
from services.contacts.identity import Identity, from_request_context
from shared.api import ApiError, from_domain_error, from_validation_error
from shared.errors import DomainError, Forbidden, NotFound
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

    def query(self, name: str) -> str | None:
        params: Any = self.request.query_params or {}
        value = params.get(name)
        return str(value) if value is not None else None

    def page(self) -> tuple[int, str | None]:
        """The ``limit`` and ``next_token`` query parameters of a list route."""
        return pagination.limit(self.query("limit")), self.query("next_token")

    def flag(self, name: str) -> bool:
        params: Any = self.request.query_params or {}
        value = params.get(name, "false").lower()
        if value not in ("true", "false", "1", "0"):
            raise ApiError("invalid_query", f"{name} must be true or false", field=name)
        return value in ("true", "1")


def guard_client_path(call: Call) -> None:
    """Any route naming a client: a client user of another client gets 404 on reads, 403 on actions.

    Checked before the body is read, so the answer never depends on what was sent.
    """
    client_id = (call.request.uri_params or {}).get("client_id")
    if client_id is None or call.identity.may_see_client(client_id):
        return
    if call.request.method in ("GET", "HEAD"):
        raise NotFound("client", client_id)
    raise Forbidden("you may only act on your own client")


def respond(
    request: Request | None,
    action: Callable[[Call], Any],
    status: int = 200,
    *,
    allow: Callable[[Identity], None] | None = None,
) -> Response:
    """Run ``action`` and turn its result (a model) or its ApiError into an API Gateway response.

    ``allow`` (optional) checks the caller's rights before the body is parsed, so a caller without the right
    gets 403 whatever it sent.
    """
    assert request is not None, "Chalice sets current_request for every route"
    try:
        call = Call(request)
        guard_client_path(call)
        if allow is not None:
            allow(call.identity)
        result = action(call)
    except (ApiError, DomainError) as exc:
        error = exc if isinstance(exc, ApiError) else from_domain_error(exc)
        return Response(body=json.dumps(error.body()), status_code=error.status, headers=JSON_HEADERS)
    if isinstance(result, BaseModel):
        body = result.model_dump_json()
    else:
        body = json.dumps(result, default=str)
    return Response(body=body, status_code=status, headers=JSON_HEADERS)


def _snake(code: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(code))


def errors_in_contract(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """Chalice's own refusals (415 wrong media type, 405, …) answer in the API's error contract too."""
    response = get_response(request)
    body = response.body
    if isinstance(body, dict) and set(body) == {"Code", "Message"}:
        error = ApiError(_snake(str(body["Code"])), str(body["Message"]), status=response.status_code)
        response.body = json.dumps(error.body())
        response.headers = {**response.headers, **JSON_HEADERS}
    return response
