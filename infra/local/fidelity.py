"""Where moto's server behaves less like AWS than our code relies on, and the local stack corrects it.

moto (5.x) serves requests on threads without a lock around DynamoDB: a transaction checks and writes its items
one by one and restores a deep-copied snapshot when cancelled, so two concurrent transactions can both pass
their conditions, and a cancelled one can undo another's committed write. DynamoDB's transactions are
serializable. The local stack therefore runs moto's DynamoDB operations one at a time; our own concurrency
(threads, read-then-conditional-write races, retries) stays real.

Chalice keeps the request being handled on the app object, which is right in Lambda (one request per instance
at a time) but lets requests served on several threads of one process read each other's. The local stack serves
concurrent requests as concurrent Lambda instances would: each thread gets its own ``current_request``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_OPERATIONS = (
    "put_item",
    "update_item",
    "delete_item",
    "get_item",
    "query",
    "scan",
    "batch_get_item",
    "batch_write_item",
    "transact_get_items",
    "transact_write_items",
)
_lock = threading.RLock()
_installed = False


def serialise_dynamodb() -> None:
    """Install once per process; idempotent."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.dynamodb.models import DynamoDBBackend

        def serialised(fn: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                with _lock:
                    return fn(*args, **kwargs)

            return wrapper

        for name in _OPERATIONS:
            setattr(DynamoDBBackend, name, serialised(getattr(DynamoDBBackend, name)))
        _installed = True


_requests_installed = False


def isolate_chalice_requests() -> None:
    """Make ``Chalice.current_request`` thread-local, once per process; idempotent."""
    global _requests_installed
    with _lock:
        if _requests_installed:
            return
        from chalice import Chalice

        local = threading.local()

        def get(self: Chalice) -> Any:
            return getattr(local, "request", None)

        def put(self: Chalice, request: Any) -> None:
            local.request = request

        Chalice.current_request = property(get, put)  # type: ignore[assignment,method-assign]
        _requests_installed = True


def install() -> None:
    serialise_dynamodb()
    isolate_chalice_requests()
