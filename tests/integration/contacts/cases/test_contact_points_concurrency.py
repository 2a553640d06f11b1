"""Concurrent make-default requests can never leave two defaults: the DEFAULT#<type> pointer, the points'
is_default flags and the audit trail agree whatever the interleaving (see ``infra.local.fidelity`` for why moto's
backend runs one operation at a time here, as DynamoDB's isolation does, and for why
each thread gets its own Chalice request, as each Lambda instance does)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from boto3.dynamodb.conditions import Key

from infra.provision import Provisioned
from services.contacts import store
from services.contacts.cases import repository as case_repository
from tests.integration.contacts.cases.support import (
    Api,
    deliver,
    imported,
)

OWNER = "owner-1"
REQUESTS = 20


def test_concurrent_make_default_requests_leave_exactly_one_default(aws: Provisioned) -> None:
    phones = tuple(("phone", f"+4179000{i:04d}") for i in range(REQUESTS))
    deliver(imported(OWNER, points=(*phones, ("email", "max@example.com"))))
    api = Api()
    base = f"/case-owners/{OWNER}/contact-points"
    _, page = api.call("GET", base, query={"type": "phone", "limit": "200"})
    ids = [p["contact_point_id"] for p in page["items"]]
    assert len(ids) == REQUESTS
    for cp in ids:
        assert api.call("POST", f"{base}/{cp}/validate", {"evidence": {"kind": "successful_call"}})[0] == 200

    def make_default(cp: str) -> tuple[int, Any]:
        return api.call("POST", f"{base}/{cp}/make-default")

    with ThreadPoolExecutor(REQUESTS) as pool:
        results = list(pool.map(make_default, ids))

    statuses = [status for status, _ in results]
    assert set(statuses) <= {200, 409}, statuses
    assert all(body["error"]["code"] == "concurrent_change" for status, body in results if status == 409)
    items = store.query_all(
        KeyConditionExpression=Key("PK").eq(f"OWNER#{OWNER}") & Key("SK").begins_with("CP#phone#"),
        ConsistentRead=True,
    )
    defaults = [str(i["contact_point_id"]) for i in items if i.get("is_default")]
    pointer = case_repository.default_pointer(OWNER, "phone")
    assert len(defaults) == 1
    assert pointer is not None and pointer["contact_point_id"] == defaults[0]
    # Each successful change wrote its audit entry in its own transaction; none for a lost race.
    _, audit = api.call("GET", f"/case-owners/{OWNER}/audit", query={"limit": "200"})
    made = [e for e in audit["items"] if e["action"] == "contact_point.made_default"]
    assert len(made) == statuses.count(200)
    assert made[0]["target_id"] == defaults[0]  # the newest entry names the default that stayed
    assert api.call("GET", base, query={"type": "email"})[1]["items"][0]["is_default"] is False


def test_racing_default_changes_and_invalidations_keep_pointer_and_flags_in_agreement(aws: Provisioned) -> None:
    phones = tuple(("phone", f"+4178000{i:04d}") for i in range(8))
    deliver(imported(OWNER, points=phones))
    api = Api()
    base = f"/case-owners/{OWNER}/contact-points"
    ids = [p["contact_point_id"] for p in api.call("GET", base, query={"type": "phone"})[1]["items"]]
    for cp in ids:
        api.call("POST", f"{base}/{cp}/validate", {"evidence": {"kind": "successful_call"}})
    api.call("POST", f"{base}/{ids[0]}/make-default")

    # Every point is both made default and invalidated or sent back to pending, all at once.
    requests: list[tuple[str, str, Any]] = [("make-default", cp, None) for cp in ids]
    requests += [("invalidate", cp, {"reason": "wrong"}) for cp in ids[:4]]
    requests += [("cancel-validation", cp, None) for cp in ids[4:]]

    def send(request: tuple[str, str, Any]) -> tuple[int, Any]:
        action, cp, body = request
        return api.call("POST", f"{base}/{cp}/{action}", body)

    with ThreadPoolExecutor(len(requests)) as pool:
        results = list(pool.map(send, requests))

    assert all(status in (200, 409) for status, _ in results), [(s, b.get("error")) for s, b in results if s != 200]
    items = store.query_all(
        KeyConditionExpression=Key("PK").eq(f"OWNER#{OWNER}") & Key("SK").begins_with("CP#phone#"),
        ConsistentRead=True,
    )
    defaults = [str(i["contact_point_id"]) for i in items if i.get("is_default")]
    pointer = case_repository.default_pointer(OWNER, "phone")
    assert len(defaults) <= 1
    assert (pointer or {}).get("contact_point_id") == (defaults[0] if defaults else None)
    for item in items:  # a default is always valid and validated
        if item.get("is_default"):
            assert item["valid"] and item["qualification"] == "validated"
