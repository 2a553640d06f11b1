"""Business units, clients, client users and client settings through the contacts API (real API GW events)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.provision import Provisioned
from tests.integration.contacts.support import ADMIN, COLLECTOR, Api, bus_events, new_client
from tests.integration.support import client

pytestmark = pytest.mark.integration

EMEA = {
    "business_unit_id": "emea",
    "name": "Agency EMEA",
    "company": {"legal_name": "Inkasso EMEA GmbH", "registration_number": "HRB 999"},
    "email": {"sender_email": "billing@emea.agency.example", "reply_to": "team@emea.agency.example"},
    "invoice": {"currency": "EUR", "payment_terms_days": 14},
    "email_footers": {"de": "Inkasso EMEA GmbH, Berlin", "fr": "Inkasso EMEA, Paris"},
    "communication_templates": {"closing_fully_paid.de": {"subject": "Danke", "body": "Ihr Fall ist bezahlt."}},
}


@pytest.fixture
def api(aws: Provisioned, monkeypatch: pytest.MonkeyPatch) -> Api:
    # The EMEA unit sends from its own domain: the deployment allows it and SES has verified it.
    monkeypatch.setenv("SENDER_DOMAIN", "emea.agency.example")
    client(aws, "ses").verify_domain_identity(Domain="emea.agency.example")
    return Api(aws)


def user_body(email: str, **extra: Any) -> dict[str, Any]:
    return {"first_name": "Petra", "last_name": "Meyer", "email": email, **extra}


# ---- business units ---------------------------------------------------------------------------------------


def test_a_client_without_a_business_unit_gets_the_built_in_default_and_its_sender(api: Api, aws: Provisioned) -> None:
    client = new_client(api, registration_number="HRB 12345")  # what infra/demo.py sends

    assert client["business_unit_id"] == "default"
    assert client["business_unit"]["email"]["sender_email"] == "no-reply@finview.example"
    [registered] = bus_events(aws, "notifications-inbox", "ClientRegistered.v1")
    assert registered["sender_email"] == "no-reply@finview.example"
    assert api.call("GET", "/business-units/default").status == 200


def test_a_client_inherits_its_business_unit_and_overrides_reply_to_and_a_footer(api: Api, aws: Provisioned) -> None:
    assert api.call("POST", "/business-units", EMEA).status == 201
    client = new_client(
        api,
        business_unit_id="emea",
        business_unit_overrides={"reply_to": "kunde@stadtwerke.example", "email_footers": {"de": "Stadtwerke-Fuß"}},
    )
    [registered] = bus_events(aws, "notifications-inbox", "ClientRegistered.v1")
    assert registered["sender_email"] == "billing@emea.agency.example"  # from the chosen business unit

    effective = api.call("GET", f"/clients/{client['client_id']}/business-unit").body
    assert effective["email"]["sender_email"] == "billing@emea.agency.example"
    assert effective["email"]["reply_to"] == "kunde@stadtwerke.example"
    assert effective["email_footers"] == {"de": "Stadtwerke-Fuß", "fr": "Inkasso EMEA, Paris"}
    assert effective["invoice"]["payment_terms_days"] == 14
    assert set(effective["communication_templates"]) == {"closing_fully_paid.de"}
    assert sorted(effective["overridden"]) == ["email.reply_to", "email_footers.de"]

    # What the client does not override follows later changes of its business unit.
    changed = {**{k: v for k, v in EMEA.items() if k != "business_unit_id"}, "email_footers": {"fr": "Nouveau pied"}}
    assert api.call("PUT", "/business-units/emea", changed).status == 200
    profile = api.call("GET", f"/clients/{client['client_id']}").body
    assert profile["business_unit"]["email_footers"] == {"de": "Stadtwerke-Fuß", "fr": "Nouveau pied"}


def test_a_new_sender_address_reaches_the_consumers_for_every_client_of_the_business_unit(
    api: Api, aws: Provisioned
) -> None:
    assert api.call("POST", "/business-units", EMEA).status == 201
    ours = {new_client(api, name, business_unit_id="emea")["client_id"] for name in ("One AG", "Two AG")}
    new_client(api, "Default AG")
    bus_events(aws, "notifications-inbox", "ClientRegistered.v1")

    definition = {k: v for k, v in EMEA.items() if k != "business_unit_id"}
    invoice = {**definition, "invoice": {"currency": "EUR", "payment_terms_days": 30}}
    assert api.call("PUT", "/business-units/emea", invoice).status == 200
    assert bus_events(aws, "notifications-inbox", "ClientRegistered.v1") == []  # same sender: nothing to tell

    # The unit's name is the sender's name in its clients' e-mails: they are told.
    assert api.call("PUT", "/business-units/emea", {**definition, "name": "Renamed"}).status == 200
    renamed = bus_events(aws, "notifications-inbox", "ClientRegistered.v1")
    assert {e["client_id"] for e in renamed} == ours and {e["sender"]["name"] for e in renamed} == {"Renamed"}

    moved = {**definition, "email": {"sender_email": "post@emea.agency.example"}}
    assert api.call("PUT", "/business-units/emea", moved).status == 200
    told = bus_events(aws, "notifications-inbox", "ClientRegistered.v1")
    assert {e["client_id"] for e in told} == ours
    assert {e["sender_email"] for e in told} == {"post@emea.agency.example"}


def test_a_client_must_pick_an_existing_business_unit(api: Api) -> None:
    reply = api.call("POST", "/clients", {"legal_name": "X GmbH", "business_unit_id": "nowhere"})
    assert reply.status == 422
    assert reply.error["field"] == "business_unit_id"
    assert reply.error["code"] == "unknown_business_unit"

    client = new_client(api)
    reply = api.call("PATCH", f"/clients/{client['client_id']}", {"business_unit_id": "nowhere"})
    assert (reply.status, reply.error["field"]) == (422, "business_unit_id")
    assert api.call("GET", f"/clients/{client['client_id']}").body["business_unit_id"] == "default"


def test_only_an_agency_admin_creates_or_changes_business_units(api: Api) -> None:
    assert api.call("POST", "/business-units", EMEA, token=COLLECTOR).status == 403
    assert api.call("POST", "/business-units", EMEA).status == 201
    reply = api.call("POST", "/business-units", EMEA)
    assert (reply.status, reply.error["code"]) == (409, "business_unit_exists")

    definition = {k: v for k, v in EMEA.items() if k != "business_unit_id"}
    assert api.call("PUT", "/business-units/emea", {**definition, "name": "Hijack"}, token=COLLECTOR).status == 403
    assert api.call("GET", "/business-units/emea", token=COLLECTOR).body["name"] == "Agency EMEA"
    assert api.call("PUT", "/business-units/missing", definition).status == 404
    assert api.call("GET", "/business-units/missing").status == 404

    client = new_client(api)
    assert api.call("GET", "/business-units", token=api.client_user(client["client_id"])).status == 403


def test_business_unit_validation_names_the_field(api: Api) -> None:
    bad_sender = {**EMEA, "email": {"sender_email": "not-an-address"}}
    reply = api.call("POST", "/business-units", bad_sender)
    assert (reply.status, reply.error["field"]) == (422, "email.sender_email")
    reply = api.call("POST", "/business-units", {**EMEA, "email_footers": {"deutsch": "x"}})
    assert reply.status == 422 and reply.error["field"].startswith("email_footers")


def test_business_units_are_listed_page_by_page(api: Api) -> None:
    for n in range(3):
        body = {**EMEA, "business_unit_id": f"unit-{n}", "name": f"Unit {n}"}
        assert api.call("POST", "/business-units", body).status == 201
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        query = {"limit": "2", **({"next_token": token} if token else {})}
        reply = api.call("GET", "/business-units", query=query)
        assert reply.status == 200 and len(reply.body["items"]) <= 2
        seen += [u["business_unit_id"] for u in reply.body["items"]]
        pages += 1
        token = reply.body["next_token"]
        if not token:
            break
    assert sorted(seen) == ["default", "unit-0", "unit-1", "unit-2"]
    assert pages >= 2

    assert api.call("GET", "/business-units", query={"next_token": "garbage!"}).status == 400
    assert api.call("GET", "/business-units", query={"limit": "0"}).error["field"] == "limit"


# ---- clients ----------------------------------------------------------------------------------------------


def test_clients_are_listed_by_name_page_by_page_and_a_client_user_sees_only_its_own(api: Api) -> None:
    ids = {new_client(api, name)["client_id"]: name for name in ("Cäsar AG", "Anton GmbH", "Berta KG")}
    names: list[str] = []
    token: str | None = None
    while True:
        reply = api.call("GET", "/clients", query={"limit": "2", **({"next_token": token} if token else {})})
        assert reply.status == 200
        names += [c["legal_name"] for c in reply.body["items"]]
        token = reply.body["next_token"]
        if not token:
            break
    assert names == ["Anton GmbH", "Berta KG", "Cäsar AG"]

    own = next(iter(ids))
    mine = api.call("GET", "/clients", token=api.client_user(own)).body["items"]
    assert [c["client_id"] for c in mine] == [own]

    # A token from one list is refused on another (it must not page into someone else's data).
    users_token = api.call("GET", f"/clients/{own}/users", query={"limit": "1"}).body["next_token"]
    other_list = api.call("GET", "/business-units", query={"next_token": users_token or "e30="})
    assert (other_list.status, other_list.error["code"]) == (400, "invalid_next_token")


def test_a_client_holds_company_information_finances_and_portfolios(api: Api) -> None:
    client = new_client(
        api,
        registration_number="HRB 1",
        address={"street": "Hauptstr. 1", "postcode": "10115", "city": "Berlin", "country": "DE"},
        finances={"commission_percent": "12.5", "fee_per_case": "3.00", "invoice_email": "ap@stadtwerke.example"},
        portfolios=[{"portfolio_id": "b2c", "name": "Private customers"}, {"portfolio_id": "b2b", "name": "Business"}],
    )
    got = api.call("GET", f"/clients/{client['client_id']}").body
    assert got["address"]["city"] == "Berlin"
    assert got["finances"]["commission_percent"] == "12.5"
    assert [p["portfolio_id"] for p in got["portfolios"]] == ["b2c", "b2b"]

    reply = api.call("POST", "/clients", {"legal_name": "Y", "portfolios": [{"portfolio_id": "a", "name": "A"}] * 2})
    assert (reply.status, reply.error["field"]) == (422, "portfolios.1.portfolio_id")
    reply = api.call("POST", "/clients", {"legal_name": "Y", "finances": {"commission_percent": "120"}})
    assert (reply.status, reply.error["field"]) == (422, "finances.commission_percent")


def test_patching_a_client(api: Api, aws: Provisioned) -> None:
    client = new_client(api, portfolios=[{"portfolio_id": "b2c", "name": "Private"}])
    cid = client["client_id"]
    bus_events(aws, "imports-inbox", "ClientRegistered.v1")

    reply = api.call("PATCH", f"/clients/{cid}", {"legal_name": "Stadtwerke Neu GmbH"}, token=COLLECTOR)
    assert reply.status == 200 and reply.body["legal_name"] == "Stadtwerke Neu GmbH"
    assert reply.body["portfolios"] == [{"portfolio_id": "b2c", "name": "Private", "description": None}]
    # Consumers keep the client's name: they hear about the change.
    [renamed] = bus_events(aws, "imports-inbox", "ClientRegistered.v1")
    assert renamed["legal_name"] == "Stadtwerke Neu GmbH"

    # Business unit and finances are the agency's commercial terms: administrator only.
    assert (
        api.call("PATCH", f"/clients/{cid}", {"finances": {"commission_percent": "10"}}, token=COLLECTOR).status == 403
    )
    assert api.call("PATCH", f"/clients/{cid}", {"business_unit_id": "default"}, token=COLLECTOR).status == 403
    assert api.call("PATCH", f"/clients/{cid}", {"finances": {"commission_percent": "10"}}).status == 200
    assert api.call("PATCH", f"/clients/{cid}", {"legal_name": None}).error["field"] == "legal_name"
    assert api.call("PATCH", f"/clients/{cid}", {"registration_number": None}).body["registration_number"] is None

    # A portfolio a user still works on cannot be removed.
    user = api.call("POST", f"/clients/{cid}/users", user_body("emp@stadtwerke.example", portfolios=["b2c"]))
    assert user.status == 201
    reply = api.call("PATCH", f"/clients/{cid}", {"portfolios": []})
    assert (reply.status, reply.error["code"]) == (409, "portfolio_in_use")

    other = new_client(api, "Other AG")
    assert api.call("PATCH", f"/clients/{cid}", {"legal_name": "x"}, token=api.client_user(cid)).status == 403
    assert api.call("GET", f"/clients/{cid}", token=api.client_user(other["client_id"])).status == 404
    assert api.call("GET", f"/clients/{cid}", token=api.client_user(cid)).status == 200


# ---- client users -----------------------------------------------------------------------------------------


def test_creating_a_user_parses_the_phone_and_invites_it(api: Api, aws: Provisioned) -> None:
    cid = new_client(api)["client_id"]
    reply = api.call(
        "POST",
        f"/clients/{cid}/users",
        user_body("Petra.Meyer@Stadtwerke.example", phone="030 1234567", phone_country="DE", operational=True),
    )
    assert reply.status == 201, reply.body
    user = reply.body
    assert user["phone"] == "+49301234567"
    assert user["email"] == "petra.meyer@stadtwerke.example"
    assert (user["operational"], user["commercial"], user["employee"], user["platform_access"]) == (
        True,
        False,
        False,
        True,
    )
    [created] = bus_events(aws, "notifications-inbox", "ClientUserCreated.v1")
    assert created["user_id"] == user["user_id"] and created["linked_existing"] is False
    assert created["platform_access"] is True and created["sender_email"] == "no-reply@finview.example"

    both = api.call(
        "POST", f"/clients/{cid}/users", user_body("ceo@stadtwerke.example", commercial=True, operational=True)
    )
    assert (both.body["commercial"], both.body["operational"], both.body["employee"]) == (True, True, False)
    employee = api.call("POST", f"/clients/{cid}/users", user_body("emp@stadtwerke.example", platform_access=False))
    assert employee.body["employee"] is True and employee.body["platform_access"] is False

    listed = api.call("GET", f"/clients/{cid}/users").body["items"]
    assert sorted(u["email"] for u in listed) == [
        "ceo@stadtwerke.example",
        "emp@stadtwerke.example",
        "petra.meyer@stadtwerke.example",
    ]
    assert api.call("GET", f"/clients/{cid}/users/{user['user_id']}", token=api.client_user(cid)).status == 200


def test_a_clients_users_are_listed_page_by_page(api: Api) -> None:
    cid = new_client(api)["client_id"]
    for n in range(5):
        assert api.call("POST", f"/clients/{cid}/users", user_body(f"u{n}@x.example")).status == 201
    emails: list[str] = []
    token: str | None = None
    while True:
        reply = api.call(
            "GET", f"/clients/{cid}/users", query={"limit": "2", **({"next_token": token} if token else {})}
        )
        assert reply.status == 200 and len(reply.body["items"]) <= 2
        emails += [u["email"] for u in reply.body["items"]]
        token = reply.body["next_token"]
        if not token:
            break
    assert sorted(emails) == [f"u{n}@x.example" for n in range(5)]

    # This client's page token does not page through another client's users.
    first = api.call("GET", f"/clients/{cid}/users", query={"limit": "2"}).body["next_token"]
    other = new_client(api, "Other AG")["client_id"]
    reply = api.call("GET", f"/clients/{other}/users", query={"next_token": first})
    assert (reply.status, reply.error["code"]) == (400, "invalid_next_token")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"phone": "12", "phone_country": "DE"}, "phone"),
        ({"phone": "030 1234567", "phone_country": "US"}, "phone"),
        ({"phone": "030 1234567"}, "phone"),  # no + and no country: the dialling code is unknown
        ({"phone": "+49 30 1234567", "phone_country": "QQ"}, "phone_country"),
    ],
)
def test_an_invalid_phone_is_refused_naming_the_field(api: Api, extra: dict[str, str], field: str) -> None:
    cid = new_client(api)["client_id"]
    reply = api.call("POST", f"/clients/{cid}/users", user_body("p@x.example", **extra))
    assert (reply.status, reply.error["field"]) == (422, field)
    assert api.call("GET", f"/clients/{cid}/users").body["items"] == []  # nothing half-written


def test_an_invalid_email_or_unknown_portfolio_is_refused(api: Api) -> None:
    cid = new_client(api)["client_id"]
    reply = api.call("POST", f"/clients/{cid}/users", user_body("not-an-email"))
    assert (reply.status, reply.error["field"]) == (422, "email")
    reply = api.call("POST", f"/clients/{cid}/users", user_body("p@x.example", portfolios=["nope"]))
    assert (reply.status, reply.error["field"], reply.error["code"]) == (422, "portfolios", "unknown_portfolio")


def test_same_email_is_the_same_person_linked_not_duplicated(api: Api, aws: Provisioned) -> None:
    first, second = new_client(api, "First AG")["client_id"], new_client(api, "Second AG")["client_id"]
    created = api.call("POST", f"/clients/{first}/users", user_body("petra@x.example", phone="+33612345678"))
    assert created.status == 201
    bus_events(aws, "notifications-inbox", "ClientUserCreated.v1")

    again = api.call("POST", f"/clients/{second}/users", user_body("PETRA@x.example"))
    assert (again.status, again.error["code"]) == (409, "person_exists")
    assert f"/clients/{second}/users/link" in again.error["message"]

    linked = api.call(
        "POST",
        f"/clients/{second}/users/link",
        {"email": "petra@x.example", "commercial": True, "platform_access": True},
    )
    assert linked.status == 201, linked.body
    assert linked.body["user_id"] == created.body["user_id"]
    assert (linked.body["first_name"], linked.body["phone"], linked.body["commercial"]) == (
        "Petra",
        "+33612345678",
        True,
    )
    # Rights are per client: still an employee at the first client.
    assert api.call("GET", f"/clients/{first}/users/{created.body['user_id']}").body["commercial"] is False

    [event] = bus_events(aws, "notifications-inbox", "ClientUserCreated.v1")
    assert event["linked_existing"] is True and event["client_id"] == second

    twice = api.call("POST", f"/clients/{second}/users/link", {"user_id": created.body["user_id"]})
    assert (twice.status, twice.error["code"]) == (409, "already_linked")
    assert len(api.call("GET", f"/clients/{second}/users").body["items"]) == 1

    third = new_client(api, "Third AG")["client_id"]
    assert api.call("POST", f"/clients/{third}/users/link", {"user_id": created.body["user_id"]}).status == 201
    assert api.call("POST", f"/clients/{third}/users/link", {"email": "nobody@x.example"}).status == 404
    neither = api.call("POST", f"/clients/{third}/users/link", {"commercial": True})
    assert (neither.status, neither.error["field"]) == (422, "user_id")


def test_changing_a_users_rights(api: Api) -> None:
    cid = new_client(api, portfolios=[{"portfolio_id": "b2b", "name": "Business"}])["client_id"]
    uid = api.call("POST", f"/clients/{cid}/users", user_body("u@x.example"))
    assert uid.status == 201
    path = f"/clients/{cid}/users/{uid.body['user_id']}"

    changed = api.call("PATCH", path, {"operational": True, "portfolios": ["b2b"]}, token=COLLECTOR)
    assert changed.status == 200
    assert (changed.body["operational"], changed.body["employee"], changed.body["portfolios"]) == (True, False, ["b2b"])
    back = api.call("PATCH", path, {"operational": False})
    assert back.body["employee"] is True and back.body["portfolios"] == ["b2b"]
    assert api.call("PATCH", path, {"portfolios": ["zzz"]}).error["field"] == "portfolios"
    assert api.call("PATCH", f"/clients/{cid}/users/missing", {"commercial": True}).status == 404

    assert api.call("PATCH", path, {"commercial": True}, token=api.client_user(cid)).status == 403
    assert api.call("POST", f"/clients/{cid}/users", user_body("v@x.example"), token=api.client_user(cid)).status == 403


# ---- settings ---------------------------------------------------------------------------------------------


def settings_body(**sections: Any) -> dict[str, Any]:
    return {
        "enrichment": {"granted": False, "interval_days": 30, "attempts": 1},
        "imports": {"new_file_per_invoice": False, "match_on_client_case_number": False},
        **sections,
    }


def test_settings_defaults(api: Api) -> None:
    cid = new_client(api)["client_id"]
    got = api.call("GET", f"/clients/{cid}/settings").body
    assert got["enrichment"] == {"granted": False, "interval_days": 30, "attempts": 1, "monthly_budget": None}
    assert got["imports"] == {
        "new_file_per_invoice": False,
        "match_on_client_case_number": False,
        "column_mapping": {},
        "date_format": "auto",
        "default_country": "DE",
    }
    assert got["workflow"]["breathing_space_enabled"] is False and got["workflow"]["breathing_space_days"] is None
    assert got["debtor_communication"] == {
        "closing_email_on_full_payment": False,
        "closing_email_on_settlement_paid": False,
        "max_sms_segments": 3,
    }
    assert got["data_protection"] == {"retention_years": None}  # the law of the client's country


def test_only_an_admin_grants_or_revokes_enrichment_a_collector_changes_the_rest(api: Api, aws: Provisioned) -> None:
    cid = new_client(api)["client_id"]
    path = f"/clients/{cid}/settings"
    granted = settings_body(enrichment={"granted": True, "interval_days": 30, "attempts": 2})

    reply = api.call("PUT", path, granted, token=COLLECTOR)
    assert (reply.status, reply.error["code"]) == (403, "forbidden")
    assert api.call("GET", path).body["enrichment"]["granted"] is False
    assert api.call("PUT", path, granted, token=ADMIN).status == 200

    longer = settings_body(enrichment={"granted": True, "interval_days": 60, "attempts": 3})
    assert api.call("PUT", path, longer, token=COLLECTOR).status == 200
    revoke = settings_body(enrichment={"granted": False, "interval_days": 60, "attempts": 3})
    assert api.call("PUT", path, revoke, token=COLLECTOR).status == 403
    assert api.call("GET", path).body["enrichment"] == {
        "granted": True,
        "interval_days": 60,
        "attempts": 3,
        "monthly_budget": None,
    }
    assert api.call("PUT", path, longer, token=api.client_user(cid)).status == 403
    assert api.call("GET", path, token=api.client_user(cid)).status == 200

    # Consumers read settings["enrichment"][...] and settings["imports"][...] from the whole new settings.
    changes = bus_events(aws, "enrichment-inbox", "ClientSettingsChanged.v1")
    assert [c["settings"]["enrichment"]["interval_days"] for c in changes] == [30, 60]
    assert changes[-1]["settings"]["enrichment"] == {
        "granted": True,
        "interval_days": 60,
        "attempts": 3,
        "monthly_budget": None,
    }
    assert set(changes[-1]["settings"]) == {
        "enrichment",
        "imports",
        "workflow",
        "debtor_communication",
        "data_protection",
    }


def test_import_settings_reach_the_imports_service_in_the_event(api: Api, aws: Provisioned) -> None:
    cid = new_client(api)["client_id"]
    imports = {
        "new_file_per_invoice": True,
        "match_on_client_case_number": True,
        "column_mapping": {"client_case_number": "Aktenzeichen", "amount": "Offener Betrag"},
        "date_format": "DMY",
        "default_country": "at",
    }
    reply = api.call("PUT", f"/clients/{cid}/settings", settings_body(imports=imports))
    assert reply.status == 200 and reply.body["imports"]["default_country"] == "AT"
    [changed] = bus_events(aws, "imports-inbox", "ClientSettingsChanged.v1")
    assert changed["settings"]["imports"] == {**imports, "default_country": "AT"}


@pytest.mark.parametrize(
    ("sections", "field"),
    [
        ({"workflow": {"breathing_space_enabled": True}}, "workflow.breathing_space_days"),
        ({"workflow": {"breathing_space_enabled": False, "breathing_space_days": 10}}, "workflow.breathing_space_days"),
        ({"workflow": {"max_phone_call_retries": -1}}, "workflow.max_phone_call_retries"),
        ({"imports": {"column_mapping": {"shoe_size": "Size"}}}, "imports.column_mapping.shoe_size"),
        (
            {"imports": {"column_mapping": {"first_name": "Name", "last_name": "name"}}},
            "imports.column_mapping.last_name",
        ),
        ({"imports": {"date_format": "DD.MM.YYYY"}}, "imports.date_format"),
        ({"imports": {"default_country": "XX"}}, "imports.default_country"),
        ({"enrichment": {"interval_days": 0}}, "enrichment.interval_days"),
        ({"enrichment": {"attempts": 1, "cost": 3}}, "enrichment.cost"),
        (
            {"workflow": {"portfolio_overrides": {"ghost": {"max_phone_call_retries": 1}}}},
            "workflow.portfolio_overrides.ghost",
        ),
    ],
)
def test_invalid_settings_are_refused_naming_the_field_path(api: Api, sections: dict[str, Any], field: str) -> None:
    cid = new_client(api)["client_id"]
    reply = api.call("PUT", f"/clients/{cid}/settings", settings_body(**sections))
    assert reply.status == 422, reply.body
    assert reply.error["field"] == field
    assert api.call("GET", f"/clients/{cid}/settings").body["workflow"]["breathing_space_enabled"] is False


def test_a_portfolio_overrides_workflow_settings_field_by_field(api: Api) -> None:
    portfolios = [{"portfolio_id": "b2c", "name": "Private"}, {"portfolio_id": "b2b", "name": "Business"}]
    cid = new_client(api, portfolios=portfolios)["client_id"]
    workflow = {
        "breathing_space_enabled": True,
        "breathing_space_days": 14,
        "payment_plan_reminder_days": 5,
        "max_phone_call_retries": 3,
        "portfolio_overrides": {
            "b2b": {"breathing_space_enabled": False, "max_phone_call_retries": 6},
            "b2c": {"breathing_space_days": 30},
        },
    }
    assert api.call("PUT", f"/clients/{cid}/settings", settings_body(workflow=workflow), token=COLLECTOR).status == 200

    b2b = api.call("GET", f"/clients/{cid}/portfolios/b2b/workflow").body
    assert b2b == {
        "portfolio_id": "b2b",
        "breathing_space_enabled": False,
        "breathing_space_days": None,
        "payment_plan_reminder_days": 5,
        "max_phone_call_retries": 6,
        "overridden": ["breathing_space_enabled", "max_phone_call_retries"],
    }
    b2c = api.call("GET", f"/clients/{cid}/portfolios/b2c/workflow", token=api.client_user(cid)).body
    assert (b2c["breathing_space_enabled"], b2c["breathing_space_days"], b2c["max_phone_call_retries"]) == (True, 30, 3)
    assert api.call("GET", f"/clients/{cid}/portfolios/none/workflow").status == 404

    # A portfolio override cannot give a duration to a breathing space that is off for it.
    workflow["portfolio_overrides"] = {"b2b": {"breathing_space_enabled": False, "breathing_space_days": 3}}
    reply = api.call("PUT", f"/clients/{cid}/settings", settings_body(workflow=workflow))
    assert (reply.status, reply.error["field"]) == (422, "workflow.portfolio_overrides.b2b.breathing_space_days")

    # A portfolio with overrides cannot be removed from the client.
    assert api.call("PATCH", f"/clients/{cid}", {"portfolios": [portfolios[1]]}).status == 409


def test_debtor_communication_settings_are_kept(api: Api) -> None:
    cid = new_client(api)["client_id"]
    body = settings_body(debtor_communication={"closing_email_on_full_payment": True})
    assert api.call("PUT", f"/clients/{cid}/settings", body).status == 200
    got = api.call("GET", f"/clients/{cid}/settings").body["debtor_communication"]
    assert got == {
        "closing_email_on_full_payment": True,
        "closing_email_on_settlement_paid": False,
        "max_sms_segments": 3,
    }


# ---- the request contract ---------------------------------------------------------------------------------


def test_bad_bodies_get_a_4xx_with_the_error_contract(api: Api) -> None:
    missing = api.call("POST", "/clients")
    assert (missing.status, missing.error["code"]) == (400, "missing_body")
    broken = api.call("POST", "/clients", raw=b'{"legal_name": ')
    assert (broken.status, broken.error["code"]) == (400, "invalid_json")
    unknown = api.call("POST", "/clients", {"legal_name": "X", "colour": "blue"})
    assert (unknown.status, unknown.error["field"]) == (422, "colour")
    not_object = api.call("POST", "/clients", [1, 2])
    assert not_object.status == 422
    assert set(missing.body["error"]) == {"code", "message", "field"}


def test_chalice_refusals_answer_in_the_error_contract(api: Api) -> None:
    gateway = api.gateway()
    result = gateway.invoke(
        "POST",
        "/clients",
        headers={"Authorization": "Bearer local-admin", "Content-Type": "application/x-www-form-urlencoded"},
        body=b"legal_name=x",
    )
    assert result["statusCode"] == 415
    error = json.loads(result["body"])["error"]
    assert error["code"] == "unsupported_media_type" and "x-www-form-urlencoded" in error["message"]


def test_settings_without_granted_keep_the_grant_so_a_collector_can_change_the_rest(api: Api) -> None:
    cid = new_client(api)["client_id"]
    granted = {"enrichment": {"granted": True, "interval_days": 30, "attempts": 1}}
    assert api.call("PUT", f"/clients/{cid}/settings", granted).status == 200
    change = {"enrichment": {"interval_days": 45, "attempts": 2}, "imports": {"new_file_per_invoice": True}}
    reply = api.call("PUT", f"/clients/{cid}/settings", change, token=COLLECTOR)
    assert reply.status == 200, reply.body
    stored = api.call("GET", f"/clients/{cid}/settings").body
    assert stored["enrichment"] == {"granted": True, "interval_days": 45, "attempts": 2, "monthly_budget": None}
    revoke = {"enrichment": {"granted": False, "interval_days": 45, "attempts": 2}}
    assert api.call("PUT", f"/clients/{cid}/settings", revoke, token=COLLECTOR).status == 403
