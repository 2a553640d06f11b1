"""The transactional outbox (shared.outbox) on moto's server: rows commit or roll back with the change, a flush
publishes a cause's rows once, a retry republishes what an earlier attempt committed and did not publish, and
the sweeper relays what a dead writer left behind."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from infra.definition import STACK
from infra.local.dispatcher import sqs_record
from infra.provision import Provisioned
from shared import bus, dynamo, outbox
from shared.consumer import consume
from shared.events import ClientRegistered
from tests.integration.support import client, receive_all

TABLE_LOGICAL = "contacts"


def _registered(client_id: str) -> ClientRegistered:
    return ClientRegistered(
        correlation_id="corr-outbox",
        client_id=client_id,
        legal_name="Acme GmbH",
        business_unit_id="default",
        sender_email="no-reply@finview.example",
    )


def _change(table: str, client_id: str, condition: str | None = None) -> dict[str, Any]:
    put: dict[str, Any] = {"TableName": table, "Item": {"PK": {"S": f"CLIENT#{client_id}"}, "SK": {"S": "PROFILE"}}}
    if condition:
        put["ConditionExpression"] = condition
    return {"Put": put}


def _arrived(aws_: Provisioned) -> list[str]:
    return [json.loads(m["Body"])["detail"]["client_id"] for m in receive_all(aws_, "imports-inbox")]


def _outbox_rows(aws_: Provisioned) -> list[dict[str, Any]]:
    items = client(aws_, "dynamodb").scan(TableName=aws_.names.table(TABLE_LOGICAL))["Items"]
    return [i for i in items if i["PK"]["S"].startswith(outbox.PREFIX)]


def test_rows_commit_with_the_change_and_a_flush_publishes_them_once(aws: Provisioned) -> None:
    table = aws.names.table(TABLE_LOGICAL)
    with outbox.cause("request-1"):
        outbox.write([_registered("c-1"), _registered("c-2")], table, [_change(table, "c-1")])
        assert len(_outbox_rows(aws)) == 2
        assert outbox.flush(table) == 2
        assert outbox.flush(table) == 0
    assert sorted(_arrived(aws)) == ["c-1", "c-2"]
    assert _outbox_rows(aws) == []


def test_a_transactions_rows_of_one_cause_are_one_row_that_publishes_every_event(aws: Provisioned) -> None:
    """Several events of one cause in one transaction (an import's new case owners, a CaseOpened each): one row
    carries them all (one item to write and to delete), read back and published as the rows they stand for, and a
    first delivery still knows it committed every row it built (no read)."""
    table = aws.names.table(TABLE_LOGICAL)
    events = [_registered(f"m-{i}") for i in range(3)]
    with outbox.cause("request-m"):
        rows = outbox.put_items(events, table)
        items, position = outbox.merged([_change(table, "m-0"), *rows, _change(table, "m-1")])
        assert [next(iter(i)) for i in items] == ["Put", "Put", "Put"] and position == [0, 1, 1, 1, 2]
        client(aws, "dynamodb").transact_write_items(TransactItems=items)
        outbox.committed(items)
        [row] = outbox.committed_rows() or []
        assert outbox.event_ids([row]) == [e.event_id for e in events]
        assert len(_outbox_rows(aws)) == 1
        assert outbox.flush(table) == 3
    assert sorted(_arrived(aws)) == ["m-0", "m-1", "m-2"]
    assert _outbox_rows(aws) == []


def test_a_merged_row_is_stored_compressed_and_publishes_its_events_in_order(aws: Provisioned) -> None:
    """A reminder page's worth of alike events (20 of ~1.5 KB): their merged row is a fraction of their JSON (its
    write units), and what it publishes is every event as written, in order."""
    table = aws.names.table(TABLE_LOGICAL)
    events = [
        _registered(f"z-{i:02d}-" + "Stadtwerke Musterstadt GmbH, Abteilung Forderungen " * 25) for i in range(20)
    ]
    raw = sum(len(e.model_dump_json()) for e in events)
    with outbox.cause("request-z"):
        items, position = outbox.merged(outbox.put_items(events, table))
        assert position == [0] * 20
        [row] = [i["Put"]["Item"] for i in items]
        assert "events" not in row and outbox.events_in(row) == 20
        assert len(row["events_z"]["B"]) < raw / 5, (len(row["events_z"]["B"]), raw)
        client(aws, "dynamodb").transact_write_items(TransactItems=items)
        outbox.committed(items)
        assert outbox.event_ids(outbox.committed_rows() or []) == [e.event_id for e in events]
        assert outbox.event_ids(outbox.pending(table)) == [e.event_id for e in events]
        assert outbox.flush(table) == 20
    assert _arrived(aws) == [e.client_id for e in events]
    assert _outbox_rows(aws) == []


def test_a_merged_row_the_previous_code_wrote_uncompressed_is_still_published(aws: Provisioned) -> None:
    table = aws.names.table(TABLE_LOGICAL)
    events = [_registered(f"u-{i}") for i in range(3)]
    with outbox.cause("request-u"):
        first, *rest = [r["Put"]["Item"] for r in outbox.put_items(events, table)]
        members = [{"M": {k: r[k] for k in ("source", "detail_type", "detail")}} for r in (first, *rest)]
        row = {k: v for k, v in first.items() if k not in ("source", "detail_type", "detail")}
        client(aws, "dynamodb").put_item(TableName=table, Item={**row, "events": {"L": members}})
        assert outbox.flush(table) == 3
    assert _arrived(aws) == ["u-0", "u-1", "u-2"]


def test_rows_of_other_causes_and_rows_past_the_size_are_not_merged() -> None:
    events = [_registered(f"s-{i}") for i in range(3)]
    with outbox.cause("cause-a"):
        a = outbox.put_items(events[:2], "t")
    with outbox.cause("cause-b"):
        b = outbox.put_items(events[2:], "t")
    items, position = outbox.merged([*a, *b])
    assert len(items) == 2 and position == [0, 0, 1]
    big = [_registered("b" * 40_000) for _ in range(3)]  # ~40 KB each: two fit no row of MERGED_ROW_BYTES
    with outbox.cause("cause-c"):
        items, position = outbox.merged(outbox.put_items(big, "t"))
    assert position == [0, 1, 2]


def test_a_rolled_back_change_leaves_no_row_and_publishes_nothing(aws: Provisioned) -> None:
    table = aws.names.table(TABLE_LOGICAL)
    with outbox.cause("request-2"):
        outbox.write([], table, [_change(table, "c-1")])
        with pytest.raises(ClientError):
            # The client exists: the condition fails, the whole transaction (and its event) is rolled back.
            outbox.write([_registered("c-1")], table, [_change(table, "c-1", "attribute_not_exists(PK)")])
        assert outbox.flush(table) == 0
    assert _outbox_rows(aws) == []
    assert _arrived(aws) == []


def test_a_retry_of_the_same_cause_publishes_what_the_killed_attempt_committed(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = aws.names.table(TABLE_LOGICAL)
    event = _registered("c-killed")

    real = bus.publish_entries
    dead = {"yes": True}

    def killed(entries: Any, **kw: Any) -> int:
        if dead["yes"]:
            raise SystemExit("killed between commit and publish")
        return real(entries, **kw)

    monkeypatch.setattr(bus, "publish_entries", killed)
    with outbox.cause("event-7"):
        outbox.write([event], table, [_change(table, "c-killed")])
        with pytest.raises(SystemExit):
            outbox.flush(table)
    assert _arrived(aws) == []
    dead["yes"] = False
    # Another cause's flush does not touch it; the retry of the same cause does, with the same event id.
    with outbox.cause("event-8"):
        assert outbox.flush(table) == 0
    with outbox.cause("event-7"):
        assert outbox.flush(table) == 1
    bodies = [json.loads(m["Body"]) for m in receive_all(aws, "imports-inbox")]
    assert [b["detail"]["event_id"] for b in bodies] == [event.event_id]


def test_the_grace_outlasts_every_invocation_of_a_writer() -> None:
    """A row younger than the longest a function can run may belong to a writer still at work: the sweeper must not
    publish it (the writer would publish it again)."""
    longest = max(f.timeout for f in STACK.functions)
    assert timedelta(seconds=longest) < outbox.SWEEP_GRACE
    assert timedelta(minutes=15) < outbox.SWEEP_GRACE  # Lambda's own limit, whatever our template says


def test_the_sweeper_relays_rows_older_than_the_grace_only(aws: Provisioned) -> None:
    table = aws.names.table(TABLE_LOGICAL)
    with outbox.cause("abandoned"):
        outbox.write([_registered("c-late")], table)
    assert outbox.sweep(table) == 0  # the writer may still be flushing it itself
    assert _arrived(aws) == []
    later = datetime.now(UTC) + outbox.SWEEP_GRACE + timedelta(seconds=1)
    assert outbox.sweep(table, now=later) == 1
    assert outbox.sweep(table, now=later) == 0
    assert _arrived(aws) == ["c-late"]


def test_rows_of_many_causes_spread_over_the_shards(aws: Provisioned) -> None:
    shards = {outbox.shard_of(f"cause-{i}") for i in range(200)}
    assert len(shards) == outbox.SHARDS


def test_publish_entries_sends_the_stored_entry_unchanged(aws: Provisioned) -> None:
    event = _registered("c-raw")
    assert bus.publish_entries([bus.to_entry(event, aws.names.bus)]) == 1
    body = json.loads(receive_all(aws, "imports-inbox")[0]["Body"])
    assert body["detail"] == json.loads(event.model_dump_json())


def test_put_item_with_events_is_one_conditional_write(aws: Provisioned) -> None:
    table = aws.names.table(TABLE_LOGICAL)
    item = {"PK": "CLIENT#c-9", "SK": "PROFILE", "legal_name": "Neun AG", "amount": Decimal("1.5")}
    with outbox.cause("request-9"):
        outbox.put_item(table, item, [_registered("c-9")], condition="attribute_not_exists(PK)")
        with pytest.raises(ClientError) as refused:
            outbox.put_item(table, item, [_registered("c-9")], condition="attribute_not_exists(PK)")
        assert dynamo.is_condition_failure(refused.value)
        assert outbox.flush(table) == 1
    assert _arrived(aws) == ["c-9"]


def test_a_first_delivery_publishes_without_reading_the_outbox_and_a_retry_reads_it(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = aws.names.table(TABLE_LOGICAL)
    queries: list[str] = []
    real_pending = outbox.pending

    def pending(table_name: str, cause_id: str | None = None) -> list[dict[str, Any]]:
        queries.append(cause_id or outbox.current_cause())
        return real_pending(table_name, cause_id)

    monkeypatch.setattr(outbox, "pending", pending)

    def handler(event: ClientRegistered) -> None:
        if event.client_id.startswith("writes"):
            outbox.write([_registered(f"{event.client_id}-announced")], table, [_change(table, event.client_id)])

    def record(event: ClientRegistered, receive_count: str | None) -> dict[str, Any]:
        envelope = {
            "source": event.SOURCE,
            "detail-type": event.DETAIL_TYPE,
            "detail": json.loads(event.model_dump_json()),
        }
        message: dict[str, Any] = {"MessageId": event.event_id, "ReceiptHandle": "r", "Body": json.dumps(envelope)}
        if receive_count is not None:
            message["Attributes"] = {"ApproximateReceiveCount": receive_count}
        return sqs_record(message, "arn:aws:sqs:eu-west-1:123456789012:q", "eu-west-1")

    quiet, writer, retried, unknown = (_registered(c) for c in ("quiet", "writes-1", "quiet-again", "quiet-unknown"))
    records = [record(quiet, "1"), record(writer, "1"), record(retried, "2"), record(unknown, None)]
    result = consume(
        {"Records": records}, None, service="outbox-test", table_name=table, handlers={ClientRegistered: handler}
    )
    assert result == {"batchItemFailures": []}
    # A first delivery skips the query: the one that wrote nothing has nothing to publish, the writer publishes the
    # rows its transaction committed (outbox.write reported them). The retry and an unknown count read the cause.
    assert queries == [retried.event_id, unknown.event_id]
    assert _arrived(aws) == ["writes-1-announced"]
