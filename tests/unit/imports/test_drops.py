"""Every shape of a drops-queue message (AWS's own samples, tests/fixtures/aws_events) becomes drops, an ignorable
notice or a refusal with a reason: nothing is acknowledged silently."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.imports import drops

SAMPLES = Path(__file__).parents[2] / "fixtures" / "aws_events"


def sample(name: str) -> Any:
    return json.loads((SAMPLES / f"{name}.json").read_text())


def test_s3_notification_straight_to_sqs() -> None:
    body = sample("s3SqsEvent")["Records"][0]["body"]
    assert drops.parse(body) == [
        drops.Drop(
            bucket="xxx",
            key="test.pdf",
            version_id="yd3d4HaWOT2zguDLvIQLU6ptDTwKBnQV",
            etag="2e3ad1e983318bbd8e73b080e2997980",
            sequencer="00643717F9F8B85354",
            size=104681,
        )
    ]


def test_s3_notification_through_sns() -> None:
    envelope = json.loads(sample("snsSqsEvent")["Records"][0]["body"])
    envelope["Message"] = json.dumps(sample("s3Event"))
    [drop] = drops.parse(json.dumps(envelope))
    assert isinstance(drop, drops.Drop)
    assert (drop.bucket, drop.key, drop.sequencer) == (
        "lambda-artifacts-deafc19498e3f2df",
        "b21b84d653bb07b05b1e6b33684dc11b",
        "0C0F6F405D6ED209E1",
    )


def test_sns_with_anything_but_an_s3_notification_is_refused() -> None:
    body = sample("snsSqsEvent")["Records"][0]["body"]  # its Message is {"message": "hello world", ...}
    with pytest.raises(drops.UnsupportedMessage, match="neither an S3 notification"):
        drops.parse(body)


def test_s3_via_eventbridge() -> None:
    assert drops.parse(json.dumps(sample("s3EventBridgeNotificationObjectCreatedEvent"))) == [
        drops.Drop(
            bucket="example-bucket",
            key="IMG_m7fzo3.jpg",
            etag="4e68adba0abe2dc8653dc3354e14c01d",
            sequencer="006408CAD69598B05E",
            size=184662,
        )
    ]


def test_a_delete_is_ignored_not_imported() -> None:
    [notice] = drops.parse(json.dumps(sample("s3EventDeleteObject")))
    assert notice == drops.Ignored("ObjectRemoved:Delete")


def test_url_encoded_keys_are_decoded() -> None:
    event = sample("s3Event")
    event["Records"][0]["s3"]["object"]["key"] = "client-1/M%C3%A4rz+2026.csv"
    [drop] = drops.parse(json.dumps(event))
    assert isinstance(drop, drops.Drop) and drop.key == "client-1/März 2026.csv"


@pytest.mark.parametrize(
    "body",
    ["{not json", "[1, 2]", "{}", '{"Records": []}', '{"Records": [{"eventSource": "aws:sqs"}]}',
     '{"Type": "Notification", "Message": "not json"}',
     '{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {}}}]}'],
)
def test_anything_else_is_refused_with_its_reason(body: str) -> None:
    with pytest.raises(drops.UnsupportedMessage):
        drops.parse(body)


def test_test_event_and_continuation() -> None:
    assert drops.parse('{"Event": "s3:TestEvent", "Bucket": "b"}') == [drops.Ignored("s3:TestEvent")]
    assert drops.parse('{"finview": "import-continue", "import_id": "i-1"}') == [drops.Continuation("i-1")]


def test_sequencers_compare_after_right_padding() -> None:
    assert drops.is_newer("0055AED6DCD90281E6", "0055AED6DCD90281E5")
    assert not drops.is_newer("0055AED6DCD90281E5", "0055AED6DCD90281E5")
    assert drops.is_newer("0055AED6DCD90281E501", "0055AED6DCD90281E5")
    assert not drops.is_newer("0055AED6DCD90281E4FF", "0055AED6DCD90281E5")
