"""infra.local.fidelity.weakly_tracked_models: moto's list of every model instance it made holds them weakly, so a
deleted SQS message or a replaced DynamoDB item is freed, while what the backends hold is still listed (DynamoDB
items are not listed at all)."""

from __future__ import annotations

import gc
import json
import urllib.request
import uuid
import weakref
from typing import Any

import boto3
import moto
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import Item
from moto.sqs.models import Message, sqs_backends

from infra.local import fidelity

ACCOUNT, REGION = "123456789012", "eu-west-1"


def test_the_tracking_patch_is_pinned_to_the_installed_moto() -> None:
    assert moto.__version__ == fidelity.PINNED_MOTO
    assert fidelity.tracking_sources() == fidelity.PINNED_TRACKING_SOURCES
    assert fidelity.weakly_tracked_models() is True


def test_deleted_messages_and_replaced_items_are_freed_and_live_ones_listed(moto_endpoint: str) -> None:
    kw: dict[str, Any] = {"endpoint_url": moto_endpoint, "region_name": REGION}
    ddb, sqs = boto3.client("dynamodb", **kw), boto3.client("sqs", **kw)
    table = f"weak-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
    )
    ddb.put_item(TableName=table, Item={"PK": {"S": "a"}, "v": {"S": "first"}})
    first = weakref.ref(dynamodb_backends[ACCOUNT][REGION].tables[table].items[_key("a")])
    ddb.put_item(TableName=table, Item={"PK": {"S": "a"}, "v": {"S": "second"}})  # replaces the Item
    ddb.put_item(TableName=table, Item={"PK": {"S": "b"}, "v": {"S": "kept"}})
    url = sqs.create_queue(QueueName=table)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="gone")
    sqs.send_message(QueueUrl=url, MessageBody="stays")
    queue = sqs_backends[ACCOUNT][REGION].queues[table]
    gone = weakref.ref(next(m for m in queue._messages if m.body == "gone"))
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=next(m for m in got if m["Body"] == "gone")["ReceiptHandle"])
    gc.collect()
    assert first() is None and gone() is None  # moto's list kept both alive, for as long as the server ran
    # DynamoDB items are not listed at all (nobody reads them there; ~330 bytes each even weakly), messages are
    kept = dynamodb_backends[ACCOUNT][REGION].tables[table].items[_key("b")]
    assert not any(i is kept for i in Item.instances_tracked)  # type: ignore[attr-defined]
    bodies = {m.body for m in Message.instances_tracked}  # type: ignore[attr-defined]
    assert "stays" in bodies and "gone" not in bodies


def _key(value: str) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    return DynamoType({"S": value})


def test_the_dashboard_answers_for_one_service(moto_endpoint: str) -> None:
    """``/moto-api/data.json?service=ses``: SES's part of the whole dashboard, alone (what ``sent_emails`` reads)."""
    ses = boto3.client("ses", endpoint_url=moto_endpoint, region_name=REGION)
    ses.verify_email_identity(EmailAddress="from@example.org")
    ses.send_email(
        Source="from@example.org",
        Destination={"ToAddresses": [f"{uuid.uuid4().hex[:8]}@example.org"]},
        Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}},
    )
    with urllib.request.urlopen(f"{moto_endpoint}/moto-api/data.json") as resp:
        everything = json.load(resp)
    with urllib.request.urlopen(f"{moto_endpoint}/moto-api/data.json?service=ses") as resp:
        only = json.load(resp)
    assert list(only) == ["ses"] and len(everything) > 1
    assert only["ses"] == everything["ses"] and only["ses"]["Message"]
