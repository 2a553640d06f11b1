"""The local API gateway serves concurrent requests like concurrent Lambda instances: no request sees another's."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from infra.definition import STACK
from infra.local.apigw import LocalApiGateway
from infra.provision import Provisioned


def test_concurrent_requests_through_one_gateway_keep_their_own_bodies(aws: Provisioned) -> None:
    api_fn = next(f for f in STACK.functions if f.trigger.kind == "api")
    gateway = LocalApiGateway(api_fn, aws.region, aws.names.stage, {})

    def create(i: int) -> tuple[int, int, str]:
        body = json.dumps({"legal_name": f"Client {i:02d} GmbH"}).encode()
        result = gateway.invoke(
            "POST",
            "/clients",
            body=body,
            headers={"Authorization": "Bearer local-admin", "Content-Type": "application/json"},
        )
        return i, result["statusCode"], json.loads(result["body"]).get("legal_name", "")

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(create, range(32)))
    assert all(status == 201 for _, status, _ in results), results
    assert all(name == f"Client {i:02d} GmbH" for i, _, name in results)
