"""Provider notifications read into outcomes: moto's copies of the SES documentation samples, SNS envelopes."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from moto.ses.feedback import BOUNCE, COMMON_MAIL, COMPLAINT, DELIVERY

from services.notifications import outcomes


def _ses(kind: str, part: dict[str, Any], **changes: Any) -> dict[str, Any]:
    note = copy.deepcopy(COMMON_MAIL)
    note["notificationType"] = kind
    note[kind.lower()] = copy.deepcopy(part)
    note.update(changes)
    return note


def _sns(message: dict[str, Any]) -> str:
    return json.dumps(
        {"Type": "Notification", "MessageId": "sns-1", "TopicArn": "arn:t", "Message": json.dumps(message)}
    )


def test_ses_bounce_through_sns_gives_one_outcome_per_recipient() -> None:
    found = outcomes.parse(_sns(_ses("Bounce", BOUNCE)))
    assert [(o.outcome, o.recipient, o.bounce_type) for o in found] == [
        ("bounced", "recipient1@example.com", "permanent"),
        ("bounced", "recipient2@example.com", "permanent"),
    ]
    assert found[0].provider_message_id == COMMON_MAIL["mail"]["messageId"]  # type: ignore[index]
    assert found[0].diagnostic == "smtp; 550 user unknown"


def test_transient_and_undetermined_bounces_do_not_invalidate() -> None:
    for bounce_type in ("Transient", "Undetermined"):
        note = _ses("Bounce", {**BOUNCE, "bounceType": bounce_type})
        assert {o.bounce_type for o in outcomes.parse(_sns(note))} == {"transient"}


def test_delivery_and_complaint_and_raw_delivery() -> None:
    delivered = outcomes.parse(json.dumps(_ses("Delivery", DELIVERY)))  # raw delivery: no SNS envelope
    assert [(o.outcome, o.recipient) for o in delivered] == [("delivered", "success@simulator.amazonses.com")]
    complained = outcomes.parse(_sns(_ses("Complaint", COMPLAINT)))
    assert [(o.outcome, o.diagnostic) for o in complained] == [("complained", "abuse")]


def test_configuration_set_events_carry_our_tags() -> None:
    note = _ses("Bounce", BOUNCE)
    del note["notificationType"]
    note["eventType"] = "Bounce"
    note["mail"]["tags"] = {"message_id": ["msg-1"], "ses:configuration-set": ["finview"]}
    found = outcomes.parse(_sns(note))
    assert found[0].tags == {"message_id": "msg-1", "ses:configuration-set": "finview"}
    note["eventType"] = "Open"
    assert [o.outcome for o in outcomes.parse(_sns(note))] == ["ignored"]


def test_sms_delivery_status_logs_and_events() -> None:
    ok = {"notification": {"messageId": "sms-1"}, "delivery": {"destination": "+4915112345678"}, "status": "SUCCESS"}
    failed = {**ok, "status": "FAILURE", "delivery": {"destination": "+49151", "providerResponse": "Unknown handset"}}
    assert outcomes.parse(_sns(ok))[0].outcome == "delivered"
    assert (outcomes.parse(_sns(failed))[0].outcome, outcomes.parse(_sns(failed))[0].diagnostic) == (
        "sms_failed",
        "Unknown handset",
    )
    event = {"eventType": "TEXT_CARRIER_UNREACHABLE", "messageId": "sms-2", "destinationPhoneNumber": "+33612345678"}
    assert outcomes.parse(_sns(event))[0].outcome == "sms_failed"
    assert outcomes.parse(_sns({**event, "eventType": "TEXT_DELIVERED"}))[0].outcome == "delivered"
    assert outcomes.parse(_sns({**event, "eventType": "TEXT_QUEUED"}))[0].outcome == "ignored"


@pytest.mark.parametrize(("body", "outcome"), [("stop", "opt_out"), (" Arret merci", "opt_out"), ("Hallo", "ignored")])
def test_sms_replies_with_an_opt_out_keyword(body: str, outcome: str) -> None:
    reply = {"originationNumber": "+4915112345678", "messageBody": body, "previousPublishedMessageId": "sms-1"}
    found = outcomes.parse(_sns(reply))[0]
    assert (found.outcome, found.provider_message_id, found.recipient) == (outcome, "sms-1", "+4915112345678")


@pytest.mark.parametrize("body", ["not json", "[1, 2]", json.dumps({"hello": "world"})])
def test_unreadable_records_are_refused_with_a_reason(body: str) -> None:
    with pytest.raises(outcomes.UnreadableNotification):
        outcomes.parse(body)
