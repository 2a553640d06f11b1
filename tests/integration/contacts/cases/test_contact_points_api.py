"""Contact points through the API (real API Gateway proxy events, moto's server): PRODUCT.md §2."""

from __future__ import annotations

import json
from typing import Any

from boto3.dynamodb.conditions import Key

from infra.provision import Provisioned
from services.contacts import store
from services.contacts.cases import audit
from services.contacts.cases import repository as case_repository
from tests.integration.contacts.cases.support import Api, deliver, imported, point_id
from tests.integration.support import receive_all

OWNER = "owner-1"
BASE = f"/case-owners/{OWNER}/contact-points"


def _setup(*points: tuple[str, str]) -> Api:
    kwargs: dict[str, Any] = {"points": points} if points else {}
    assert deliver(imported(OWNER, **kwargs)) == {"batchItemFailures": []}
    return Api()


def _validate(api: Api, cp: str, kind: str = "successful_call", note: str | None = None) -> tuple[int, Any]:
    evidence = {"kind": kind, **({"note": note} if note else {})}
    return api.call("POST", f"{BASE}/{cp}/validate", {"evidence": evidence})


def _audit(api: Api) -> list[dict[str, Any]]:
    status, page = api.call("GET", f"/case-owners/{OWNER}/audit", query={"limit": "200"})
    assert status == 200, page
    return list(page["items"])


def _stored_defaults(point_type: str) -> tuple[list[str], str | None]:
    """The points flagged default in the table, and what the type's pointer says."""
    items = store.query_all(KeyConditionExpression=Key("PK").eq(f"OWNER#{OWNER}") & Key("SK").begins_with("CP#"))
    flagged = [str(i["contact_point_id"]) for i in items if i["type"] == point_type and i.get("is_default")]
    pointer = case_repository.default_pointer(OWNER, point_type)
    return flagged, (str(pointer["contact_point_id"]) if pointer and pointer.get("contact_point_id") else None)


def test_lists_show_valid_points_unless_invalid_ones_are_asked_for(aws: Provisioned) -> None:
    api = _setup()
    phone = point_id(api, OWNER, "phone")
    assert api.call("POST", f"{BASE}/{phone}/invalidate", {"reason": "number not allocated"})[0] == 200

    status, page = api.call("GET", BASE)
    assert status == 200
    assert [p["type"] for p in page["items"]] == ["email"]
    _, everything = api.call("GET", BASE, query={"include_invalid": "true"})
    flagged = {p["type"]: (p["valid"], p["state"]) for p in everything["items"]}
    assert flagged == {"email": (True, "pending"), "phone": (False, "invalid")}
    _, case_file = api.call("GET", "/cases/case-1")
    assert [p["type"] for p in case_file["contact_points"]] == ["email"]
    _, case_file = api.call("GET", "/cases/case-1", query={"include_invalid": "true"})
    assert len(case_file["contact_points"]) == 2
    assert api.call("GET", BASE, query={"type": "fax"})[1]["error"]["field"] == "type"


def test_list_pages_with_next_token_bound_to_the_case_owner(aws: Provisioned) -> None:
    api = _setup(("email", "a@example.com"), ("email", "b@example.com"), ("phone", "+41441234567"))
    seen: list[str] = []
    token: str | None = None
    while True:
        query = {"limit": "1", **({"next_token": token} if token else {})}
        status, page = api.call("GET", BASE, query=query)
        assert status == 200, page
        seen += [p["value"] for p in page["items"]]
        token = page["next_token"]
        if not token:
            break
    assert sorted(seen) == ["+41441234567", "a@example.com", "b@example.com"]
    deliver(imported("owner-2", case_ids=("case-2",)))
    _, first = api.call("GET", BASE, query={"limit": "1"})
    replayed = api.call("GET", "/case-owners/owner-2/contact-points", query={"next_token": first["next_token"]})
    assert replayed[1]["error"]["code"] == "invalid_next_token"


def test_validation_needs_evidence_that_fits_the_type(aws: Provisioned) -> None:
    api = _setup()
    email, phone = point_id(api, OWNER, "email"), point_id(api, OWNER, "phone")
    before = len(_audit(api))

    status, body = _validate(api, email, "successful_call")
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, "evidence_not_for_type", "evidence.kind")
    assert _validate(api, phone, "inbound_letter")[0] == 422
    assert _validate(api, email, "reason")[1]["error"]["code"] == "reason_required"
    assert len(_audit(api)) == before  # a rejected change leaves no trace, and changes nothing
    assert api.call("GET", f"{BASE}/{email}")[1]["state"] == "pending"

    status, body = _validate(api, phone, "inbound_call")
    assert status == 200 and body["contact_point"]["state"] == "validated"
    status, body = _validate(api, email, "reason", "the debtor replied from this address")
    assert status == 200 and body["contact_point"]["qualification"] == "validated"
    assert _validate(api, phone, "successful_call")[0] == 409

    entry = _audit(api)[0]
    assert entry["action"] == "contact_point.validated" and entry["target_id"] == email
    assert entry["actor"] == "collector@agency.example"
    assert entry["why"] == {"evidence": {"kind": "reason", "note": "the debtor replied from this address"}}
    assert entry["before"]["qualification"] == "pending" and entry["after"]["qualification"] == "validated"


def test_exactly_one_default_per_type_and_only_a_validated_point_becomes_it(aws: Provisioned) -> None:
    api = _setup(("phone", "+41441111111"), ("phone", "+41442222222"), ("email", "max@example.com"))
    first, second = point_id(api, OWNER, "phone", "+41441111111"), point_id(api, OWNER, "phone", "+41442222222")
    email = point_id(api, OWNER, "email")

    status, body = api.call("POST", f"{BASE}/{first}/make-default")
    assert (status, body["error"]["code"]) == (409, "not_validated")
    for cp in (first, second):
        assert _validate(api, cp)[0] == 200
    assert _validate(api, email, "reason", "confirmed in writing")[0] == 200

    status, body = api.call("POST", f"{BASE}/{first}/make-default")
    assert status == 200 and body["contact_point"]["state"] == "default" and body["previous_default_id"] is None
    assert api.call("POST", f"{BASE}/{email}/make-default")[0] == 200  # another type has its own default
    status, body = api.call("POST", f"{BASE}/{second}/make-default", {"reason": "debtor asked to use the mobile"})
    assert status == 200 and body["previous_default_id"] == first

    assert _stored_defaults("phone") == ([second], second)
    assert _stored_defaults("email") == ([email], email)
    assert api.call("GET", f"/case-owners/{OWNER}")[1]["defaults"] == {"phone": second, "email": email}
    assert api.call("GET", f"{BASE}/{first}")[1]["state"] == "validated"
    again = api.call("POST", f"{BASE}/{second}/make-default")
    assert again[0] == 200 and again[1]["changed"] is False
    entry = _audit(api)[0]
    assert entry["action"] == "contact_point.made_default"
    assert entry["why"] == {"reason": "debtor asked to use the mobile", "previous_default_id": first}


def test_invalidating_or_cancelling_the_default_leaves_no_default(aws: Provisioned) -> None:
    api = _setup(("phone", "+41441111111"), ("email", "max@example.com"))
    phone, email = point_id(api, OWNER, "phone"), point_id(api, OWNER, "email")
    for cp, kind in ((phone, "successful_call"), (email, "reason")):
        assert _validate(api, cp, kind, "confirmed")[0] == 200
        assert api.call("POST", f"{BASE}/{cp}/make-default")[0] == 200

    status, body = api.call("POST", f"{BASE}/{phone}/invalidate", {"reason": "line disconnected"})
    assert status == 200 and body["default_cleared"] is True and body["contact_point"]["state"] == "invalid"
    assert _stored_defaults("phone") == ([], None)

    status, body = api.call("POST", f"{BASE}/{email}/cancel-validation")
    assert status == 200 and body["default_cleared"] is True and body["contact_point"]["state"] == "pending"
    assert _stored_defaults("email") == ([], None)
    assert api.call("GET", f"/case-owners/{OWNER}")[1]["defaults"] == {}
    assert api.call("POST", f"{BASE}/{email}/cancel-validation")[1]["error"]["code"] == "not_validated"
    assert api.call("POST", f"{BASE}/{phone}/invalidate", {"reason": "again"})[0] == 409
    assert api.call("POST", f"{BASE}/{phone}/invalidate", {})[0] == 422  # a reason is required

    # Without a default, an automatic action has nothing to use.
    status, body = api.call("POST", "/cases/case-1/actions", {"action": "call", "automatic": True})
    assert (status, body["error"]["code"]) == (409, "no_default")


def test_a_manual_point_with_an_objective_observation(aws: Provisioned) -> None:
    api = _setup()
    status, body = api.call(
        "POST", BASE, {"type": "phone", "value": "+41 44 555 66 77", "observation": "Buchhalterin, vormittags"}
    )
    assert status == 201, body
    assert (body["value"], body["source"], body["state"], body["observation"]) == (
        "+41445556677",
        "manual",
        "pending",
        "Buchhalterin, vormittags",
    )
    cp = body["contact_point_id"]
    assert api.call("POST", BASE, {"type": "phone", "value": "+41445556677"})[1]["error"]["code"] == (
        "contact_point_exists"
    )
    status, body = api.call("POST", BASE, {"type": "email", "value": "cfo@example.com", "observation": "CFO, a liar"})
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, "observation_not_objective", "observation")
    assert "'liar'" in body["error"]["message"]
    assert api.call("POST", BASE, {"type": "email", "value": "not an e-mail"})[1]["error"]["code"] == "invalid_email"

    status, body = api.call("PATCH", f"{BASE}/{cp}", {"observation": "Comptable, un escroc"})
    assert (status, body["error"]["field"]) == (422, "observation")
    assert api.call("GET", f"{BASE}/{cp}")[1]["observation"] == "Buchhalterin, vormittags"
    status, body = api.call("PATCH", f"{BASE}/{cp}", {"observation": "CFO"})
    assert status == 200 and body["observation"] == "CFO"
    entry = _audit(api)[0]
    assert (entry["action"], entry["before"], entry["after"]) == (
        "contact_point.observation_edited",
        {"observation": "Buchhalterin, vormittags"},
        {"observation": "CFO"},
    )
    assert api.call("PATCH", f"{BASE}/{cp}", {"observation": None})[1].get("observation") is None


def test_contact_actions_fit_the_type_and_reach_notifications(aws: Provisioned) -> None:
    api = _setup(("phone", "+41441111111"), ("email", "max@example.com"), ("postal_address", "Hauptstr. 1, Bern"))
    phone, email = point_id(api, OWNER, "phone"), point_id(api, OWNER, "email")
    address = point_id(api, OWNER, "postal_address")
    receive_all(aws, "notifications-inbox")

    status, body = api.call("POST", f"{BASE}/{phone}/actions", {"action": "sms", "case_id": "case-1"})
    assert status == 202, body
    assert api.call("POST", f"{BASE}/{address}/actions", {"action": "letter"})[0] == 202
    status, body = api.call("POST", f"{BASE}/{email}/actions", {"action": "call"})
    assert (status, body["error"]["code"]) == (422, "action_not_for_type")
    status, body = api.call("POST", f"{BASE}/{phone}/actions", {"action": "call", "automatic": True})
    assert (status, body["error"]["code"]) == (409, "not_default")
    assert api.call("POST", f"{BASE}/{phone}/actions", {"action": "call", "case_id": "nope"})[0] == 404

    api.call("POST", f"{BASE}/{email}/invalidate", {"reason": "bounced"})
    status, body = api.call("POST", f"{BASE}/{email}/actions", {"action": "email"})
    assert (status, body["error"]["code"]) == (409, "contact_point_invalid")

    _validate(api, phone)
    api.call("POST", f"{BASE}/{phone}/make-default")
    status, body = api.call("POST", "/cases/case-1/actions", {"action": "call", "automatic": True})
    assert status == 202 and body["contact_point"]["contact_point_id"] == phone

    messages = [m["Body"] for m in receive_all(aws, "notifications-inbox")]
    details = [json.loads(b)["detail"] for b in messages if "ContactActionRequested" in b]
    assert sorted((d["action"], d["contact_point_value"], d["automatic"]) for d in details) == [
        ("call", "+41441111111", True),
        ("letter", "Hauptstr. 1, Bern", False),
        ("sms", "+41441111111", False),
    ]
    assert {d["case_id"] for d in details} == {"case-1", None}


def test_client_users_see_only_their_clients_case_owners_and_only_read(aws: Provisioned) -> None:
    api = _setup()
    deliver(imported("owner-b", client_id="client-b", case_ids=("case-b",)))
    cp = point_id(api, OWNER, "phone")

    assert api.call("GET", f"/case-owners/{OWNER}", token="client-a-user")[0] == 200
    assert api.call("GET", BASE, token="client-a-user")[0] == 200
    assert api.call("GET", "/cases/case-1", token="client-a-user")[0] == 200
    assert api.call("GET", f"/case-owners/{OWNER}/audit", token="client-a-user")[0] == 200
    for path in (f"/case-owners/{OWNER}", BASE, f"{BASE}/{cp}", f"/case-owners/{OWNER}/audit", "/cases/case-1"):
        status, body = api.call("GET", path, token="client-b-user")
        assert status == 404, (path, body)
    status, _ = api.call(
        "POST", f"{BASE}/{cp}/validate", {"evidence": {"kind": "successful_call"}}, token="client-a-user"
    )
    assert status == 403
    assert api.call("POST", BASE, {"type": "email", "value": "x@example.com"}, token="client-a-user")[0] == 403
    assert api.call("GET", f"{BASE}/{cp}")[1]["state"] == "pending"
    assert api.call("GET", "/case-owners/nobody")[0] == 404


def test_the_audit_entry_is_written_in_the_same_transaction_as_the_change(aws: Provisioned) -> None:
    api = _setup()
    cp = point_id(api, OWNER, "phone")
    item = case_repository.get_contact_point(OWNER, cp)
    assert item is not None
    _validate(api, cp)  # someone else changed the point after we read it
    entries = len(_audit(api))

    tx = case_repository.Tx()
    case_repository.update_point(tx, item, {"observation": "stale write"})
    tx.audit(
        audit.entry(OWNER, audit.Actor("test", "collector"), "test.stale", target_type="contact_point", target_id=cp)
    )
    try:
        tx.commit()
        raise AssertionError("a stale revision must not be written")
    except case_repository.WriteConflict:
        pass
    assert len(_audit(api)) == entries  # no entry for a change that did not happen
    assert "observation" not in (case_repository.get_contact_point(OWNER, cp) or {})


def test_a_phone_is_read_in_the_given_country_else_the_owners_address_country_else_the_clients(
    aws: Provisioned,
) -> None:
    """Issue 10, item 3: the API reads phones with the import's normaliser, national forms included."""
    api = _setup()

    def add(value: str, **extra: str) -> tuple[int, Any]:
        return api.call("POST", BASE, {"type": "phone", "value": value, **extra})

    status, body = add("030/1234567")  # no address yet: the client's import default country (DE)
    assert (status, body["value"]) == (201, "+49301234567"), body
    status, body = add("01 42 68 53 00", country="fr")
    assert (status, body["value"]) == (201, "+33142685300"), body
    for reserved in ("+44 7700 900123", "+49 3012", "+44 121234567", "+43 1 234"):
        status, body = add(reserved)
        assert (status, body["error"]["code"], body["error"]["field"]) == (422, "invalid_phone", "value"), reserved
    status, body = add("030 1234567", country="ZZ")
    assert (status, body["error"]["code"]) == (422, "invalid_country")
    status, body = api.call("POST", BASE, {"type": "email", "value": "a@example.com", "country": "DE"})
    assert (status, body["error"]["code"]) == (422, "country_not_for_type")

    address = {"street": "Bahnhofstrasse 1", "postcode": "8001", "city": "Zürich", "country": "CH"}
    status, body = api.call(
        "POST", BASE, {"type": "postal_address", "value": "Bahnhofstrasse 1, 8001 Zürich", "address": address}
    )
    assert status == 201, body
    cp = body["contact_point_id"]
    assert _validate(api, cp, "inbound_letter")[0] == 200
    assert api.call("POST", f"{BASE}/{cp}/make-default")[0] == 200
    status, body = add("044 668 18 00")  # now read in the owner's country
    assert (status, body["value"]) == (201, "+41446681800"), body
