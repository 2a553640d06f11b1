"""The local stack's processes: moto's server in a process of its own (with the fidelity corrections installed
there, keep-alive, a clean stop) and several concurrent copies of an SQS consumer, each with its own logger state."""

from __future__ import annotations

import errno
import http.client
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import boto3
import pytest

from infra.definition import STACK, Function
from infra.local import dispatcher as dispatcher_module
from infra.local import fidelity
from infra.local.dispatcher import Dispatcher, pollers
from infra.local.moto_process import MotoProcess
from infra.provision import Provisioned
from tests.integration.support import client

LIST_TABLES = {
    "X-Amz-Target": "DynamoDB_20120810.ListTables",
    "Content-Type": "application/x-amz-json-1.0",
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261128/eu-west-1/dynamodb/aws4_request, "
    "SignedHeaders=host, Signature=0",
}


def _dispatch_until(aws: Any, monkeypatch: pytest.MonkeyPatch, functions: Any, done: Callable[[], bool]) -> None:
    """A dispatcher of ``functions`` alone, run until ``done()`` (at most 30 s), then stopped cleanly."""
    d = Dispatcher(aws, STACK)
    monkeypatch.setattr(d, "stack", type(STACK)(**{**STACK.__dict__, "functions": functions}))
    d.start()
    try:
        deadline = time.monotonic() + 30
        while not done() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        assert d.stop(3.0) == []


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_moto_runs_in_its_own_process_with_the_corrections_and_keep_alive() -> None:
    moto = MotoProcess().start()
    try:
        assert moto.proc is not None and moto.proc.pid != 0 and moto.alive()
        assert {
            "serialised-dynamodb",
            "scalable-dynamodb",
            "scalable-sqs",
            "cached-event-paths",
            "lean-put-events",
            "request-ids-where-tagged",
        } <= set(moto.patches())
        conn = http.client.HTTPConnection("127.0.0.1", _port(moto.endpoint_url), timeout=10)
        for _ in range(3):  # three requests on one connection: the server keeps it open, as AWS does
            conn.request("POST", "/", body="{}", headers=LIST_TABLES)
            response = conn.getresponse()
            assert response.status == 200 and json.loads(response.read()) == {"TableNames": []}
            assert not response.will_close
        conn.close()
    finally:
        port = _port(moto.endpoint_url)
        moto.stop()
    assert not moto.alive() and _free(port)


def test_moto_refuses_a_port_in_use_with_the_errno() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        with pytest.raises(OSError) as refused:
            MotoProcess(holder.getsockname()[1]).start()
    assert refused.value.errno == errno.EADDRINUSE


def test_moto_exits_when_its_parent_goes_away() -> None:
    moto = MotoProcess().start()
    proc = moto.proc
    assert proc is not None and proc.stdin is not None
    proc.stdin.close()  # what the kernel does when the parent dies, whatever the signal
    assert proc.wait(5) == 0
    moto.proc = None


def _consumer(batch_size: int = 10) -> Function:
    """Notifications' bus consumer, taking ``batch_size`` records a batch (these tests count batches of 10)."""
    fn = next(f for f in STACK.functions if f.service == "notifications" and f.handler == "on_bus_events")
    return replace(fn, trigger=replace(fn.trigger, batch_size=batch_size))


def _dispatch(
    aws: Provisioned,
    monkeypatch: pytest.MonkeyPatch,
    fn: Function,
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
    bodies: list[str],
    seen: list[str],
) -> None:
    """Queue ``bodies`` for ``fn``, run a dispatcher that only knows ``fn`` (served by ``handler``) until ``seen``
    holds as many bodies as were sent (or 30 s), and stop it cleanly."""
    monkeypatch.setattr(dispatcher_module, "resolve", lambda f: handler if f == fn else (lambda e, c: None))
    sqs = client(aws, "sqs")
    url = aws.queue_urls[fn.trigger.queue or ""]
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])]
        )
    _dispatch_until(aws, monkeypatch, (fn,), lambda: len(seen) >= len(bodies))


def test_an_sqs_consumer_runs_as_several_copies_never_more_than_its_concurrency(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatcher_module, "LOCAL_POLLERS", 4)
    fn = _consumer()
    copies = pollers(fn)
    assert 1 < copies <= 4
    lock = threading.Condition()
    running, most = 0, 0
    seen: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            lock.notify_all()
            # hold this copy until all copies run (or 5 s): a further copy beyond the limit would show in ``most``;
            # longer than the queue's local visibility timeout (2 s): its messages must not go to another copy
            lock.wait_for(lambda: running >= copies, timeout=5)
        time.sleep(0.2)
        with lock:
            running -= 1
            seen.extend(r["body"] for r in event["Records"])
        return {"batchItemFailures": []}

    bodies = [f"m{i}" for i in range(40)]
    _dispatch(aws, monkeypatch, fn, handler, bodies, seen)
    assert sorted(seen) == sorted(bodies)  # each message to one copy, once, even when a copy runs 5 s
    assert most == copies  # several at once, never more than the function's concurrency


def test_a_consumers_copies_are_warm_environments_that_take_batch_after_batch(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As Lambda reuses an execution environment, a copy runs many batches on one thread, so what a function
    keeps per thread (its boto3 clients and table handles) is built once per copy, not once per batch."""
    monkeypatch.setattr(dispatcher_module, "LOCAL_POLLERS", 2)
    fn = _consumer()
    lock = threading.Lock()
    seen: list[str] = []
    threads: list[threading.Thread] = []  # the Thread objects themselves: a thread's ident can be reused

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        with lock:
            threads.append(threading.current_thread())
            seen.extend(r["body"] for r in event["Records"])
        return {"batchItemFailures": []}

    bodies = [f"w{i}" for i in range(60)]
    _dispatch(aws, monkeypatch, fn, handler, bodies, seen)
    assert sorted(seen) == sorted(bodies)
    environments = {id(t): t for t in threads}
    assert len(threads) >= 6 and 1 <= len(environments) <= pollers(fn) == 2  # 6+ batches on at most 2 threads
    assert not any(t.is_alive() for t in environments.values())  # stopped with the dispatcher


def test_concurrent_invocations_each_log_their_own_correlation_id(tmp_path: Any) -> None:
    from shared.observability import logger

    fidelity.isolate_log_correlation()
    log = logger("contacts")
    records: list[tuple[str, str | None]] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            line = json.loads(self.format(record))
            records.append((line["message"], line.get("correlation_id")))

    capture = Capture()
    capture.setFormatter(log.registered_formatter)
    log._logger.addHandler(capture)
    set_first, both_set = threading.Barrier(2), threading.Barrier(2)

    def invocation(correlation: str, second: bool) -> None:
        if second:
            set_first.wait()  # the other invocation has its correlation id already
        log.clear_state()  # each invocation starts so (inject_lambda_context(clear_state=True))
        log.set_correlation_id(correlation)
        if not second:
            set_first.wait()
        both_set.wait()
        log.info(f"from {correlation}")

    try:
        threads = [threading.Thread(target=invocation, args=(c, c == "corr-b")) for c in ("corr-a", "corr-b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        log._logger.removeHandler(capture)
    assert sorted(records) == [("from corr-a", "corr-a"), ("from corr-b", "corr-b")]


def test_the_server_corrections_are_pinned_to_the_installed_moto(aws: Provisioned) -> None:
    """The EventBridge path cache and the request routing cache replace moto functions whose sources are pinned;
    with them installed (this session's server has them), events still reach their queues (test_bus)."""
    import moto

    assert moto.__version__ == fidelity.PINNED_MOTO
    assert fidelity.events_sources() == fidelity.PINNED_EVENTS_SOURCES
    assert fidelity.routing_sources() == fidelity.PINNED_ROUTING_SOURCES
    assert fidelity.cached_event_paths() is True and fidelity.cached_request_routing() is True
    sqs = client(aws, "sqs")  # a request routed through the cache, to the right service
    assert aws.queue_urls["contacts-inbox"] in sqs.list_queues(QueueNamePrefix=aws.names.queue("contacts"))["QueueUrls"]


def test_the_payload_of_batches_running_at_once_is_bounded_over_every_function(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every copy of every consumer is a thread of ``finview up``, so the batches running at once share its memory:
    their payload stays within ``LOCAL_PAYLOAD_IN_FLIGHT`` for the whole process (here 2.5 batches' worth, with 2
    consumers × 2 copies that would otherwise run 4), and every record is still delivered once."""
    monkeypatch.setattr(dispatcher_module, "LOCAL_POLLERS", 2)
    batch = 10 * 20_000  # 10 records of 20,000 characters
    monkeypatch.setattr(dispatcher_module, "LOCAL_PAYLOAD_IN_FLIGHT", int(2.5 * batch))
    fns = tuple(
        replace(f, trigger=replace(f.trigger, batch_size=10, batching_window=0))
        for f in STACK.functions
        if f.handler == "on_bus_events" and f.service in ("notifications", "enrichment")
    )
    assert len(fns) == 2 and all(pollers(f) == 2 for f in fns)
    lock = threading.Lock()
    running: list[int] = []
    most, seen = 0, list[str]()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        nonlocal most
        payload = sum(len(r["body"]) for r in event["Records"])
        with lock:
            running.append(payload)
            most = max(most, sum(running))
        time.sleep(0.4)  # long enough for every copy that may run to be running
        with lock:
            running.remove(payload)
            seen.extend(r["body"][:12] for r in event["Records"])
        return {"batchItemFailures": []}

    monkeypatch.setattr(dispatcher_module, "resolve", lambda f: handler)
    sqs = client(aws, "sqs")
    bodies: list[str] = []
    for f in fns:
        for start in range(0, 40, 10):
            entries = [f"{f.service[:4]}{start + i:08d}".ljust(20_000, "x") for i in range(10)]
            bodies.extend(b[:12] for b in entries)
            for i in range(0, 10, 5):  # SQS takes at most 256 KB a request
                sqs.send_message_batch(
                    QueueUrl=aws.queue_urls[f.trigger.queue or ""],
                    Entries=[{"Id": str(n), "MessageBody": b} for n, b in enumerate(entries[i : i + 5])],
                )
    _dispatch_until(aws, monkeypatch, fns, lambda: len(seen) >= len(bodies))
    assert sorted(seen) == sorted(bodies)  # each record once
    assert 2 * batch <= most <= 2.5 * batch  # two batches at once, never the four the copies would allow


def test_a_consumer_whose_full_batches_would_fill_the_payload_bound_still_runs_all_its_copies_at_once(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local batch gathers at most its function's share of the payload bound, so the consumer's copies all run
    at once within it, as the contacts inbox's copies did not: its full batches (~4 MB of CaseFileImported.v2) let
    two run in the whole process while the others waited, received. Here full batches (100 records of 10,000
    characters: 1 MB) would each pass the bound (400 KB) and run one at a time; batches of the share (100 KB) run 4
    at once, within the bound, and every record is delivered once."""
    monkeypatch.setattr(dispatcher_module, "LOCAL_POLLERS", 4)
    bound, record = 400_000, 10_000
    monkeypatch.setattr(dispatcher_module, "LOCAL_PAYLOAD_IN_FLIGHT", bound)
    fn = next(f for f in STACK.functions if f.service == "enrichment" and f.handler == "on_bus_events")
    fn = replace(fn, trigger=replace(fn.trigger, batch_size=100, batching_window=0))
    assert pollers(fn) == 4 and dispatcher_module.batch_payload(fn) == bound // 4
    lock = threading.Condition()
    running: list[int] = []
    most_batches, most_payload, seen = 0, 0, list[str]()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        nonlocal most_batches, most_payload
        payload = sum(len(r["body"]) for r in event["Records"])
        with lock:
            running.append(payload)
            most_batches, most_payload = max(most_batches, len(running)), max(most_payload, sum(running))
            lock.notify_all()
            lock.wait_for(lambda: len(running) >= 4, timeout=3)  # hold the copy until four run (or 3 s)
        with lock:
            running.remove(payload)
            seen.extend(r["body"][:8] for r in event["Records"])
        return {"batchItemFailures": []}

    bodies = [f"{i:08d}".ljust(record, "x") for i in range(160)]
    _dispatch(aws, monkeypatch, fn, handler, bodies, seen)
    assert sorted(seen) == sorted(b[:8] for b in bodies)  # each record once
    assert most_batches == 4  # all the copies at once (one at a time with full batches)
    assert most_payload <= bound


def _rss_mb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) // 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim, /proc")
def test_moto_s_process_gives_back_what_its_requests_used_and_freed() -> None:
    """Big messages received and deleted leave their memory free inside moto's heap, between what stays; the
    process trims it every few seconds (here 0.3 s) instead of keeping it resident for good."""
    moto = MotoProcess(env={**os.environ, "FINVIEW_MALLOC_TRIM_SECONDS": "0.3"}).start()
    try:
        assert moto.proc is not None
        sqs = boto3.client("sqs", endpoint_url=moto.endpoint_url, region_name="eu-west-1")
        url = sqs.create_queue(QueueName="big-messages")["QueueUrl"]
        for b in range(150):  # 600 messages of 60,000 characters: what an import's v2 events weigh
            sqs.send_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "MessageBody": f"{b:04d}{i}".ljust(60_000, "x")} for i in range(4)],
            )
        handles: list[str] = []
        while received := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
            "Messages", []
        ):
            handles.extend(m["ReceiptHandle"] for m in received)
        assert len(handles) == 600
        loaded = _rss_mb(moto.proc.pid)
        kept = handles[::25]  # every 25th message stays in the queue, between the freed ones
        deleted = [h for h in handles if h not in kept]
        for start in range(0, len(deleted), 10):
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(n), "ReceiptHandle": h} for n, h in enumerate(deleted[start : start + 10])],
            )
        time.sleep(1.0)
        assert loaded - _rss_mb(moto.proc.pid) >= 20  # MB; without the trims it stays where it was
    finally:
        moto.stop()
