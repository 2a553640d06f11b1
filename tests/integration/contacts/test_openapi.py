"""The contacts API's OpenAPI 3.1 document: served without a token, covering every route of the app."""

from __future__ import annotations

import re
from typing import Any

import pytest
from chalice import Chalice
from openapi_spec_validator import validate  # comes with moto[server], a dev dependency

from infra.provision import Provisioned
from services.contacts import openapi
from services.contacts.app import app
from tests.integration.contacts.support import Api

pytestmark = pytest.mark.integration


@pytest.fixture
def served(aws: Provisioned) -> dict[str, Any]:
    reply = Api(aws).call("GET", "/openapi.json", token=None)
    assert reply.status == 200, reply.body
    return dict(reply.body)


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def test_every_route_is_declared_and_in_the_served_document(served: dict[str, Any]) -> None:
    assert served["openapi"] == "3.1.0"
    routes = openapi.routes_of(app)
    assert len(routes) >= 30
    undeclared = [(m, p) for p, m, _ in routes if openapi.declared(p, m) is None]
    assert undeclared == [], f"routes without operation(...): {undeclared}"
    for path, method, _ in routes:
        op = served["paths"][path][method.lower()]
        assert "x-undeclared" not in op
        assert sorted(p["name"] for p in op["parameters"] if p["in"] == "path") == sorted(
            re.findall(r"\{(\w+)\}", path)
        )
    # …and nothing is documented that the app does not serve.
    documented = {(p, m.upper()) for p, ops in served["paths"].items() for m in ops}
    assert documented == {(p, m) for p, m, _ in routes}
    stale = sorted(k for k in openapi.OPERATIONS if k not in documented)
    assert stale == [], f"operation(...) declared for routes that do not exist: {stale}"


def test_the_document_is_valid_openapi_3_1(served: dict[str, Any]) -> None:
    validate(served)


def test_every_reference_resolves_and_errors_follow_the_contract(served: dict[str, Any]) -> None:
    for ref in set(refs(served)):
        assert resolve(served, ref) is not None
    error = resolve(
        served,
        served["components"]["responses"]["ErrorUnprocessableEntity"]["content"]["application/json"]["schema"]["$ref"],
    )
    body = resolve(served, error["properties"]["error"]["$ref"])
    assert set(body["properties"]) == {"code", "message", "field"}
    assert served["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert served["security"] == [{"bearerAuth": []}]
    assert served["paths"]["/openapi.json"]["get"]["security"] == []


def test_request_and_response_schemas_come_from_the_models(served: dict[str, Any]) -> None:
    create_user = served["paths"]["/clients/{client_id}/users"]["post"]
    schema = resolve(served, create_user["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    assert {"first_name", "last_name", "email"} <= set(schema["required"])
    assert schema["additionalProperties"] is False  # unknown fields are refused
    assert set(create_user["responses"]) >= {"201", "401", "409", "422"}

    listing = served["paths"]["/clients"]["get"]
    assert {p["name"] for p in listing["parameters"] if p["in"] == "query"} == {"limit", "next_token"}
    page = resolve(served, listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"])
    assert set(page["properties"]) == {"items", "next_token"}

    settings = resolve(
        served,
        served["paths"]["/clients/{client_id}/settings"]["put"]["requestBody"]["content"]["application/json"]["schema"][
            "$ref"
        ],
    )
    sections = {"enrichment", "imports", "workflow", "debtor_communication", "data_protection"}
    assert set(settings["properties"]) == sections


def test_a_route_added_without_operation_shows_up_as_undeclared() -> None:
    other = Chalice(app_name="probe")

    @other.route("/probe/{thing_id}", methods=["DELETE"])
    def probe(thing_id: str) -> None:  # pragma: no cover - never called
        return None

    doc = openapi.document(other)
    assert doc["paths"]["/probe/{thing_id}"]["delete"]["x-undeclared"] is True
    assert openapi.declared("/probe/{thing_id}", "DELETE") is None


def test_every_route_that_writes_documents_the_409_and_no_read_does(served: dict[str, Any]) -> None:
    paths = served["paths"]
    methods = [(path, method, op) for path, ops in paths.items() for method, op in ops.items()]
    writes = [(path, method, op) for path, method, op in methods if method != "get"]
    assert writes, "the contract has routes that write"
    assert [(p, m) for p, m, op in writes if "409" not in op["responses"]] == []
    assert "409" in paths["/cases/{case_id}/notes"]["post"]["responses"]
    assert "409" not in paths["/cases/{case_id}/notes"]["get"]["responses"]
