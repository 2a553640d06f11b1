"""Concurrent make-default requests can never leave two defaults: the DEFAULT#<type> pointer, the points'
is_default flags and the audit trail agree whatever the interleaving (see ``serialised_dynamodb`` for why moto's
backend runs one operation at a time here, as DynamoDB's isolation does)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from boto3.dynamodb.conditions import Key

from infra.provision import Provisioned
from services.contacts import case_repository, store
from tests.integration.contacts_case_support import Api, deliver, imported, serialised_dynamodb

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

    with serialised_dynamodb(), ThreadPoolExecutor(REQUESTS) as pool:
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
