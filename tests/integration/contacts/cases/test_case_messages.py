"""The case's messages (read model) from notifications' events at reminder scale: each event is an item of its own,
written blind, so a batch of messages sent, then a batch of them delivered, costs one write request each, no read
and no idempotency record; redelivered events, an outcome that overtook its MessageSent, or the whole items the
read-modify-write consumer kept before, all merge to what the old upserts left."""

from __future__ import annotations

import itertools
import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from infra.provision import Provisioned
from services.contacts import store
from shared.events import MessageDelivered, MessageFailed, MessageSent
from tests.integration.contacts.cases.support import deliver


def _events(case_id: str, message_id: str) -> tuple[MessageSent, MessageDelivered, MessageFailed]:
    common: dict[str, Any] = {
        "correlation_id": "c",
        "message_id": message_id,
        "client_id": "client-1",
        "case_id": case_id,
        "case_owner_id": f"owner-of-{case_id}",
        "contact_point_id": "cp-1",
        "channel": "email",
        "provider_message_id": f"ses-{message_id}",
    }
    sent = MessageSent(
        kind="payment_plan_reminder",
        recipient="j@example.de",
        template="de/payment_plan_reminder",
        language="de",
        cause_event_id="ev-1",
        sent_at=datetime.now(UTC),
        **common,
    )
    common.pop("client_id")
    return sent, MessageDelivered(**common), MessageFailed(reason_code="invalid_recipient", reason="550", **common)


def _message(case_id: str) -> dict[str, Any]:
    """The case's one message as GET /cases/{id}/messages answers it (its items merged)."""
    from services.contacts.cases import case_messages

    items = store.query_all(KeyConditionExpression=Key("PK").eq(f"CASE#{case_id}") & Key("SK").begins_with("MSG#"))
    [message] = case_messages.merged(items)
    return message


def _idempotency_records() -> list[dict[str, Any]]:
    return [i for i in store.table().scan()["Items"] if i["SK"] == "IDEMPOTENCY"]


def test_a_batch_sent_then_delivered_costs_one_write_request_each_no_read_and_no_idempotency_record(
    aws: Provisioned, calls: Counter[str]
) -> None:
    cases = [f"case-{uuid.uuid4().hex[:8]}" for _ in range(5)]
    events = [_events(c, f"msg-{c}") for c in cases]
    assert deliver(*(sent for sent, _, _ in events), receive_count=1) == {"batchItemFailures": []}
    assert deliver(*(delivered for _, delivered, _ in events), receive_count=1) == {"batchItemFailures": []}
    # per MessageSent: the art. 14 items of its owner (one query); per batch: the events' items in one BatchWriteItem
    # (before: the messages read in a BatchGetItem and written back whole in a TransactWriteItems)
    assert calls["BatchWriteItem"] == 2, calls
    assert calls["BatchGetItem"] == calls["TransactWriteItems"] == calls["UpdateItem"] == 0, calls
    assert calls["Query"] == 5
    assert calls["PutItem"] == calls["GetItem"] == 0
    assert _idempotency_records() == []
    for case_id in cases:
        item = _message(case_id)
        assert (item["status"], item["template"], item["delivered_at"] is not None) == (
            "delivered",
            "de/payment_plan_reminder",
            True,
        )


def test_redelivered_and_overtaking_events_never_move_the_status_back(aws: Provisioned) -> None:
    case_id = f"case-{uuid.uuid4().hex[:8]}"
    sent, delivered, failed = _events(case_id, "msg-1")
    assert deliver(failed) == {"batchItemFailures": []}  # the failure overtook both
    assert deliver(sent, delivered) == {"batchItemFailures": []}
    assert deliver(sent, delivered, failed, receive_count=2) == {"batchItemFailures": []}  # all delivered again
    item = _message(case_id)
    assert item["status"] == "failed"
    # the fields of the late events are still kept: the template of the MessageSent, the time of the delivery
    assert item["template"] == "de/payment_plan_reminder" and item["delivered_at"] == delivered.occurred_at.isoformat()
    assert item["outcome"] == "invalid_recipient: 550"


def test_every_arrival_order_gives_the_api_the_same_message(aws: Provisioned, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sent, delivered and a later failure, each in a batch of its own, in all six orders: GET
    /cases/{id}/messages answers the same each time (status by rank, fields by when the events occurred)."""
    from services.contacts.cases import case_messages
    from services.contacts.identity import Identity

    monkeypatch.setattr(case_messages, "case_item", lambda *a, **k: None)  # no case item: the read model alone
    who = Identity(principal="test", role="agency_admin")
    answers, first = [], _events("case-0", "msg-1")
    for order in itertools.permutations(range(3)):
        case_id = f"case-{uuid.uuid4().hex[:8]}"
        events = [e.model_copy(update={"case_id": case_id}) for e in first]  # the same times in every case
        for n in order:
            assert deliver(events[n]) == {"batchItemFailures": []}
        [message] = case_messages.list_messages(case_id, who).items
        answers.append(message.model_dump(mode="json", exclude={"case_id"}))
    assert (answers[0]["status"], answers[0]["template"]) == ("failed", "de/payment_plan_reminder")
    assert answers[0]["outcome"] == "invalid_recipient: 550" and answers[0]["delivered_at"]
    assert all(a == answers[0] for a in answers), answers


def test_the_whole_items_the_old_consumer_kept_are_the_base_of_their_messages_new_events(aws: Provisioned) -> None:
    """A message the read-modify-write consumer kept as one item (``MSG#<message_id>``, with its version and rank):
    a later delivery is merged onto it, and a late delivery never hides the bounce it recorded."""
    kept, bounced = f"case-{uuid.uuid4().hex[:8]}", f"case-{uuid.uuid4().hex[:8]}"
    for case_id, status, rank in ((kept, "sent", 1), (bounced, "bounced", 3)):
        sent, _, _ = _events(case_id, "msg-1")
        store.table().put_item(
            Item={
                "PK": f"CASE#{case_id}",
                "SK": "MSG#msg-1",
                "message_id": "msg-1",
                "case_id": case_id,
                "channel": "email",
                "kind": "payment_plan_reminder",
                "template": "de/payment_plan_reminder",
                "sent_at": sent.sent_at.isoformat(),
                "status": status,
                "status_rank": rank,
                "version": 2,
            }
        )
        assert deliver(_events(case_id, "msg-1")[1]) == {"batchItemFailures": []}
    assert (_message(kept)["status"], _message(kept)["template"]) == ("delivered", "de/payment_plan_reminder")
    assert _message(bounced)["status"] == "bounced" and _message(bounced)["delivered_at"]
    assert "version" not in _message(kept) and "status_rank" not in _message(kept)


def test_an_event_batch_write_left_unprocessed_is_put_by_its_own_record(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch, calls: Counter[str]
) -> None:
    """DynamoDB may leave items of a BatchWriteItem unprocessed; what it never took, its record puts on its own."""
    from services.contacts.cases import case_messages

    cases = [f"case-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    events = [_events(c, f"msg-{c}") for c in cases]
    put_all = case_messages.put_all

    def leaves_the_first(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return put_all(items[1:]) + items[:1]

    monkeypatch.setattr(case_messages, "put_all", leaves_the_first)
    assert deliver(*(delivered for _, delivered, _ in events), receive_count=1) == {"batchItemFailures": []}
    assert calls["BatchWriteItem"] == 1 and calls["PutItem"] == 1, calls
    assert [_message(c)["status"] for c in cases] == ["delivered"] * 3


def _packed(events: list[Any]) -> Any:
    """The events as notifications' batch publishes them: one v2 of many (shared.bus.packed)."""
    from shared import bus
    from shared.events import parse_envelope

    [(entry, _)] = bus.packed([bus.to_entry(e, "bus") for e in events])
    detail = json.loads(entry["Detail"])
    return parse_envelope({"source": entry["Source"], "detail-type": entry["DetailType"], "detail": detail})


def test_messages_sent_and_delivered_v2_are_kept_as_their_members_at_the_same_cost(
    aws: Provisioned, calls: Counter[str]
) -> None:
    """A MessagesSent.v2 and a MessagesDelivered.v2 of five messages each: the case messages are what the ten v1
    events give, for the same requests (the batch steps take the members) and still no idempotency record."""
    from shared.events import MessagesDeliveredV2, MessagesSentV2

    cases = [f"case-{uuid.uuid4().hex[:8]}" for _ in range(5)]
    events = [_events(c, f"msg-{c}") for c in cases]
    sent, delivered = _packed([s for s, _, _ in events]), _packed([d for _, d, _ in events])
    assert isinstance(sent, MessagesSentV2) and isinstance(delivered, MessagesDeliveredV2)
    assert deliver(sent, receive_count=1) == {"batchItemFailures": []}
    assert deliver(delivered, receive_count=1) == {"batchItemFailures": []}
    assert calls["BatchWriteItem"] == 2, calls
    assert calls["BatchGetItem"] == calls["TransactWriteItems"] == calls["UpdateItem"] == 0 and calls["Query"] == 5
    assert calls["PutItem"] == calls["GetItem"] == 0
    assert _idempotency_records() == []
    assert [(_message(c)["status"], _message(c)["template"]) for c in cases] == [
        ("delivered", "de/payment_plan_reminder")
    ] * 5


def test_a_data_export_holds_each_message_once_merged_not_each_of_its_events(aws: Provisioned) -> None:
    """The person's export (Art. 15) lists the case's messages as the API shows them: one entry a message."""
    from services.contacts.privacy import subject_access

    owner, case_id = f"owner-{uuid.uuid4().hex[:8]}", f"case-{uuid.uuid4().hex[:8]}"
    store.table().put_item(Item={"PK": f"OWNER#{owner}", "SK": f"CASE#{case_id}", "case_id": case_id})
    sent, delivered, _ = _events(case_id, "msg-1")
    assert deliver(sent) == deliver(delivered) == {"batchItemFailures": []}
    section, case_ids, _ = subject_access.own_section(owner)
    assert case_ids == [case_id]
    [message] = section["msg"]
    assert (message["case_id"], message["status"], message["template"]) == (case_id, "delivered", sent.template)
    assert not {"event_id", "occurred_at", "event_status", "PK", "SK"} & set(message)
