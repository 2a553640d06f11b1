"""Helpers for the contacts case tests: the API through real API Gateway proxy events, and bus events delivered
to the contacts consumer through the real SQS (EventBridge-in-SQS) record shape."""

from __future__ import annotations

import json
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from infra.definition import STACK, Function
from infra.local.apigw import LocalApiGateway
from services.contacts import handlers
from shared.events import CaseData, CaseFileImported, CaseOwnerData, ContactPointData, EnrichmentResultFound, Event
from tests.integration.support import REGION, deliver_to

CLIENT_ID = "client-a"
OTHER_CLIENT_ID = "client-b"
TOKENS = {
    "client-a-user": {"principalId": "anna@client-a.example", "role": "client_user", "client_id": CLIENT_ID},
    "client-b-user": {"principalId": "ben@client-b.example", "role": "client_user", "client_id": OTHER_CLIENT_ID},
}


def _function(handler: str) -> Function:
    return next(f for f in STACK.functions if f.service == "contacts" and f.handler == handler)


class Api:
    """The contacts API as API Gateway invokes it (proxy events with the authorizer's context)."""

    def __init__(self) -> None:
        self.gateway = LocalApiGateway(_function("app"), REGION, "test", TOKENS)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str = "local-collector",
        query: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        raw = json.dumps(body).encode() if body is not None else None
        result = self.gateway.invoke(
            method, path, headers=headers, query={k: [v] for k, v in (query or {}).items()}, body=raw
        )
        text = result.get("body") or ""
        return int(result["statusCode"]), json.loads(text) if text else None


def deliver(*events: Event, receive_count: int | None = None) -> dict[str, Any]:
    """One SQS batch with these events, to the contacts consumer exactly as Lambda calls it."""
    return deliver_to("contacts", handlers.on_bus_events, events, receive_count)


def imported(
    owner_id: str = "owner-1",
    *,
    client_id: str = CLIENT_ID,
    case_ids: tuple[str, ...] = ("case-1",),
    points: tuple[tuple[str, str], ...] = (("email", "max@example.com"), ("phone", "+41 44 123 45 67")),
    matched_by: str = "new",
) -> CaseFileImported:
    return CaseFileImported(
        correlation_id="corr-import",
        import_id="import-1",
        client_id=client_id,
        row_numbers=[2],
        matched_by=matched_by,
        case_owner=CaseOwnerData(case_owner_id=owner_id, first_name="Max", last_name="Muster"),
        cases=[
            CaseData(case_id=c, invoice_numbers=[f"INV-{c}"], amount=Decimal("120.50"), opened_on=date(2026, 9, 1))
            for c in case_ids
        ],
        contact_points=[ContactPointData(type=t, value=v) for t, v in points],  # type: ignore[arg-type]
    )


def new_owner_files(n: int, tag: str | None = None) -> list[CaseFileImported]:
    """``n`` case files of case owners contacts has not seen, each with one case, an e-mail and a phone."""
    tag = tag or uuid.uuid4().hex[:6]
    return [
        imported(
            f"owner-{tag}-{i}",
            case_ids=(f"case-{tag}-{i}",),
            points=(("email", f"max{i}@example.com"), ("phone", f"+41 44 123 45 {i:02d}")),
        )
        for i in range(n)
    ]


def enriched(owner_id: str, points: tuple[tuple[str, str], ...], case_id: str = "case-1") -> EnrichmentResultFound:
    return EnrichmentResultFound(
        correlation_id="corr-enrich",
        client_id=CLIENT_ID,
        case_owner_id=owner_id,
        case_id=case_id,
        attempt=1,
        provider="local",
        contact_points=[ContactPointData(type=t, value=v) for t, v in points],  # type: ignore[arg-type]
    )


def point_id(api: Api, owner_id: str, point_type: str, value: str | None = None) -> str:
    status, page = api.call("GET", f"/case-owners/{owner_id}/contact-points", query={"include_invalid": "true"})
    assert status == 200, page
    for p in page["items"]:
        if p["type"] == point_type and (value is None or p["value"] == value):
            return str(p["contact_point_id"])
    raise AssertionError(f"no {point_type} {value} in {page}")


# ---- moto's DynamoDB under concurrency -------------------------------------------------------------------
