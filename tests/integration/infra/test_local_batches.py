"""The local dispatcher builds batches as Lambda's SQS poller does: receives of 10 gathered into one invocation up
to the event source's BatchSize or its batching window, with partial batch failures and the visibility timeout
holding for big batches too."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from infra.definition import STACK, Function
from infra.local import dispatcher as dispatcher_module
from infra.local.dispatcher import Dispatcher
from infra.provision import Provisioned
from tests.integration.support import client


def _inbox_consumer() -> Function:
    """Enrichment's bus consumer as the definition wires it (BatchSize 100, window 1 s), one copy at a time."""
    fn = next(f for f in STACK.functions if f.service == "enrichment" and f.handler == "on_bus_events")
    assert (fn.trigger.batch_size, fn.trigger.batching_window) == (100, 1)
    return fn


def _send(aws: Provisioned, fn: Function, bodies: list[str]) -> None:
    sqs, url = client(aws, "sqs"), aws.queue_urls[fn.trigger.queue or ""]
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])]
        )


def _run(
    aws: Provisioned,
    monkeypatch: pytest.MonkeyPatch,
    fn: Function,
    handler: Any,
    until: Any,
    seconds: float = 20,
) -> None:
    """A dispatcher that only knows ``fn`` (served by ``handler``), run until ``until()`` holds (or ``seconds``)."""
    monkeypatch.setattr(dispatcher_module, "resolve", lambda f: handler if f.logical == fn.logical else None)
    monkeypatch.setattr(dispatcher_module, "LOCAL_POLLERS", 1)
    d = Dispatcher(aws, STACK)
    monkeypatch.setattr(d, "stack", type(STACK)(**{**STACK.__dict__, "functions": (fn,)}))
    d.start()
    try:
        deadline = time.monotonic() + seconds
        while not until() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        assert d.stop(3.0) == []


def test_a_loaded_queue_fills_batches_up_to_the_batch_size(aws: Provisioned, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINVIEW_LOCAL_BATCH_WINDOW", raising=False)  # the definition's window, as in AWS
    fn = _inbox_consumer()
    batches: list[list[str]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        batches.append([r["body"] for r in event["Records"]])
        return {"batchItemFailures": []}

    bodies = [f"b{i}" for i in range(150)]
    _send(aws, fn, bodies)
    _run(aws, monkeypatch, fn, handler, lambda: sum(map(len, batches)) >= len(bodies))
    assert sorted(b for batch in batches for b in batch) == sorted(bodies)  # each once
    assert [len(b) for b in batches] == [100, 50]  # 15 receives of 10 in two invocations, not 15


def test_an_idle_queues_lone_event_waits_at_most_the_window(aws: Provisioned, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINVIEW_LOCAL_BATCH_WINDOW", raising=False)
    fn = _inbox_consumer()
    seen: list[float] = []
    sizes: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(time.monotonic())
        sizes.append(len(event["Records"]))
        return {"batchItemFailures": []}

    def send_later() -> None:
        time.sleep(1.5)  # the dispatcher is long-polling an empty queue by then
        sent.append(time.monotonic())
        _send(aws, fn, ["lone"])

    sent: list[float] = []
    sender = threading.Thread(target=send_later)
    sender.start()
    _run(aws, monkeypatch, fn, handler, lambda: bool(seen))
    sender.join()
    # the window waited for more, then the lone record went alone, not after a full batch (it never comes: the run
    # would end without it). The window is the definition's 1 s, read where the dispatcher reads it; no upper bound
    # on the wall clock: on a loaded two-core machine the hand-offs alone took 12.6 s once (a fresh clone's CI at
    # load 10-19), which no bound tells from a longer window
    assert sizes == [1]
    assert dispatcher_module.batching_window(fn) == 1.0
    assert seen[0] - sent[0] >= 0.9


def test_a_window_running_out_costs_a_few_receives_not_one_every_few_milliseconds(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three records coming 0.05 s apart into an idle queue make one batch after the window (1 s), for at most five
    ReceiveMessage from the first record on (the first, the next two as they come, the window's last fraction in
    one wait and one last receive); before, a short receive every 0.05 s of the window's last second: about 20."""
    monkeypatch.delenv("FINVIEW_LOCAL_BATCH_WINDOW", raising=False)
    fn = _inbox_consumer()
    batches: list[list[str]] = []
    receives: list[float] = []
    sent: list[float] = []
    receive = Dispatcher._receive

    def counted(self: Dispatcher, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        receives.append(time.monotonic())
        return receive(self, *args, **kwargs)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        batches.append([r["body"] for r in event["Records"]])
        return {"batchItemFailures": []}

    def send_later() -> None:
        time.sleep(1.5)  # the dispatcher is long-polling an empty queue by then
        for n in range(3):
            sent.append(time.monotonic())
            _send(aws, fn, [f"w{n}"])
            time.sleep(0.05)  # well inside the window even on a loaded machine (0.2 s apart split the batch once)

    monkeypatch.setattr(Dispatcher, "_receive", counted)
    sender = threading.Thread(target=send_later)
    sender.start()
    _run(aws, monkeypatch, fn, handler, lambda: bool(batches))
    sender.join()
    assert batches == [["w0", "w1", "w2"]]
    after_the_first = [t for t in receives if t > sent[0]]
    assert len(after_the_first) <= 5, len(after_the_first)


def test_partial_failures_of_a_big_batch_return_only_those_records(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    fn = _inbox_consumer()
    deliveries: list[tuple[str, int]] = []
    failing = {f"p{i}" for i in range(0, 60, 20)}

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        failed = []
        for r in event["Records"]:
            count = int(r["attributes"]["ApproximateReceiveCount"])
            deliveries.append((r["body"], count))
            if r["body"] in failing and count == 1:
                failed.append({"itemIdentifier": r["messageId"]})
        return {"batchItemFailures": failed}

    bodies = [f"p{i}" for i in range(60)]
    _send(aws, fn, bodies)
    _run(aws, monkeypatch, fn, handler, lambda: len(deliveries) >= len(bodies) + len(failing))
    again = sorted(b for b, count in deliveries if count > 1)
    assert again == sorted(failing)  # only the reported records came back, after the visibility timeout
    assert sorted(b for b, count in deliveries if count == 1) == sorted(bodies)
    assert len(deliveries) == len(bodies) + len(failing)  # the other 57 were deleted: never delivered twice


def test_records_stay_invisible_while_a_window_longer_than_the_visibility_timeout_gathers(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local queues' visibility timeout is 2 s; a batch gathering for 3 s keeps its first records invisible, so
    they are not received a second time into the same batch or the next one."""
    monkeypatch.setenv("FINVIEW_LOCAL_BATCH_WINDOW", "3")
    fn = _inbox_consumer()
    batches: list[list[str]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        batches.append([r["body"] for r in event["Records"]])
        return {"batchItemFailures": []}

    _send(aws, fn, [f"v{i}" for i in range(5)])
    _run(aws, monkeypatch, fn, handler, lambda: bool(batches), seconds=10)
    assert [sorted(b) for b in batches] == [sorted(f"v{i}" for i in range(5))]
