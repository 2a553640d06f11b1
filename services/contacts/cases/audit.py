"""The audit trail: who changed what on a case owner's file, when, from what to what, and why.

An entry is an item ``OWNER#<id> / AUDIT#<at>#<audit_id>`` put in the SAME DynamoDB transaction as the change it
records, so there is never a change without its entry nor an entry for a change that did not happen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.contacts import store
from services.contacts.identity import Identity
from shared.events import new_id


@dataclass(frozen=True)
class Actor:
    """Who made a change: a person through the API, or a service consuming an event."""

    principal: str
    role: str

    @classmethod
    def of(cls, who: Identity) -> Actor:
        return cls(who.principal, who.role)

    @classmethod
    def system(cls, service: str) -> Actor:
        return cls(f"system:{service}", "system")


def entry(
    case_owner_id: str,
    actor: Actor,
    action: str,
    *,
    target_type: str,
    target_id: str,
    case_id: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    why: dict[str, Any] | None = None,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """The audit item (with its keys) for one change."""
    at = store.now()
    audit_id = new_id()
    return store.drop_none(
        {
            "PK": f"OWNER#{case_owner_id}",
            "SK": f"AUDIT#{at}#{audit_id}",
            "audit_id": audit_id,
            "case_owner_id": case_owner_id,
            "at": at,
            "actor": actor.principal,
            "actor_role": actor.role,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "case_id": case_id,
            "before": before,
            "after": after,
            "why": why,
            "correlation_id": correlation_id,
        }
    )


def one_entry(
    case_owner_id: str,
    actor: Actor,
    action: str,
    entries: list[dict[str, Any]],
    *,
    why: dict[str, Any] | None = None,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """One audit item for a change made of the parts ``entries`` would record one by one (a case owner's whole
    imported file: the owner, its cases, its contact points), written in the same transaction: each part in
    ``after["changes"]`` as its own entry would have it (action, target, case, after). One item per file instead
    of one per part; the erasure strips it like any other (its ``after`` and ``why``)."""
    changes = [
        store.drop_none(
            {
                "action": e["action"],
                "target_type": e["target_type"],
                "target_id": e["target_id"],
                "case_id": e.get("case_id"),
                "after": e.get("after"),
            }
        )
        for e in entries
    ]
    case_ids = {str(e["case_id"]) for e in entries if e.get("case_id")}
    return entry(
        case_owner_id,
        actor,
        action,
        target_type="case_owner",
        target_id=case_owner_id,
        case_id=next(iter(case_ids)) if len(case_ids) == 1 else None,
        after={"changes": changes},
        why=why,
        correlation_id=correlation_id,
    )
