"""Idempotency keys for API writes: a retried ``POST`` with the same ``Idempotency-Key`` replays the first answer.

The key is scoped to the caller and the route (two callers, or one key on two routes, never collide) and bound
to the body: the same key with another body is refused (422 ``idempotency_key_reused``) instead of silently
replaying an answer to a different request. While the first request still runs, a retry gets 409
``idempotency_in_progress``. Only successful answers are kept (24 h): a refused request changed nothing, so
running it again is safe. Records live in the service's own table (``shared.consumer``'s per-key layout) through
powertools' idempotency utility.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from shared import aws, expiry
from shared.api import ApiError
from shared.consumer import _persistence

HEADER = "idempotency-key"
TTL_SECONDS = int(expiry.CLASSES["api_idempotency"].total_seconds())
MAX_KEY_LENGTH = 255

Answer = tuple[int, str]  # status and JSON body


def scope(principal: str, method: str, path: str) -> str:
    return f"{principal}|{method.upper()}|{path}"


def outbox_cause(key_scope: str, key: str) -> str:
    """The outbox cause of a keyed request: a retry with the same key flushes what an earlier attempt left."""
    return "idem#" + hashlib.sha256(f"{key_scope}|{key}".encode()).hexdigest()


def check_key(key: str) -> str:
    if not key.strip() or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ApiError(
            "invalid_idempotency_key",
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters",
            "Idempotency-Key",
        )
    return key


def replay_or_run(
    service: str,
    table_name: str,
    key: str,
    key_scope: str,
    body: bytes,
    run: Callable[[], Answer],
    context: Any = None,
) -> Answer:
    """The stored answer of (``key_scope``, ``key``), or ``run()``'s answer, stored when it is a success."""
    request = {
        "key": f"{key_scope}|{check_key(key)}",
        "body_sha": hashlib.sha256(body or b"").hexdigest(),
    }
    config = IdempotencyConfig(
        event_key_jmespath="key", payload_validation_jmespath="body_sha", expires_after_seconds=TTL_SECONDS
    )
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        config.register_lambda_context(context)
    store = _persistence(table_name, service, aws.dynamodb_endpoint(), "api")
    failed: list[Answer] = []

    def once(request: dict[str, Any]) -> dict[str, Any]:
        status, text = run()
        if status >= 300:
            # Raising keeps powertools from storing it: the next attempt runs again.
            failed.append((status, text))
            raise _NotStored
        return {"status": status, "body": text}

    once.__name__ = once.__qualname__ = f"{service}.api"
    try:
        stored = idempotent_function(data_keyword_argument="request", config=config, persistence_store=store)(once)(
            request=request
        )
    except _NotStored:
        return failed[0]
    except IdempotencyValidationError:
        raise ApiError(
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request; use a new key for a new request",
            "Idempotency-Key",
            status=422,
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise ApiError(
            "idempotency_in_progress",
            "a request with this Idempotency-Key is still running; retry in a moment",
            "Idempotency-Key",
            status=409,
        ) from None
    return int(stored["status"]), str(stored["body"])


class _NotStored(Exception):
    pass
