"""The contacts API's edge against hostile requests (hardening items 1, 2, 8, 9): every one gets a specific 4xx
in the error contract, none a 500 or another route."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import pytest

from infra.provision import Provisioned
from tests.integration.contacts.cases.support import deliver, imported
from tests.integration.contacts.support import COLLECTOR, Api, new_client

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("param", ["x%3Fy", "x%23y", "x%2Fy"])
def test_an_encoded_reserved_character_stays_inside_its_path_parameter(aws: Provisioned, param: str) -> None:
    reply = Api(aws).call("GET", f"/cases/{param}/notes")
    assert reply.status == 404, reply.body
    assert reply.error["code"] == "case_not_found"
    decoded = param.replace("%3F", "?").replace("%23", "#").replace("%2F", "/")
    assert reply.error["message"] == f"case {decoded!r} does not exist"


def test_over_http_the_path_is_routed_before_it_is_decoded(aws: Provisioned) -> None:
    gateway = Api(aws).gateway()
    url = gateway.serve()
    try:
        request = urllib.request.Request(f"{url}/cases/x%3Fy/notes", headers={"Authorization": "Bearer local-admin"})
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=10)
    finally:
        gateway.stop()
    assert answer.value.code == 404
    assert json.loads(answer.value.read())["error"]["message"] == "case 'x?y' does not exist"


# ---- item 1: hostile bodies are refused before parsing ------------------------------------------------------


def test_a_deeply_nested_body_is_refused_not_a_500(aws: Provisioned) -> None:
    reply = Api(aws).call("POST", "/clients", raw=("[" * 1000 + "]" * 1000).encode())
    assert (reply.status, reply.error["code"]) == (400, "too_deeply_nested")
    nested_in_a_field = '{"legal_name": "A", "company": ' + '{"x": ' * 40 + "1" + "}" * 41
    reply = Api(aws).call("PATCH", "/clients/any", raw=nested_in_a_field.encode())
    assert reply.status in (400, 404) and reply.status != 500


def test_brackets_inside_strings_do_not_count_as_nesting(aws: Provisioned) -> None:
    reply = Api(aws).call("POST", "/clients", {"legal_name": "[[[[ {{{{ " * 20})
    assert reply.status == 201, reply.body


def test_an_oversized_body_is_refused_with_413(aws: Provisioned) -> None:
    reply = Api(aws).call("POST", "/clients", {"legal_name": "A", "padding": "x" * 300_000})
    assert (reply.status, reply.error["code"]) == (413, "body_too_large")


# ---- item 2: forged next_tokens ------------------------------------------------------------------------------


def _token(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def test_forged_next_tokens_get_400_not_500(aws: Provisioned) -> None:
    api = Api(aws)
    client_id = new_client(api)["client_id"]
    owner = "owner-forged"
    deliver(imported(owner))
    forged = [
        (f"/clients/{client_id}/cases", {"GSI1PK": f"CLIENT#{client_id}#CASES"}),
        (f"/case-owners/{owner}/contact-points", {"PK": f"OWNER#{owner}"}),
        (f"/case-owners/{owner}/audit", {"PK": f"OWNER#{owner}"}),
        (f"/case-owners/{owner}/audit", {"PK": f"OWNER#{owner}", "SK": "CP#email#x"}),  # another list's range
        (f"/clients/{client_id}/users", {"PK": f"CLIENT#{client_id}", "SK": 7}),
        ("/clients", ["not", "a", "key"]),
    ]
    for path, value in forged:
        reply = api.call("GET", path, query={"next_token": _token(value)})
        assert (reply.status, reply.error["code"]) == (400, "invalid_next_token"), (path, value, reply.body)
    token = _token({"GSI1PK": f"CLIENT#{client_id}#CASES"})
    reply = api.call("GET", f"/clients/{client_id}/cases", query={"next_token": token})
    assert (reply.status, reply.error["code"]) == (400, "invalid_next_token")


# ---- items 4, 5, 9: null portfolios, loose types, rights before validation ----------------------------------


def test_null_portfolios_are_refused_not_a_delete_without_checks(aws: Provisioned) -> None:
    api = Api(aws)
    client = new_client(api, portfolios=[{"portfolio_id": "energy", "name": "Energy"}])
    reply = api.call("PATCH", f"/clients/{client['client_id']}", {"portfolios": None})
    assert (reply.status, reply.error["field"]) == (422, "portfolios"), reply.body
    assert [p["portfolio_id"] for p in api.call("GET", f"/clients/{client['client_id']}").body["portfolios"]] == [
        "energy"
    ]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/clients/{id}/users", {"first_name": "A", "last_name": "B", "email": "ab@example.com", "platform_access": 0}),
        ("/clients/{id}/users", {"first_name": "A", "last_name": "B", "email": "ab@example.com", "commercial": "true"}),
    ],
)
def test_loose_types_are_refused(aws: Provisioned, path: str, body: dict[str, object]) -> None:
    api = Api(aws)
    client_id = new_client(api)["client_id"]
    reply = api.call("POST", path.replace("{id}", client_id), body)
    assert reply.status == 422, reply.body


def test_a_collector_changing_finances_gets_403_whatever_the_body(aws: Provisioned) -> None:
    api = Api(aws)
    client_id = new_client(api)["client_id"]
    bodies: list[object] = [{"commission_percent": "not a number", "bogus": 1}, None, []]
    for finances in bodies:
        reply = api.call("PATCH", f"/clients/{client_id}", {"finances": finances}, token=COLLECTOR)
        assert reply.status == 403, (finances, reply.body)


# ---- item 6: length limits count what people see -------------------------------------------------------------


def test_length_limits_are_checked_after_invisible_characters_are_removed(aws: Provisioned) -> None:
    assert deliver(imported("owner-1")) == {"batchItemFailures": []}
    api = Api(aws)
    notes = "/cases/case-1/notes"
    invisible = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u202e\u2066\u061c\u3164"  # zero-width, bidi, soft hyphen…
    refused = {
        "only invisible characters": invisible * 10,
        "only invisible characters and a no-break space": "\u00a0" + "\u200b" * 50 + "\u00a0",
        "5,001 visible characters behind a bidi override": "\u202e" + "n" * 5001,
        "5,001 visible characters among zero-width spaces": "\u200b".join("n" * 5001),
    }
    for why, text in refused.items():
        reply = api.call("POST", notes, {"text": text})
        assert (reply.status, reply.error["field"]) == (422, "text"), why
    accepted = {
        "5,000 characters behind a no-break space": ("\u00a0" + "n" * 5000, "n" * 5000),
        "5,000 characters padded with invisible ones": (invisible * 100 + "n" * 5000 + invisible, "n" * 5000),
        "a joiner inside a word stays, one before a space goes": ("می\u200cخواهم\u200c ok", "می\u200cخواهم ok"),
    }
    for why, (text, stored) in accepted.items():
        reply = api.call("POST", notes, {"text": text})
        assert reply.status == 201, (why, reply.body)
        assert reply.body["text"] == stored, why
