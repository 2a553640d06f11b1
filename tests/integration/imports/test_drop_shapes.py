"""Drops-queue messages in every wiring's shape, built from AWS's own samples (tests/fixtures/aws_events), and
notifications arriving out of order (hardening items 10 and 16): nothing is acknowledged silently, a stale
notification is skipped (not failed), and the newest version of a key is the one imported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from infra.provision import Provisioned
from services.imports import handlers
from tests.integration.imports.support import (
    bus_events,
    context,
    drop,
    drops_event,
    job_for,
    pending_drops,
    register_client,
    run_drops,
)
from tests.integration.support import case_files, client

pytestmark = pytest.mark.integration
EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "aws_events"
SAMPLE = (Path(__file__).resolve().parents[3] / "samples" / "debtors.csv").read_bytes()


def _sample(name: str) -> Any:
    return json.loads((EVENTS / f"{name}.json").read_text())


def _s3_notification(bucket: str, key: str, etag: str, sequencer: str) -> dict[str, Any]:
    """AWS's sample S3 notification, naming our object."""
    event = _sample("s3Event")
    obj = event["Records"][0]["s3"]["object"]
    event["Records"][0]["s3"]["bucket"]["name"] = bucket
    obj.update(key=key, eTag=etag, sequencer=sequencer)
    return dict(event)


def _put(aws: Provisioned, key: str, body: bytes) -> str:
    """Drop without letting moto's own notification through (the test delivers the shapes it wants)."""
    etag = str(drop(aws, key, body)["ETag"]).strip('"')
    pending_drops(aws)
    return etag


def _deliver(aws: Provisioned, body: dict[str, Any] | str) -> dict[str, Any]:
    message = {"Body": body if isinstance(body, str) else json.dumps(body), "MessageId": "m-1", "ReceiptHandle": "r"}
    return dict(handlers.on_file_dropped(drops_event(aws, [message]), context(aws)))


def _imported(aws: Provisioned) -> list[dict[str, Any]]:
    return case_files(bus_events(aws))


def test_s3_via_eventbridge_is_imported(aws: Provisioned) -> None:
    register_client("c-eb")
    etag = _put(aws, "c-eb/debtors.csv", SAMPLE)
    event = _sample("s3EventBridgeNotificationObjectCreatedEvent")
    event["detail"]["bucket"]["name"] = aws.names.bucket("drops")
    event["detail"]["object"].update(key="c-eb/debtors.csv", etag=etag)
    assert _deliver(aws, event) == {"batchItemFailures": []}
    assert job_for(aws, "c-eb/debtors.csv")["status"] == "completed"
    assert len(_imported(aws)) == 3


def test_s3_through_sns_is_imported(aws: Provisioned) -> None:
    register_client("c-sns")
    etag = _put(aws, "c-sns/debtors.csv", SAMPLE)
    envelope = json.loads(_sample("snsSqsEvent")["Records"][0]["body"])
    envelope["Message"] = json.dumps(
        _s3_notification(aws.names.bucket("drops"), "c-sns/debtors.csv", etag, "0055AED6DCD90281E5")
    )
    assert _deliver(aws, envelope) == {"batchItemFailures": []}
    assert job_for(aws, "c-sns/debtors.csv")["status"] == "completed"


@pytest.mark.parametrize("body", ['{"hello": "world"}', "not json", json.dumps({"Records": [{"eventSource": "x"}]})])
def test_anything_else_is_not_acknowledged(aws: Provisioned, body: str) -> None:
    # The only record of the batch failed: the invocation fails and SQS keeps the message (→ DLQ in the end).
    with pytest.raises(BatchProcessingError, match="All records failed"):
        _deliver(aws, body)


def test_a_stale_notification_is_skipped_and_the_newest_version_imported(aws: Provisioned) -> None:
    register_client("c-seq")
    key, bucket = "c-seq/debtors.csv", aws.names.bucket("drops")
    older = _put(aws, key, SAMPLE)
    newer_body = SAMPLE.replace(b"Schmidt", b"Schmitt")
    newer = _put(aws, key, newer_body)
    # The newer write's notification arrives first, then the older one's.
    assert _deliver(aws, _s3_notification(bucket, key, newer, "0055AED6DCD90281E6")) == {"batchItemFailures": []}
    assert _deliver(aws, _s3_notification(bucket, key, older, "0055AED6DCD90281E5")) == {"batchItemFailures": []}
    job = job_for(aws, key)
    assert job["status"] == "completed"
    events = bus_events(aws)
    assert not [e for e in events if e["detail-type"] == "ImportFailed.v1"]
    names = {f["case_owner"]["last_name"] for f in case_files(events)}
    assert "Schmitt" in names and "Schmidt" not in names


def test_a_notification_for_an_overwritten_object_is_skipped_by_its_etag(aws: Provisioned) -> None:
    register_client("c-etag")
    key, bucket = "c-etag/debtors.csv", aws.names.bucket("drops")
    older = _put(aws, key, SAMPLE)
    _put(aws, key, SAMPLE.replace(b"Schmidt", b"Schmitt"))
    notice = _s3_notification(bucket, key, older, "")
    del notice["Records"][0]["s3"]["object"]["sequencer"]
    assert _deliver(aws, notice) == {"batchItemFailures": []}
    assert bus_events(aws) == []  # nothing imported from the wrong content, nothing failed
    assert client(aws, "s3").get_object(Bucket=bucket, Key=key)["ETag"].strip('"') != older


def test_run_drops_still_imports_moto_s_own_notifications(aws: Provisioned) -> None:
    register_client("c-moto")
    drop(aws, "c-moto/debtors.csv", SAMPLE)
    run_drops(aws)
    assert job_for(aws, "c-moto/debtors.csv")["status"] == "completed"
