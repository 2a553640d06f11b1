"""Opaque pagination tokens: DynamoDB's LastEvaluatedKey, base64url-encoded JSON."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from shared.api import ApiError

MAX_LIMIT = 200
MAX_TOKEN_CHARS = 2048


def encode(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, sort_keys=True, default=str).encode()).decode()


TABLE_KEYS = frozenset({"PK", "SK"})
INDEX_KEYS = frozenset({"PK", "SK", "GSI1PK", "GSI1SK"})


def decode(
    token: str | None, expect: dict[str, str] | None = None, sk_prefix: str | None = None
) -> dict[str, Any] | None:
    """The start key a token carries. ``expect`` names key values it must have (e.g. the partition queried),
    so a token of one list cannot be replayed on another (say, another client's users); ``sk_prefix`` is the
    sort-key range the list reads. Anything else (another shape, a missing or foreign key attribute, a key outside
    the list's range) is refused with 400 ``invalid_next_token`` before DynamoDB sees it."""
    if not token:
        return None
    if len(token) > MAX_TOKEN_CHARS:
        raise _invalid()
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise _invalid() from exc
    expect = expect or {}
    shape = INDEX_KEYS if "GSI1PK" in expect else TABLE_KEYS
    if (
        not isinstance(value, dict)
        or set(value) != shape
        or not all(isinstance(v, str) and v for v in value.values())
        or any(value.get(k) != v for k, v in expect.items())
        or (sk_prefix is not None and not str(value["SK"]).startswith(sk_prefix))
    ):
        raise _invalid()
    return value


def _invalid() -> ApiError:
    return ApiError("invalid_next_token", "next_token is not a token this API returned for this list", "next_token")


def limit(raw: str | None, default: int = 50) -> int:
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError("invalid_limit", f"limit must be a whole number from 1 to {MAX_LIMIT}", "limit")
    return int(raw)
