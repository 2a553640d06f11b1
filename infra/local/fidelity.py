"""Where moto's server behaves less like AWS than our code relies on, and the local stack corrects it.

moto (5.x) serves requests on threads without a lock around DynamoDB: a transaction checks and writes its items
one by one and restores a deep-copied snapshot when cancelled, so two concurrent transactions can both pass
their conditions, and a cancelled one can undo another's committed write. DynamoDB's transactions are
serializable. The local stack therefore runs moto's DynamoDB operations one at a time; our own concurrency
(threads, read-then-conditional-write races, retries) stays real.
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
