"""What one request costs the local stack as its tables and queues fill: TransactWriteItems, a base-table Query, a
GSI Query and an SQS receive+delete, against a small and a big table (queue), each in a fresh process with the
local stack's fidelity patches and with moto's own code (``FINVIEW_MOTO_AS_IS=1``). DynamoDB and SQS cost the same
at any size; the ratio big/small of each column says whether the local stack does too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from bench.harness import Report, median
from tests.integration.support import create_pk_sk_gsi1_table

REGION = "eu-west-1"


def _client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t"
    )


def _fill(ddb: Any, table: str, items: int) -> None:
    for b in range(0, items, 25):
        ddb.batch_write_item(
            RequestItems={
                table: [
                    {
                        "PutRequest": {
                            "Item": {
                                "PK": {"S": f"OWNER#{n // 5}"},
                                "SK": {"S": f"CP#{n}"},
                                "GSI1PK": {"S": f"CLIENT#{n % 50}#CASES"},
                                "GSI1SK": {"S": f"2026-{n % 12 + 1:02d}-01#{n}"},
                                "v": {"S": "x" * 200},
                            }
                        }
                    }
                    for n in range(b, min(b + 25, items))
                ]
            }
        )


def child(items: int, depth: int, n: int) -> None:
    """In a fresh process: per-request seconds of each operation on a table of ``items`` / a queue ``depth`` deep."""
    from infra.local import fidelity
    from infra.local.stack import quiet_moto

    quiet_moto()
    fidelity.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    ddb, sqs = _client(endpoint, "dynamodb"), _client(endpoint, "sqs")
    table = f"t{uuid.uuid4().hex[:6]}"
    create_pk_sk_gsi1_table(ddb, table)
    _fill(ddb, table, items)
    url = sqs.create_queue(QueueName=f"q{uuid.uuid4().hex[:6]}")["QueueUrl"]
    for b in range(0, depth, 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x" * 500} for i in range(b, min(b + 10, depth))]
        )
    counter = iter(range(10**9))

    def transaction() -> None:
        k = next(counter)
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"PK": {"S": f"NEW#{k}"}, "SK": {"S": s}, "v": {"S": "y"}},
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
                for s in ("PROFILE", "CASE#1", "AUDIT#1")
            ]
        )

    def query() -> None:
        ddb.query(TableName=table, KeyConditionExpression="PK = :p", ExpressionAttributeValues={":p": {"S": "OWNER#7"}})

    def gsi_query() -> None:
        ddb.query(
            TableName=table,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :p",
            ExpressionAttributeValues={":p": {"S": "CLIENT#7#CASES"}},
            Limit=25,
        )

    def receive_delete() -> None:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        )
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x" * 500} for i in range(10)])

    out = {}
    for name, fn in {"transaction": transaction, "query": query, "gsi_query": gsi_query, "sqs": receive_delete}.items():
        times = []
        for _ in range(n):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        out[name] = median(times)
    server.stop()
    print(json.dumps(out))


def measure(items: int, depth: int, n: int, as_is: bool) -> dict[str, float]:
    env = {**os.environ, "FINVIEW_MOTO_AS_IS": "1" if as_is else "0"}
    code = f"from bench.bench_local_fidelity import child; child({items}, {depth}, {n})"
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


LABELS = {
    "transaction": "TransactWriteItems (3 puts)",
    "query": "Query, one partition",
    "gsi_query": "Query GSI1, Limit 25",
    "sqs": "SQS receive + delete + send of 10",
}


def run(report: Report, quick: bool) -> None:
    small, big = (1_000, 10_000) if quick else (1_000, 50_000)
    shallow, deep = (100, 5_000) if quick else (100, 20_000)
    n = 20 if quick else 50
    for as_is in (False, True):
        mode = "moto's own" if as_is else "local stack"
        lo = measure(small, shallow, n, as_is)
        hi = measure(big, deep, n, as_is)
        for op, label in LABELS.items():
            size = f"queue {deep:,} deep" if op == "sqs" else f"table of {big:,} items"
            report.add(
                f"{label}, {size} ({mode})",
                hi[op] * 1000,
                "ms",
                baseline=f"{shallow:,} deep" if op == "sqs" else f"{small:,} items",
                baseline_value=lo[op] * 1000,
                note=f"median of {n}; small: {lo[op] * 1000:.1f} ms",
            )
