"""A local stand-in for Lambda's event source mappings and EventBridge schedules.

For every SQS-triggered function a poller receives up to ``batch_size`` messages, invokes the handler with the
real SQS event shape, and deletes only the records that did not come back in ``batchItemFailures`` (all of them
stay if the handler raises). Failed records become visible again after the queue's visibility timeout, and
SQS's redrive policy moves them to the DLQ after maxReceiveCount, as in AWS. Schedules fire the handler with
a real scheduled-event shape, at their rate and on demand.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

import boto3

from infra.definition import STACK, Function, Stack
from infra.local.lambda_runtime import ACCOUNT, context_for, resolve
from infra.provision import Provisioned

log = logging.getLogger("finview.local")
TAP_KEEP = 10_000  # the newest events of the local-only bus tap kept for the demo and tests; older ones drop
RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


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
        )
        self.invocations = 0
        self.errors = 0
        self.tap: deque[dict[str, Any]] = deque(maxlen=TAP_KEEP)

    def start(self) -> None:
        for fn in self.stack.functions:
            if fn.trigger.kind == "sqs":
                target: Any = self._poll
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

    def stop(self, timeout: float = 3.0) -> list[str]:
        """Stop polling and wait up to ``timeout`` s in all for the running invocations; returns the threads
        still busy then (a handler in the middle of a long import: Lambda would be frozen there too)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        return [t.name for t in self._threads if t.is_alive()]

    # ---- the local-only bus tap: every event on the bus, the newest TAP_KEEP kept -------------------------

    def tap_once(self, wait_seconds: int = 1) -> int:
        url = self.p.queue_urls["bus-tap"]
        messages = self._sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
        ).get("Messages", [])
        if messages:
            self.tap.extend(json.loads(m["Body"]) for m in messages)
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
        """Receive one batch and invoke ``fn`` with it; returns how many records it got."""
        queue = fn.trigger.queue or ""
        url = self.p.queue_urls[queue]
        resp = self._sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(fn.trigger.batch_size, 10),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = resp.get("Messages", [])
        if not messages:
            return 0
        arn = f"arn:aws:sqs:{self.p.region}:{ACCOUNT}:{self.p.names.queue(queue)}"
        event = {"Records": [sqs_record(m, arn, self.p.region) for m in messages]}
        failed: set[str]
        try:
            result = resolve(fn)(event, context_for(fn, self.p.region, self.p.names.stage))
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        except Exception:
            log.exception("%s raised; the whole batch returns to the queue", fn.logical)
            failed = {m["MessageId"] for m in messages}
        self.invocations += 1
        self.errors += bool(failed)
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
            )
        return len(messages)

    def _poll(self, fn: Function) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(fn)
            except Exception:
                if not self._stop.is_set():
                    log.exception("polling %s failed", fn.logical)
                    self._stop.wait(1)

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
