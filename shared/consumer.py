"""EventBridge → SQS → Lambda consumption, the same for every service.

Each record's body is an EventBridge envelope. It is parsed into its catalogue model, the correlation id is put
on the logger, and the service's handler for that event type runs at most once per ``event_id`` (powertools
idempotency, persisted in the service's own table). A record that fails is reported in ``batchItemFailures``
so only it returns to the queue; after the queue's maxReceiveCount it lands in the DLQ. Events the handler
wrote to the outbox (``shared.outbox``, cause = the record's ``event_id``) are published after it, and on every
redelivery, so a retry republishes whatever an earlier delivery committed and did not publish.

A use case marked :func:`rerunnable` (safe to run again as it is) needs no idempotency record. The events of the
whole batch go out together after its records, 10 a PutEvents, and the outbox rows they came from are deleted 25
a request: a record whose events did not go out is reported failed.

A rerunnable use case may also have a set-at-a-time form (:func:`set_at_a_time`): the batch's records of that event
type go to it together first (one BatchGetItem, a few TransactWriteItems for all of them instead of requests per
record), in the order the handlers are listed; should it raise, its records run one by one, so a record that
cannot be handled fails alone. Or it may take batch steps around its own records (:func:`with_batch_steps`): a
``prepare`` with the batch's events before them and a ``finish`` after them, before the batch is announced.

A v2 of many (``shared.events.Members``: several v1 events of a high-volume kind in one) is handled member by
member, each as the v1 event it is (its handler, its idempotency, its outbox cause, its batch steps, its
set-at-a-time form with the batch's other events of its type, members or not); its record
fails if any member failed, and its redelivery runs them all again, which the members' own idempotency makes a
finish of what was left. The batch's outgoing events are packed the same way (``shared.bus.packed``).
"""

from __future__ import annotations

import contextvars
import functools
import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from shared import aws, bus, expiry, outbox
from shared.events import CATALOGUE, Event, Members, parse_envelope
from shared.observability import lambda_handler, logger, metrics

EventHandler = Callable[..., Any]
# The set-at-a-time form of a use case: the batch's events of one type → the events to publish, by incoming event id.
SetHandler = Callable[[list[Any]], Mapping[str, Sequence[Event]]]
IDEMPOTENCY_TTL_SECONDS = int(expiry.CLASSES["event_idempotency"].total_seconds())


class _PerKeyPersistence(DynamoDBPersistenceLayer):
    """Idempotency records in the service's own PK/SK table, one partition per key.

    Powertools' composite-key mode puts every record under one static partition key, a hot partition once an
    import sends a million events; here the idempotency key is the partition key and SK a constant.
    """

    def _get_key(self, idempotency_key: str) -> dict[str, Any]:
        return {self.key_attr: {"S": idempotency_key}, str(self.sort_key_attr): {"S": "IDEMPOTENCY"}}


@functools.cache
def _persistence(table_name: str, service: str, endpoint: str, purpose: str = "events") -> DynamoDBPersistenceLayer:
    # ``endpoint`` is part of the cache key so tests against different moto servers get fresh clients. ``purpose``
    # too: powertools configures a persistence layer once (its first config's key path wins), so the bus consumer
    # (event_id) and the API's Idempotency-Key (key) in one process each need their own, or one silently skips.
    return _PerKeyPersistence(
        table_name=table_name,
        key_attr="PK",
        sort_key_attr="SK",
        static_pk_value=f"IDEMPOTENCY#{service}",
        boto3_client=aws.client("dynamodb"),
    )


def _once(service: str, table_name: str, fn: EventHandler, context: Any) -> EventHandler:
    config = IdempotencyConfig(event_key_jmespath="event_id", expires_after_seconds=IDEMPOTENCY_TTL_SECONDS)
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        config.register_lambda_context(context)
    store = _persistence(table_name, service, aws.dynamodb_endpoint())
    return idempotent_function(data_keyword_argument="event", config=config, persistence_store=store)(fn)


RERUNNABLE = "__finview_rerunnable__"
_batch_reads: contextvars.ContextVar[dict[Hashable, Any] | None] = contextvars.ContextVar("batch_reads", default=None)
T = TypeVar("T")


def read_once_per_batch(key: Hashable, load: Callable[[], T]) -> T:
    """``load()`` once per consumer invocation for ``key`` (a client's settings, read by every record of a batch of
    its cases); outside a consumer invocation (the API, a schedule) every call loads."""
    reads = _batch_reads.get()
    if reads is None:
        return load()
    if key not in reads:
        reads[key] = load()
    return reads[key]  # type: ignore[no-any-return]


def forget_for_the_batch(key: Hashable) -> None:
    """The writer of what ``key`` read: the batch's next records read it again."""
    reads = _batch_reads.get()
    if reads is not None:
        reads.pop(key, None)


def rerunnable(fn: EventHandler) -> EventHandler:
    """Mark a use case that a redelivery may simply run again: every write it makes is conditional or keyed so that
    a second run changes nothing, and the events it publishes may go out again (their consumers are idempotent on
    the event id, and a snapshot supersedes an older one). It runs without powertools' idempotency record (the
    record's two writes per event are what DynamoDB would charge for nothing), and the events it publishes go out
    with the rest of the batch's, 10 a PutEvents."""
    setattr(fn, RERUNNABLE, True)
    return fn


SET_AT_A_TIME = "__finview_set_at_a_time__"


def set_at_a_time(one: EventHandler, many: SetHandler) -> EventHandler:
    """``one`` (a use case for one event, rerunnable) with ``many``, its form for a batch's events of that type:
    ``many`` must leave what ``one`` run on each of them would (in any order: the records of a batch may be
    redelivered in any), and return the events ``one`` would have published, by incoming event id."""
    rerunnable(one)
    setattr(one, SET_AT_A_TIME, many)
    return one


def _handle_sets(
    records: list[dict[str, Any]],
    handlers: Mapping[type[Event], EventHandler],
    log: Any,
    parsed: Mapping[str, Event],
) -> dict[tuple[str, str], Any]:
    """Run the set-at-a-time forms over the batch (types in the handlers' order), the members of a v2 of many
    (``Members``) with the v1 events of their type; returns, by (message id, event id), the events each handled
    event publishes. A form that raises leaves its events to their one-by-one path. ``parsed``: the events the batch
    takes together, read already, by message id (``_prepare``)."""
    members: dict[type[Event], list[tuple[str, Event]]] = {}
    for record in records:
        event = parsed.get(record["messageId"])
        if event is None:
            continue  # not taken together (``_prepare``), or unreadable: the record's own path reports it
        for one in event.as_v1() if isinstance(event, Members) else (event,):
            if getattr(handlers.get(type(one)), SET_AT_A_TIME, None) is not None:
                members.setdefault(type(one), []).append((record["messageId"], one))
    done: dict[tuple[str, str], Any] = {}
    for kind in [k for k in handlers if len(members.get(k, ())) > 1]:
        many: SetHandler = getattr(handlers[kind], SET_AT_A_TIME)
        try:
            published = many([event for _, event in members[kind]])
        except Exception:
            log.exception("set-at-a-time %s failed; its records run one by one", kind.__name__)
            continue
        for message_id, event in members[kind]:
            done[(message_id, event.event_id)] = list(published.get(event.event_id, ()))
        log.info("handled set-at-a-time", extra={"detail_type": kind.DETAIL_TYPE, "records": len(members[kind])})
    return done


class SetAtATime:
    """What a rerunnable use case does for a whole batch around its own records (:func:`with_batch_steps`): ``prepare``
    gets the batch's events it takes before the first record runs (to read or claim them in a few requests),
    ``finish`` runs after the last one and before the batch's events are published (to write what the records left
    for it, a few requests for all); it returns the event ids whose writes it could not finish, whose records then
    return to the queue with their events unpublished. What the two share lives in the object. (Unlike
    :func:`set_at_a_time`, each record still runs its use case: for use cases with a call per record that cannot be
    shared, SES's SendEmail say.)"""

    def prepare(self, events: list[Any]) -> None:
        """Before the batch's records; a failure here is logged and each record does its own work."""

    def finish(self) -> set[str]:
        return set()


BATCH_STEPS = "__finview_batch_steps__"


def with_batch_steps(fn: EventHandler, steps: type[SetAtATime]) -> EventHandler:
    """Mark a :func:`rerunnable` use case with the batch steps it takes around its records: a fresh ``steps()`` for
    each invocation, which the use case finds with :func:`batch_steps`."""
    setattr(rerunnable(fn), BATCH_STEPS, steps)
    return fn


_steps: contextvars.ContextVar[dict[type[SetAtATime], SetAtATime] | None] = contextvars.ContextVar(
    "batch_steps", default=None
)
S = TypeVar("S", bound=SetAtATime)


def batch_steps(kind: type[S]) -> S | None:
    """The batch steps of type ``kind`` in the current consumer invocation (None outside one: do it all now)."""
    found = (_steps.get() or {}).get(kind)
    return found if isinstance(found, kind) else None


def _taken_together(envelope: dict[str, Any], handlers: Mapping[type[Event], EventHandler]) -> bool:
    """Whether the event's handler (a v2 of many: its members') takes the batch's events together (batch steps or a
    set-at-a-time form), so the event is read before the first record runs."""
    kind: Any = CATALOGUE.get((envelope.get("source", ""), envelope.get("detail-type", "")))
    handler = handlers.get(kind.ONE if isinstance(kind, type) and issubclass(kind, Members) else kind)
    return any(getattr(handler, mark, None) is not None for mark in (BATCH_STEPS, SET_AT_A_TIME))


def _prepare(
    records: list[dict[str, Any]], handlers: Mapping[type[Event], EventHandler], log: Any, parsed: dict[str, Event]
) -> dict[type[SetAtATime], SetAtATime]:
    """The batch steps of the use cases :func:`with_batch_steps`, each prepared with the batch's events it takes
    (use cases that share a kind of steps share one). ``parsed``: the events the batch takes together
    (``_taken_together``), read here, by SQS message id (each record reads its own once). The others are read when
    their record runs: a batch of 100 case-file v2s read up front was ~20 MB of models alive at once per copy, the
    peak the process's allocator then kept."""
    events: dict[type[SetAtATime], list[Event]] = {}
    for record in records:
        try:
            envelope = json.loads(record["body"])
            if not _taken_together(envelope, handlers):
                continue
            event = parse_envelope(envelope)
        except Exception:
            continue  # its record fails on its own
        parsed[record["messageId"]] = event
        for one in event.as_v1() if isinstance(event, Members) else (event,):
            kind = getattr(handlers.get(type(one)), BATCH_STEPS, None)
            if kind is not None:
                events.setdefault(kind, []).append(one)
    steps: dict[type[SetAtATime], SetAtATime] = {}
    for kind, batch in events.items():
        steps[kind] = kind()
        try:
            steps[kind].prepare(batch)
        except Exception:
            log.exception("a batch step failed; each record does its own work")
            steps[kind] = kind()
    return steps


def consume(
    raw_event: dict[str, Any],
    context: Any,
    *,
    service: str,
    table_name: str,
    handlers: Mapping[type[Event], EventHandler],
) -> dict[str, Any]:
    log = logger(service)
    processor = BatchProcessor(event_type=EventType.SQS)
    outgoing: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}  # by message: entries, outbox rows
    messages: dict[str, str] = {}  # the SQS message of each event handled
    parsed: dict[str, Event] = {}

    def handle_record(record: SQSRecord) -> None:
        event = parsed.pop(record.message_id, None) or parse_envelope(json.loads(record.body))
        log.set_correlation_id(event.correlation_id)
        if not isinstance(event, Members):
            entries, rows = handle(record, event)
            if entries or rows:
                outgoing[record.message_id] = (entries, rows)
            return
        # A v2 of many: each member handled as the v1 it is, with its own idempotency; a member that fails does not
        # keep the others from being done, and the record returns to the queue for it (the others' claims, records
        # or outbox rows make their second run change nothing and publish again what they published).
        log.info(
            "handling events",
            extra={"detail_type": event.DETAIL_TYPE, "event_id": event.event_id, "members": len(event.as_v1())},
        )
        collected: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])
        failed: Exception | None = None
        for member in event.as_v1():
            try:
                entries, rows = handle(record, member, quiet=True)
            except Exception as error:
                log.exception("a member event failed", extra={"event_id": member.event_id})
                failed = failed or error
                continue
            collected[0].extend(entries)
            collected[1].extend(rows)
        if failed is not None:
            raise failed
        if collected[0] or collected[1]:
            outgoing[record.message_id] = collected

    def handle(
        record: SQSRecord, event: Event, quiet: bool = False
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """One event (a record's, or a member of its v2): its handler's run; the events and outbox rows to publish."""
        handler = handlers.get(type(event))
        if handler is None:
            # A rule delivered something this service does not consume: a wiring error, not data to retry.
            raise LookupError(f"{service} has no handler for {event.DETAIL_TYPE}")
        if not quiet:
            log.info("handling event", extra={"detail_type": event.DETAIL_TYPE, "event_id": event.event_id})
        messages[event.event_id] = record.message_id

        def run(event: Event) -> Any:
            return handler(event)

        run.__name__ = run.__qualname__ = f"{service}.{type(event).__name__}"
        entries: list[dict[str, Any]] = []
        with outbox.cause(event.event_id):
            if (record.message_id, event.event_id) in handled:  # done with its batch's others: published below
                with bus.deferred() as entries:
                    bus.publish(handled[(record.message_id, event.event_id)])
            elif getattr(handler, RERUNNABLE, False):
                with bus.deferred() as entries:
                    handler(event)
            else:
                _once(service, table_name, run, context)(event=event)
            # Outside the idempotent part: a retry whose handler is already done still publishes what the first
            # delivery committed and did not get out, so a redelivery reads the cause's rows. A first delivery has
            # only its own: none (no query), or those its writers reported committed (no query either), else read.
            rows: list[dict[str, Any]] = []
            if _redelivered(record):
                rows = outbox.pending(table_name)
            elif outbox.rows_made():
                known = outbox.committed_rows()
                rows = known if known is not None else outbox.pending(table_name)
        metrics(service).add_metric(name=f"{type(event).__name__}Handled", unit="Count", value=1)
        return entries, rows

    reads = _batch_reads.set({})
    steps = _steps.set(_prepare(raw_event["Records"], handlers, log, parsed))
    unfinished: set[str] = set()
    try:
        handled = _handle_sets(raw_event["Records"], handlers, log, parsed)
        with processor(records=raw_event["Records"], handler=handle_record, lambda_context=context):
            processor.process()
        for step in (_steps.get() or {}).values():
            unfinished |= {messages[e] for e in step.finish() if e in messages}
    finally:
        _steps.reset(steps)
        _batch_reads.reset(reads)
    response = processor.response()
    done = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    response["batchItemFailures"].extend({"itemIdentifier": m} for m in unfinished if m not in done)
    for message_id in unfinished:
        outgoing.pop(message_id, None)  # their writes are not finished: nothing of them is announced
    unsent = _send(outgoing, table_name, log)
    if unsent:
        # their events are not out: the records return to the queue (outbox rows stay for the retry or sweeper)
        done = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        response["batchItemFailures"].extend({"itemIdentifier": m} for m in unsent if m not in done)
    return dict(response)


def _send(
    outgoing: Mapping[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]], table_name: str, log: Any
) -> list[str]:
    """Publish the batch's events together (in record order, 10 a PutEvents), then delete the outbox rows that
    went out (25 a request); returns the messages whose events did not all go out."""
    if not outgoing:
        return []
    order = list(outgoing)
    flat = [(m, e) for m in order for e in (*outgoing[m][0], *outbox.entries(outgoing[m][1]))]
    # several events of a high-volume kind go out as one v2 event (shared.bus.packed), which carries them all: if it
    # does not go out, none of their records is done
    packed = bus.packed([e for _, e in flat])
    sent = 0
    try:
        for batch in bus.batches([e for e, _ in packed]):
            bus.publish_entries(batch)  # packed already: it packs nothing more
            sent += len(batch)
    except Exception:
        log.exception("publishing the batch's events failed; their records return to the queue")
    unsent = list(dict.fromkeys(flat[p][0] for _, positions in packed[sent:] for p in positions))
    published = [r for m in order if m not in unsent for r in outgoing[m][1]]
    if published:
        try:
            outbox.delete_rows(published, table_name)
        except Exception:
            # published but still in the outbox: the sweeper publishes them again, with their ids (harmless)
            log.exception("deleting published outbox rows failed")
    return unsent


def publish_together(entries_by_record: Mapping[str, list[dict[str, Any]]], log: Any) -> list[str]:
    """A batch's events collected per record (``bus.deferred``) published together, 10 a PutEvents, for a consumer
    of another queue than the bus inbox; returns the records whose events did not all go out."""
    return _send({m: (entries, []) for m, entries in entries_by_record.items()}, "", log)


def _redelivered(record: SQSRecord) -> bool:
    """SQS's receive count says whether an earlier delivery ran; unknown counts as a retry."""
    count = (record.raw_event.get("attributes") or {}).get("ApproximateReceiveCount")
    return count is None or int(count) > 1


def bus_consumer(
    service: str, table_name: Callable[[], str], handlers: Mapping[type[Event], EventHandler]
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda entry point of a service's bus inbox: ``handlers`` maps each event type to its use case.

    ``table_name`` is asked at each invocation (the service's settings), for the idempotency records.
    """

    @lambda_handler(service)
    def on_bus_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return consume(event, context, service=service, table_name=table_name(), handlers=handlers)

    return on_bus_events


def outbox_publisher(service: str, table_name: Callable[[], str]) -> Callable[[dict[str, Any], Any], dict[str, int]]:
    """The Lambda entry point of a service's ``publish_outbox`` schedule: publishes the outbox rows a writer left
    behind (it died, or its client gave up) once they are older than a writer's own flush."""

    @lambda_handler(service)
    def publish_outbox(event: dict[str, Any], context: Any) -> dict[str, int]:
        published = outbox.sweep(table_name())
        if published:
            logger(service).warning("published events writers had left in the outbox", extra={"count": published})
        return {"published": published}

    return publish_outbox
