"""The contacts consumer (EventBridge → SQS → Lambda record shape): imports and enrichment create or merge case
owners, cases and contact points, idempotent on the event id AND on content; enrichment never overwrites."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from infra.provision import Provisioned
from services.contacts import store
from tests.integration.contacts.cases.support import Api, deliver, enriched, imported, point_id
from tests.integration.support import arrived

OWNER = "owner-1"


def _owner_items() -> list[dict[str, Any]]:
    items = store.query_all(KeyConditionExpression=Key("PK").eq(f"OWNER#{OWNER}"))
    return sorted((dict(i) for i in items), key=lambda i: str(i["SK"]))


def _case_opened(aws: Provisioned) -> list[str]:
    return [b["detail"]["case_id"] for b in arrived(aws, "enrichment-inbox") if b["detail-type"] == "CaseOpened.v1"]


def test_the_same_event_delivered_twice_is_handled_once(aws: Provisioned) -> None:
    event = imported(OWNER, case_ids=("case-1", "case-2"))
    assert deliver(event) == {"batchItemFailures": []}
    after_first = _owner_items()
    assert deliver(event) == {"batchItemFailures": []}
    assert _owner_items() == after_first
    assert sorted(_case_opened(aws)) == ["case-1", "case-2"]  # no second CaseOpened for a re-delivery
    kinds = sorted(str(i["SK"]).split("#")[0] for i in after_first)
    assert kinds.count("CP") == 2 and kinds.count("CASE") == 2 and kinds.count("PROFILE") == 1
    assert kinds.count("AUDIT") == 1  # the file imported, naming the owner created, 2 cases opened, 2 points added
    (entry,) = (i for i in after_first if str(i["SK"]).startswith("AUDIT#"))
    assert [c["action"] for c in entry["after"]["changes"]] == [
        "case_owner.created",
        *["case.opened"] * 2,
        *["contact_point.added"] * 2,
    ]


def test_a_different_event_with_the_same_content_changes_nothing(aws: Provisioned) -> None:
    deliver(imported(OWNER))
    before = _owner_items()
    _case_opened(aws)
    again = imported(OWNER, points=(("email", " MAX@example.com "), ("phone", "+41441234567")))
    assert again.event_id != imported(OWNER).event_id
    assert deliver(again) == {"batchItemFailures": []}
    assert _owner_items() == before
    assert _case_opened(aws) == []


def test_a_new_case_and_new_point_for_a_known_owner_are_merged(aws: Provisioned) -> None:
    deliver(imported(OWNER))
    deliver(imported(OWNER, case_ids=("case-1", "case-9"), points=(("postal_address", "Hauptstr. 1, 3000 Bern"),)))
    api = Api()
    _, owner = api.call("GET", f"/case-owners/{OWNER}")
    assert sorted(c["case_id"] for c in owner["cases"]) == ["case-1", "case-9"]
    _, points = api.call("GET", f"/case-owners/{OWNER}/contact-points")
    assert sorted(p["type"] for p in points["items"]) == ["email", "phone", "postal_address"]


def test_enrichment_never_overwrites_a_validated_or_default_point(aws: Provisioned) -> None:
    deliver(imported(OWNER))
    api = Api()
    phone = point_id(api, OWNER, "phone")
    email = point_id(api, OWNER, "email")
    base = f"/case-owners/{OWNER}/contact-points"
    assert api.call("POST", f"{base}/{phone}/validate", {"evidence": {"kind": "successful_call"}})[0] == 200
    assert api.call("POST", f"{base}/{phone}/make-default")[0] == 200
    assert api.call("POST", f"{base}/{email}/invalidate", {"reason": "bounced"})[0] == 200
    before = {p["contact_point_id"]: p for p in api.call("GET", base, query={"include_invalid": "true"})[1]["items"]}

    # The same phone (written differently) and the same, invalid, e-mail: nothing changes.
    same = enriched(OWNER, (("phone", "+41441234567"), ("email", "Max@Example.com")))
    assert deliver(same) == {"batchItemFailures": []}
    after = {p["contact_point_id"]: p for p in api.call("GET", base, query={"include_invalid": "true"})[1]["items"]}
    assert after == before

    # A new phone is added beside the default, pending, and the default stays.
    assert deliver(enriched(OWNER, (("phone", "+41 79 000 00 00"),))) == {"batchItemFailures": []}
    points = api.call("GET", base, query={"type": "phone"})[1]["items"]
    states = {p["value"]: (p["state"], p["source"]) for p in points}
    assert states == {"+41 44 123 45 67": ("default", "import"), "+41 79 000 00 00": ("pending", "enrichment")}
    audit = api.call("GET", f"/case-owners/{OWNER}/audit")[1]["items"][0]
    assert (audit["action"], audit["actor"]) == ("contact_point.added", "system:enrichment")
    assert audit["why"]["provider"] == "local"


def test_an_import_after_validation_does_not_reset_the_point(aws: Provisioned) -> None:
    deliver(imported(OWNER))
    api = Api()
    phone = point_id(api, OWNER, "phone")
    api.call("POST", f"/case-owners/{OWNER}/contact-points/{phone}/validate", {"evidence": {"kind": "inbound_call"}})
    deliver(imported(OWNER, case_ids=("case-2",)))
    assert api.call("GET", f"/case-owners/{OWNER}/contact-points/{phone}")[1]["state"] == "validated"


def test_enrichment_for_an_unknown_case_owner_fails_only_its_own_record(aws: Provisioned) -> None:
    deliver(imported(OWNER))
    result = deliver(enriched("nobody", (("phone", "+41790000000"),)), enriched(OWNER, (("phone", "+41790000001"),)))
    assert len(result["batchItemFailures"]) == 1  # back to the queue, then the DLQ; the good record is kept
    assert "+41790000001" in [p["value"] for p in Api().call("GET", f"/case-owners/{OWNER}/contact-points")[1]["items"]]
