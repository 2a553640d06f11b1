"""Case lifecycle through the contacts API on moto: payments, payment plan, reminders, closing, the case's messages."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.provision import Provisioned
from services.contacts.cases import reminders
from shared.events import MessageBounced, MessageSent
from tests.integration.contacts.cases.support import Api, deliver, imported, point_id
from tests.integration.support import receive_all, unpacked

TODAY = datetime.now(UTC).date()


@pytest.fixture(autouse=True)
def _today() -> None:
    """Each test takes today's date when it starts, not when the module was collected: the services take theirs at
    the request, so a run that crosses midnight UTC (collection at 23:57, this test at 00:00) compared two days."""
    global TODAY
    TODAY = datetime.now(UTC).date()


def _requests(aws: Provisioned) -> list[dict[str, Any]]:
    events = unpacked([json.loads(m["Body"]) for m in receive_all(aws, "bus-tap")])
    return [e["detail"] for e in events if e["detail-type"] == "ContactActionRequested.v1"]


def _case_with_default_email(api: Api, settings: dict[str, Any] | None = None) -> tuple[str, str]:
    status, client = api.call(
        "POST",
        "/clients",
        {"legal_name": "Stadtwerke Musterstadt GmbH", "address": {"street": "Am Markt 1", "country": "DE"}},
        token="local-admin",
    )
    assert status == 201, client
    client_id = client["client_id"]
    body = settings or {"debtor_communication": {"closing_email_on_full_payment": True}}
    assert api.call("PUT", f"/clients/{client_id}/settings", body, token="local-admin")[0] == 200
    owner = f"owner-{client_id[:8]}"
    case_id = f"case-{client_id[:8]}"
    assert (
        deliver(imported(owner, client_id=client_id, case_ids=(case_id,), points=(("email", "j@example.de"),)))[
            "batchItemFailures"
        ]
        == []
    )
    email = point_id(api, owner, "email")
    base = f"/case-owners/{owner}/contact-points/{email}"
    assert api.call("POST", f"{base}/validate", {"evidence": {"kind": "reason", "note": "replied"}})[0] == 200
    assert api.call("POST", f"{base}/make-default", {})[0] == 200
    return client_id, case_id


def test_payments_plan_reminders_and_closing(aws: Provisioned) -> None:
    api = Api()
    _, case_id = _case_with_default_email(api)
    path = f"/cases/{case_id}"
    status, paid = api.call("POST", f"{path}/payments", {"amount": "20.50", "paid_on": TODAY.isoformat()})
    assert status == 201, paid
    assert (paid["case"]["open_amount"], paid["case"]["status"]) == ("100.00", "open")

    for body, code in [
        ({"amount": "0", "paid_on": TODAY.isoformat()}, "invalid_greater_than"),
        ({"amount": "1.001", "paid_on": TODAY.isoformat()}, "invalid_amount"),
        ({"amount": "1", "currency": "USD", "paid_on": TODAY.isoformat()}, "currency_mismatch"),
        ({"amount": "1", "paid_on": (TODAY + timedelta(days=1)).isoformat()}, "payment_in_future"),
    ]:
        status, refused = api.call("POST", f"{path}/payments", body)
        assert (status, refused["error"]["code"]) == (422, code), refused

    first, second = TODAY + timedelta(days=3), TODAY + timedelta(days=40)
    too_much = {
        "instalments": [{"due_on": first.isoformat(), "amount": "60"}, {"due_on": second.isoformat(), "amount": "41"}]
    }
    status, refused = api.call("PUT", f"{path}/payment-plan", too_much)
    assert (status, refused["error"]["code"]) == (422, "plan_above_open_amount")
    plan = {
        "instalments": [{"due_on": first.isoformat(), "amount": "50"}, {"due_on": second.isoformat(), "amount": "50"}]
    }
    status, agreed = api.call("PUT", f"{path}/payment-plan", plan)
    assert status == 200, agreed
    assert [i["number"] for i in agreed["instalments"]] == [1, 2]
    assert api.call("GET", path)[1]["case"]["status"] == "in_settlement"
    _requests(aws)

    run = reminders.run_schedule(TODAY)
    again = reminders.run_schedule(TODAY)  # the schedule fires twice: still one reminder per instalment
    assert (run.requested, again.requested, again.already_reminded) == (1, 0, 1), (run, again)
    sent = _requests(aws)
    assert len(sent) == 1 and sent[0]["case_id"] == case_id and sent[0]["action"] == "email"
    message = sent[0]["debtor_message"]
    assert message["kind"] == "payment_plan_reminder" and message["instalment"]["number"] == 1
    assert message["creditor"]["legal_name"] == "Stadtwerke Musterstadt GmbH"
    assert message["case"]["open_amount"] == "100.00"
    assert message["language"] is None  # no language imported and no postal address: the business unit's, else en

    status, refused = api.call("POST", f"{path}/close", {"reason": "fully_paid"})
    assert (status, refused["error"]["code"]) == (409, "case_not_fully_paid")
    assert api.call("POST", f"{path}/payments", {"amount": "100.00", "paid_on": TODAY.isoformat()})[0] == 201
    status, closed = api.call("POST", f"{path}/close", {"reason": "fully_paid"})
    assert status == 200, closed
    assert (closed["case"]["status"], closed["closing_message_status"]) == ("paid", "requested")
    closing = _requests(aws)
    assert [c["debtor_message"]["kind"] for c in closing] == ["closing_fully_paid"]
    assert reminders.run_schedule(TODAY + timedelta(days=38)).cases == 0  # a closed case is reminded no more
    status, refused = api.call("POST", f"{path}/payments", {"amount": "1", "paid_on": TODAY.isoformat()})
    assert (status, refused["error"]["code"]) == (409, "case_not_active")


def test_no_closing_email_when_the_client_did_not_ask_for_that_kind(aws: Provisioned) -> None:
    api = Api()
    settings = {"debtor_communication": {"closing_email_on_settlement_paid": True}}
    _, case_id = _case_with_default_email(api, settings)
    assert api.call("POST", f"/cases/{case_id}/payments", {"amount": "120.50", "paid_on": TODAY.isoformat()})[0] == 201
    _requests(aws)
    status, closed = api.call("POST", f"/cases/{case_id}/close", {"reason": "fully_paid"})
    assert status == 200 and closed["closing_message"] is None
    assert _requests(aws) == []


def test_the_case_messages_are_kept_from_notifications_events_in_any_order(aws: Provisioned) -> None:
    api = Api()
    client_id, case_id = _case_with_default_email(api)
    owner = f"owner-{client_id[:8]}"
    common: dict[str, Any] = {
        "correlation_id": "c",
        "message_id": "msg-1",
        "case_id": case_id,
        "case_owner_id": owner,
        "contact_point_id": point_id(api, owner, "email"),
        "channel": "email",
        "provider_message_id": "ses-1",
    }
    bounced = MessageBounced(bounce_type="permanent", diagnostic="smtp; 550 user unknown", **common)
    sent = MessageSent(
        kind="payment_plan_reminder",
        recipient="j@example.de",
        template="de/payment_plan_reminder",
        language="de",
        cause_event_id="ev-1",
        sent_at=datetime.now(UTC),
        **common,
    )
    assert deliver(bounced)["batchItemFailures"] == []  # the outcome overtook its MessageSent
    assert deliver(sent)["batchItemFailures"] == []
    status, page = api.call("GET", f"/cases/{case_id}/messages")
    assert status == 200, page
    [message] = page["items"]
    assert (message["status"], message["template"], message["language"]) == (
        "bounced",
        "de/payment_plan_reminder",
        "de",
    )
    assert message["outcome"] == "permanent bounce: smtp; 550 user unknown"
    assert api.call("GET", f"/cases/{case_id}/messages", token="client-b-user")[0] == 404
    # The contact policy (issue 11) consumed the same bounce: the e-mail is invalid now.
    status, points = api.call("GET", f"/case-owners/{owner}/contact-points", query={"include_invalid": "true"})
    assert [p["valid"] for p in points["items"] if p["type"] == "email"] == [False]


def test_a_v2_of_bounces_reaches_the_case_messages_and_the_contact_policy_member_by_member(aws: Provisioned) -> None:
    """Bounces of two debtors' e-mails in one MessagesBounced.v2: each member is kept in its case's messages and
    turns its e-mail invalid, through the policy's idempotent handler (a record per member, none for the v2); a
    redelivery changes nothing."""
    from services.contacts import store
    from shared import bus
    from shared.events import MessagesBouncedV2, parse_envelope

    api = Api()
    bounces, owners = [], []
    for n in range(2):
        client_id, case_id = _case_with_default_email(api)
        owner = f"owner-{client_id[:8]}"
        owners.append(owner)
        bounces.append(
            MessageBounced(
                correlation_id="run-1",
                message_id=f"msg-{case_id}",
                case_id=case_id,
                case_owner_id=owner,
                contact_point_id=point_id(api, owner, "email"),
                channel="email",
                provider_message_id=f"ses-{n}",
                bounce_type="permanent",
                diagnostic="smtp; 550 user unknown",
            )
        )
    [(entry, _)] = bus.packed([bus.to_entry(b, "bus") for b in bounces])
    event = parse_envelope(
        {"source": entry["Source"], "detail-type": entry["DetailType"], "detail": json.loads(entry["Detail"])}
    )
    assert isinstance(event, MessagesBouncedV2)
    assert deliver(event, receive_count=1)["batchItemFailures"] == []
    assert deliver(event, receive_count=2)["batchItemFailures"] == []
    for bounce, owner in zip(bounces, owners, strict=True):
        [message] = api.call("GET", f"/cases/{bounce.case_id}/messages")[1]["items"]
        assert message["status"] == "bounced"
        _, points = api.call("GET", f"/case-owners/{owner}/contact-points", query={"include_invalid": "true"})
        assert [p["valid"] for p in points["items"] if p["type"] == "email"] == [False]
    keys = {str(i["PK"]).rpartition("#")[2] for i in store.table().scan()["Items"] if i["SK"] == "IDEMPOTENCY"}

    def key(event_id: str) -> str:  # powertools' key: a hash of the event id
        return hashlib.md5(json.dumps(event_id).encode()).hexdigest()

    assert {key(b.event_id) for b in bounces} <= keys and key(event.event_id) not in keys
