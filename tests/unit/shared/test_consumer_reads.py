"""When the consumer reads a batch's records: up front only those its handlers take together (set-at-a-time forms,
batch steps), the others one at a time as their record runs, so a batch of big events is not all in memory at
once (``finview up`` hosts every copy of every consumer in one process)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from infra.local.dispatcher import sqs_record
from shared import consumer
from shared.consumer import rerunnable, set_at_a_time
from shared.events import ClientRegistered, Event


def _registered(n: int) -> ClientRegistered:
    return ClientRegistered(
        correlation_id=f"c-{n}",
        client_id=f"client-{n}",
        legal_name=f"Client {n} GmbH",
        business_unit_id="bu-1",
        sender_email="billing@example.com",
    )


def _batch(events: Sequence[Event]) -> dict[str, Any]:
    records = [
        sqs_record(
            {
                "Body": json.dumps(
                    {"source": e.SOURCE, "detail-type": e.DETAIL_TYPE, "detail": json.loads(e.model_dump_json())}
                ),
                "MessageId": f"m-{n}",
                "ReceiptHandle": "rh",
                "Attributes": {"ApproximateReceiveCount": "1"},
            },
            "arn:aws:sqs:eu-west-1:123456789012:inbox",
            "eu-west-1",
        )
        for n, e in enumerate(events)
    ]
    return {"Records": records}


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The event ids the consumer read (parsed into their models), in order."""
    seen: list[str] = []
    parse = consumer.parse_envelope

    def counted(envelope: dict[str, Any]) -> Event:
        event = parse(envelope)
        seen.append(event.event_id)
        return event

    monkeypatch.setattr(consumer, "parse_envelope", counted)
    return seen


@pytest.fixture(autouse=True)
def _bus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENT_BUS_NAME", "finview-test-bus")  # the handlers here publish nothing


def _consume(events: Sequence[Event], handlers: Mapping[type[Event], Any]) -> dict[str, Any]:
    return consumer.consume(_batch(events), None, service="tests", table_name="unused", handlers=handlers)


def test_records_no_handler_takes_together_are_read_one_at_a_time(reads: list[str]) -> None:
    events = [_registered(n) for n in range(6)]
    read_before_handling: list[int] = []

    @rerunnable
    def on_registered(event: ClientRegistered) -> None:
        read_before_handling.append(len(reads))

    assert _consume(events, {ClientRegistered: on_registered}) == {"batchItemFailures": []}
    # the n-th record is read when it runs, not all six before the first one (and each is read once)
    assert read_before_handling == [1, 2, 3, 4, 5, 6]
    assert reads == [e.event_id for e in events]


def test_records_a_set_at_a_time_form_takes_are_read_up_front_once(reads: list[str]) -> None:
    events = [_registered(n) for n in range(6)]
    taken: list[list[str]] = []

    def many(batch: list[ClientRegistered]) -> dict[str, list[Event]]:
        taken.append([e.event_id for e in batch])
        return {}

    def one(event: ClientRegistered) -> None:
        raise AssertionError("the set-at-a-time form handled it")

    assert _consume(events, {ClientRegistered: set_at_a_time(one, many)}) == {"batchItemFailures": []}
    assert taken == [[e.event_id for e in events]]
    assert reads == [e.event_id for e in events]
