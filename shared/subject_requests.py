"""A data subject's requests, the part every service shares: cutting a service's section into bus-sized parts
with ids derived from the request, so a redelivered request publishes the very same events (the consumers'
idempotency absorbs them).

Each service answers for its own data only (no service reads another's table): contacts publishes
``SubjectAccessRequested``; imports, enrichment and notifications each reply with their ``…Completed``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from shared.events import (
    EnrichmentSubjectAccessCompleted,
    ImportsSubjectAccessCompleted,
    NotificationsSubjectAccessCompleted,
    SubjectAccessCompleted,
    SubjectAccessRequested,
)

Answer = (
    type[ImportsSubjectAccessCompleted]
    | type[EnrichmentSubjectAccessCompleted]
    | type[NotificationsSubjectAccessCompleted]
)

PART_BYTES = 180_000  # under EventBridge's 256 KB per entry with the envelope and the other fields
_NAMESPACE = uuid.UUID("0b6e3a52-34c7-4d7b-9a0e-6f3b1f7c2d10")


def plain(value: Any) -> Any:
    """A stored item as plain JSON: Decimals to int or str, sets to sorted lists, bytes dropped."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items() if not isinstance(v, bytes | bytearray)}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(plain(v) for v in value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    return value


def without_keys(item: Mapping[str, Any]) -> dict[str, Any]:
    """A record as the data subject reads it: the table's key attributes are ours, not theirs."""
    return {k: v for k, v in plain(item).items() if k not in {"PK", "SK", "GSI1PK", "GSI1SK"}}


def split(
    section: Mapping[str, list[dict[str, Any]]], limit: int = PART_BYTES
) -> list[dict[str, list[dict[str, Any]]]]:
    """The section in parts of at most ``limit`` bytes of JSON each (a single record larger than that is cut
    down to its first ``limit`` characters of JSON under ``_truncated``, never dropped silently)."""
    parts: list[dict[str, list[dict[str, Any]]]] = [{}]
    size = 0
    for kind, records in section.items():
        for record in records:
            text = json.dumps(record, default=str)
            if len(text) > limit:
                record, text = {"_truncated": text[: limit - 100]}, ""
                text = json.dumps(record)
            if size + len(text) > limit and size:
                parts.append({})
                size = 0
            parts[-1].setdefault(kind, []).append(record)
            size += len(text) + 2
    return parts


def answer(
    cls: Answer,
    request: SubjectAccessRequested,
    service: str,
    section: Mapping[str, list[dict[str, Any]]],
) -> list[SubjectAccessCompleted]:
    """``service``'s reply to ``request``: one event per part, ids derived from the request and the part."""
    counts = {kind: len(records) for kind, records in section.items()}
    parts = split({k: [plain(r) for r in v] for k, v in section.items()})
    return [
        cls(
            event_id=str(uuid.uuid5(_NAMESPACE, f"{request.request_id}|{service}|{n}")),
            correlation_id=request.correlation_id,
            request_id=request.request_id,
            case_owner_id=request.case_owner_id,
            service=service,
            part=n,
            parts=len(parts),
            counts=counts,
            section=part,
        )
        for n, part in enumerate(parts, start=1)
    ]
