"""Opaque pagination tokens: DynamoDB's LastEvaluatedKey, base64url-encoded JSON."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from shared.api import ApiError

MAX_LIMIT = 200


def encode(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, sort_keys=True, default=str).encode()).decode()


def decode(token: str | None, expect: dict[str, str] | None = None) -> dict[str, Any] | None:
    """The start key a token carries. ``expect`` names key values it must have (e.g. the partition queried),
    so a token of one list cannot be replayed on another (say, another client's users)."""
    if not token:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError) as exc:
        raise _invalid() from exc
    if not isinstance(value, dict) or any(value.get(k) != v for k, v in (expect or {}).items()):
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
