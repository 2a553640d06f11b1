"""An HTTP API (payload format 2.0) event gets a clear refusal naming the fix, not Chalice's bare 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.local.lambda_runtime import LambdaContext
from infra.provision import Provisioned
from tests.integration.contacts.support import Api

pytestmark = pytest.mark.integration


def _http_api_event(method: str, path: str) -> dict[str, Any]:
    """A payload 2.0 event with a Cognito JWT authorizer, in the shape of powertools' apiGatewayProxyV2Event sample."""
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"authorization": "Bearer eyJ...", "content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "authorizer": {"jwt": {"claims": {"sub": "c01", "custom:role": "agency_admin"}, "scopes": []}},
            "domainName": "id.execute-api.eu-west-1.amazonaws.com",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1"},
            "requestId": "id",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "timeEpoch": 1583348638390,
        },
        "isBase64Encoded": False,
    }


def test_an_http_api_event_is_refused_with_a_clear_error(aws: Provisioned) -> None:
    from services.contacts.app import app

    # Before: {"statusCode": 500, "body": '{"Code":"InternalServerError","Message":"Unknown request."}'}.
    result = app(_http_api_event("GET", "/clients"), LambdaContext("finview-t-contacts-app", 29))
    assert result["statusCode"] == 501
    error = json.loads(result["body"])["error"]
    assert error["code"] == "unsupported_payload_format"
    assert "REST API" in error["message"]


def test_rest_api_events_still_reach_the_routes(aws: Provisioned) -> None:
    assert Api(aws).call("GET", "/clients").status == 200
