"""The contacts API's OpenAPI document, generated from the routes and their pydantic models.

Every route is declared and routed by one decorator, ``@route(app_or_blueprint, path, method, summary=..., ...)``;
``document(app)`` builds the OpenAPI 3.1 document from those declarations and the Chalice app's route table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeVar

from chalice import Blueprint, Chalice
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from services.contacts.pagination import MAX_LIMIT
from shared.api import ErrorResponse

TITLE = "FinView contacts API"
VERSION = "1.0.0"


# The errors of a route that changes something another request may have changed first (409 on a conflict).
CHANGE_ERRORS = (400, 401, 403, 404, 409, 422)


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    summary: str
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    query: dict[str, str] = field(default_factory=dict)  # name → description
    errors: tuple[int, ...] = (400, 401, 403, 404, 422)
    auth: bool = True  # False: callable without a bearer token (the document itself)


OPERATIONS: dict[tuple[str, str], Operation] = {}
View = TypeVar("View", bound=Callable[..., Any])


def operation(
    path: str,
    method: str,
    *,
    summary: str,
    request: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    query: dict[str, str] | None = None,
    errors: tuple[int, ...] = (400, 401, 403, 404, 422),
    auth: bool = True,
) -> None:
    """Record one route's contract (``route`` calls it; the document reads it). Every route that writes may answer
    409 ``concurrent_change`` (``shared.api.from_cancelled``)."""
    if method.upper() != "GET" and 409 not in errors:
        errors = (*errors, 409)
    op = Operation(path, method.upper(), summary, request, response, status, dict(query or {}), errors, auth)
    OPERATIONS[(path, op.method)] = op


def route(
    target: Chalice | Blueprint,
    path: str,
    method: str,
    *,
    summary: str,
    request: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    query: dict[str, str] | None = None,
    errors: tuple[int, ...] = (400, 401, 403, 404, 422),
    auth: bool = True,
) -> Callable[[View], View]:
    """Declare one operation's contract and route ``method path`` of ``target`` to the decorated view.

    The view's name is the operation's ``operationId``.
    """

    def register(view: View) -> View:
        operation(
            path,
            method,
            summary=summary,
            request=request,
            response=response,
            status=status,
            query=query,
            errors=errors,
            auth=auth,
        )
        target.route(path, methods=[method.upper()])(view)
        return view

    return register


def declared(path: str, method: str) -> Operation | None:
    return OPERATIONS.get((path, method.upper()))


def routes_of(app: Any) -> list[tuple[str, str, str]]:
    """(path, method, view name) of every route of a Chalice app, blueprints included."""
    return sorted(
        (path, method, entry.view_name) for path, methods in app.routes.items() for method, entry in methods.items()
    )


def document(app: Any) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app``: its routes, described by their ``operation`` declarations.

    A route nobody declared still appears (with ``x-undeclared: true``) so the document never hides a route;
    the contract test fails on it.
    """
    routes = routes_of(app)
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorResponse, "serialization")]
    for path, method, _ in routes:
        op = declared(path, method)
        if op and op.request:
            wanted.append((op.request, "validation"))
        if op and op.response:
            wanted.append((op.response, "serialization"))
    refs, schemas = models_json_schema(list(dict.fromkeys(wanted)), ref_template="#/components/schemas/{model}")

    paths: dict[str, dict[str, Any]] = {}
    for path, method, view_name in routes:
        paths.setdefault(path, {})[method.lower()] = _operation(path, method, view_name, refs)
    error_ref = refs[(ErrorResponse, "serialization")]
    statuses = sorted({s for op in OPERATIONS.values() for s in op.errors} | {400, 401, 403, 404, 413, 422})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "Clients, business units, client users and settings, case owners, cases and contact "
            'points. Errors are {"error": {"code", "message", "field"}} with a 4xx status.',
        },
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "responses": {
                _error_name(s): {
                    "description": HTTPStatus(s).phrase,
                    "content": {"application/json": {"schema": error_ref}},
                }
                for s in statuses
            },
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{"bearerAuth": []}],
    }


def _error_name(status: int) -> str:
    return "Error" + HTTPStatus(status).phrase.title().replace(" ", "").replace("-", "")


def _operation(path: str, method: str, view_name: str, refs: dict[Any, Any]) -> dict[str, Any]:
    op = declared(path, method)
    parameters: list[dict[str, Any]] = [
        {"name": part[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
        for part in path.split("/")
        if part.startswith("{") and part.endswith("}")
    ]
    tag = path.strip("/").split("/")[0] or "root"
    if op is None:
        return {
            "operationId": view_name,
            "summary": "(not declared with operation())",
            "tags": [tag],
            "parameters": parameters,
            "responses": {"default": {"description": "undocumented"}},
            "x-undeclared": True,
        }
    for name, description in op.query.items():
        schema: dict[str, Any] = {"type": "string"}
        if name == "limit":
            schema = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}
        parameters.append(
            {"name": name, "in": "query", "required": False, "description": description, "schema": schema}
        )
    success: dict[str, Any] = {"description": HTTPStatus(op.status).phrase}
    if op.response is not None:
        success["content"] = {"application/json": {"schema": refs[(op.response, "serialization")]}}
    responses: dict[str, Any] = {str(op.status): success}
    errors = set(op.errors) | ({401} if op.auth else set()) | ({400, 413} if op.request else set())
    for status in sorted(errors):
        responses[str(status)] = {"$ref": f"#/components/responses/{_error_name(status)}"}
    out: dict[str, Any] = {
        "operationId": view_name,
        "summary": op.summary,
        "tags": [tag],
        "parameters": parameters,
        "responses": responses,
    }
    if op.request is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(op.request, "validation")]}},
        }
    if not op.auth:
        out["security"] = []
    return out
