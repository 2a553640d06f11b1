"""The enrichment parts of contacts: the monthly budget setting, the cost ledger read model and its route (JSON
and CSV), traced points with their trace, offline checks stored on the point, the contacts snapshot for
enrichment."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from infra.provision import Provisioned
from shared.events import (
    ContactPointChecks,
    ContactPointData,
    ContactPointsChecked,
    ContactPointsTraced,
    EmailCheck,
    EnrichmentAttemptSettled,
    PhoneCheck,
    PostalAddress,
    TracedContactPoint,
)
from tests.integration.contacts.cases.support import CLIENT_ID, deliver, imported
from tests.integration.contacts.support import ADMIN, COLLECTOR, Api, bus_events, new_client


@pytest.fixture
def api(aws: Provisioned) -> Api:
    return Api(aws)


def enrichment_settings(**enrichment: object) -> dict[str, object]:
    return {"enrichment": {"granted": True, "interval_days": 30, "attempts": 2, **enrichment}}


# ---- budget --------------------------------------------------------------------------------------------------


def test_an_admin_sets_the_monthly_budget_and_enrichment_hears_of_it(api: Api, aws: Provisioned) -> None:
    cid = new_client(api)["client_id"]
    path = f"/clients/{cid}/settings"
    assert api.call("PUT", path, enrichment_settings(monthly_budget="250.00"), token=ADMIN).status == 200
    assert api.call("GET", path).body["enrichment"]["monthly_budget"] == "250.00"
    changes = bus_events(aws, "enrichment-inbox", "ClientSettingsChanged.v1")
    assert changes[-1]["settings"]["enrichment"]["monthly_budget"] == "250.00"

    # A collector may change the interval but not what enrichment may spend; leaving the budget out keeps it.
    reply = api.call("PUT", path, enrichment_settings(monthly_budget="900.00"), token=COLLECTOR)
    assert (reply.status, reply.error["code"]) == (403, "forbidden")
    assert api.call("PUT", path, {"enrichment": {"interval_days": 45, "attempts": 2}}, token=COLLECTOR).status == 200
    got = api.call("GET", path).body["enrichment"]
    assert (got["interval_days"], got["monthly_budget"], got["granted"]) == (45, "250.00", True)


@pytest.mark.parametrize("budget", ["-1", "12.345", "abc", "10000000"])
def test_a_bad_budget_is_refused_naming_the_field(api: Api, budget: str) -> None:
    cid = new_client(api)["client_id"]
    reply = api.call("PUT", f"/clients/{cid}/settings", enrichment_settings(monthly_budget=budget))
    assert reply.status == 422 and reply.error["field"] == "enrichment.monthly_budget", reply.body


# ---- the cost ledger -----------------------------------------------------------------------------------------


def settled(
    client_id: str, case_id: str, attempt: int, cost: str, at: str, month: str = "2026-11"
) -> EnrichmentAttemptSettled:
    return EnrichmentAttemptSettled(
        correlation_id="run",
        client_id=client_id,
        case_owner_id=f"owner-{case_id}",
        case_id=case_id,
        attempt=attempt,
        month=month,
        provider="bureau",
        outcome="found",
        candidates=1,
        cost=Decimal(cost),
        booked_at=datetime.fromisoformat(at),
        settled_at=datetime.fromisoformat(at),
    )


def test_costs_per_month_as_json_and_csv(api: Api, aws: Provisioned) -> None:
    cid = new_client(api)["client_id"]
    api.call("PUT", f"/clients/{cid}/settings", enrichment_settings(monthly_budget="100.00"))
    first = settled(cid, "k1", 1, "0.80", "2026-11-03T04:00:00+00:00")
    deliver(
        first,
        settled(cid, "k2", 1, "0.45", "2026-11-02T04:00:00+00:00"),
        settled(cid, "k1", 2, "0.80", "2026-12-03T04:00:00+00:00", month="2026-12"),
        settled("another-client", "k9", 1, "9.99", "2026-11-02T04:00:00+00:00"),
    )
    deliver(first)  # a re-delivery writes the same line again

    reply = api.call("GET", f"/clients/{cid}/enrichment/costs", query={"month": "2026-11"})
    assert reply.status == 200, reply.body
    body = reply.body
    assert (body["month"], body["total"], body["attempts"], body["budget"]) == ("2026-11", "1.25", 2, "100.00")
    assert [(line["case_id"], line["cost"]) for line in body["lines"]] == [("k2", "0.45"), ("k1", "0.80")]

    raw = api.gateway().invoke(
        "GET",
        f"/clients/{cid}/enrichment/costs",
        headers={"Authorization": f"Bearer {ADMIN}"},
        query={"month": ["2026-11"], "format": ["csv"]},
        body=None,
    )
    assert raw["statusCode"] == 200 and raw["headers"]["Content-Type"].startswith("text/csv")
    assert f"enrichment-costs-{cid}-2026-11.csv" in raw["headers"]["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(raw["body"])))
    assert [(r["case_id"], r["attempt"], r["cost"], r["month"]) for r in rows] == [
        ("k2", "1", "0.45", "2026-11"),
        ("k1", "1", "0.80", "2026-11"),
    ]
    assert sum(Decimal(r["cost"]) for r in rows) == Decimal(body["total"])


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "11-2026", "2026-11-01", "1999-12"])
def test_a_bad_month_is_refused(api: Api, month: str) -> None:
    cid = new_client(api)["client_id"]
    reply = api.call("GET", f"/clients/{cid}/enrichment/costs", query={"month": month})
    assert (reply.status, reply.error["code"], reply.error["field"]) == (422, "invalid_month", "month")


def test_without_a_month_the_current_one_is_shown(api: Api) -> None:
    cid = new_client(api)["client_id"]
    reply = api.call("GET", f"/clients/{cid}/enrichment/costs")
    assert reply.status == 200 and reply.body["month"] == datetime.now(UTC).strftime("%Y-%m")
    assert (reply.body["total"], reply.body["lines"]) == ("0", [])


def test_a_client_user_reads_its_own_costs_only(api: Api) -> None:
    mine, other = new_client(api)["client_id"], new_client(api, "Andere AG")["client_id"]
    assert (
        api.call(
            "GET", f"/clients/{mine}/enrichment/costs", query={"month": "2026-11"}, token=api.client_user(mine)
        ).status
        == 200
    )
    assert (
        api.call(
            "GET", f"/clients/{other}/enrichment/costs", query={"month": "2026-11"}, token=api.client_user(mine)
        ).status
        == 404
    )


# ---- traced points, checks, the snapshot ---------------------------------------------------------------------


def traced(owner_id: str) -> ContactPointsTraced:
    address = PostalAddress(street="Hafenstraße 3", postcode="20359", city="Hamburg", country="DE")
    return ContactPointsTraced(
        correlation_id="run",
        client_id=CLIENT_ID,
        case_owner_id=owner_id,
        case_id="case-1",
        attempt=1,
        provider="bureau",
        obtained_at=datetime(2026, 11, 28, 3, tzinfo=UTC),
        candidates=[
            TracedContactPoint(
                point=ContactPointData(type="phone", value="+4915123456789"), confidence=Decimal("0.95"), trusted=True
            ),
            TracedContactPoint(
                point=ContactPointData(type="postal_address", value="Hafenstraße 3, 20359 Hamburg", address=address),
                confidence=Decimal("0.55"),
                trusted=False,
            ),
        ],
    )


def test_traced_points_carry_their_trace_and_the_case_is_marked(api: Api, aws: Provisioned) -> None:
    deliver(imported("owner-1"))
    snapshots = bus_events(aws, "enrichment-inbox", "CaseOwnerContactsChanged.v1")
    assert [sorted(p["type"] for p in s["contact_points"]) for s in snapshots] == [["email", "phone"]]
    assert snapshots[0]["subject"]["last_name"] == "Muster"

    deliver(traced("owner-1"))
    deliver(traced("owner-1"))  # re-delivered: nothing added twice
    points = api.call("GET", "/case-owners/owner-1/contact-points").body["items"]
    from_tracing = {p["type"]: p for p in points if p["source"] == "enrichment"}
    assert set(from_tracing) == {"phone", "postal_address"}
    phone, address = from_tracing["phone"], from_tracing["postal_address"]
    assert phone["state"] == "pending" and address["state"] == "pending"
    assert phone["trace"]["provider"] == "bureau" and phone["trace"]["trusted"] is True
    assert address["trace"]["confidence"] == "0.55" and address["trace"]["trusted"] is False
    assert address["trace"]["obtained_at"].startswith("2026-11-28T03:00") and address["trace"]["attempt"] == 1
    case = api.call("GET", "/cases/case-1").body["case"]
    assert case["address_traced"]["provider"] == "bureau"
    again = bus_events(aws, "enrichment-inbox", "CaseOwnerContactsChanged.v1")
    assert len(again) == 1 and len(again[0]["contact_points"]) == 4


def test_offline_checks_are_stored_on_the_point_for_the_value_checked(api: Api) -> None:
    deliver(imported("owner-2", points=(("email", "max@example.com"), ("phone", "+4915123456789"))))
    points = {p["type"]: p for p in api.call("GET", "/case-owners/owner-2/contact-points").body["items"]}
    now = datetime(2026, 11, 28, tzinfo=UTC)
    phone_check = ContactPointChecks(
        contact_point_id=points["phone"]["contact_point_id"],
        type="phone",
        value="+4915123456789",
        checked_at=now,
        phone=PhoneCheck(valid=True, line_type="mobile", region="DE", time_zones=["Europe/Berlin"]),
    )
    stale = ContactPointChecks(
        contact_point_id=points["email"]["contact_point_id"],
        type="email",
        value="old@example.com",
        checked_at=now,
        email=EmailCheck(valid=True, mail_server="found"),
    )
    deliver(
        ContactPointsChecked(
            correlation_id="c", client_id=CLIENT_ID, case_owner_id="owner-2", checks=[phone_check, stale]
        )
    )
    after = {p["type"]: p for p in api.call("GET", "/case-owners/owner-2/contact-points").body["items"]}
    assert after["phone"]["checks"]["phone"]["line_type"] == "mobile"
    assert after["phone"]["checks"]["phone"]["time_zones"] == ["Europe/Berlin"]
    assert after["email"]["checks"] is None
