"""The contacts API's OpenAPI document, generated from the routes and their pydantic models.

Every route module declares its operations with ``operation(...)`` next to the route; ``document(app)`` builds
the OpenAPI 3.1 document from those declarations and the Chalice app's route table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel


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


OPERATIONS: dict[tuple[str, str], Operation] = {}


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
) -> None:
    """Declare one route's contract (call it at import time, beside the route)."""
    op = Operation(path, method.upper(), summary, request, response, status, dict(query or {}), errors)
    OPERATIONS[(path, op.method)] = op
