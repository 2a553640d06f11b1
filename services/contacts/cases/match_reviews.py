"""The match review queue, contacts' side: imports' uncertain pairs (``MatchReviewRequested``) are stored per client;
a person lists them with both case owners' files, and accepts (the two case owners are merged) or rejects each.

Accepting merges the row's case owner into the candidate (the earlier one, which survives): cases, contact points,
defaults and contact-policy facts move following ``merging``, each move in a conditional transaction with its
audit entry; the last transaction records the decision, turns the merged case owner into a tombstone
(``merged_into``), writes the audit entries on both and puts ``CaseOwnersMerged`` in the outbox (imports then sends
later rows to the survivor). A merge that fits one transaction (the usual few cases and points) is exactly one.

Rejecting records the decision. Imports never queues the same pair again: a review always pairs a case owner that
the row itself created with an earlier one, a re-run of the import carries the same review id (stored once: a
decided review stays decided), and a later row that is that same person matches the row's own case owner outright.
"""

from __future__ import annotations

import random
import time
from typing import Any, get_args

from services.contacts import pagination, store
from services.contacts.cases import audit, enrichment, merging, repository, review_repository
from services.contacts.cases.models import (
    Case,
    CaseOwner,
    MatchReview,
    ReviewedCaseOwner,
    ReviewStatus,
)
from services.contacts.cases.settlement import plan_shard
from services.contacts.clients import use_cases as clients
from services.contacts.identity import Identity
from services.contacts.models import Page
from shared import outbox
from shared.api import ApiError
from shared.errors import Conflict, NotFound
from shared.events import CaseOwnersMerged, MatchReviewRequested
from shared.observability import logger, metrics

SERVICE = "contacts"
MAX_ATTEMPTS = 10
MAX_HOPS = 5  # tombstones followed (a chain of accepted reviews), never in a circle
TX_LIMIT = repository.MAX_TRANSACTION_ITEMS
log = logger(SERVICE)


# ---- the bus ------------------------------------------------------------------------------------------------


def on_match_review_requested(event: MatchReviewRequested) -> None:
    """Store the review once (idempotent on the review id: a redelivery never reopens a decided review)."""
    if review_repository.put_requested(event):
        metrics(SERVICE).add_metric(name="MatchReviewsQueued", unit="Count", value=1)


def resolve(case_owner_id: str) -> dict[str, Any] | None:
    """The case owner's profile, or the survivor's where it was merged (old links and late events land there)."""
    profile = review_repository.profile_item(case_owner_id)
    for _ in range(MAX_HOPS):
        if profile is None or not profile.get("merged_into"):
            return profile
        profile = review_repository.profile_item(str(profile["merged_into"]))
    return profile


# ---- reads --------------------------------------------------------------------------------------------------


def _side(case_owner_id: str) -> ReviewedCaseOwner | None:
    profile = review_repository.profile_item(case_owner_id)
    if profile is None:
        return None
    items = review_repository.owner_items(case_owner_id)
    points = [repository.to_point(i) for i in items if str(i["SK"]).startswith("CP#")]
    points.sort(key=lambda p: (p.type, not p.is_default, p.qualification != "validated", p.created_at))
    return ReviewedCaseOwner(
        case_owner=CaseOwner.model_validate(store.clean(profile)),
        cases=[Case.model_validate(store.clean(i)) for i in items if str(i["SK"]).startswith("CASE#")],
        contact_points=points,
    )


def to_review(item: dict[str, Any], *, with_owners: bool = True) -> MatchReview:
    fields = {k: v for k, v in store.clean(item).items() if k in MatchReview.model_fields}
    review = MatchReview.model_validate(
        {**fields, "row": int(item["row"]), "score": float(item["score"]), "auto_score": float(item["auto_score"])}
    )
    if not with_owners:
        return review
    return review.model_copy(
        update={"case_owner": _side(review.case_owner_id), "candidate": _side(review.candidate_case_owner_id)}
    )


def _status(raw: str | None) -> ReviewStatus:
    allowed = get_args(ReviewStatus)
    value = raw or "pending"
    if value not in allowed:
        raise ApiError("invalid_query", f"status must be one of {', '.join(allowed)}", "status")
    return value  # type: ignore[return-value]


def list_reviews(
    client_id: str, who: Identity, status: str | None, limit: int, next_token: str | None
) -> Page[MatchReview]:
    clients.get_client(client_id, who)
    wanted = _status(status)
    start = pagination.decode(next_token, {"GSI1PK": f"CLIENT#{client_id}#REVIEWS#{wanted}"})
    items, last = review_repository.list_reviews(client_id, wanted, limit, start)
    return Page[MatchReview](items=[to_review(i) for i in items], next_token=pagination.encode(last))


def _review(client_id: str, review_id: str, who: Identity) -> dict[str, Any]:
    clients.get_client(client_id, who)
    item = review_repository.get_review(client_id, review_id)
    if item is None:  # another client's review is not found under this one
        raise NotFound("match_review", review_id)
    return item


def get_review(client_id: str, review_id: str, who: Identity) -> MatchReview:
    return to_review(_review(client_id, review_id, who))


def _pending(client_id: str, review_id: str, who: Identity) -> dict[str, Any]:
    item = _review(client_id, review_id, who)
    if item["status"] != "pending":
        error = Conflict("review_decided", f"the review was already {item['status']} ({item.get('decided_at')})")
        error.details = {"status": str(item["status"])}
        raise error
    return item


# ---- reject -------------------------------------------------------------------------------------------------


def reject(client_id: str, review_id: str, reason: str | None, who: Identity, correlation_id: str) -> MatchReview:
    """Two different people: the decision (who, when, why) on the review and in both case owners' audit trails."""
    review = _pending(client_id, review_id, who)
    if review.get("accepting_since"):
        raise Conflict("review_being_accepted", "the review is being accepted (its merge is under way)")
    actor = audit.Actor.of(who)
    tx = repository.Tx()
    review_repository.decide(tx, review, "rejected", who.principal, reason, accepting=False)
    pair = (str(review["case_owner_id"]), str(review["candidate_case_owner_id"]))
    for owner_id, other in (pair, pair[::-1]):
        if review_repository.profile_item(owner_id) is not None:
            tx.audit(
                audit.entry(
                    owner_id,
                    actor,
                    "case_owner.match_rejected",
                    target_type="case_owner",
                    target_id=owner_id,
                    after={"not_the_same_as": other},
                    why=store.drop_none({"review_id": review_id, "reason": reason}),
                    correlation_id=correlation_id,
                )
            )
    try:
        tx.commit()
    except repository.WriteConflict:
        _pending(client_id, review_id, who)  # decided meanwhile: 409 with the decision
        raise Conflict("concurrent_change", "the review changed meanwhile; read it again and retry") from None
    return get_review(client_id, review_id, who)


# ---- accept: the merge --------------------------------------------------------------------------------------


def accept(client_id: str, review_id: str, reason: str | None, who: Identity, correlation_id: str) -> MatchReview:
    """One person: merge the review's case owner into the candidate (see the module), then answer the review."""
    actor = audit.Actor.of(who)
    for attempt in range(MAX_ATTEMPTS):
        review = _pending(client_id, review_id, who)
        survivor = resolve(str(review["candidate_case_owner_id"]))
        merged = resolve(str(review["case_owner_id"]))
        if survivor is None or merged is None:
            raise Conflict(
                "case_owner_not_stored",
                "a case owner of this review is not stored yet (its import is still being delivered); retry shortly",
            )
        if survivor["client_id"] != client_id or merged["client_id"] != client_id:
            raise Conflict("foreign_case_owner", "a case owner of this review belongs to another client")
        if any(p.get("restricted_since") or p.get("objected_since") for p in (survivor, merged)):
            # Merging is processing; a restricted file may only be stored (GDPR Art. 18(2)), an objection stops it.
            raise Conflict(
                "processing_restricted",
                "a case owner of this review is under a restriction or objection (GDPR Art. 18/21): "
                "end it before merging, or leave the review pending",
            )
        try:
            _merge(review, str(survivor["case_owner_id"]), str(merged["case_owner_id"]), actor, reason, correlation_id)
        except repository.WriteConflict as exc:
            log.info("merge met a concurrent change; retrying", extra={"attempt": attempt, "reasons": exc.reasons})
            time.sleep(random.uniform(0, min(0.25, 0.01 * 2**attempt)))
            continue
        outbox.try_flush(store.table_name())
        enrichment.publish_contacts_changed(str(survivor["case_owner_id"]), correlation_id)
        return get_review(client_id, review_id, who)
    raise Conflict("concurrent_change", "the case owners kept changing meanwhile; retry")


def _merge(
    review: dict[str, Any], survivor: str, merged: str, actor: audit.Actor, reason: str | None, correlation_id: str
) -> None:
    final = repository.Tx()
    review_repository.decide(final, review, "accepted", actor.principal, reason, accepting=True)
    why = {"review_id": str(review["review_id"]), "merged_case_owner_id": merged}
    if survivor == merged:  # already one case owner (another review merged them): only the decision
        final.commit()
        return
    survivor_items = review_repository.owner_items(survivor)
    merged_items = review_repository.owner_items(merged)
    plan = merging.plan(survivor_items, merged_items)
    pointers = {str(i["SK"]).removeprefix("DEFAULT#"): i for i in survivor_items if str(i["SK"]).startswith("DEFAULT#")}
    groups = [
        *(_case_move(case, survivor, actor, why, correlation_id) for case in plan.cases),
        *(_point_move(move, survivor, pointers, actor, why, correlation_id) for move in plan.points),
        *(_hold_move(hold, survivor) for hold in plan.holds),
        *(_wishes_move(item, target, mine, survivor) for item, target, mine in plan.wishes),
    ]
    _policy_combined(final, survivor_items, merged_items, survivor, merged)
    for pointer in plan.merged_defaults:
        final.delete({"PK": str(pointer["PK"]), "SK": str(pointer["SK"])})
    final.update(
        repository.owner_key(merged, "PROFILE"),
        {"merged_into": survivor, "merged_at": store.now()},
        condition="attribute_exists(PK) AND attribute_not_exists(merged_into)",
    )
    summary = {
        "cases": [str(c["case_id"]) for c in plan.cases],
        "contact_points_moved": [m.target_id for m in plan.points if m.kept is None],
        "contact_points_collapsed": {str(m.item["contact_point_id"]): m.target_id for m in plan.points if m.kept},
        "new_defaults": plan.new_defaults,
        "holds": [str(h["hold_id"]) for h in plan.holds],
    }
    final.audit(
        audit.entry(
            survivor,
            actor,
            "case_owner.merged",
            target_type="case_owner",
            target_id=survivor,
            after={"merged_case_owner_id": merged, **summary},
            why=store.drop_none({**why, "reason": reason}),
            correlation_id=correlation_id,
        )
    )
    final.audit(
        audit.entry(
            merged,
            actor,
            "case_owner.merged_into",
            target_type="case_owner",
            target_id=merged,
            after={"merged_into": survivor, **summary},
            why=store.drop_none({**why, "reason": reason}),
            correlation_id=correlation_id,
        )
    )
    final.events(
        [
            CaseOwnersMerged(
                correlation_id=correlation_id,
                client_id=str(review["client_id"]),
                surviving_case_owner_id=survivor,
                merged_case_owner_id=merged,
                review_id=str(review["review_id"]),
            )
        ]
    )
    if sum(len(g.items) for g in groups) + len(final.items) <= TX_LIMIT and not review.get("accepting_since"):
        whole = repository.Tx()
        for group in [*groups, final]:
            whole.items.extend(group.items)
        whole.commit()
        return
    if not review.get("accepting_since"):
        review_repository.mark_accepting(review).commit()
    for chunk in _packed(groups):
        chunk.commit()
    final.commit()


def _packed(groups: list[repository.Tx]) -> list[repository.Tx]:
    chunks = [repository.Tx()]
    for group in groups:
        if chunks[-1].items and len(chunks[-1].items) + len(group.items) > TX_LIMIT:
            chunks.append(repository.Tx())
        chunks[-1].items.extend(group.items)
    return [c for c in chunks if c.items]


def _moved_item(item: dict[str, Any], survivor: str, **changes: Any) -> dict[str, Any]:
    return {**item, "PK": f"OWNER#{survivor}", **changes}


def _case_move(
    case: dict[str, Any], survivor: str, actor: audit.Actor, why: dict[str, Any], correlation_id: str
) -> repository.Tx:
    """The case under the survivor (same id, same client list entry), its pointer, its plan index, its entry."""
    case_id = str(case["case_id"])
    tx = repository.Tx()
    tx.delete_unchanged(case)
    tx.put(
        _moved_item(
            case, survivor, case_owner_id=survivor, revision=repository.revision(case) + 1, updated_at=store.now()
        )
    )
    tx.update({"PK": f"CASE#{case_id}", "SK": "POINTER"}, {"case_owner_id": survivor})
    plan_index = {"PK": f"PLANS#{plan_shard(case_id)}", "SK": f"CASE#{case_id}"}
    if case.get("plan_id") and repository.get_item(plan_index["PK"], plan_index["SK"]):
        tx.update(plan_index, {"case_owner_id": survivor})
    return tx.audit(
        audit.entry(
            survivor,
            actor,
            "case.moved_in",
            target_type="case",
            target_id=case_id,
            case_id=case_id,
            before={"case_owner_id": case["case_owner_id"]},
            after={"case_owner_id": survivor},
            why=why,
            correlation_id=correlation_id,
        )
    )


def _point_move(
    move: merging.PointMove,
    survivor: str,
    pointers: dict[str, dict[str, Any]],
    actor: audit.Actor,
    why: dict[str, Any],
    correlation_id: str,
) -> repository.Tx:
    item = move.item
    tx = repository.Tx()
    tx.delete_unchanged(item)
    state = {k: item.get(k) for k in ("valid", "qualification", "is_default")}
    if move.kept is None:
        tx.put(
            _moved_item(item, survivor, **move.fields, revision=repository.revision(item) + 1, updated_at=store.now())
        )
        action, before, after = "contact_point.moved_in", {"case_owner_id": why["merged_case_owner_id"]}, state
    else:
        if move.fields:
            repository.update_point(tx, move.kept, move.fields)
        action = "contact_point.collapsed"
        before = {k: move.kept.get(k) for k in ("valid", "qualification", "is_default")}
        after = {**before, **{k: v for k, v in move.fields.items() if k in before}}
        why = {**why, "collapsed_point_id": str(item["contact_point_id"]), "collapsed_point_state": state}
    point_type = str(item["type"])
    if move.becomes_default or move.clears_default:
        target = move.target_id if move.becomes_default else None
        repository.set_default_pointer(tx, survivor, point_type, pointers.get(point_type), target)
    return tx.audit(
        audit.entry(
            survivor,
            actor,
            action,
            target_type="contact_point",
            target_id=move.target_id,
            before=before,
            after=after,
            why=why,
            correlation_id=correlation_id,
        )
    )


def _hold_move(hold: dict[str, Any], survivor: str) -> repository.Tx:
    tx = repository.Tx().delete({"PK": str(hold["PK"]), "SK": str(hold["SK"])})
    return tx.put(_moved_item(hold, survivor))


def _wishes_move(item: dict[str, Any], target: str, mine: dict[str, Any] | None, survivor: str) -> repository.Tx:
    tx = repository.Tx().delete({"PK": str(item["PK"]), "SK": str(item["SK"])})
    key = {"PK": f"OWNER#{survivor}", "SK": f"POLICY#POINT#{target}"}
    if mine is None:
        return tx.put({**item, **key, "revision": 1, "updated_at": store.now()})
    condition, values, names = repository.revision_condition(repository.revision(mine))
    fields = {**merging.combined_wishes(mine, item), "revision": repository.revision(mine) + 1}
    return tx.update(key, {**fields, "updated_at": store.now()}, condition=condition, values=values, names=names)


def _policy_combined(
    final: repository.Tx,
    survivor_items: list[dict[str, Any]],
    merged_items: list[dict[str, Any]],
    survivor: str,
    merged: str,
) -> None:
    """The contact histories and inconvenient times of both, on the survivor (in the last transaction)."""
    mine = {str(i["SK"]): i for i in survivor_items}
    theirs = {str(i["SK"]): i for i in merged_items}
    history = merging.combined_history(mine.get("POLICY#HISTORY"), theirs.get("POLICY#HISTORY"))
    if history is not None:
        rev = repository.revision(mine.get("POLICY#HISTORY"))
        condition = "attribute_not_exists(PK)" if "POLICY#HISTORY" not in mine else "#rev = :expected_rev"
        final.update(
            {"PK": f"OWNER#{survivor}", "SK": "POLICY#HISTORY"},
            {**history, "revision": rev + 1, "updated_at": store.now()},
            condition=condition,
            values={":expected_rev": rev} if "POLICY#HISTORY" in mine else None,
            names={"#rev": "revision"} if "POLICY#HISTORY" in mine else None,
        )
        final.delete({"PK": f"OWNER#{merged}", "SK": "POLICY#HISTORY"})
    times = merging.combined_times(mine.get("POLICY#TIMES"), theirs.get("POLICY#TIMES"))
    if times is not None:
        final.put({"PK": f"OWNER#{survivor}", "SK": "POLICY#TIMES", "times": times, "updated_at": store.now()}, None)
        final.delete({"PK": f"OWNER#{merged}", "SK": "POLICY#TIMES"})
