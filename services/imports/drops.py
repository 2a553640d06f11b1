"""What arrives on the drops queue, in every shape the wiring may give it, as one list of drops.

Supported (all common wirings of an S3 bucket to a queue):
- an S3 event notification straight to SQS (``{"Records": [{"eventSource": "aws:s3", ...}]}``);
- S3 → SNS → SQS: the SNS envelope (``{"Type": "Notification", "Message": "<the S3 notification>"}``);
- S3 → EventBridge → SQS: an ``Object Created`` event (``{"source": "aws.s3", "detail": {...}}``);
- S3's one-off ``s3:TestEvent`` (nothing to do) and our own continuation messages.
Anything else is not acknowledged: :class:`UnsupportedMessage` carries the reason, the record fails and lands in
the DLQ after the queue's retries, instead of being deleted with nothing imported.

Each drop carries the notification's ``sequencer``: S3 numbers the events of one key in the order they happened,
but notifications may arrive out of order, so an older notification is recognised (:func:`is_newer`) and skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus


class UnsupportedMessage(ValueError):
    """A message the drops queue must not acknowledge: the reason says what it was."""


@dataclass(frozen=True)
class Drop:
    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    sequencer: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class Continuation:
    import_id: str


@dataclass(frozen=True)
class Ignored:
    why: str


Message = Drop | Continuation | Ignored


def parse(body: str) -> list[Message]:
    """The drops, continuation or ignorable notice in one SQS message body."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise UnsupportedMessage(f"the message is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise UnsupportedMessage("the message is JSON but not an object")
    return _parse(data, depth=0)


def _parse(data: dict[str, Any], depth: int) -> list[Message]:
    if data.get("finview") == "import-continue" and isinstance(data.get("import_id"), str):
        return [Continuation(data["import_id"])]
    if data.get("Event") == "s3:TestEvent":
        return [Ignored("s3:TestEvent")]
    if data.get("Type") == "Notification" and isinstance(data.get("Message"), str) and depth == 0:
        try:
            inner = json.loads(data["Message"])
        except ValueError as exc:
            raise UnsupportedMessage(f"the SNS message is not JSON: {exc}") from exc
        if not isinstance(inner, dict):
            raise UnsupportedMessage("the SNS message is JSON but not an object")
        return _parse(inner, depth + 1)
    if data.get("source") == "aws.s3" and "detail" in data:
        return [_from_eventbridge(data)]
    records = data.get("Records")
    if isinstance(records, list) and records:
        return [_from_record(r) for r in records]
    raise UnsupportedMessage(
        "neither an S3 notification (Records), an SNS envelope of one, an S3 EventBridge event nor a continuation"
    )


def _from_record(record: Any) -> Message:
    if not isinstance(record, dict) or record.get("eventSource") != "aws:s3" or "s3" not in record:
        raise UnsupportedMessage("a record that is not an S3 event record")
    name = str(record.get("eventName", ""))
    if not name.startswith("ObjectCreated:"):
        return Ignored(name or "unnamed S3 event")
    try:
        s3 = record["s3"]
        obj = s3["object"]
        return Drop(
            bucket=str(s3["bucket"]["name"]),
            key=unquote_plus(str(obj["key"])),  # S3 notifications URL-encode keys (spaces as '+')
            version_id=obj.get("versionId") or None,
            etag=obj.get("eTag") or None,
            sequencer=obj.get("sequencer") or None,
            size=int(obj["size"]) if obj.get("size") is not None else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UnsupportedMessage(f"an S3 record without {exc}") from exc


def _from_eventbridge(event: dict[str, Any]) -> Message:
    if event.get("detail-type") != "Object Created":
        return Ignored(str(event.get("detail-type") or "unnamed S3 event"))
    try:
        detail = event["detail"]
        obj = detail["object"]
        return Drop(
            bucket=str(detail["bucket"]["name"]),
            key=str(obj["key"]),  # EventBridge carries the key as it is, not URL-encoded
            version_id=obj.get("version-id") or None,
            etag=obj.get("etag") or None,
            sequencer=obj.get("sequencer") or None,
            size=int(obj["size"]) if obj.get("size") is not None else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UnsupportedMessage(f"an S3 EventBridge event without {exc}") from exc


def is_newer(sequencer: str, than: str) -> bool:
    """S3's rule: sequencers of one key compare as hex strings after right-padding the shorter with zeros."""
    width = max(len(sequencer), len(than))
    return sequencer.upper().ljust(width, "0") > than.upper().ljust(width, "0")
