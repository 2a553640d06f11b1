"""Contacts rules, free of AWS: identities of contact points, merging what imports and enrichment propose."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from shared.events import ContactPointData

NAMESPACE = uuid.UUID("6f1c3c1e-5d0a-4c4b-9a55-0f1b7a2f7c10")
Source = Literal["import", "enrichment", "manual"]


def normalised_value(point: ContactPointData) -> str:
    """The value two contact points of one type share when they are the same point."""
    if point.type == "email":
        return point.value.strip().lower()
    if point.type == "phone":
        return "".join(ch for ch in point.value if ch.isdigit() or ch == "+")
    return " ".join(point.value.casefold().split())


def contact_point_id(case_owner_id: str, point: ContactPointData) -> str:
    """Deterministic: the same value proposed twice (re-delivery, re-import) is the same contact point."""
    return str(uuid.uuid5(NAMESPACE, f"{case_owner_id}|{point.type}|{normalised_value(point)}"))


@dataclass(frozen=True)
class NewContactPoint:
    contact_point_id: str
    data: ContactPointData
    source: Source


def points_to_add(
    case_owner_id: str, proposed: list[ContactPointData], existing_ids: set[str], source: Source
) -> list[NewContactPoint]:
    """Proposed points that the case owner does not have yet, each once.

    An existing point is never touched: a validated or default point keeps its state, whatever a later import
    or enrichment result says about the same value. New points start valid and pending.
    """
    seen = set(existing_ids)
    out: list[NewContactPoint] = []
    for point in proposed:
        cp_id = contact_point_id(case_owner_id, point)
        if cp_id in seen:
            continue
        seen.add(cp_id)
        out.append(NewContactPoint(cp_id, point, source))
    return out
