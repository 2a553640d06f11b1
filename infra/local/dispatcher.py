"""A local stand-in for Lambda's event source mappings and EventBridge schedules.

For every SQS-triggered function a poller gathers a batch as Lambda's does: ReceiveMessage 10 at a time until the
batch holds ``batch_size`` records, its batching window (from the first record) has passed, or the payload nears
Lambda's 6 MB (locally, the function's share of the payload in flight: ``batch_payload``). It invokes the handler
with the real SQS event shape and deletes only the records that did not come back in ``batchItemFailures`` (all
of them stay if the handler raises). Failed records become visible again after the queue's visibility timeout, and
SQS's redrive policy moves them to the DLQ after maxReceiveCount, as in AWS.
Schedules fire the handler with a real scheduled-event shape, at their rate and on demand.

Lambda scales an SQS consumer to several concurrent copies (up to the event source's maximum concurrency, set
from ``infra.capacity``); locally one receiver per queue hands each batch to a copy of the function, up to that
many at once and at most ``LOCAL_POLLERS``: the handlers share this process's GIL, so more would only contend.
They share its memory too, where each copy in AWS has its own: a batch's records in flight are held by one process
for every function's copies at once, so the payload of the batches running at once is bounded for the whole process
(``LOCAL_PAYLOAD_IN_FLIGHT``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config

from infra import capacity
from infra.definition import STACK, Function, Stack
from infra.local.lambda_runtime import ACCOUNT, context_for, resolve
from infra.provision import Provisioned

log = logging.getLogger("finview.local")
TAP_KEEP = 10_000  # the newest events of the local-only bus tap kept for the demo and tests; older ones drop
TAP_KEEP_TEXT = 16 * 1024 * 1024  # and at most this many characters of their JSON (a 100k-row import's events: ~75M)
RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
# The most concurrent copies of one SQS consumer in the local stack (FINVIEW_LOCAL_COPIES=1: one at a time).
LOCAL_POLLERS = int(os.environ.get("FINVIEW_LOCAL_COPIES", "4"))
# Lambda's synchronous invocation payload limit, and SQS's largest message: a batch stops gathering while the next
# receive (10 messages) still fits.
PAYLOAD_LIMIT = 6 * 1024 * 1024
MAX_MESSAGE = 256 * 1024
# The most payload (records' bodies) of the batches running at once in this process, over every function's copies;
# a batch that would pass it waits (received, kept invisible) until enough of the others finished. In AWS each copy
# has its own memory; here every copy is a thread of one process, and at 100,000 rows the full batches of contacts'
# and enrichment's copies (up to 100 events of 50 case files each: ~5 MB of text, several times that parsed) ran 8 at
# once, a peak the process's allocator then kept. A batch gathers at most its function's share of it
# (``batch_payload``). FINVIEW_LOCAL_PAYLOAD_MB: another bound, 0 for none.
LOCAL_PAYLOAD_IN_FLIGHT = int(float(os.environ.get("FINVIEW_LOCAL_PAYLOAD_MB", "8")) * 1024 * 1024)


def batching_window(fn: Function) -> float:
    """How long a batch of ``fn`` gathers records: the event source's window, as in AWS. FINVIEW_LOCAL_BATCH_WINDOW
    (seconds) overrides it; 0 takes what the queue holds now (the test suite: no hop waits for a window)."""
    override = os.environ.get("FINVIEW_LOCAL_BATCH_WINDOW")
    return float(override) if override not in (None, "") else float(fn.trigger.batching_window)


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    body = message["Body"]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def scheduled_event(rule_name: str, region: str, when: datetime | None = None) -> dict[str, Any]:
    when = when or datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT}:rule/{rule_name}"],
        "detail": {},
    }


def schedule_seconds(expression: str) -> int:
    m = RATE.fullmatch(expression.strip())
    if not m:
        raise ValueError(f"the local scheduler understands rate(...) expressions, not {expression!r}")
    return int(m.group(1)) * UNIT_SECONDS[m.group(2).rstrip("s")]


KEEP_SECONDS = 30  # how long a running copy's messages stay invisible per extension
KEEP_CHECK_SECONDS = 0.25
KEEP_MARGIN = 1.0  # extend when the messages would be visible again within this many seconds


@dataclass
class _Batch:
    url: str
    messages: list[dict[str, Any]]
    visibility: int  # the queue's own visibility timeout
    invisible_until: float  # monotonic
    kept: bool = False  # extended beyond the queue's visibility timeout
    payload: int = 0  # characters of the records' bodies, taken from the process's ``PayloadInFlight``


class PayloadInFlight:
    """The payload of the batches running at once in this process (``LOCAL_PAYLOAD_IN_FLIGHT``), shared by every
    function's copies. Batches take their payload in the order they ask, each once the payload running leaves room
    for it; a batch larger than the whole bound runs when nothing else does (it is never refused: in AWS it would
    run). ``limit`` 0: no bound."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running = 0  # payload of the batches running
        self.batches = 0
        self._turns: deque[object] = deque()  # the batches waiting, first asked first
        self._changed = threading.Condition()

    def take(self, payload: int, stop: threading.Event) -> bool:
        """Wait until ``payload`` may run, and take it; False (nothing taken) when ``stop`` is set meanwhile."""
        turn = object()
        with self._changed:
            self._turns.append(turn)
            try:
                while self._turns[0] is not turn or not self._fits(payload):
                    if stop.is_set():
                        return False
                    self._changed.wait(0.2)
                self.running += payload
                self.batches += 1
                return True
            finally:
                self._turns.remove(turn)
                self._changed.notify_all()

    def give_back(self, payload: int) -> None:
        with self._changed:
            self.running -= payload
            self.batches -= 1
            self._changed.notify_all()

    def _fits(self, payload: int) -> bool:
        return not self.limit or not self.batches or self.running + payload <= self.limit


class BusTap:
    """The newest events of the local-only bus tap: at most ``TAP_KEEP`` of them and ``TAP_KEEP_TEXT`` characters
    of their JSON, older ones dropped. Kept as the text the bus delivered and parsed when taken: a
    CaseFileImported.v2 of 50 case files is ~50 KB of text but ~190 KB as Python objects, and a 100,000-row import
    publishes ~1,400 of them, so a tap bounded by count alone held hundreds of MB of ``finview up``'s memory (and
    parsed every event it would drop)."""

    def __init__(self) -> None:
        self._bodies: deque[str] = deque()
        self._text = 0
        self._lock = threading.Lock()  # the drainer adds, the demo and tests take

    def add(self, bodies: list[str]) -> None:
        with self._lock:
            for body in bodies:
                self._bodies.append(body)
                self._text += len(body)
            while self._bodies and (len(self._bodies) > TAP_KEEP or self._text > TAP_KEEP_TEXT):
                self._text -= len(self._bodies.popleft())

    def take(self) -> list[dict[str, Any]]:
        """The events kept, oldest first, and the tap emptied."""
        with self._lock:
            bodies, self._bodies, self._text = self._bodies, deque(), 0
        return [json.loads(body) for body in bodies]

    def __len__(self) -> int:
        return len(self._bodies)

    @property
    def text(self) -> int:
        """Characters of event JSON kept."""
        return self._text


def pollers(fn: Function) -> int:
    """How many copies of an SQS consumer run at once: its concurrency in AWS, at most ``LOCAL_POLLERS``."""
    return max(1, min(capacity.concurrency(fn), LOCAL_POLLERS))


def batch_payload(fn: Function) -> int:
    """The most payload a local batch of ``fn`` gathers: Lambda's limit, and locally at most its share of
    ``LOCAL_PAYLOAD_IN_FLIGHT`` (the bound over its ``pollers(fn)`` copies), so all its copies can run at once within
    the bound. Full batches of the contacts inbox (80-100 CaseFileImported.v2 events, ~4 MB) let two batches run at
    once in the whole process, every other copy waiting its turn with its records received, and moto's DynamoDB
    process idle meanwhile. A smaller batch is one Lambda may deliver too (a batch stops at its window or payload)."""
    if not LOCAL_PAYLOAD_IN_FLIGHT:
        return PAYLOAD_LIMIT
    return min(PAYLOAD_LIMIT, LOCAL_PAYLOAD_IN_FLIGHT // pollers(fn))


class Dispatcher:
    def __init__(self, provisioned: Provisioned, stack: Stack = STACK) -> None:
        self.p = provisioned
        self.stack = stack
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sqs = boto3.client(
            "sqs",
            endpoint_url=provisioned.endpoint_url,
            region_name=provisioned.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(max_pool_connections=64),  # every poller long-polls on this one client
        )
        self.invocations = 0
        self.errors = 0
        self._count = threading.Lock()
        self._copies: set[threading.Thread] = set()  # the copies (execution environments) of SQS consumers
        self._in_flight: dict[int, _Batch] = {}  # the batches of the running copies, by id
        self.payload = PayloadInFlight(LOCAL_PAYLOAD_IN_FLIGHT)
        self.tap = BusTap()

    def start(self) -> None:
        target: Any
        for fn in self.stack.functions:
            if fn.trigger.kind == "sqs":
                target = self._poll
            elif fn.trigger.kind == "schedule":
                target = self._schedule
            else:
                continue
            t = threading.Thread(target=target, args=(fn,), name=f"dispatch-{fn.logical}", daemon=True)
            t.start()
            self._threads.append(t)
        if "bus-tap" in self.p.queue_urls:
            t = threading.Thread(target=self._drain_tap, name="dispatch-bus-tap", daemon=True)
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._keep_invisible, name="dispatch-visibility", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self, timeout: float = 3.0) -> list[str]:
        """Stop polling and wait up to ``timeout`` s in all for the running invocations; returns the threads
        still busy then (a handler in the middle of a long import: Lambda would be frozen there too)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        with self._count:
            running = list(self._copies)
        for t in running:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        return [t.name for t in [*self._threads, *running] if t.is_alive()]

    # ---- the local-only bus tap: every event on the bus, the newest kept (BusTap) ---------------------------

    def tap_once(self, wait_seconds: int = 1) -> int:
        url = self.p.queue_urls["bus-tap"]
        messages = self._sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds).get(
            "Messages", []
        )
        if messages:
            self.tap.add([m["Body"] for m in messages])
            self._sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return len(messages)

    def _drain_tap(self) -> None:
        while not self._stop.is_set():
            try:
                self.tap_once()
            except Exception:
                if not self._stop.is_set():
                    log.exception("draining the bus tap failed")
                    self._stop.wait(1)

    # ---- SQS event source mapping ----------------------------------------------------------------------

    def poll_once(self, fn: Function, wait_seconds: int = 1) -> int:
        """Gather one batch and invoke ``fn`` with it; returns how many records it got."""
        messages = self._gather(fn, wait_seconds)
        if messages:
            self._invoke(fn, messages)
        return len(messages)

    def _receive(
        self, fn: Function, wait_seconds: int, most: int = 10, invisible: int | None = None
    ) -> list[dict[str, Any]]:
        """One ReceiveMessage; ``invisible``: seconds the messages stay invisible (else the queue's timeout)."""
        extra = {} if invisible is None else {"VisibilityTimeout": invisible}
        resp = self._sqs.receive_message(
            QueueUrl=self.p.queue_urls[fn.trigger.queue or ""],
            MaxNumberOfMessages=max(1, min(most, 10)),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            **extra,
        )
        return list(resp.get("Messages", []))

    def _gather(self, fn: Function, wait_seconds: int, batch: _Batch | None = None) -> list[dict[str, Any]]:
        """One batch as Lambda's poller builds it: the first receive long-polls ``wait_seconds``; once a record is
        in, receives of 10 go on until ``batch_size`` records, the batching window or the payload limit: at once
        while the queue has more, else long-polling while a second or more of the window is left, and the window's
        last fraction (SQS waits whole seconds) in one wait before a last receive, not a short receive every few
        milliseconds (locally that was about one ReceiveMessage per reminder, CPU in both processes). With
        ``batch`` the records join it as they come, received invisible for ``KEEP_SECONDS`` (its copy's visibility
        keeping extends that while it runs; a failed record goes back to the queue's own timeout)."""
        messages: list[dict[str, Any]] = [] if batch is None else batch.messages
        invisible = None if batch is None else KEEP_SECONDS
        first = self._receive(fn, wait_seconds, fn.trigger.batch_size, invisible)
        if not first:
            return []
        size, window, most = fn.trigger.batch_size, batching_window(fn), batch_payload(fn)
        closes = time.monotonic() + window
        payload = largest = 0

        def add(received: list[dict[str, Any]]) -> None:
            nonlocal payload, largest
            with self._count:
                messages.extend(received)
            sizes = [len(m["Body"]) for m in received]
            payload, largest = payload + sum(sizes), max([largest, *sizes])

        def next_fits() -> bool:
            """Lambda's limit: the next receive fits even at SQS's largest messages. The local share: it fits at
            the largest message of this batch so far (a batch of small records is not cut for a size none has)."""
            return payload + 10 * MAX_MESSAGE <= PAYLOAD_LIMIT and payload + 10 * largest <= most

        add(first)
        while len(messages) < size and next_fits() and not self._stop.is_set():
            left = closes - time.monotonic()
            wanted = min(10, size - len(messages))
            more = self._receive(fn, 1 if left >= 1 else 0, wanted, invisible)
            if more:
                add(more)
            if len(more) == wanted:
                continue  # the queue holds more right now
            if left <= 0:
                break  # the window is over (or it was 0): what the queue held is taken
            if left < 1:
                self._stop.wait(left)  # the rest of the window at once; the next receive is its last
        return messages

    def _invoke(self, fn: Function, messages: list[dict[str, Any]], batch: _Batch | None = None) -> None:
        """One invocation with the batch; deletes the records that did not fail."""
        queue = fn.trigger.queue or ""
        arn = f"arn:aws:sqs:{self.p.region}:{ACCOUNT}:{self.p.names.queue(queue)}"
        event = {"Records": [sqs_record(m, arn, self.p.region) for m in messages]}
        failed: set[str]
        try:
            result = resolve(fn)(event, context_for(fn, self.p.region, self.p.names.stage))
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        except Exception:
            log.exception("%s raised; the whole batch returns to the queue", fn.logical)
            failed = {m["MessageId"] for m in messages}
        with self._count:
            self.invocations += 1
            self.errors += bool(failed)
        if batch is not None:
            with self._count:
                self._in_flight.pop(id(batch), None)
            back = [m for m in messages if m["MessageId"] in failed]
            if back and batch.kept:
                # kept invisible while the copy ran: retried after the queue's own (local) visibility timeout
                for start in range(0, len(back), 10):  # 10 entries a request
                    self._sqs.change_message_visibility_batch(
                        QueueUrl=self.p.queue_urls[queue],
                        Entries=[
                            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": batch.visibility}
                            for i, m in enumerate(back[start : start + 10])
                        ],
                    )
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self.p.queue_urls[queue],
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])
                ],
            )

    def _poll(self, fn: Function) -> None:
        """The event source mapping of ``fn``: one receiver (so no two copies get the same message) hands each
        batch to a copy of the function, up to ``pollers(fn)`` copies running at once.

        A copy is a long-lived thread, like a warm Lambda execution environment: it takes batch after batch, so
        what a function keeps per environment (``shared.aws``'s clients and table handles, built once per thread)
        is built once per copy, not once per batch."""
        limit = pollers(fn)
        copies = threading.BoundedSemaphore(limit)
        work: queue.SimpleQueue[_Batch | None] = queue.SimpleQueue()
        environments: list[threading.Thread] = []
        busy = 0  # batches handed over and not finished yet (never more than ``limit``: the semaphore)
        url = self.p.queue_urls[fn.trigger.queue or ""]
        visibility = int(
            self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"][
                "VisibilityTimeout"
            ]
        )

        def environment() -> None:
            nonlocal busy
            while (batch := work.get()) is not None:
                try:
                    self._invoke(fn, batch.messages, batch)
                except Exception:
                    log.exception("invoking %s failed", fn.logical)
                finally:
                    self.payload.give_back(batch.payload)
                    with self._count:
                        busy -= 1
                    copies.release()

        try:
            while not self._stop.is_set():
                if not copies.acquire(timeout=0.2):
                    continue  # every copy is busy
                # Received invisible for KEEP_SECONDS, not the queue's local 2 s: a batch gathering for its window and
                # running under load would otherwise outlast it before the keeper's next look (records delivered
                # twice). A record that fails goes back to the queue's own timeout, so retries still come in seconds.
                batch = _Batch(url, [], visibility, time.monotonic() + KEEP_SECONDS, kept=True)
                with self._count:
                    self._in_flight[id(batch)] = batch
                try:
                    messages = self._gather(fn, 1, batch)
                except Exception:
                    messages = []
                    if not self._stop.is_set():
                        log.exception("polling %s failed", fn.logical)
                        self._stop.wait(1)
                batch.payload = sum(len(m["Body"]) for m in messages)
                if not messages or not self.payload.take(batch.payload, self._stop):
                    with self._count:
                        self._in_flight.pop(id(batch), None)
                    copies.release()
                    # what a failed gather received, or a batch stopped while it waited, comes back after the
                    # visibility timeout
                    continue
                with self._count:
                    busy += 1
                    start = busy > len(environments)  # every environment is taken: start one more
                if start:
                    env = threading.Thread(
                        target=environment, name=f"invoke-{fn.logical}-{len(environments)}", daemon=True
                    )
                    environments.append(env)
                    with self._count:
                        self._copies.add(env)
                    env.start()
                work.put(batch)
        finally:
            for _ in environments:
                work.put(None)  # each environment ends after the batch it is running

    def _keep_invisible(self) -> None:
        """Keep the messages of running copies invisible, as AWS does with a visibility timeout of 6x the
        function's timeout: the local stack's queues have short ones (failed records come back in seconds), and
        without this a copy running longer would see its records delivered to another copy meanwhile."""
        while not self._stop.wait(KEEP_CHECK_SECONDS):
            with self._count:
                due = [
                    (b, list(b.messages))
                    for b in self._in_flight.values()
                    if b.messages and b.invisible_until - time.monotonic() < KEEP_MARGIN
                ]
            for batch, messages in due:
                try:
                    for start in range(0, len(messages), 10):  # 10 entries a request
                        self._sqs.change_message_visibility_batch(
                            QueueUrl=batch.url,
                            Entries=[
                                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": KEEP_SECONDS}
                                for i, m in enumerate(messages[start : start + 10])
                            ],
                        )
                    batch.invisible_until, batch.kept = time.monotonic() + KEEP_SECONDS, True
                except Exception:
                    if not self._stop.is_set():
                        log.exception("keeping a running batch invisible failed")

    # ---- schedules --------------------------------------------------------------------------------------

    def fire(self, fn: Function, when: datetime | None = None) -> Any:
        rule = f"finview-{self.p.names.stage}-{fn.service}-{fn.handler}"
        return resolve(fn)(
            scheduled_event(rule, self.p.region, when), context_for(fn, self.p.region, self.p.names.stage)
        )

    def _schedule(self, fn: Function) -> None:
        period = schedule_seconds(fn.trigger.schedule or "")
        while not self._stop.wait(period):
            try:
                self.fire(fn)
            except Exception:
                log.exception("scheduled %s failed", fn.logical)
