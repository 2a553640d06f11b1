"""Publishing to the FinView bus: batches of 10 (the PutEvents limit), failed entries retried; several events of a
high-volume kind published together go out as one v2 event that carries them (:func:`packed`)."""

from __future__ import annotations

import contextlib
import contextvars
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from shared import aws
from shared.events import MANY, MAX_MEMBERS, MEMBERS_EVENT_BYTES, Event, members_event_id

MAX_ENTRIES = 10
MAX_REQUEST_BYTES = 256 * 1024  # PutEvents' limit for the whole request
MAX_ATTEMPTS = 5


# Inside ``deferred()``: entries collected here instead of sent (a consumer sends its whole batch's together).
_deferred: contextvars.ContextVar[list[dict[str, Any]] | None] = contextvars.ContextVar("bus_deferred", default=None)


@contextlib.contextmanager
def deferred() -> Iterator[list[dict[str, Any]]]:
    """Collect what ``publish``/``publish_entries`` would send inside this block; the caller sends it later."""
    collected: list[dict[str, Any]] = []
    token = _deferred.set(collected)
    try:
        yield collected
    finally:
        _deferred.reset(token)


class EventTooLarge(ValueError):
    pass


class PublishError(RuntimeError):
    def __init__(self, failed: list[dict[str, Any]]) -> None:
        codes = sorted({f.get("ErrorCode", "?") for f in failed})
        super().__init__(f"{len(failed)} event(s) could not be published: {', '.join(codes)}")
        self.failed = failed


def to_entry(event: Event, bus_name: str) -> dict[str, Any]:
    return {
        "Source": event.SOURCE,
        "DetailType": event.DETAIL_TYPE,
        "Detail": event.model_dump_json(),
        "EventBusName": bus_name,
    }


def publish(events: Iterable[Event], bus_name: str | None = None, *, client: Any = None) -> int:
    """Publish events in batches; retry only the entries EventBridge reports as failed."""
    bus = bus_name or aws.env("EVENT_BUS_NAME")
    return publish_entries([to_entry(e, bus) for e in events], client=client)


def event_batches(events: Sequence[Event]) -> list[list[Event]]:
    """``events`` grouped as :func:`publish` sends them, one PutEvents each (at most 10 and 256 KiB): for a caller
    that sends the groups in parallel."""
    out: list[list[Event]] = []
    start = 0
    for batch in batches([to_entry(e, "") for e in events]):  # the bus name does not count towards the size
        out.append(list(events[start : start + len(batch)]))
        start += len(batch)
    return out


def publish_entries(entries: Sequence[dict[str, Any]], *, client: Any = None) -> int:
    """Publish ready PutEvents entries (the outbox stores them so): batched, failed entries retried."""
    collecting = _deferred.get()
    if collecting is not None and client is None:
        for _ in batches(entries):  # an entry too large fails here, in its use case, not in the batch's send
            pass
        collecting.extend(entries)
        return len(entries)
    events_client = client or aws.client("events")
    for batch in batches([e for e, _ in packed(entries)]):
        _put_batch(events_client, batch)
    return len(entries)


# (source, detail type) of a v1 → the detail type of its v2 of many
_PACKED_AS = {(one.SOURCE, one.DETAIL_TYPE): many.DETAIL_TYPE for one, many in MANY.items()}


def packed(entries: Sequence[dict[str, Any]]) -> list[tuple[dict[str, Any], list[int]]]:
    """``entries`` as they go out, each with the positions of the entries it carries: the events of a v1 type that
    has a v2 of many (``shared.events.MANY``) put together, per bus and correlation id, as few v2 events as fit
    (``MAX_MEMBERS``, ``MEMBERS_EVENT_BYTES``); every other entry, and a lone event of its kind, as it is. The v2's
    detail is written from the members' own JSON, unparsed but for their ids (the v2's id is derived from them)."""
    out: list[tuple[dict[str, Any], list[int]]] = []
    groups: dict[tuple[str, str, str], int] = {}  # open group → its slot in ``out``
    members: dict[int, list[tuple[int, str, str]]] = {}  # slot → (position, event id, detail)
    sizes: dict[int, int] = {}
    for position, entry in enumerate(entries):
        many = _PACKED_AS.get((str(entry.get("Source")), str(entry.get("DetailType"))))
        if many is None:
            out.append((entry, [position]))
            continue
        detail = str(entry["Detail"])
        head = json.loads(detail)
        key = (many, str(entry.get("EventBusName", "")), str(head.get("correlation_id", "")))
        size = len(detail.encode()) + 1
        slot = groups.get(key)
        if slot is not None and (len(members[slot]) == MAX_MEMBERS or sizes[slot] + size > MEMBERS_EVENT_BYTES):
            slot = None
        if slot is None:
            slot = groups[key] = len(out)
            out.append((entry, [position]))
            members[slot], sizes[slot] = [], 512 + len(key[2].encode())  # the v2's own fields, generously
        members[slot].append((position, str(head["event_id"]), detail))
        sizes[slot] += size
    for slot, carried in members.items():
        if len(carried) == 1:
            continue  # a lone event goes as the v1 it is
        first = out[slot][0]
        many = _PACKED_AS[(str(first["Source"]), str(first["DetailType"]))]
        detail = (
            '{"event_id":'
            + json.dumps(members_event_id(many, [i for _, i, _ in carried]))
            + ',"occurred_at":'
            + json.dumps(datetime.now(UTC).isoformat())
            + ',"correlation_id":'
            + json.dumps(json.loads(first["Detail"]).get("correlation_id", ""))
            + ',"members":['
            + ",".join(d for _, _, d in carried)
            + "]}"
        )
        entry = {**first, "DetailType": many, "Detail": detail}
        out[slot] = (entry, [p for p, _, _ in carried])
    return out


def entry_size(entry: dict[str, Any]) -> int:
    """PutEvents' size of an entry: Source, DetailType and Detail in UTF-8, plus 14 bytes for the time."""
    return 14 + sum(len(str(entry.get(k, "")).encode()) for k in ("Source", "DetailType", "Detail"))


def batches(entries: Sequence[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    """At most 10 entries and 256 KiB per PutEvents call."""
    batch: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        n = entry_size(entry)
        if n > MAX_REQUEST_BYTES:
            raise EventTooLarge(f"{entry['DetailType']} is {n} bytes; an event may not exceed {MAX_REQUEST_BYTES}")
        if batch and (len(batch) == MAX_ENTRIES or size + n > MAX_REQUEST_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += n
    if batch:
        yield batch


def _put_batch(events_client: Any, batch: Sequence[dict[str, Any]]) -> None:
    pending = list(batch)
    for attempt in range(MAX_ATTEMPTS):
        response = events_client.put_events(Entries=pending)
        if not response.get("FailedEntryCount"):
            return
        # Results are positional: keep only the entries whose result carries an ErrorCode.
        failed = [
            (entry, result)
            for entry, result in zip(pending, response["Entries"], strict=True)
            if result.get("ErrorCode")
        ]
        pending = [entry for entry, _ in failed]
        if attempt == MAX_ATTEMPTS - 1:
            raise PublishError([result for _, result in failed])
        time.sleep(min(0.05 * 2**attempt, 1.0))
