"""Debtor messages delivered on every channel through moto, recorded once, and their outcomes read back."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.backends import get_backend
from pypdf import PdfReader

from infra.local.lambda_runtime import ACCOUNT
from infra.local.ses_feedback import UNREACHABLE_PHONE, SesFeedback
from infra.local.stack import sent_emails
from infra.provision import Provisioned
from services.notifications import channels, deliveries, delivery_outcomes, message_records
from shared import aws as shared_aws
from shared.events import Channel, ContactActionRequested, ContactActionsRequestedV2, Event, MessageKind
from tests.integration.support import client, receive_all, unpacked
from tests.unit.notifications.samples import debtor_message

SENDER = "no-reply@finview.example"  # verified in SES by provisioning


def _outbox(aws: Provisioned) -> deliveries.Outbox:
    s3, sqs = client(aws, "s3"), client(aws, "sqs")
    bucket = f"letters-{aws.names.stage}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": aws.region})
    url = sqs.create_queue(QueueName=f"calls-{bucket}")["QueueUrl"]
    return deliveries.Outbox(bucket, url, None, "https://app.finview.example/unsubscribe")


def _request(
    channel: Channel, to: str, kind: MessageKind = "payment_plan_reminder", language: str = "de"
) -> ContactActionRequested:
    message = debtor_message(kind, language, unsubscribe_url=None)
    message = message.model_copy(update={"sender": message.sender.model_copy(update={"email": SENDER})})
    return ContactActionRequested(
        correlation_id="corr-1",
        client_id="cl-1",
        case_owner_id="owner-1",
        case_id="case-4711",
        action=channel,
        contact_point_id=f"cp-{channel}",
        contact_point_value=to,
        automatic=True,
        requested_by="schedule",
        debtor_message=message,
    )


def _bus(aws: Provisioned, packed: list[str] | None = None) -> list[dict[str, Any]]:
    """What the bus carried, each v2 of many taken apart into its v1 members; ``packed`` gets the detail types as
    they went out."""
    carried = [json.loads(m["Body"]) for m in receive_all(aws, "bus-tap")]
    if packed is not None:
        packed.extend(e["detail-type"] for e in carried)
    return unpacked(carried)


def test_an_email_is_sent_once_recorded_and_announced(aws: Provisioned) -> None:
    outbox = _outbox(aws)
    to = f"juergen.weiss.{aws.names.stage}@example.de"  # moto's SES is shared by the whole session
    request = _request("email", to).model_copy(update={"traced_data": True})
    message_id = deliveries.deliver(request, outbox)
    assert message_id and deliveries.deliver(request, outbox) is None  # redelivered: nothing more
    sent = sent_emails(aws.endpoint_url, to=to)
    assert len(sent) == 1 and sent[0]["subject"].startswith("Erinnerung: Rate 2")
    record = message_records.get(message_id)
    assert record is not None
    assert {k: record[k] for k in ("status", "kind", "channel", "template", "language", "cause_event_id")} == {
        "status": "sent",
        "kind": "payment_plan_reminder",
        "channel": "email",
        "template": "de/payment_plan_reminder",
        "language": "de",
        "cause_event_id": request.event_id,
    }
    announced = [e for e in _bus(aws) if e["detail-type"] == "MessageSent.v1"]
    # announced again by the redelivery, as the same event (contacts' consumers absorb it)
    assert len({e["detail"]["event_id"] for e in announced}) == 1 and len(announced) == 2
    assert announced[0]["detail"]["provider_message_id"] == record["provider_message_id"]
    assert {e["detail"]["traced_data"] for e in announced} == {True}  # passed on for contacts' Art. 14 check


def test_a_bounce_notification_becomes_message_bounced_for_contacts(aws: Provisioned) -> None:
    message_id = deliveries.deliver(_request("email", "bounce@simulator.amazonses.com"), _outbox(aws))
    record = message_records.get(str(message_id))
    assert record is not None
    _bus(aws)
    note = {
        "notificationType": "Bounce",
        "mail": {"messageId": record["provider_message_id"], "destination": ["bounce@simulator.amazonses.com"]},
        "bounce": {
            "bounceType": "Permanent",
            "bouncedRecipients": [{"emailAddress": "bounce@simulator.amazonses.com", "diagnosticCode": "smtp; 550"}],
        },
    }
    body = json.dumps({"Type": "Notification", "Message": json.dumps(note)})
    assert delivery_outcomes.on_provider_notification(body) == 1
    assert delivery_outcomes.on_provider_notification(body) == 1  # SNS redelivers: the same event id again
    bounced = [e["detail"] for e in _bus(aws) if e["detail-type"] == "MessageBounced.v1"]
    assert len({b["event_id"] for b in bounced}) == 1
    assert {k: bounced[0][k] for k in ("message_id", "case_id", "contact_point_id", "bounce_type", "channel")} == {
        "message_id": message_id,
        "case_id": "case-4711",
        "contact_point_id": "cp-email",
        "bounce_type": "permanent",
        "channel": "email",
    }
    assert (message_records.get(str(message_id)) or {})["status"] == "bounced"


def test_sms_letter_and_call_go_out_on_their_channel(aws: Provisioned) -> None:
    outbox = _outbox(aws)
    phone = f"+491511{int(aws.names.stage[1:], 16) % 10**7:07d}"  # moto's SNS is shared by the whole session
    sms_id = deliveries.deliver(_request("sms", phone), outbox)
    letter_id = deliveries.deliver(_request("letter", "Lindenstraße 5, 10969 Berlin", kind="contact_request"), outbox)
    call_id = deliveries.deliver(_request("call", "+33612345678", language="fr"), outbox)
    sns = get_backend("sns")[ACCOUNT][aws.region]
    texts = [text for number, text in sns.sms_messages.values() if number == phone]
    assert len(texts) == 1 and "Rate 2" in texts[0] and "STOP" in texts[0]
    assert (message_records.get(str(sms_id)) or {})["segments"] == 1
    letter = message_records.get(str(letter_id)) or {}
    pdf = client(aws, "s3").get_object(Bucket=outbox.letters_bucket, Key=letter["provider_message_id"])["Body"].read()
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Jürgen Weiß" in text and "10969 Berlin" in text and "§ 13a" in text
    task = json.loads(client(aws, "sqs").receive_message(QueueUrl=outbox.calls_queue_url)["Messages"][0]["Body"])
    assert task["message_id"] == call_id and task["phone"] == "+33612345678" and task["language"] == "fr"
    assert {(message_records.get(str(i)) or {})["status"] for i in (letter_id, call_id)} == {"queued"}


def test_sms_delivery_status_comes_back_through_the_feedback_topic_like_the_e_mails(aws: Provisioned) -> None:
    """End User Messaging's TEXT_* events (simulated locally with the real message ids) reach the outcomes queue
    through the delivery-feedback topic and become MessageDelivered and SmsFailed for contacts."""
    outbox = _outbox(aws)
    phone = f"+491512{int(aws.names.stage[1:], 16) % 10**7:07d}"
    delivered_id = deliveries.deliver(_request("sms", phone), outbox)
    failed_id = deliveries.deliver(_request("sms", UNREACHABLE_PHONE), outbox)
    receive_all(aws, "notifications-outcomes")
    _bus(aws)
    feedback = SesFeedback(aws.topic_arns["delivery-feedback"], aws.region)
    assert feedback.publish_new_sms() >= 2
    assert feedback.publish_new_sms() == 0  # each SMS once
    for message in receive_all(aws, "notifications-outcomes"):
        delivery_outcomes.on_provider_notification(message["Body"])
    assert (message_records.get(str(delivered_id)) or {})["status"] == "delivered"
    assert (message_records.get(str(failed_id)) or {})["status"] == "sms_failed"
    events = {
        e["detail"]["message_id"]: e for e in _bus(aws) if e["detail"].get("message_id") in (delivered_id, failed_id)
    }
    assert events[delivered_id]["detail-type"] == "MessageDelivered.v1"
    assert events[failed_id]["detail-type"] == "SmsFailed.v1"
    assert events[failed_id]["detail"]["reason"] == "The destination carrier is unreachable."


def test_an_invalid_recipient_is_refused_recorded_and_announced(aws: Provisioned) -> None:
    message_id = deliveries.deliver(_request("email", "kein-at-zeichen.example.de"), _outbox(aws))
    record = message_records.get(str(message_id)) or {}
    assert (record["status"], record["reason_code"]) == ("failed", "invalid_recipient")
    failed = [e["detail"] for e in _bus(aws) if e["detail-type"] == "MessageFailed.v1"]
    assert len(failed) == 1 and failed[0]["reason_code"] == "invalid_recipient"


def test_throttling_after_every_retry_leaves_the_request_to_sqs_with_its_reason(aws: Provisioned) -> None:
    calls: list[int] = []

    def throttled(**_: Any) -> Any:
        calls.append(1)
        raise ClientError({"Error": {"Code": "Throttling", "Message": "Maximum sending rate exceeded."}}, "SendEmail")

    request = _request("email", "juergen.weiss@example.de")
    outbox = _outbox(aws)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(channels.time, "sleep", lambda _: None)
        patch.setattr(shared_aws.client("sesv2"), "send_email", throttled)
        with pytest.raises(channels.Throttled):
            deliveries.deliver(request, outbox)
    assert len(calls) == channels.ATTEMPTS
    message_id = message_records.message_id_for(request.event_id, "payment_plan_reminder", "juergen.weiss@example.de")
    record = message_records.get(message_id) or {}
    assert (record["status"], record["reason_code"]) == ("retrying", "throttled")
    assert deliveries.deliver(request, outbox) == message_id  # SQS's retry goes through
    assert (message_records.get(message_id) or {})["status"] == "sent"


def test_ses_feedback_reaches_the_outcomes_handler_through_sns_and_sqs(aws: Provisioned) -> None:
    from infra.local.dispatcher import sqs_record
    from infra.local.lambda_runtime import LambdaContext
    from infra.local.ses_feedback import SesFeedback
    from services.notifications import handlers

    feedback = SesFeedback(aws.topic_arns["delivery-feedback"], aws.region)
    feedback.publish_new()  # what earlier tests sent (moto's SES is shared) is not this test's
    receive_all(aws, "notifications-outcomes")
    message_id = deliveries.deliver(_request("email", "bounce@simulator.amazonses.com"), _outbox(aws))
    assert feedback.publish_new() == 1
    received = receive_all(aws, "notifications-outcomes")
    assert len(received) == 1 and json.loads(received[0]["Body"])["Type"] == "Notification"
    records = [sqs_record(m, "arn:q", aws.region) for m in received]
    _bus(aws)
    assert handlers.on_provider_outcomes({"Records": records}, LambdaContext("notifications", 30)) == {
        "batchItemFailures": []
    }
    bounced = [e["detail"] for e in _bus(aws) if e["detail-type"] == "MessageBounced.v1"]
    assert [(b["message_id"], b["bounce_type"]) for b in bounced] == [(message_id, "permanent")]


def _through_the_consumer(events: Sequence[Event], receive_count: int) -> dict[str, Any]:
    """One SQS batch of requests to notifications' bus consumer, as Lambda's event source gives it."""
    from infra.local.dispatcher import sqs_record
    from infra.local.lambda_runtime import LambdaContext
    from services.notifications import handlers

    records = [
        sqs_record(
            {
                "MessageId": f"m{i}",
                "ReceiptHandle": f"r{i}",
                "Body": json.dumps(
                    {"source": e.SOURCE, "detail-type": e.DETAIL_TYPE, "detail": e.model_dump(mode="json")}
                ),
                "Attributes": {"ApproximateReceiveCount": str(receive_count)},
            },
            "arn:q",
            "eu-west-1",
        )
        for i, e in enumerate(events)
    ]
    result: dict[str, Any] = handlers.on_bus_events({"Records": records}, LambdaContext("notifications", 30))
    return result


def test_a_batch_of_requests_costs_no_idempotency_record_and_a_lost_announcement_comes_again(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consumer keeps no idempotency record for debtor messages, claims the batch's messages together before
    the first is sent, marks them together after the last and announces them together: for ten e-mails one
    TransactWriteItems each way and one PutEvents, beside the ten SendEmail. When the announcement fails, the
    records go back to SQS; the retry sends no second e-mail and announces each message again, as the same event."""
    from collections import Counter

    from botocore.client import BaseClient

    from shared import bus

    tos = [f"batch{i}.{aws.names.stage}@example.de" for i in range(10)]
    requests = [_request("email", to) for to in tos]
    counted: Counter[str] = Counter()
    original = BaseClient._make_api_call

    def count(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        counted[operation] += 1
        return original(self, operation, params)

    def refused(*args: Any, **kwargs: Any) -> None:
        raise bus.PublishError([{"ErrorCode": "InternalFailure"}])

    with monkeypatch.context() as m:
        m.setattr(BaseClient, "_make_api_call", count)
        m.setattr(bus, "_put_batch", refused)
        result = _through_the_consumer(requests, receive_count=1)
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == [f"m{i}" for i in range(10)]
    assert counted["SendEmail"] == 10
    # no idempotency records, no pointers from SES's ids (sent through the configuration set), and the claims and
    # the marks of the ten messages in one request each (before: a PutItem and an UpdateItem per message)
    assert counted["TransactWriteItems"] == 2, counted
    assert counted["PutItem"] == 0 and counted["UpdateItem"] == 0, counted
    assert all(len(sent_emails(aws.endpoint_url, to=to)) == 1 for to in tos)
    assert [e for e in _bus(aws) if e["detail-type"] == "MessageSent.v1"] == []

    counted.clear()
    with monkeypatch.context() as m:
        m.setattr(BaseClient, "_make_api_call", count)
        assert _through_the_consumer(requests, receive_count=2) == {"batchItemFailures": []}
    assert counted["SendEmail"] == 0 and counted["PutEvents"] == 1  # ten announcements in one request
    assert counted["TransactWriteItems"] == 1 and counted["GetItem"] == 10  # the claims refused, each record read
    assert all(len(sent_emails(aws.endpoint_url, to=to)) == 1 for to in tos)
    packed: list[str] = []
    announced = [e["detail"] for e in _bus(aws, packed) if e["detail-type"] == "MessageSent.v1"]
    assert packed == ["MessagesSent.v2"]  # and in one event
    assert sorted(a["recipient"] for a in announced) == sorted(tos)
    ids = {message_records.message_id_for(r.event_id, "payment_plan_reminder", r.contact_point_value) for r in requests}
    assert {a["message_id"] for a in announced} == ids
    records = [message_records.get(i) or {} for i in ids]
    assert {r["status"] for r in records} == {"sent"}
    assert {a["provider_message_id"] for a in announced} == {r["provider_message_id"] for r in records}
    # the same events as the first delivery would have published: derived from the message
    assert len({a["event_id"] for a in announced}) == 10


def _page(requests: list[ContactActionRequested]) -> ContactActionsRequestedV2:
    """The requests as the reminder schedule's page publishes them: packed into one v2 event by the bus."""
    from shared import bus

    [(entry, _)] = bus.packed([bus.to_entry(r, "bus") for r in requests])
    event = ContactActionsRequestedV2.model_validate_json(entry["Detail"])
    assert event.as_v1() == requests
    return event


class _Crash(BaseException):
    """The function dies (its timeout, out of memory): no handler catches it, nothing after it runs."""


def test_a_v2_page_redelivered_after_a_crash_half_way_sends_nothing_twice_and_finishes_the_rest(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page of six reminders in one ContactActionsRequested.v2: the first delivery sends three (the batch marks
    them as it goes) and dies sending the fourth. Its redelivery while the dead batch's claims still run sends
    nothing and waits; the one after the lease sends the other three, each once, and announces all six. (A message
    sent in the last ``MARK_EVERY`` before a crash is not yet marked: its takeover would send it again; at least
    once, as for v1.)"""
    from datetime import timedelta

    tos = [f"crash{i}.{aws.names.stage}@example.de" for i in range(6)]
    requests = [_request("email", to) for to in tos]
    page = _page(requests)
    ids = [message_records.message_id_for(r.event_id, "payment_plan_reminder", r.contact_point_value) for r in requests]
    send = channels.send_email
    clock = [1000.0]

    def dies_at_the_fourth(**kwargs: Any) -> str:
        if kwargs["to"] == tos[3]:
            raise _Crash()
        clock[0] += 0.3  # the batch marks what it sent every 0.5 s: after the third e-mail
        return send(**kwargs)

    monkeypatch.setattr(deliveries, "_now", lambda: clock[0])
    with monkeypatch.context() as m:
        m.setattr(channels, "send_email", dies_at_the_fourth)
        with pytest.raises(_Crash):
            _through_the_consumer([page], receive_count=1)
    assert [len(sent_emails(aws.endpoint_url, to=to)) for to in tos] == [1, 1, 1, 0, 0, 0]
    assert [(message_records.get(i) or {}).get("status") for i in ids] == ["sent"] * 3 + ["claimed"] * 3
    assert _bus(aws) == []  # nothing announced: the function died before its batch's events went out

    # SQS delivers it again while the dead batch's claims still run: nothing is sent, the record (here the whole
    # batch: powertools raises when every record failed) returns to the queue
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    with pytest.raises(BatchProcessingError, match="claimed by another delivery"):
        _through_the_consumer([page], receive_count=2)
    assert [len(sent_emails(aws.endpoint_url, to=to)) for to in tos] == [1, 1, 1, 0, 0, 0]
    assert _bus(aws) == []

    monkeypatch.setattr(message_records, "CLAIM_LEASE", timedelta(0))  # the claims have run out
    assert _through_the_consumer([page], receive_count=3) == {"batchItemFailures": []}
    assert [len(sent_emails(aws.endpoint_url, to=to)) for to in tos] == [1] * 6  # each once, none twice
    records = [message_records.get(i) or {} for i in ids]
    assert [r.get("status") for r in records] == ["sent"] * 6
    packed: list[str] = []
    announced = [e["detail"] for e in _bus(aws, packed) if e["detail-type"] == "MessageSent.v1"]
    assert packed == ["MessagesSent.v2"]
    assert sorted(a["message_id"] for a in announced) == sorted(ids)
    assert {a["message_id"]: a["provider_message_id"] for a in announced} == {
        str(r["message_id"]): r["provider_message_id"] for r in records
    }
    # the same announcements as the first delivery would have made: each member's id is derived from its message
    assert {a["cause_event_id"] for a in announced} == {r.event_id for r in requests}


def test_a_v1_request_and_a_v2_page_in_one_batch_are_claimed_marked_and_announced_together(
    aws: Provisioned, calls: Counter[str]
) -> None:
    """v1 is still consumed beside v2 (events in flight, a lone contact): one batch holding a v1 request and a page
    of three claims the four messages in one request, marks them in one, announces them in one event."""
    tos = [f"mixed{i}.{aws.names.stage}@example.de" for i in range(4)]
    requests = [_request("email", to) for to in tos]
    assert _through_the_consumer([requests[0], _page(requests[1:])], receive_count=1) == {"batchItemFailures": []}
    assert [len(sent_emails(aws.endpoint_url, to=to)) for to in tos] == [1] * 4
    assert calls["SendEmail"] == 4 and calls["TransactWriteItems"] == 2 and calls["PutEvents"] == 1, calls
    assert calls["PutItem"] == 0 and calls["UpdateItem"] == 0, calls
    packed: list[str] = []
    announced = [e["detail"]["recipient"] for e in _bus(aws, packed) if e["detail-type"] == "MessageSent.v1"]
    assert packed == ["MessagesSent.v2"] and sorted(announced) == sorted(tos)


def test_an_outcome_before_the_batch_marks_its_message_keeps_its_status(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch, calls: Counter[str]
) -> None:
    """The batch marks its sent messages after the last one is sent; an outcome that got to a message in between
    (a fast delivery notice) keeps its status, and the message still gets its provider id and sending time: in
    one shared request for the batch's early ones (before: a conditional UpdateItem that failed, then another)."""
    tos = [f"early{i}.{aws.names.stage}@example.de" for i in range(3)]
    requests = [_request("email", to) for to in tos]
    ids = [message_records.message_id_for(r.event_id, "payment_plan_reminder", r.contact_point_value) for r in requests]
    send = channels.send_email

    def send_and_deliver_the_first_two(**kwargs: Any) -> str:
        provider_id = send(**kwargs)
        if kwargs["to"] in tos[:2]:
            early = ids[tos.index(kwargs["to"])]
            assert message_records.advance(early, "delivered", ["bounced", "complained"]) is not None
        return provider_id

    monkeypatch.setattr(channels, "send_email", send_and_deliver_the_first_two)
    assert _through_the_consumer(requests, receive_count=1) == {"batchItemFailures": []}
    # the test's own two outcomes are the UpdateItems; the claims, the marks (refused for the early ones), the
    # other's mark (alone: a conditional PutItem) and the early ones' fields are one request each
    assert calls["UpdateItem"] == 2, calls
    assert calls["TransactWriteItems"] == 3 and calls["PutItem"] == 1, calls
    records = [message_records.get(i) or {} for i in ids]
    assert [r["status"] for r in records] == ["delivered", "delivered", "sent"]
    assert all(r.get("provider_message_id") and r.get("sent_at") and r.get("template") for r in records), records
    assert [r["provider_message_id"] for r in records] == [sent_emails(aws.endpoint_url, to=to)[0]["id"] for to in tos]
    announced = [e["detail"] for e in _bus(aws) if e["detail-type"] == "MessageSent.v1"]
    assert sorted(a["recipient"] for a in announced) == sorted(tos)


def test_a_batch_marks_its_sent_messages_as_it_goes_not_only_after_the_last(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch, calls: Counter[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A batch that sends for longer than ``MARK_EVERY`` marks what it sent so far before sending on: a delivery
    notice that comes back meanwhile finds its message marked sent. Nothing is announced before the batch ends.
    Each round of marks is logged as one "messages sent" line naming its messages, not a line a message."""
    tos = [f"asitgoes{i}.{aws.names.stage}@example.de" for i in range(6)]
    requests = [_request("email", to) for to in tos]
    ids = [message_records.message_id_for(r.event_id, "payment_plan_reminder", r.contact_point_value) for r in requests]
    send = channels.send_email
    seen: dict[str, list[str]] = {}
    clock = [1000.0]

    def slow_send(**kwargs: Any) -> str:
        seen[kwargs["to"]] = [str((message_records.get(i) or {}).get("status")) for i in ids]
        assert [e for e in _bus(aws) if e["detail-type"] == "MessageSent.v1"] == []
        clock[0] += 0.3  # each e-mail takes 0.3 s: the batch marks every third (0.6 s after the first of them)
        return send(**kwargs)

    monkeypatch.setattr(channels, "send_email", slow_send)
    monkeypatch.setattr(deliveries, "_now", lambda: clock[0])
    assert _through_the_consumer(requests, receive_count=1) == {"batchItemFailures": []}
    assert seen[tos[3]][:4] == ["sent", "sent", "sent", "claimed"], seen  # marked before the fourth went out
    assert seen[tos[2]] == ["claimed"] * 6, seen
    assert calls["TransactWriteItems"] == 3 and calls["UpdateItem"] == 0, calls  # the claims; two rounds of marks
    assert [(message_records.get(i) or {}).get("status") for i in ids] == ["sent"] * 6
    announced = [e["detail"] for e in _bus(aws) if e["detail-type"] == "MessageSent.v1"]
    assert sorted(a["recipient"] for a in announced) == sorted(tos)
    lines = [r for r in caplog.records if r.name == "notifications" and "sent" in r.getMessage()]
    assert [(r.getMessage(), vars(r)["message_ids"], vars(r)["correlation_ids"]) for r in lines] == [
        ("messages sent", ids[:3], ["corr-1"]),
        ("messages sent", ids[3:], ["corr-1"]),
    ], lines


def test_a_batch_whose_marks_cannot_be_written_returns_to_the_queue_unannounced(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is announced before its record says it was sent: when neither the batch's mark nor a message's own
    can be written, its request returns to SQS without its MessageSent; the others go out."""
    tos = [f"unmarked{i}.{aws.names.stage}@example.de" for i in range(3)]
    requests = [_request("email", to) for to in tos]
    ids = [message_records.message_id_for(r.event_id, "payment_plan_reminder", r.contact_point_value) for r in requests]
    mark = message_records.mark_sent

    def batch_down(items: list[dict[str, Any]]) -> list[bool | None]:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, "TransactWriteItems")

    def only_the_others(message_id: str, status: str, **fields: Any) -> None:
        if message_id == ids[1]:
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, "UpdateItem")
        mark(message_id, status, **fields)

    monkeypatch.setattr(message_records, "mark_many", batch_down)
    monkeypatch.setattr(message_records, "mark_sent", only_the_others)
    result = _through_the_consumer(requests, receive_count=1)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    announced = [e["detail"]["recipient"] for e in _bus(aws) if e["detail-type"] == "MessageSent.v1"]
    assert sorted(announced) == sorted([tos[0], tos[2]])
    assert [(message_records.get(i) or {}).get("status") for i in ids] == ["sent", "claimed", "sent"]


def test_through_the_configuration_set_outcomes_find_their_message_by_its_tag_and_go_out_together(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """E-mails sent through the configuration set (as notifications sends every e-mail) come back as its events,
    with the e-mail's tags: the outcome finds its message by our tag, so no pointer from SES's id is written. A
    batch of outcomes is published together (one PutEvents for ten); when that fails the records return to the
    queue and their retry publishes the same events."""
    from collections import Counter

    from botocore.client import BaseClient

    from infra.local.dispatcher import sqs_record
    from infra.local.lambda_runtime import LambdaContext
    from infra.local.ses_feedback import SesFeedback
    from services.notifications import handlers
    from shared import bus

    feedback = SesFeedback(aws.topic_arns["delivery-feedback"], aws.region)
    feedback.publish_new()  # what earlier tests sent (moto's SES is shared) is not this test's
    receive_all(aws, "notifications-outcomes")
    outbox = _outbox(aws)
    outbox = deliveries.Outbox(
        outbox.letters_bucket, outbox.calls_queue_url, aws.names.configuration_set, outbox.unsubscribe_base_url
    )
    tos = [f"tagged{i}.{aws.names.stage}@example.de" for i in range(10)]
    message_ids = [deliveries.deliver(_request("email", to), outbox) for to in tos]
    records = [message_records.get(str(m)) or {} for m in message_ids]
    pointers = [
        message_records._table().get_item(Key={"PK": f"PROVIDER#{r['provider_message_id']}", "SK": "MESSAGE"})
        for r in records
    ]
    assert [p.get("Item") for p in pointers] == [None] * 10
    assert feedback.publish_new() == 10
    received = receive_all(aws, "notifications-outcomes")
    notes = [json.loads(json.loads(m["Body"])["Message"]) for m in received]
    assert {n["eventType"] for n in notes} == {"Delivery"}
    assert sorted(n["mail"]["tags"]["message_id"][0] for n in notes) == sorted(map(str, message_ids))
    batch = {"Records": [sqs_record(m, "arn:q", aws.region) for m in received]}
    _bus(aws)

    def refused(*args: Any, **kwargs: Any) -> None:
        raise bus.PublishError([{"ErrorCode": "InternalFailure"}])

    with monkeypatch.context() as m:
        m.setattr(bus, "_put_batch", refused)
        result = handlers.on_provider_outcomes(batch, LambdaContext("notifications", 30))
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == sorted(
        r["messageId"] for r in batch["Records"]
    )
    assert _bus(aws) == []
    counted: Counter[str] = Counter()
    original = BaseClient._make_api_call

    def count(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        counted[operation] += 1
        return original(self, operation, params)

    with monkeypatch.context() as m:
        m.setattr(BaseClient, "_make_api_call", count)
        assert handlers.on_provider_outcomes(batch, LambdaContext("notifications", 30)) == {"batchItemFailures": []}
    assert counted["PutEvents"] == 1  # the ten outcomes together, in one event
    # each message by its tag, no pointer: the batch's ten records read in one request and their outcomes written
    # in one (before: an UpdateItem each)
    assert (counted["BatchGetItem"], counted["TransactWriteItems"]) == (1, 1), counted
    assert (counted["UpdateItem"], counted["GetItem"]) == (0, 0), counted
    packed: list[str] = []
    delivered = [e["detail"] for e in _bus(aws, packed) if e["detail-type"] == "MessageDelivered.v1"]
    assert sorted(d["message_id"] for d in delivered) == sorted(map(str, message_ids))
    assert packed == ["MessagesDelivered.v2"]
    assert {(message_records.get(str(m)) or {}).get("status") for m in message_ids} == {"delivered"}

    # a batch in which one message has a stronger outcome already: it keeps it, and is announced all the same
    message_records.advance(str(message_ids[3]), "complained", [])
    with monkeypatch.context() as m:
        m.setattr(BaseClient, "_make_api_call", count)
        counted.clear()
        assert handlers.on_provider_outcomes(batch, LambdaContext("notifications", 30)) == {"batchItemFailures": []}
    assert counted["TransactWriteItems"] == 2 and counted["UpdateItem"] == 0, counted  # again without it
    statuses = [(message_records.get(str(m)) or {}).get("status") for m in message_ids]
    assert statuses == ["delivered"] * 3 + ["complained"] + ["delivered"] * 6
    again = [e["detail"]["message_id"] for e in _bus(aws) if e["detail-type"] == "MessageDelivered.v1"]
    assert sorted(again) == sorted(map(str, message_ids))


def test_a_later_weaker_outcome_leaves_the_stronger_one_and_is_still_announced(aws: Provisioned) -> None:
    """A delivery notice that arrives after the complaint (SNS does not keep order) does not turn the record back
    to "delivered"; contacts still hears of both. An outcome whose tag names no message is found by SES's id."""
    from services.notifications import delivery_outcomes

    outbox = _outbox(aws)
    to = f"late.{aws.names.stage}@example.de"
    message_id = str(deliveries.deliver(_request("email", to), outbox))
    record = message_records.get(message_id) or {}
    _bus(aws)

    def note(kind: str, tag: str = message_id) -> str:
        mail = {"messageId": record["provider_message_id"], "destination": [to], "tags": {"message_id": [tag]}}
        details: dict[str, dict[str, Any]] = {
            "Complaint": {"complaint": {"complainedRecipients": [{"emailAddress": to}]}},
            "Bounce": {"bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": to}]}},
        }
        body = {"eventType": kind, "mail": mail, **details.get(kind, {})}
        return json.dumps({"Type": "Notification", "Message": json.dumps(body)})

    assert delivery_outcomes.on_provider_notification(note("Complaint")) == 1
    assert (message_records.get(message_id) or {})["status"] == "complained"
    assert delivery_outcomes.on_provider_notification(note("Delivery")) == 1
    assert (message_records.get(message_id) or {})["status"] == "complained"
    assert [e["detail-type"] for e in _bus(aws)] == ["MessageComplained.v1", "MessageDelivered.v1"]
    # No record under this tag: the pointer from SES's id (this outbox has no configuration set) finds it.
    assert delivery_outcomes.on_provider_notification(note("Bounce", "no-such-message")) == 1
    assert message_records.get("no-such-message") is None
    assert (message_records.get(message_id) or {})["status"] == "complained"


def test_a_message_its_batch_claimed_and_never_sent_is_sent_by_the_redelivery_once_its_lease_is_over(
    aws: Provisioned,
) -> None:
    """A batch claims its messages before sending the first: if it dies before sending one, that message's claim
    must not pass for a delivery. While the claim's lease runs (its batch may be sending it) a redelivery returns
    to the queue; after it, the redelivery takes the message over and sends it, once."""
    from datetime import UTC, datetime

    to = f"leased.{aws.names.stage}@example.de"
    request = _request("email", to)
    record = deliveries._record(request, request.debtor_message)  # type: ignore[arg-type]
    claimed = message_records.claim_item(record, status="claimed")
    assert message_records.claim_many([claimed, message_records.claim_item({**record, "message_id": "other"})]) == [
        True,
        True,
    ]
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    with pytest.raises(BatchProcessingError, match="claimed by another delivery"):  # its only record: back to SQS
        _through_the_consumer([request], receive_count=2)  # a duplicate delivery while the batch runs
    assert sent_emails(aws.endpoint_url, to=to) == []
    assert (message_records.get(str(record["message_id"])) or {})["status"] == "claimed"

    long_ago = (datetime.now(UTC) - message_records.CLAIM_LEASE * 2).isoformat()
    message_records._table().update_item(
        Key={"PK": claimed["PK"], "SK": "RECORD"},
        UpdateExpression="SET created_at = :t",
        ExpressionAttributeValues={":t": long_ago},
    )
    assert _through_the_consumer([request], receive_count=3) == {"batchItemFailures": []}
    assert _through_the_consumer([request], receive_count=4) == {"batchItemFailures": []}
    assert len(sent_emails(aws.endpoint_url, to=to)) == 1
    assert (message_records.get(str(record["message_id"])) or {})["status"] == "sent"
