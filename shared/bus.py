"""Publishing to the FinView bus: batches of 10 (the PutEvents limit), failed entries retried."""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from shared import aws
from shared.events import Event

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
    for batch in batches(entries):
        _put_batch(events_client, batch)
    return len(entries)


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
