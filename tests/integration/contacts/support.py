"""Helpers for the contacts API integration tests: the local API gateway in front of the contacts app, and
the events the app put on the bus (read back from the queues the rules deliver them to)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.definition import STACK
from infra.local.apigw import LocalApiGateway
from infra.provision import Provisioned
from tests.integration.support import receive_all

API_FUNCTION = next(f for f in STACK.functions if f.service == "contacts" and f.handler == "app")
ADMIN = "local-admin"
COLLECTOR = "local-collector"


@dataclass
class Reply:
    status: int
    body: Any

    @property
    def error(self) -> dict[str, Any]:
        assert isinstance(self.body, dict) and "error" in self.body, self.body
        return dict(self.body["error"])


@dataclass
class Api:
    provisioned: Provisioned
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)

    def gateway(self) -> LocalApiGateway:
        return LocalApiGateway(API_FUNCTION, self.provisioned.region, self.provisioned.names.stage, self.tokens)

    def client_user(self, client_id: str, name: str = "client-user") -> str:
        """A bearer token for a client user of ``client_id``."""
        token = f"{name}-{client_id}"
        self.tokens[token] = {
            "principalId": f"{name}@{client_id}.example",
            "role": "client_user",
            "client_id": client_id,
        }
        return token

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = ADMIN,
        raw: bytes | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Reply:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        result = self.gateway().invoke(
            method, path, headers=headers, body=data, query={k: [v] for k, v in (query or {}).items()}
        )
        text = result.get("body") or "null"
        return Reply(result["statusCode"], json.loads(text))


def bus_events(p: Provisioned, queue: str, detail_type: str) -> list[dict[str, Any]]:
    """The details of the ``detail_type`` events delivered to ``queue`` so far (consumed from the queue)."""
    envelopes = [json.loads(m["Body"]) for m in receive_all(p, queue)]
    return [e["detail"] for e in envelopes if e.get("detail-type") == detail_type]


def new_client(api: Api, name: str = "Stadtwerke Beispiel GmbH", **extra: Any) -> dict[str, Any]:
    reply = api.call("POST", "/clients", {"legal_name": name, **extra})
    assert reply.status == 201, reply.body
    return dict(reply.body)
