"""Helpers of the integration tests: clients of the session's moto server and reading a queue to the end."""

from __future__ import annotations

from typing import Any

import boto3

from infra.provision import Provisioned

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
