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


def decode(token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError) as exc:
        raise ApiError("invalid_next_token", "next_token is not a token this API returned", "next_token") from exc
    if not isinstance(value, dict):
        raise ApiError("invalid_next_token", "next_token is not a token this API returned", "next_token")
    return value


def limit(raw: str | None, default: int = 50) -> int:
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError("invalid_limit", f"limit must be a whole number from 1 to {MAX_LIMIT}", "limit")
    return int(raw)
