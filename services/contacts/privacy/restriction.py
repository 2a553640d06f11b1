"""What a restriction (GDPR Art. 18) or an objection (Art. 21) does to a case owner besides refusing contacts.

Both are holds of the contact policy (``rules.HOLD_EFFECTS`` decides what still goes out). Beyond the gate:
- a restriction hides the person: the profile carries ``restricted_since``, every case leaves the client's case
  list (its GSI1 keys removed, ``restricted`` set) and client users no longer see the file (Recital 67: "making the
  selected personal data unavailable to users"); the agency still does, to answer the debtor and lift it;
- both stop skip tracing: the contacts snapshot (CaseOwnerContactsChanged) says ``processing_restricted`` and
  enrichment takes the cases out of its due index. Enrichment learns it from that event, in the outbox of the
  same transaction as the hold, so it cannot miss it.
Ending the hold undoes exactly this, in one transaction too.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from services.contacts.cases import enrichment, repository
from services.contacts.cases.repository import Tx
from services.contacts.policy import rules

FLAG = {"restriction": "restricted_since", "objection": "objected_since"}


def case_list_keys(case: dict[str, Any]) -> dict[str, str]:
    """The GSI1 keys that put a case in its client's case list (repository.case_writes)."""
    return {
        "GSI1PK": f"CLIENT#{case['client_id']}#CASES",
        "GSI1SK": f"{case['opened_on']}#{case['case_id']}",
    }


def _cases(case_owner_id: str) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in repository.owner_cases(case_owner_id)]


def _snapshot(tx: Tx, case_owner_id: str, correlation_id: str, restricted: bool) -> None:
    event = enrichment.contacts_changed(case_owner_id, correlation_id)
    if event is not None:
        tx.events([event.model_copy(update={"processing_restricted": restricted})])


def start(tx: Tx, case_owner_id: str, hold: rules.Hold, at: datetime, correlation_id: str) -> None:
    """Add to ``tx``: the profile flag, the hidden cases (restriction only) and the snapshot for enrichment."""
    flag = FLAG[hold.kind]
    tx.update(
        repository.owner_key(case_owner_id, "PROFILE"),
        {flag: at.isoformat(), f"{flag.removesuffix('_since')}_hold_id": hold.hold_id},
        condition="attribute_exists(PK) AND attribute_not_exists(#flag)",
        names={"#flag": flag},
    )
    if hold.kind == "restriction":
        for case in _cases(case_owner_id):
            tx.update(
                repository.owner_key(case_owner_id, f"CASE#{case['case_id']}"),
                {"restricted": True},
                remove=("GSI1PK", "GSI1SK"),
            )
    _snapshot(tx, case_owner_id, correlation_id, restricted=True)


def end(tx: Tx, case_owner_id: str, hold: rules.Hold, still_active: Collection[str], correlation_id: str) -> None:
    """Add to ``tx`` the undoing of ``start``; ``still_active``: the other data-protection holds that remain."""
    flag = FLAG[hold.kind]
    tx.update(
        repository.owner_key(case_owner_id, "PROFILE"),
        {flag: None, f"{flag.removesuffix('_since')}_hold_id": None},
        condition="attribute_exists(PK) AND #hold = :hold",
        names={"#hold": f"{flag.removesuffix('_since')}_hold_id"},
        values={":hold": hold.hold_id},
    )
    if hold.kind == "restriction":
        for case in _cases(case_owner_id):
            tx.update(
                repository.owner_key(case_owner_id, f"CASE#{case['case_id']}"),
                {**case_list_keys(case), "restricted": None},
            )
    _snapshot(tx, case_owner_id, correlation_id, restricted=bool(still_active))
