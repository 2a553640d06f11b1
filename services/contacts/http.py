"""HTTP plumbing for the contacts API: bodies into models, errors into the error contract, identities."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from chalice import Chalice, Response
from chalice.app import Request
from pydantic import BaseModel, ValidationError

from services.contacts import pagination, store
from services.contacts.identity import Identity, from_request_context
from shared import idempotency, observability, outbox
from shared.api import ApiError, from_cancelled, from_domain_error, from_validation_error
from shared.dynamo import TransactionCancelled
from shared.errors import DomainError, Forbidden, NotFound
from shared.events import ids_from, new_id
from shared.observability import logger
from shared.text import strip_invisible

M = TypeVar("M", bound=BaseModel)
JSON_HEADERS: dict[str, str | list[str]] = {"Content-Type": "application/json"}


MAX_BODY_BYTES = 256 * 1024  # the largest legitimate body (settings with templates) is a few KiB
MAX_NESTING = 32  # our deepest model nests 5 levels


def nesting_depth(raw: str | bytes) -> int:
    """How deep arrays and objects nest in a JSON text, counted before parsing (brackets inside strings skipped),
    so a hostile body cannot make the parser or the models recurse."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _visible(value: Any) -> tuple[Any, bool]:
    """A parsed JSON value with every string in it stripped of invisible characters; and whether any was."""
    if isinstance(value, str):
        text = strip_invisible(value)
        return text, text != value
    if isinstance(value, list):
        items = [_visible(v) for v in value]
        return [v for v, _ in items], any(c for _, c in items)
    if isinstance(value, dict):
        pairs = {k: _visible(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(c for _, c in pairs.values())
    return value, False


class Call:
    """One API call: the request, who makes it and its correlation id."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.identity: Identity = from_request_context(request.context or {})
        self.headers: dict[str, str] = {k.lower(): v for k, v in (request.headers or {}).items()}
        self.correlation_id: str = (
            self.headers.get("x-correlation-id") or (request.context or {}).get("requestId") or new_id()
        )
        logger("contacts").set_correlation_id(self.correlation_id)

    def body(self, model: type[M]) -> M:
        raw = self.request.raw_body
        if not raw:
            raise ApiError("missing_body", "the request needs a JSON body")
        if len(raw) > MAX_BODY_BYTES:
            raise ApiError("body_too_large", f"the body may not exceed {MAX_BODY_BYTES // 1024} KiB", status=413)
        if nesting_depth(raw) > MAX_NESTING:
            raise ApiError("too_deeply_nested", f"the body may not nest arrays and objects deeper than {MAX_NESTING}")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ApiError("invalid_json", f"the body is not valid JSON: {exc}") from exc
        visible, changed = _visible(data)
        if changed:  # length limits count what people see: the model reads the text without invisible characters
            raw = json.dumps(visible)
        try:
            # strict: JSON's own types only (no 0 for false, no "30" for 30); dates and decimals from strings
            return model.model_validate_json(raw, strict=True)
        except ValidationError as exc:
            raise from_validation_error(exc) from exc

    def sent_fields(self) -> set[str]:
        """The top-level fields of the JSON body, read without validating it (empty if it is not an object):
        for rights that depend on what is changed, checked before the body is validated."""
        raw = self.request.raw_body
        if not raw or len(raw) > MAX_BODY_BYTES or nesting_depth(raw) > MAX_NESTING:
            return set()
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return set()
        return set(data) if isinstance(data, dict) else set()

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
    gets 403 whatever it sent. A ``POST`` with an ``Idempotency-Key`` replays the first successful answer to the
    same key (``shared.idempotency``); its record ids and events derive from the key, so even a retry after a
    crash between the write and the answer creates nothing twice.
    """
    assert request is not None, "Chalice sets current_request for every route"
    try:
        call = Call(request)
        key = call.headers.get(idempotency.HEADER)
        if key is None or request.method != "POST":
            cause = str((request.context or {}).get("requestId") or new_id())
            answer = _answer(call, action, status, allow, cause, seeded=False)
        else:
            context = request.context or {}
            scope = idempotency.scope(
                call.identity.principal, request.method, str(context.get("path") or context.get("resourcePath"))
            )
            cause = idempotency.outbox_cause(scope, key)
            answer = idempotency.replay_or_run(
                "contacts",
                store.table_name(),
                key,
                scope,
                raw if isinstance(raw := request.raw_body or b"", bytes) else raw.encode(),
                lambda: _answer(call, action, status, allow, cause, seeded=True),
                getattr(request, "lambda_context", None),
            )
    except (ApiError, DomainError) as exc:
        answer = _error_answer(exc)
    return Response(body=answer[1], status_code=answer[0], headers=JSON_HEADERS)


def _answer(
    call: Call,
    action: Callable[[Call], Any],
    status: int,
    allow: Callable[[Identity], None] | None,
    cause: str,
    *,
    seeded: bool,
) -> idempotency.Answer:
    """The answer of one run of ``action``; its outbox rows belong to ``cause`` (flushed by the use cases)."""
    with outbox.cause(cause), ids_from(cause) if seeded else contextlib.nullcontext():
        try:
            guard_client_path(call)
            if allow is not None:
                allow(call.identity)
            result = action(call)
        except (ApiError, DomainError) as exc:
            return _error_answer(exc)
        except TransactionCancelled as exc:  # a 409, not a 500: see ``from_cancelled``
            return _error_answer(from_cancelled(exc))
    if isinstance(result, BaseModel):
        return status, result.model_dump_json()
    return status, json.dumps(result, default=str)


def _error_answer(exc: ApiError | DomainError) -> idempotency.Answer:
    error = exc if isinstance(exc, ApiError) else from_domain_error(exc)
    return error.status, json.dumps(error.body())


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


class RestApi(Chalice):
    """Chalice behind API Gateway's REST API, whose Lambda events have payload format 1.0 (what the template deploys,
    with the Cognito authorizer's ``authorizer.claims``).

    An HTTP API integration sends payload format 2.0, which Chalice cannot route: it answered a bare 500 "Unknown
    request". Such an event is refused with a clear error that names the fix.

    Chalice's own log (the traceback of a request it answers with a 500) goes where the service's lines go, redacted.
    """

    def __init__(self, app_name: str) -> None:
        super().__init__(app_name=app_name, configure_logs=False)
        observability.adopt(self.log, "contacts")

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        if isinstance(event, dict) and event.get("version") == "2.0" and "routeKey" in event:
            logger("contacts").error("refused an HTTP API (payload 2.0) event", extra={"route": event["routeKey"]})
            error = ApiError(
                "unsupported_payload_format",
                "this API runs behind an API Gateway REST API (payload format 1.0); an HTTP API integration "
                "(payload format 2.0) is not supported: deploy the REST API of the FinView template",
                status=501,
            )
            return {"statusCode": 501, "headers": dict(JSON_HEADERS), "body": json.dumps(error.body())}
        return super().__call__(event, context)  # type: ignore[no-any-return]
