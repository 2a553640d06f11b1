"""The contact-policy gate on moto's server, through the API Gateway proxy events and the bus consumer:
refusals with their rule and next allowed time, the cap under a race, deferral and release, and outcomes that
feed back into contact-point validity with their evidence in the audit trail."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.provision import Provisioned
from services.contacts.policy import gate
from shared.events import MessageBounced, OptOutReceived, SmsFailed
from tests.integration.contacts.cases.support import Api, deliver, imported, point_id
from tests.integration.support import receive_all

OWNER = "owner-us"
CASE = "case-us"
NY_PHONE = "+12125550123"
# Monday 30 November 2026, 12:00 in New York.
NOON_NY = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
POINTS = f"/case-owners/{OWNER}/contact-points"


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    pinned = Clock(NOON_NY)
    monkeypatch.setattr(gate, "now", pinned)
    return pinned


@pytest.fixture
def api(aws: Provisioned, clock: Clock) -> Api:
    event = imported(OWNER, case_ids=(CASE,), points=(("phone", NY_PHONE), ("email", "max@example.com")))
    assert deliver(event) == {"batchItemFailures": []}
    api = Api()
    for point_type in ("phone", "email"):
        cp = point_id(api, OWNER, point_type)
        evidence = {"evidence": {"kind": "reason", "note": "confirmed by the debtor"}}
        assert api.call("POST", f"{POINTS}/{cp}/validate", evidence)[0] == 200
        assert api.call("POST", f"{POINTS}/{cp}/make-default")[0] == 200
    return api


def _audit(api: Api) -> list[dict[str, Any]]:
    return list(api.call("GET", f"/case-owners/{OWNER}/audit", query={"limit": "200"})[1]["items"])


def _call(api: Api, **body: Any) -> tuple[int, Any]:
    return api.call("POST", f"/cases/{CASE}/actions", {"action": "call", **body})


def test_a_call_outside_the_window_is_409_with_the_rule_and_the_next_allowed_time(api: Api, clock: Clock) -> None:
    clock.at = datetime(2026, 11, 30, 12, 59, tzinfo=UTC)  # 07:59 in New York
    before = _audit(api)
    status, body = _call(api)
    assert status == 409, body
    assert body["error"]["code"] == "outside_contact_window"
    assert body["error"]["next_allowed_at"] == "2026-11-30T13:00:00+00:00"
    assert _audit(api) == before  # nothing stored on refusal
    clock.at = datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
    status, body = _call(api)
    assert status == 202 and body["status"] == "requested" and body["action_id"], body


def test_the_eighth_call_in_7_days_is_refused_and_the_view_shows_the_count(api: Api, clock: Clock) -> None:
    for i in range(7):
        clock.at = NOON_NY - timedelta(days=6 - i)  # noon in New York, one call a day
        assert _call(api)[0] == 202, i
    clock.at = NOON_NY + timedelta(hours=1)
    status, body = _call(api)
    assert (status, body["error"]["code"]) == (409, "call_cap_reached")
    status, view = api.call("GET", f"/cases/{CASE}/contact-policy")
    assert status == 200, view
    assert view["jurisdiction"] == "US" and view["window"] == {"start": "08:00", "end": "21:00"}
    cap = next(c for c in view["caps"] if c["channels"] == ["call"])
    assert (cap["used"], cap["limit"]) == (7, 7)
    call = next(c for c in view["channels"] if c["channel"] == "call")
    assert call["allowed_now"] is False and call["rule"] == "call_cap_reached"
    assert call["next_allowed_at"] == "2026-12-01T17:00:00Z"  # the oldest of the 7 leaves the rolling week
    assert call["zones"] == ["America/New_York"]
    email = next(c for c in view["channels"] if c["channel"] == "email")
    assert email["allowed_now"] is True


def test_twenty_concurrent_calls_with_a_cap_of_seven_let_exactly_seven_through(api: Api) -> None:
    results: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        status, _ = Api().call("POST", f"/cases/{CASE}/actions", {"action": "call"})
        with lock:
            results.append(status)

    threads = [threading.Thread(target=one) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [202] * 7 + [409] * 13
    assert sum(1 for e in _audit(api) if e["action"] == "contact.requested") == 7


def test_a_conversation_starts_the_7_day_wait_and_wrong_number_invalidates(api: Api, clock: Clock) -> None:
    status, body = _call(api)
    assert status == 202
    outcome = {"outcome": "conversation", "note": "promised to pay"}
    status, out = api.call("POST", f"/cases/{CASE}/actions/{body['action_id']}/outcome", outcome)
    assert status == 200 and out["wait_until"].startswith("2026-12-07"), out
    clock.at = NOON_NY + timedelta(days=6)
    assert _call(api)[1]["error"]["code"] == "conversation_wait"
    clock.at = NOON_NY + timedelta(days=7)
    status, second = _call(api)
    assert status == 202
    wrong = {"outcome": "wrong_number", "note": "a bakery answered"}
    status, out = api.call("POST", f"/cases/{CASE}/actions/{second['action_id']}/outcome", wrong)
    assert status == 200 and out["contact_point_invalidated"] is True
    phone = point_id(api, OWNER, "phone")
    assert api.call("GET", f"{POINTS}/{phone}")[1]["valid"] is False
    why = next(e for e in _audit(api) if e["action"] == "contact_point.invalidated")["why"]
    assert why["evidence"] == "wrong_number" and why["action_id"] == second["action_id"]
    assert api.call("POST", f"/cases/{CASE}/actions/{second['action_id']}/outcome", {"outcome": "busy"})[0] == 409


def test_a_deferred_automatic_email_is_released_by_the_schedule(aws: Provisioned, api: Api, clock: Clock) -> None:
    clock.at = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # 22:00 in New York
    status, body = api.call("POST", f"/cases/{CASE}/actions", {"action": "email", "automatic": True})
    assert status == 202 and body["status"] == "deferred", body
    assert (body["rule"], body["next_allowed_at"]) == ("outside_contact_window", "2026-12-01T13:00:00Z")
    receive_all(aws, "notifications-inbox")
    assert gate.release_deferred(datetime(2026, 12, 1, 12, 0, tzinfo=UTC)) == {
        "requested": 0,
        "deferred": 0,
        "refused": 0,
        "released_elsewhere": 0,
    }
    assert gate.release_deferred(datetime(2026, 12, 1, 13, 5, tzinfo=UTC))["requested"] == 1
    assert gate.release_deferred(datetime(2026, 12, 1, 13, 6, tzinfo=UTC))["requested"] == 0  # released once
    bodies = [json.loads(m["Body"]) for m in receive_all(aws, "notifications-inbox")]
    sent = [b["detail"] for b in bodies if b["detail-type"] == "ContactActionRequested.v1"]
    assert len(sent) == 1 and sent[0]["action_id"] == body["action_id"]
    assert sent[0]["deferred_from"].startswith("2026-12-01T03:00")


def test_breathing_space_hold_refuses_automatic_email_but_lets_a_reply_through(api: Api) -> None:
    hold = {"kind": "dispute", "reason": "debtor disputes the invoice", "evidence": "letter of 28.11."}
    status, body = api.call("POST", f"/case-owners/{OWNER}/holds", hold)
    assert status == 201 and body["rule"] == "dispute", body
    status, refused = api.call("POST", f"/cases/{CASE}/actions", {"action": "email"})
    assert (status, refused["error"]["code"]) == (409, "dispute")
    reply = {"action": "email", "message_kind": "reply_to_debtor"}
    assert api.call("POST", f"/cases/{CASE}/actions", reply)[0] == 202
    status, deferred = api.call("POST", f"/cases/{CASE}/actions", {"action": "email", "automatic": True})
    assert status == 202 and deferred["status"] == "deferred"
    status, ended = api.call("POST", f"/case-owners/{OWNER}/holds/{body['hold_id']}/end", {"reason": "resolved"})
    assert status == 200 and ended["active"] is False
    assert api.call("POST", f"/case-owners/{OWNER}/holds/{body['hold_id']}/end", {"reason": "again"})[0] == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"kind": "care", "reason": "x", "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-11-01T00:00:00Z"},
            "ends_at",
        ),
        ({"kind": "care", "reason": "x"}, "ends_at"),
        ({"kind": "holiday", "reason": "x"}, "kind"),
    ],
)
def test_bad_holds_are_422_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    status, error = api.call("POST", f"/case-owners/{OWNER}/holds", body)
    assert (status, error["error"]["field"]) == (422, field), error
    assert api.call("GET", f"/case-owners/{OWNER}/holds")[1] == []


def test_stop_by_sms_opts_out_sms_only_and_is_applied_once(api: Api) -> None:
    phone = point_id(api, OWNER, "phone")
    stop = OptOutReceived(
        correlation_id="c",
        message_id="m1",
        case_id=CASE,
        case_owner_id=OWNER,
        contact_point_id=phone,
        channel="sms",
        provider_message_id="p1",
        keyword="STOP",
    )
    assert deliver(stop) == {"batchItemFailures": []}
    assert deliver(stop) == {"batchItemFailures": []}
    assert sum(1 for e in _audit(api) if e["action"] == "policy.opted_out") == 1
    status, body = api.call("POST", f"/cases/{CASE}/actions", {"action": "sms"})
    assert (status, body["error"]["code"]) == (409, "channel_opted_out")
    assert _call(api)[0] == 202
    # Only the debtor lifts it, with evidence.
    consent = {"channel": "sms", "source": "client_file"}
    assert api.call("POST", f"{POINTS}/{phone}/consents", consent)[1]["error"]["code"] == "opt_in_needs_debtor"
    consent = {"channel": "sms", "source": "debtor_written", "evidence": "letter asking for texts"}
    assert api.call("POST", f"{POINTS}/{phone}/consents", consent)[0] == 200
    assert api.call("POST", f"/cases/{CASE}/actions", {"action": "sms"})[0] == 202


def test_permanent_bounce_invalidates_the_email_and_the_next_automatic_email_has_no_default(api: Api) -> None:
    email = point_id(api, OWNER, "email")
    bounce = MessageBounced(
        correlation_id="c",
        message_id="m2",
        case_id=CASE,
        case_owner_id=OWNER,
        contact_point_id=email,
        channel="email",
        provider_message_id="ses-1",
        bounce_type="permanent",
        diagnostic="550 5.1.1 user unknown",
    )
    assert deliver(bounce) == {"batchItemFailures": []}
    assert api.call("GET", f"{POINTS}/{email}")[1]["valid"] is False
    why = next(e for e in _audit(api) if e["action"] == "contact_point.invalidated")["why"]
    assert why["diagnostic"] == "550 5.1.1 user unknown" and why["provider_message_id"] == "ses-1"
    status, body = api.call("POST", f"/cases/{CASE}/actions", {"action": "email", "automatic": True})
    assert (status, body["error"]["code"]) == (409, "no_default")


def test_sms_failure_invalidates_the_phone_for_sms_only(api: Api) -> None:
    phone = point_id(api, OWNER, "phone")
    failed = SmsFailed(
        correlation_id="c",
        message_id="m3",
        case_id=CASE,
        case_owner_id=OWNER,
        contact_point_id=phone,
        channel="sms",
        provider_message_id="sns-1",
        reason="UNREACHABLE",
    )
    assert deliver(failed) == {"batchItemFailures": []}
    assert api.call("POST", f"/cases/{CASE}/actions", {"action": "sms"})[1]["error"]["code"] == (
        "contact_point_invalid"
    )
    assert _call(api)[0] == 202


def test_client_rules_are_checked_before_anything_is_stored(api: Api) -> None:
    status, client = api.call("POST", "/clients", {"legal_name": "Policy GmbH"}, token="local-admin")
    assert status == 201, client
    path = f"/clients/{client['client_id']}/contact-policy"
    for body, field in [
        ({"caps": [{"channels": ["email"], "limit": 0, "days": 7}]}, "caps.0.limit"),
        ({"caps": [{"channels": ["call"], "limit": 2, "days": -1}]}, "caps.0.days"),
        ({"window": {"start": "21:00", "end": "08:00"}}, "window.end"),
    ]:
        status, error = api.call("PUT", path, body, token="local-admin")
        assert (status, error["error"]["field"]) == (422, field), error
        assert api.call("GET", path, token="local-admin")[1]["caps"] == []  # nothing stored
    good = {
        "window": {"start": "09:00", "end": "19:00"},
        "window_channels": ["email"],
        "caps": [{"channels": ["email"], "limit": 3, "days": 7}],
    }
    status, stored = api.call("PUT", path, good, token="local-admin")
    assert status == 200 and stored["caps"][0]["limit"] == 3, stored
    assert api.call("PUT", path, good)[0] == 403  # a collector may not change a client's rules
