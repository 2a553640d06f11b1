"""The case's messages (read model) from notifications' events at reminder scale: a batch of messages sent, then a
batch of them delivered, costs one read and one write request each and no idempotency record; redelivered events,
an outcome that overtook its MessageSent, or a message written meanwhile, never move the status back."""

from __future__ import annotations

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
    [item] = store.query_all(KeyConditionExpression=Key("PK").eq(f"CASE#{case_id}") & Key("SK").begins_with("MSG#"))
    return item


def _idempotency_records() -> list[dict[str, Any]]:
    return [i for i in store.table().scan()["Items"] if i["SK"] == "IDEMPOTENCY"]


def test_a_batch_sent_then_delivered_costs_one_read_and_one_write_request_each_and_no_idempotency_record(
    aws: Provisioned, calls: Counter[str]
) -> None:
    cases = [f"case-{uuid.uuid4().hex[:8]}" for _ in range(5)]
    events = [_events(c, f"msg-{c}") for c in cases]
    assert deliver(*(sent for sent, _, _ in events), receive_count=1) == {"batchItemFailures": []}
    assert deliver(*(delivered for _, delivered, _ in events), receive_count=1) == {"batchItemFailures": []}
    # per MessageSent: the art. 14 items of its owner (one query); per batch: the read model's messages read in one
    # request and written in one (before: one UpdateItem per event)
    assert calls["BatchGetItem"] == 2 and calls["TransactWriteItems"] == 2, calls
    assert calls["UpdateItem"] == 0
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
    assert (item["status"], item["status_rank"]) == ("failed", 3)
    # the fields of the late events are still kept: the template of the MessageSent, the time of the delivery
    assert item["template"] == "de/payment_plan_reminder" and item["delivered_at"] == delivered.occurred_at.isoformat()
    assert item["outcome"] == "invalid_recipient: 550"


def test_a_message_written_since_the_batch_read_it_is_upserted_on_its_own(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch, calls: Counter[str]
) -> None:
    """The batch writes a message back only if nobody wrote it since it was read (its version); one that lost that
    race is upserted by its own record, so nothing written meanwhile is lost and the status still only moves on."""
    from services.contacts.cases import case_messages
    from shared import dynamo

    cases = [f"case-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    events = [_events(c, f"msg-{c}") for c in cases]
    assert deliver(*(sent for sent, _, _ in events), receive_count=1) == {"batchItemFailures": []}
    read = dynamo.batch_get

    def stale_for_the_first(client: Any, table: str, keys: Any) -> list[dict[str, Any]]:
        items = read(client, table, keys)
        for item in items:
            if item["PK"]["S"] == f"CASE#{cases[0]}":  # as it was before someone else's write
                item["version"] = {"N": str(int(item["version"]["N"]) - 1)}
                item.pop("template")
        return items

    monkeypatch.setattr(case_messages.dynamo, "batch_get", stale_for_the_first)
    calls.clear()
    assert deliver(*(delivered for _, delivered, _ in events), receive_count=1) == {"batchItemFailures": []}
    assert calls["TransactWriteItems"] == 2 and calls["UpdateItem"] == 1, calls  # the batch, again without it; its own
    for case_id in cases:
        item = _message(case_id)
        assert (item["status"], item["template"], int(item["version"])) == ("delivered", "de/payment_plan_reminder", 2)


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
    assert calls["BatchGetItem"] == 2 and calls["TransactWriteItems"] == 2, calls
    assert calls["UpdateItem"] == 0 and calls["Query"] == 5
    assert calls["PutItem"] == calls["GetItem"] == 0
    assert _idempotency_records() == []
    assert [(_message(c)["status"], _message(c)["template"]) for c in cases] == [
        ("delivered", "de/payment_plan_reminder")
    ] * 5
