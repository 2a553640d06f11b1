"""The local-only bus tap is drained while the stack runs and keeps only the newest events: it cannot grow."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from infra.definition import ALL_EVENTS_PATTERN, STACK
from infra.local import dispatcher
from infra.local.stack import LocalStack

pytestmark = pytest.mark.e2e


def test_the_tap_keeps_the_newest_events_and_its_queue_stays_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatcher, "TAP_KEEP", 5)
    source = ALL_EVENTS_PATTERN["source"][0]
    with LocalStack(stage="taptest", log_file=str(tmp_path / "l.log"), stack=replace(STACK, rules=())) as stack:
        assert stack.provisioned
        events = stack.client("events")
        for n in range(12):
            events.put_events(
                Entries=[
                    {
                        "EventBusName": stack.provisioned.names.bus,
                        "Source": source,
                        "DetailType": "TapProbe.v1",
                        "Detail": json.dumps({"n": n}),
                    }
                ]
            )
        sqs = stack.client("sqs")
        url = stack.provisioned.queue_urls["bus-tap"]
        deadline = time.monotonic() + 20
        while True:
            depth = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            assert stack.dispatcher
            if sum(int(v) for v in depth.values()) == 0 and len(stack.dispatcher.tap) == 5:
                break
            assert time.monotonic() < deadline, (depth, len(stack.dispatcher.tap))
            time.sleep(0.2)
        assert [e["detail"]["n"] for e in stack.drain_bus_tap()] == [7, 8, 9, 10, 11]
        assert stack.drain_bus_tap() == []
