"""DynamoDB access for the match review queue and for reading whole case-owner partitions (merges).

Keys (contacts table, see ``store``):
  CLIENT#<client_id>  REVIEW#<review_id>   one review: the pair, its score and levels, its status and decision
GSI1: CLIENT#<client_id>#REVIEWS#<status> / <requested_at>#<review_id> lists a client's reviews of one status,
      oldest first (the status moves the item from one list to the other in the same write as the decision).
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from services.contacts import store
from services.contacts.cases.repository import Tx, owner_key
from shared.events import MatchReviewRequested


def review_key(client_id: str, review_id: str) -> dict[str, str]:
    return {"PK": f"CLIENT#{client_id}", "SK": f"REVIEW#{review_id}"}


def status_index(client_id: str, status: str, requested_at: str, review_id: str) -> dict[str, str]:
    return {"GSI1PK": f"CLIENT#{client_id}#REVIEWS#{status}", "GSI1SK": f"{requested_at}#{review_id}"}


def put_requested(event: MatchReviewRequested) -> bool:
    """Store the review unless it exists: a redelivery (or a re-run of the import) never reopens a decided one."""
    requested_at = event.occurred_at.isoformat()
    item = {
        **review_key(event.client_id, event.review_id),
        **status_index(event.client_id, "pending", requested_at, event.review_id),
        "review_id": event.review_id,
        "client_id": event.client_id,
        "import_id": event.import_id,
        "row": event.row,
        "status": "pending",
        "case_owner_id": event.case_owner_id,
        "candidate_case_owner_id": event.candidate_case_owner_id,
        "score": str(event.score),
        "auto_score": str(event.auto_score),
        "comparisons": dict(event.comparisons),
        "requested_at": requested_at,
        "event_id": event.event_id,
        "correlation_id": event.correlation_id,
    }
    return store.put_new(item)


def get_review(client_id: str, review_id: str) -> dict[str, Any] | None:
    item = store.table().get_item(Key=review_key(client_id, review_id), ConsistentRead=True).get("Item")
    return dict(item) if item else None


def list_reviews(
    client_id: str, status: str, limit: int, start: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    kwargs: dict[str, Any] = {
        "IndexName": "GSI1",
        "KeyConditionExpression": Key("GSI1PK").eq(f"CLIENT#{client_id}#REVIEWS#{status}"),
        "Limit": limit,
    }
    if start:
        kwargs["ExclusiveStartKey"] = start
    resp = store.table().query(**kwargs)
    return [dict(i) for i in resp["Items"]], resp.get("LastEvaluatedKey")


def decide(tx: Tx, review: dict[str, Any], status: str, by: str, reason: str | None, *, accepting: bool) -> None:
    """The decision, only while the review is still pending (and, for a reject, no accept is under way)."""
    condition = "#status = :pending"
    if not accepting:
        condition += " AND attribute_not_exists(accepting_since)"
    decided_at = store.now()
    tx.update(
        review_key(str(review["client_id"]), str(review["review_id"])),
        {
            "status": status,
            "decided_at": decided_at,
            "decided_by": by,
            "reason": reason,
            **status_index(str(review["client_id"]), status, str(review["requested_at"]), str(review["review_id"])),
        },
        remove=("accepting_since",) if accepting else (),
        condition=condition,
        values={":pending": "pending"},
        names={"#status": "status"},
    )


def mark_accepting(review: dict[str, Any]) -> Tx:
    """A merge too big for one transaction: the review is held (a reject now waits) while its parts move."""
    return Tx().update(
        review_key(str(review["client_id"]), str(review["review_id"])),
        {"accepting_since": store.now()},
        condition="#status = :pending",
        values={":pending": "pending"},
        names={"#status": "status"},
    )


def owner_items(case_owner_id: str) -> list[dict[str, Any]]:
    """Every item of a case owner's partition but its audit trail and idempotency markers."""
    pk = Key("PK").eq(f"OWNER#{case_owner_id}")
    # Two key ranges around AUDIT# ('$' sorts right after '#'): the audit trail, however long, is never read.
    items = [
        *store.query_all(KeyConditionExpression=pk & Key("SK").lt("AUDIT#"), ConsistentRead=True),
        *store.query_all(KeyConditionExpression=pk & Key("SK").gte("AUDIT$"), ConsistentRead=True),
    ]
    return [dict(i) for i in items if not str(i["SK"]).startswith("PEVENT#")]


def profile_item(case_owner_id: str) -> dict[str, Any] | None:
    item = store.table().get_item(Key=owner_key(case_owner_id, "PROFILE"), ConsistentRead=True).get("Item")
    return dict(item) if item else None
