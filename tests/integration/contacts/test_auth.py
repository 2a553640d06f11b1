"""Who may call what: every route of the contacts app (blueprints included), driven through the local API
gateway with the authorizer shapes AWS puts on the request (Lambda authorizer context, Cognito claims)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from infra.definition import STACK
from infra.local.lambda_runtime import context_for, resolve
from infra.provision import Provisioned
from services.contacts import openapi
from services.contacts.app import app
from shared import bus
from shared.events import CaseData, CaseFileImported, CaseOwnerData, ContactPointData, MatchReviewRequested, new_id
from tests.integration.contacts.cases.support import deliver
from tests.integration.contacts.support import COLLECTOR, Api, new_client
from tests.integration.support import receive_all

pytestmark = pytest.mark.integration

ROUTES = openapi.routes_of(app)
PROTECTED = [(path, method) for path, method, _ in ROUTES if (d := openapi.declared(path, method)) is None or d.auth]
PARAM = re.compile(r"\{(\w+)\}")
# A route naming one of these belongs to one client: another client's user must not get anywhere with it.
CLIENT_SCOPED = {"client_id", "case_id", "case_owner_id"}


def _import_a_case(aws: Provisioned, client_id: str) -> None:
    """A case of ``client_id`` the way it really arrives: CaseFileImported on the bus → contacts' inbox."""
    owner_id = new_id()
    bus.publish(
        [
            CaseFileImported(
                correlation_id=new_id(),
                import_id=new_id(),
                client_id=client_id,
                row_numbers=[2],
                matched_by="new",
                case_owner=CaseOwnerData(case_owner_id=owner_id, first_name="Max", last_name="Muster"),
                cases=[
                    CaseData(
                        case_id=new_id(), invoice_numbers=["R-1"], amount=Decimal("120.50"), opened_on=date.today()
                    )
                ],
                contact_points=[ContactPointData(type="email", value="max@muster.example")],
            )
        ]
    )
    function = next(f for f in STACK.functions if f.service == "contacts" and f.handler == "on_bus_events")
    queue = aws.names.queue("contacts-inbox")
    arn = f"arn:aws:sqs:{aws.region}:123456789012:{queue}"
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": aws.region,
        }
        for m in receive_all(aws, "contacts-inbox")
    ]
    assert records, "the bus did not deliver CaseFileImported to the contacts inbox"
    result = resolve(function)({"Records": records}, context_for(function, aws.region, aws.names.stage))
    assert not result.get("batchItemFailures"), result


@pytest.fixture
def world(aws: Provisioned) -> dict[str, Any]:
    """Client A with a portfolio, a user, a case, its owner and a contact point; client B; ids for every path."""
    api = Api(aws)
    a = new_client(api, "Client A", portfolios=[{"portfolio_id": "b2c", "name": "Private"}])["client_id"]
    b = new_client(api, "Client B")["client_id"]
    user = api.call("POST", f"/clients/{a}/users", {"first_name": "U", "last_name": "A", "email": "u@a.example"})
    assert user.status == 201
    _import_a_case(aws, a)
    [case] = api.call("GET", f"/clients/{a}/cases").body["items"]
    case_file = api.call("GET", f"/cases/{case['case_id']}").body
    ids = {
        "client_id": a,
        "case_id": case["case_id"],
        "case_owner_id": case["case_owner_id"],
        "contact_point_id": case_file["contact_points"][0]["contact_point_id"],
        "user_id": user.body["user_id"],
        "portfolio_id": "b2c",
        "business_unit_id": "default",
        "review_id": "review-a",
    }
    review = MatchReviewRequested(
        correlation_id="c", review_id="review-a", import_id="i", client_id=a, row=2,
        case_owner_id=case["case_owner_id"], candidate_case_owner_id="owner-not-imported",
        score=15.0, auto_score=18.0, comparisons={"family": "close"},
    )  # fmt: skip
    assert deliver(review) == {"batchItemFailures": []}
    return {"api": api, "a": a, "b": b, "ids": ids}


def concrete(path: str, ids: dict[str, str]) -> str:
    return PARAM.sub(lambda m: ids.get(m.group(1), f"unknown-{m.group(1)}"), path)


def body_for(method: str) -> Any:
    return {} if method in ("POST", "PUT", "PATCH") else None


def test_the_app_has_routes_of_both_route_modules() -> None:
    paths = {path for path, _, _ in ROUTES}
    assert "/clients/{client_id}/users" in paths and "/cases/{case_id}" in paths
    assert len(PROTECTED) == len(ROUTES) - 1  # only the OpenAPI document is public


@pytest.mark.parametrize("token", [None, "not-a-known-token"])
def test_every_route_answers_401_with_the_error_contract_without_a_valid_token(
    world: dict[str, Any], token: str | None
) -> None:
    api: Api = world["api"]
    for path, method in PROTECTED:
        reply = api.call(method, concrete(path, world["ids"]), body_for(method), token=token)
        assert reply.status == 401, (method, path, reply.body)
        assert reply.error["code"] == "unauthenticated"
        assert set(reply.error) == {"code", "message", "field"}


def test_a_client_user_of_another_client_gets_nowhere_on_any_client_or_case_route(world: dict[str, Any]) -> None:
    api: Api = world["api"]
    outsider = api.client_user(world["b"])
    scoped = [(p, m) for p, m in PROTECTED if CLIENT_SCOPED & set(PARAM.findall(p))]
    assert len(scoped) >= 20
    for path, method in scoped:
        reply = api.call(method, concrete(path, world["ids"]), body_for(method), token=outsider)
        assert reply.status in (403, 404), (method, path, reply.status, reply.body)
        assert reply.error["code"] in ("forbidden",) or reply.error["code"].endswith("_not_found"), reply.body
        if method == "GET" and "client_id" in PARAM.findall(path):
            assert reply.status == 404, (path, "reads of another client's data must not reveal it exists")


def test_a_client_user_reads_its_own_client_but_changes_nothing(world: dict[str, Any]) -> None:
    api: Api = world["api"]
    insider = api.client_user(world["a"])
    for path, method in PROTECTED:
        reply = api.call(method, concrete(path, world["ids"]), body_for(method), token=insider)
        if method == "GET" and "client_id" in PARAM.findall(path):
            assert reply.status == 200, (path, reply.body)
        if method != "GET" and not path.startswith("/cases/{case_id}/attachments/{attachment_id}"):
            assert reply.status == 403, (method, path, reply.status, reply.body)


def test_agency_staff_get_past_authentication_on_every_route(world: dict[str, Any]) -> None:
    api: Api = world["api"]
    for token in ("local-admin", COLLECTOR):
        for path, method in PROTECTED:
            reply = api.call(method, concrete(path, world["ids"]), body_for(method), token=token)
            assert reply.status != 401, (token, method, path, reply.body)
            if method == "GET" and "unknown-" not in concrete(path, world["ids"]):
                assert reply.status == 200, (token, path, reply.body)


def test_cognito_user_pool_claims_are_understood(world: dict[str, Any]) -> None:
    api: Api = world["api"]
    a, b = world["a"], world["b"]
    api.tokens["cognito-admin"] = {
        "claims": {"sub": "c0ffee", "email": "boss@agency.example", "custom:role": "agency_admin"}
    }
    api.tokens["cognito-b"] = {"claims": {"sub": "b0b", "custom:role": "client_user", "custom:client_id": b}}
    api.tokens["cognito-collector"] = {"claims": {"sub": "c01", "custom:role": "collector"}}
    api.tokens["cognito-no-role"] = {"claims": {"sub": "x"}}
    api.tokens["cognito-client-without-client"] = {"claims": {"sub": "y", "custom:role": "client_user"}}

    assert api.call("POST", "/clients", {"legal_name": "Via Cognito"}, token="cognito-admin").status == 201
    assert api.call("GET", f"/clients/{b}", token="cognito-b").status == 200
    assert api.call("GET", f"/clients/{a}", token="cognito-b").status == 404
    assert api.call("PUT", f"/clients/{a}/settings", {}, token="cognito-b").status == 403
    assert api.call("GET", f"/clients/{a}/settings", token="cognito-collector").status == 200
    assert api.call("POST", "/business-units", {}, token="cognito-collector").status == 403
    assert api.call("GET", "/clients", token="cognito-no-role").status == 401
    assert api.call("GET", f"/clients/{b}", token="cognito-client-without-client").status == 401
