"""Helpers of the integration tests: clients of the session's moto server, reading a queue to the end, and bus
events delivered to a service's consumer as Lambda's SQS event source delivers them."""

from __future__ import annotations

import gc
import json
import tracemalloc
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import boto3

from infra.definition import STACK
from infra.local.dispatcher import sqs_record
from infra.local.lambda_runtime import ACCOUNT, context_for
from infra.provision import Provisioned
from shared.events import CATALOGUE, Event, Members

REGION = "eu-west-1"


def client(p: Provisioned, service: str) -> Any:
    return boto3.client(service, endpoint_url=p.endpoint_url, region_name=p.region)


def receive_all(p: Provisioned, queue: str, dlq: bool = False) -> list[dict[str, Any]]:
    sqs = client(p, "sqs")
    url = (p.dlq_urls if dlq else p.queue_urls)[queue]
    out: list[dict[str, Any]] = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]).get(
            "Messages", []
        )
        if not msgs:
            return out
        out.extend(msgs)
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)]
        )


def arrived(p: Provisioned, queue: str) -> list[dict[str, Any]]:
    """The envelopes delivered to ``queue`` so far (consumed from it), v2s of many as their v1 members."""
    return unpacked([json.loads(m["Body"]) for m in receive_all(p, queue)])


def create_pk_sk_gsi1_table(ddb: Any, name: str) -> None:
    """The services' table shape (string PK/SK, one GSI1 over GSI1PK/GSI1SK projecting all), on demand: what the
    fidelity tests and bench run moto's DynamoDB against."""
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("PK", "SK", "GSI1PK", "GSI1SK")],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "GSI1",
                "KeySchema": [
                    {"AttributeName": "GSI1PK", "KeyType": "HASH"},
                    {"AttributeName": "GSI1SK", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


def traced_bytes_per_item(ddb: Any, name: str, items: Sequence[dict[str, Any]], pack_last: bool = False) -> float:
    """Bytes moto (in this process) holds per item after ``items`` are put into a new PK/SK/GSI1 table ``name``, by
    tracemalloc, in BatchWriteItem requests of 25; the table is left for the caller to check and delete."""
    create_pk_sk_gsi1_table(ddb, name)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for b in range(0, len(items), 25):
            ddb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": i}} for i in items[b : b + 25]]})
        if pack_last:  # one operation more: the last batch is packed after it (its first call allocates once)
            ddb.describe_table(TableName=name)
        gc.collect()
        return (tracemalloc.get_traced_memory()[0] - before) / len(items)
    finally:
        tracemalloc.stop()


def case_files(envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The case files the bus carried, each as a ``CaseFileImported.v1`` detail: a ``.v2`` event's case files are
    taken apart (a case file's ``case_file_id`` as its ``event_id``), a ``.v1`` event is kept as it is."""
    out: list[dict[str, Any]] = []
    for e in envelopes:
        if e["detail-type"] == "CaseFileImported.v1":
            out.append(e["detail"])
        elif e["detail-type"] == "CaseFileImported.v2":
            d = e["detail"]
            common = {k: d[k] for k in ("occurred_at", "correlation_id", "import_id", "client_id")}
            for f in d["case_files"]:
                rest = {k: v for k, v in f.items() if k != "case_file_id"}
                out.append({"event_id": f["case_file_id"], **common, **rest})
    return out


def unpacked(envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The envelopes the bus carried with each v2 of many (``shared.events.Members``) taken apart into its members,
    each as the envelope of the v1 it is: what the consumers handle."""
    out: list[dict[str, Any]] = []
    for e in envelopes:
        many = CATALOGUE.get((e["source"], e["detail-type"]))
        if many is not None and issubclass(many, Members):
            one = many.ONE
            out.extend({**e, "detail-type": one.DETAIL_TYPE, "detail": m} for m in e["detail"]["members"])
        else:
            out.append(e)
    return out


def carried(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """The event details a PutEvents entry's detail carries: a v2 of many's members, else the detail itself."""
    members = detail.get("members")
    return list(members) if isinstance(members, list) else [detail]


def envelope(event: Event) -> dict[str, Any]:
    """The EventBridge envelope as a rule delivers it to SQS."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": event.DETAIL_TYPE,
        "source": event.SOURCE,
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [],
        "detail": json.loads(event.model_dump_json()),
    }


def deliver_to(
    service: str, on_bus_events: Callable[..., Any], events: Sequence[Event], receive_count: int | None = None
) -> dict[str, Any]:
    """One SQS batch with these events to ``service``'s bus consumer, exactly as Lambda calls it (with SQS's
    ApproximateReceiveCount when given; without it the consumer treats each record as a possible retry)."""
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:finview-test-{service}-inbox"
    attributes = {"ApproximateReceiveCount": str(receive_count)} if receive_count is not None else {}
    records = [
        sqs_record(
            {"Body": json.dumps(envelope(e)), "MessageId": f"m-{n}", "ReceiptHandle": "rh", "Attributes": attributes},
            arn,
            REGION,
        )
        for n, e in enumerate(events)
    ]
    fn = next(f for f in STACK.functions if f.service == service and f.handler == "on_bus_events")
    result: dict[str, Any] = on_bus_events({"Records": records}, context_for(fn, REGION, "test"))
    return result
