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
