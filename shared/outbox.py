"""The transactional outbox: an event is published at least once for every committed write, never for a
rolled-back one.

A writer puts one outbox row per event into the *same* DynamoDB transaction as the change it announces
(:func:`put_items`). After the commit the rows of the current *cause* are published and deleted
(:func:`flush`); a crash anywhere in between leaves them in the table, where the next attempt finds them:

- a bus consumer's cause is the incoming ``event_id``, so SQS's retry of the record flushes what the first
  delivery committed but did not publish (``shared.consumer`` flushes after every record);
- an API request's cause is its ``Idempotency-Key`` (or its request id), flushed before the answer;
- anything left behind (an API call whose client gave up, a killed process) is published by the service's
  ``publish_outbox`` schedule (:func:`sweep`, every minute), once it is older than the writer's own flush.

The event id is fixed when the row is written, so every re-publication carries the same id and the consumers'
idempotency (keyed on ``event_id``) absorbs it: exactly once in effect.

Keys (in the owning service's table): ``OUTBOX#<shard>`` / ``<cause>#<seq>#<event_id>``. The shard is a hash of
the cause, so one cause's rows are one query and the sweeper reads 16 partitions, not a hot one or a scan.

A transaction that carries several rows of one cause (an import's batch of new case owners, each with its
CaseOpened) writes them as ONE row, keyed as its first, that carries every event (``events``; :func:`merged`): the
same commit-or-nothing, one item to put and to delete instead of one per event (an outbox row's ~0.5 KB costs a
whole write unit, twice in a transaction, and its delete one more). A merged row's events are stored compressed
(``events_z``: zlib of their JSON, ``events_n`` of them): a reminder page's 20 ContactActionRequested are ~30 KB of
JSON, 60 write units to put in its transaction and 30 to delete, and much alike, so ~1/6 of that compressed. Every
reader takes every kind of row (single, ``events``, ``events_z``).

Why not DynamoDB Streams → a publisher function: Streams would save the delete of each row (about 1 of 3 write
units per event) but publish every event asynchronously (an API answer would no longer mean "announced"), need
a stream per table, an event source mapping with filters and an on-failure destination, and a local poller of
moto's stream shards (moto keeps every stream record in memory: a million-row import would hold them all).
Polling the outbox keeps the publish synchronous on the happy path and needs only a one-minute schedule.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import logging
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import TypeDeserializer

from shared import aws, bus, dynamo
from shared.events import Event, new_id

SHARDS = 16
PREFIX = "OUTBOX#"
# A writer flushes its rows before its invocation returns, and Lambda ends every invocation within 15 minutes
# (its longest timeout): older rows are a dead writer's. A minute was too short once a consumer handles a batch of
# 100 events of up to 50 case owners and publishes at its end: at 100k rows the sweeper published ~3,000 events
# a live writer published again.
SWEEP_GRACE = timedelta(minutes=16)

_de = TypeDeserializer()


class _Made:
    """The outbox rows one block of :func:`cause` built, and those of them its writers reported committed."""

    def __init__(self) -> None:
        self.built = 0
        self.committed: list[dict[str, Any]] = []


_cause: contextvars.ContextVar[str | None] = contextvars.ContextVar("outbox_cause", default=None)
_written: contextvars.ContextVar[_Made | None] = contextvars.ContextVar("outbox_written", default=None)


@contextlib.contextmanager
def cause(value: str) -> Iterator[str]:
    """Rows written inside this block belong to ``value`` (an event id, an idempotency key, a request id)."""
    token = _cause.set(value)
    counted = _written.set(_Made())
    try:
        yield value
    finally:
        _written.reset(counted)
        _cause.reset(token)


def rows_made() -> int | None:
    """How many outbox rows this block of :func:`cause` made so far (None outside one): a writer that made none
    and is not retrying has nothing of its own to flush."""
    made = _written.get()
    return made.built if made is not None else None


def committed(transact_items: Sequence[dict[str, Any]]) -> None:
    """A writer's TransactWriteItems (client format) committed: the outbox rows among its Puts are in the table.
    Only a consumer's first delivery uses this (:func:`committed_rows`); anything else reads the rows back."""
    made = _written.get()
    if made is not None:
        made.committed.extend({k: _de.deserialize(v) for k, v in item.items()} for item in _outbox_puts(transact_items))


def discarded(transact_items: Sequence[dict[str, Any]]) -> None:
    """A writer gave up a transaction it built (cancelled, and not to be tried again as it is): its outbox rows were
    neither committed nor are they pending, so they no longer count as built (:func:`committed_rows`)."""
    made = _written.get()
    if made is not None:
        made.built -= sum(events_in(item) for item in _outbox_puts(transact_items))


def events_in(item: dict[str, Any]) -> int:
    """How many events an outbox row (client format) carries."""
    if "events_z" in item:
        return int(item["events_n"]["N"])
    return len(item["events"]["L"]) if "events" in item else 1


def _outbox_puts(transact_items: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The outbox rows among a TransactWriteItems' Puts (client format)."""
    for entry in transact_items:
        item = (entry.get("Put") or {}).get("Item") or {}
        if str((item.get("PK") or {}).get("S", "")).startswith(PREFIX):
            yield item


def committed_rows() -> list[dict[str, Any]] | None:
    """The rows this block committed, in the order :func:`pending` reads them, when they are every row it built;
    None when some were not reported (or not committed: a group left out of a transaction): then read them."""
    made = _written.get()
    if made is None or made.built != sum(len(_carried(r)) for r in made.committed):
        return None
    return sorted(made.committed, key=lambda r: str(r["SK"]))


def current_cause() -> str:
    value = _cause.get()
    if value is None:
        # A write outside any cause (a script, a test): give it one, so flush() still finds its rows.
        value = new_id()
        _cause.set(value)
    return value


def shard_of(cause_id: str) -> str:
    return f"{PREFIX}{int(hashlib.sha256(cause_id.encode()).hexdigest()[:8], 16) % SHARDS:02d}"


def row(event: Event, seq: int = 0, cause_id: str | None = None) -> dict[str, Any]:
    """The outbox row of ``event`` as a plain item (boto3 resource format)."""
    c = cause_id or current_cause()
    made = _written.get()
    if made is not None:
        made.built += 1
    return {
        "PK": shard_of(c),
        "SK": f"{c}#{seq:04d}#{event.event_id}",
        "source": event.SOURCE,
        "detail_type": event.DETAIL_TYPE,
        "detail": event.model_dump_json(),
        "created_at": datetime.now(UTC).isoformat(),
    }


def rows(events: Sequence[Event], cause_id: str | None = None) -> list[dict[str, Any]]:
    """The outbox rows of ``events`` as plain items, for a transaction built with a boto3 resource's client."""
    return [row(event, seq, cause_id) for seq, event in enumerate(events)]


def put_items(events: Sequence[Event], table_name: str, cause_id: str | None = None) -> list[dict[str, Any]]:
    """TransactWriteItems ``Put`` entries (client format) for ``events``: add them to the change's transaction."""
    out = []
    for seq, event in enumerate(events):
        item = row(event, seq, cause_id)
        out.append({"Put": {"TableName": table_name, "Item": {k: {"S": v} for k, v in item.items()}}})
    return out


MERGED_ROW_BYTES = 64 * 1024  # a merged row's events, at most (an item may hold 400 KB; a write unit is 1 KB)


def merged(transact_items: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[int]]:
    """TransactWriteItems entries (client format) with the outbox rows of each cause merged into as few rows as
    hold them (``MERGED_ROW_BYTES`` of events a row): each merged row keyed as its first row, carrying the rows'
    events in order (``events``). Returns the entries to send and, for each entry given, the position of the entry
    it went into (a cancellation's reasons are read back per entry given)."""
    out: list[dict[str, Any]] = []
    position: list[int] = []
    open_rows: dict[tuple[str, str, str], int] = {}  # (table, shard, cause) → its merged row's position in ``out``
    sizes: dict[int, int] = {}
    for entry in transact_items:
        put = entry.get("Put") or {}
        item = put.get("Item") or {}
        pk = str((item.get("PK") or {}).get("S", ""))
        if not pk.startswith(PREFIX) or "events" in item or "events_z" in item or "ConditionExpression" in put:
            position.append(len(out))
            out.append(entry)
            continue
        sk = str(item["SK"]["S"])
        key = (str(put["TableName"]), pk, sk.split("#", 1)[0])
        size = len(item["detail"]["S"].encode())
        at = open_rows.get(key)
        if at is None or sizes[at] + size > MERGED_ROW_BYTES:
            open_rows[key] = len(out)
            sizes[len(out)] = size
            position.append(len(out))
            out.append(entry)
            continue
        first = out[at]["Put"]["Item"]
        if "events" not in first:
            first = {k: v for k, v in first.items() if k not in _EVENT}
            first["events"] = {"L": [_event_of(out[at]["Put"]["Item"])]}
            out[at] = {"Put": {**out[at]["Put"], "Item": first}}
        first["events"]["L"].append(_event_of(item))
        sizes[at] += size
        position.append(at)
    for at in sizes:
        if "events" in out[at]["Put"]["Item"]:
            out[at] = {"Put": {**out[at]["Put"], "Item": _compressed(out[at]["Put"]["Item"])}}
    return out, position


def _compressed(item: dict[str, Any]) -> dict[str, Any]:
    """A merged row (client format) with its ``events`` as ``events_z``, zlib of ``[[source, detail_type, detail],
    …]`` (their order kept), and ``events_n``."""
    events = [[e["M"][k]["S"] for k in _EVENT] for e in item["events"]["L"]]
    body = zlib.compress(json.dumps(events, separators=(",", ":")).encode(), 6)
    rest = {k: v for k, v in item.items() if k != "events"}
    return {**rest, "events_z": {"B": body}, "events_n": {"N": str(len(events))}}


_EVENT = ("source", "detail_type", "detail")


def _event_of(item: dict[str, Any]) -> dict[str, Any]:
    """The event a single row (client format) carries, as a member of a merged row's ``events``."""
    return {"M": {k: item[k] for k in _EVENT}}


def _carried(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The events a row (plain item) carries: a merged row's (``events_z`` or ``events``), else the row's own."""
    if "events_z" in row:
        packed = row["events_z"]
        raw = packed.value if hasattr(packed, "value") else packed  # boto3's Binary, or bytes
        return [dict(zip(_EVENT, e, strict=True)) for e in json.loads(zlib.decompress(raw))]
    return [dict(e) for e in row["events"]] if "events" in row else [row]


def write(events: Sequence[Event], table_name: str, changes: Sequence[dict[str, Any]] = ()) -> None:
    """Commit ``changes`` (TransactWriteItems entries) and the outbox rows of ``events`` in one transaction."""
    items = [*changes, *put_items(events, table_name)]
    if items:
        aws.client("dynamodb").transact_write_items(TransactItems=items)
        committed(items)


def put_item(
    table_name: str,
    item: dict[str, Any],
    events: Sequence[Event],
    condition: str | None = None,
    values: dict[str, Any] | None = None,
) -> None:
    """``put_item`` of one item (resource format) together with its events' outbox rows, in one transaction.

    A failed condition raises like any conditional write (``shared.dynamo.is_condition_failure`` is true).
    """
    put: dict[str, Any] = {"TableName": table_name, "Item": {k: dynamo.wire(v) for k, v in item.items()}}
    if condition:
        put["ConditionExpression"] = condition
    if values:
        put["ExpressionAttributeValues"] = {k: dynamo.wire(v) for k, v in values.items()}
    write(events, table_name, [{"Put": put}])


def pending(table_name: str, cause_id: str | None = None) -> list[dict[str, Any]]:
    """The rows of one cause not yet published, in the order they were written."""
    c = cause_id or current_cause()
    return dynamo.query_all(
        aws.table(table_name),
        KeyConditionExpression=Key("PK").eq(shard_of(c)) & Key("SK").begins_with(f"{c}#"),
        ConsistentRead=True,
    )


def entries(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The PutEvents entries of outbox rows."""
    bus_name = aws.env("EVENT_BUS_NAME")
    return [
        {"Source": e["source"], "DetailType": e["detail_type"], "Detail": e["detail"], "EventBusName": bus_name}
        for r in rows
        for e in _carried(r)
    ]


def delete_rows(rows: Sequence[dict[str, Any]], table_name: str) -> None:
    """Delete published rows, 25 a request."""
    with aws.table(table_name).batch_writer() as batch:
        for r in rows:
            batch.delete_item(Key={"PK": r["PK"], "SK": r["SK"]})


def publish_rows(rows: Sequence[dict[str, Any]], table_name: str) -> int:
    """Publish rows, then delete them: a crash between the two republishes them with their ids (harmless)."""
    if not rows:
        return 0
    sent = entries(rows)
    bus.publish_entries(sent)
    delete_rows(rows, table_name)
    return len(sent)


def flush(table_name: str, cause_id: str | None = None) -> int:
    """Publish every pending row of this cause (the rows just committed, and any an earlier attempt left)."""
    return publish_rows(pending(table_name, cause_id), table_name)


def try_flush(table_name: str, cause_id: str | None = None) -> int:
    """:func:`flush` for a writer whose change is committed whatever happens to the events: a failure to publish
    is logged, not raised (the rows stay; a retry of the cause or the sweeper publishes them)."""
    try:
        return flush(table_name, cause_id)
    except Exception:
        logging.getLogger("finview.outbox").exception("events stay in the outbox for a retry or the sweeper")
        return 0


def sweep(table_name: str, grace: timedelta = SWEEP_GRACE, now: datetime | None = None) -> int:
    """Publish every row older than ``grace``, whatever its cause: the relay for writers that died."""
    before = ((now or datetime.now(UTC)) - grace).isoformat()
    published = 0
    for shard in range(SHARDS):
        rows = dynamo.query_all(
            aws.table(table_name),
            KeyConditionExpression=Key("PK").eq(f"{PREFIX}{shard:02d}"),
            FilterExpression=Attr("created_at").lte(before),
            ConsistentRead=True,
        )
        published += publish_rows(rows, table_name)
    return published


def event_ids(rows: Sequence[dict[str, Any]]) -> list[str]:
    return [str(json.loads(e["detail"])["event_id"]) for r in rows for e in _carried(r)]
