"""The match review queue, contacts' side (issue 9): imports' uncertain pairs arrive as MatchReviewRequested on the
bus, are listed per client with both case owners' files, and an accept merges the two case owners (cases, points,
one default per type, audit on both, a tombstone for old links, CaseOwnersMerged to imports)."""

from __future__ import annotations

import json
from typing import Any

from boto3.dynamodb.conditions import Key

from infra.provision import Provisioned
from services.contacts import store
from services.contacts.cases import repository as case_repository
from shared.events import MatchReviewRequested, new_id
from tests.integration.contacts.cases.support import deliver, imported
from tests.integration.contacts.support import COLLECTOR, Api, bus_events, new_client

OLD, NEW = "owner-old", "owner-new"
LEVELS = {"given": "exact", "family": "different", "birth_date": "exact", "address": "street_or_postcode_off"}


def requested(client_id: str, review_id: str = "review-1", **extra: Any) -> MatchReviewRequested:
    return MatchReviewRequested(
        correlation_id="corr-import",
        review_id=review_id,
        import_id="import-2",
        client_id=client_id,
        row=7,
        case_owner_id=NEW,
        candidate_case_owner_id=OLD,
        score=16.4,
        auto_score=18.0,
        comparisons=LEVELS,
        **extra,
    )


def _pair(aws: Provisioned) -> tuple[Api, str]:
    """Two case owners of one client (one e-mail in common) and the review that pairs them."""
    api = Api(aws)
    client_id = str(new_client(api)["client_id"])
    old = imported(OLD, client_id=client_id, case_ids=("case-old",),
                   points=(("email", "anna@example.com"), ("phone", "+49 30 1234567")))  # fmt: skip
    new = imported(NEW, client_id=client_id, case_ids=("case-new-1", "case-new-2"),
                   points=(("email", "Anna@Example.com "), ("phone", "+49 40 7654321")))  # fmt: skip
    assert deliver(old, new, requested(client_id)) == {"batchItemFailures": []}
    return api, client_id


def _points(owner_id: str) -> list[dict[str, Any]]:
    items = store.query_all(KeyConditionExpression=Key("PK").eq(f"OWNER#{owner_id}") & Key("SK").begins_with("CP#"))
    return [dict(i) for i in items]


def _point_of(api: Api, owner_id: str, point_type: str, value: str) -> str:
    reply = api.call("GET", f"/case-owners/{owner_id}/contact-points", query={"include_invalid": "true"})
    return next(
        p["contact_point_id"]
        for p in reply.body["items"]
        if p["type"] == point_type and p["value"].strip().lower() == value
    )


def test_a_review_is_stored_once_and_listed_with_both_case_owners(aws: Provisioned) -> None:
    api, client_id = _pair(aws)
    # a redelivery, and a re-run of the import (same review id, new event id): still one review
    assert deliver(requested(client_id), requested(client_id, event_id=new_id())) == {"batchItemFailures": []}

    reply = api.call("GET", f"/clients/{client_id}/match-reviews")
    assert reply.status == 200, reply.body
    (review,) = reply.body["items"]
    assert (review["status"], review["score"], review["auto_score"], review["row"]) == ("pending", 16.4, 18.0, 7)
    assert review["comparisons"] == LEVELS
    assert review["candidate"]["case_owner"]["case_owner_id"] == OLD
    assert [c["case_id"] for c in review["candidate"]["cases"]] == ["case-old"]
    assert sorted(c["case_id"] for c in review["case_owner"]["cases"]) == ["case-new-1", "case-new-2"]
    assert {p["type"] for p in review["case_owner"]["contact_points"]} == {"email", "phone"}
    assert api.call("GET", f"/clients/{client_id}/match-reviews", query={"status": "accepted"}).body["items"] == []
    one = api.call("GET", f"/clients/{client_id}/match-reviews/review-1")
    assert one.status == 200 and one.body["review_id"] == "review-1"


def test_accepting_merges_the_case_owners_and_tells_imports(aws: Provisioned) -> None:
    api, client_id = _pair(aws)
    email_old = _point_of(api, OLD, "email", "anna@example.com")
    email_new = _point_of(api, NEW, "email", "anna@example.com")
    phone_new = _point_of(api, NEW, "phone", "+49 40 7654321")
    # The newer file knows more: its e-mail was confirmed and its phone is the default.
    assert api.call("POST", f"/case-owners/{NEW}/contact-points/{email_new}/validate",
                    {"evidence": {"kind": "reason", "note": "debtor wrote from it"}}).status == 200  # fmt: skip
    assert api.call("POST", f"/case-owners/{NEW}/contact-points/{phone_new}/validate",
                    {"evidence": {"kind": "successful_call"}}).status == 200  # fmt: skip
    assert api.call("POST", f"/case-owners/{NEW}/contact-points/{phone_new}/make-default", {}).status == 200

    reply = api.call("POST", f"/clients/{client_id}/match-reviews/review-1/accept", {"reason": "same person"})
    assert reply.status == 200, reply.body
    assert (reply.body["status"], reply.body["decided_by"], reply.body["reason"]) == (
        "accepted", "admin@agency.example", "same person"
    )  # fmt: skip

    # One case owner with every case and every point; the shared e-mail once, with the better (validated) state.
    survivor = api.call("GET", f"/case-owners/{OLD}").body
    assert sorted(c["case_id"] for c in survivor["cases"]) == ["case-new-1", "case-new-2", "case-old"]
    points = {(p["type"], p["value"]): p for p in _points(OLD)}
    assert sorted(points) == [("email", "anna@example.com"), ("phone", "+49 30 1234567"), ("phone", "+49 40 7654321")]
    assert points[("email", "anna@example.com")]["contact_point_id"] == email_old
    assert points[("email", "anna@example.com")]["qualification"] == "validated"
    assert [p["contact_point_id"] for p in points.values() if p.get("is_default")] == [phone_new]
    assert survivor["defaults"] == {"phone": phone_new}
    assert _points(NEW) == []
    # Old links resolve: the merged case owner leads to the survivor, its cases point there.
    assert api.call("GET", f"/case-owners/{NEW}").body["case_owner"]["case_owner_id"] == OLD
    assert api.call("GET", "/cases/case-new-1").body["case_owner"]["case_owner_id"] == OLD
    assert case_repository.get_owner(NEW).merged_into == OLD  # type: ignore[union-attr]
    changed = api.call("POST", f"/case-owners/{NEW}/contact-points", {"type": "email", "value": "x@example.com"})
    assert (changed.status, changed.error["code"]) == (409, "case_owner_merged")
    # Audit on both sides, with what moved.
    old_audit = [e["action"] for e in api.call("GET", f"/case-owners/{OLD}/audit").body["items"]]
    new_audit = [e["action"] for e in api.call("GET", f"/case-owners/{NEW}/audit").body["items"]]
    assert old_audit.count("case.moved_in") == 2 and "case_owner.merged" in old_audit
    assert "contact_point.collapsed" in old_audit and "contact_point.moved_in" in old_audit
    assert "case_owner.merged_into" in new_audit
    # Imports hears of it (through the outbox and the bus).
    (merged,) = bus_events(aws, "imports-inbox", "CaseOwnersMerged.v1")
    assert (merged["surviving_case_owner_id"], merged["merged_case_owner_id"], merged["review_id"]) == (
        OLD, NEW, "review-1"
    )  # fmt: skip
    # A decided review stays decided: a second decision is refused, a late redelivery does not reopen it.
    again = api.call("POST", f"/clients/{client_id}/match-reviews/review-1/accept")
    assert (again.status, again.error["code"], again.error["status"]) == (409, "review_decided", "accepted")
    assert api.call("POST", f"/clients/{client_id}/match-reviews/review-1/reject").error["code"] == "review_decided"
    assert deliver(requested(client_id, event_id=new_id())) == {"batchItemFailures": []}
    assert api.call("GET", f"/clients/{client_id}/match-reviews").body["items"] == []
    # Rows imported for the merged case owner before imports learnt of the merge land at the survivor; a point
    # that moved in keeps its id and is still recognised by its value.
    late = imported(NEW, client_id=client_id, case_ids=("case-late",),
                    points=(("email", "anna@example.com"), ("phone", "+49 40 7654321")))  # fmt: skip
    assert deliver(late.model_copy(update={"event_id": new_id()})) == {"batchItemFailures": []}
    assert "case-late" in [c["case_id"] for c in api.call("GET", f"/case-owners/{OLD}").body["cases"]]
    assert len([p for p in _points(OLD) if p["type"] == "email"]) == 1
    assert len([p for p in _points(OLD) if p["type"] == "phone"]) == 2


def test_rejecting_records_the_decision_and_refusals_are_specific(aws: Provisioned) -> None:
    api, client_id = _pair(aws)
    other_client = str(new_client(api, "Andere AG")["client_id"])
    base = f"/clients/{client_id}/match-reviews"

    unknown = api.call("POST", f"{base}/no-such-review/accept")
    assert (unknown.status, unknown.error["code"]) == (404, "match_review_not_found")
    foreign = api.call("POST", f"/clients/{other_client}/match-reviews/review-1/reject")
    assert (foreign.status, foreign.error["code"]) == (404, "match_review_not_found")
    reader = api.client_user(client_id)
    assert api.call("GET", base, token=reader).status == 200
    assert api.call("POST", f"{base}/review-1/accept", token=reader).status == 403
    assert api.call("GET", base, token=api.client_user(other_client)).status == 404
    bad = api.call("GET", base, query={"status": "maybe"})
    assert (bad.status, bad.error["code"]) == (400, "invalid_query")

    reply = api.call("POST", f"{base}/review-1/reject", {"reason": "mother and daughter"}, token=COLLECTOR)
    assert reply.status == 200, reply.body
    assert (reply.body["status"], reply.body["reason"]) == ("rejected", "mother and daughter")
    assert api.call("GET", base).body["items"] == []
    assert [r["review_id"] for r in api.call("GET", base, query={"status": "rejected"}).body["items"]] == ["review-1"]
    refused = api.call("POST", f"{base}/review-1/accept")
    assert (refused.status, refused.error["code"]) == (409, "review_decided")
    assert deliver(requested(client_id, event_id=new_id())) == {"batchItemFailures": []}
    assert api.call("GET", f"{base}/review-1").body["status"] == "rejected"
    # Two case owners still, each with the decision in its audit trail.
    assert api.call("GET", f"/case-owners/{NEW}").body["case_owner"]["case_owner_id"] == NEW
    for owner in (OLD, NEW):
        actions = [e["action"] for e in api.call("GET", f"/case-owners/{owner}/audit").body["items"]]
        assert "case_owner.match_rejected" in actions
    assert bus_events(aws, "imports-inbox", "CaseOwnersMerged.v1") == []


def test_an_accept_retried_with_its_idempotency_key_merges_once(aws: Provisioned) -> None:
    api, client_id = _pair(aws)

    def accept() -> tuple[int, Any]:
        result = api.gateway().invoke(
            "POST",
            f"/clients/{client_id}/match-reviews/review-1/accept",
            headers={"Authorization": "Bearer local-admin", "Idempotency-Key": "accept-once"},
            body=None,
        )
        return int(result["statusCode"]), json.loads(result["body"])

    first, second = accept(), accept()
    assert first[0] == second[0] == 200 and first[1]["decided_at"] == second[1]["decided_at"]
    assert len(bus_events(aws, "imports-inbox", "CaseOwnersMerged.v1")) == 1


def test_a_merge_too_big_for_one_transaction_moves_everything_and_its_holds(aws: Provisioned) -> None:
    api = Api(aws)
    client_id = str(new_client(api)["client_id"])
    many = tuple(f"case-{n:02d}" for n in range(30))  # 4 writes each: past DynamoDB's 100 items per transaction
    assert deliver(imported(OLD, client_id=client_id, case_ids=("case-old",)),
                   imported(NEW, client_id=client_id, case_ids=many), requested(client_id)) == {
        "batchItemFailures": []
    }  # fmt: skip
    hold = {"kind": "dispute", "reason": "debtor disputes the invoice", "evidence": "letter of 3 May"}
    assert api.call("POST", f"/case-owners/{NEW}/holds", hold).status == 201

    reply = api.call("POST", f"/clients/{client_id}/match-reviews/review-1/accept")
    assert (reply.status, reply.body["status"]) == (200, "accepted"), reply.body
    assert "accepting_since" not in (case_repository.get_item(f"CLIENT#{client_id}", "REVIEW#review-1") or {})
    cases = api.call("GET", f"/case-owners/{OLD}").body["cases"]
    assert sorted(c["case_id"] for c in cases) == sorted([*many, "case-old"])
    assert [h["reason"] for h in api.call("GET", f"/case-owners/{OLD}/holds").body] == [hold["reason"]]
    gone = api.call("GET", f"/case-owners/{NEW}/holds")
    assert (gone.status, gone.error["code"], gone.error["merged_into"]) == (409, "case_owner_merged", OLD)
    assert len(bus_events(aws, "imports-inbox", "CaseOwnersMerged.v1")) == 1


def test_a_restricted_case_owner_is_not_merged(aws: Provisioned) -> None:
    api, client_id = _pair(aws)
    hold = {"kind": "restriction", "reason": "debtor contests the accuracy (Art. 18(1)(a))", "evidence": "letter"}
    assert api.call("POST", f"/case-owners/{NEW}/holds", hold).status == 201
    refused = api.call("POST", f"/clients/{client_id}/match-reviews/review-1/accept")
    assert (refused.status, refused.error["code"]) == (409, "processing_restricted")
    assert api.call("GET", f"/clients/{client_id}/match-reviews/review-1").body["status"] == "pending"
    assert sorted(c["case_id"] for c in api.call("GET", f"/case-owners/{OLD}").body["cases"]) == ["case-old"]
