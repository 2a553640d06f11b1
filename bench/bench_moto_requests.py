"""What one request costs moto's process, per hot operation of the local stack: server CPU (user + system, read
from /proc) and wall time per call, with the local stack's request fast path (``infra.local.fidelity.lean_requests``
and ``infra.local.wsgi_server``) and without it (``FINVIEW_MOTO_FAST_PATH=0``: Flask, moto's serializer, waitress).

Both servers run at once, each with the same tables and queues; the bench alternates batches between them, so a
change in the machine's load hits both alike and the ratio is measured in one run."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from bench.harness import Report
from infra.local.moto_process import MotoProcess

REGION = "eu-west-1"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Target:
    """One moto process with a table like contacts' (GSI included), a queue and a bus rule into the queue."""

    def __init__(self, fast: bool) -> None:
        env = {**os.environ, "FINVIEW_MOTO_FAST_PATH": "1" if fast else "0"}
        self.moto = MotoProcess(env=env).start()
        assert self.moto.proc is not None
        self.pid = self.moto.proc.pid
        kw: dict[str, Any] = {"endpoint_url": self.moto.endpoint_url, "region_name": REGION}
        kw |= {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
        self.ddb, self.sqs, self.events = (boto3.client(s, **kw) for s in ("dynamodb", "sqs", "events"))
        self.table = "contacts"
        self.ddb.create_table(
            TableName=self.table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("PK", "SK", "G1PK", "G1SK")],
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "GSI1",
                    "KeySchema": [
                        {"AttributeName": "G1PK", "KeyType": "HASH"},
                        {"AttributeName": "G1SK", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
        for b in range(0, 2000, 25):
            self.ddb.batch_write_item(
                RequestItems={self.table: [{"PutRequest": {"Item": _item(n)}} for n in range(b, b + 25)]}
            )
        self.queue = self.sqs.create_queue(QueueName="inbox")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.events.put_rule(Name="to-inbox", EventPattern=json.dumps({"source": ["finview.bench"]}))
        self.events.put_targets(Rule="to-inbox", Targets=[{"Id": "inbox", "Arn": arn}])
        self.n = 0

    def next(self) -> int:
        self.n += 1
        return self.n

    def stop(self) -> None:
        self.moto.stop()


def _item(n: int, prefix: str = "OWNER") -> dict[str, Any]:
    return {
        "PK": {"S": f"{prefix}#{n}"},
        "SK": {"S": "PROFILE"},
        "G1PK": {"S": f"CLIENT#{n % 20}"},
        "G1SK": {"S": f"2026-11-{n % 28 + 1:02d}#{n}"},
        "name": {"S": "Erika Mustermann"},
        "email": {"S": f"erika{n}@example.org"},
        "amount": {"N": str(n * 7)},
        "points": {"L": [{"M": {"kind": {"S": "email"}, "state": {"S": "valid"}}}]},
    }


def operations(t: Target) -> dict[str, Callable[[], Any]]:
    def transact() -> None:
        k = t.next()
        t.ddb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": t.table,
                        "Item": {**_item(k, "NEW"), "SK": {"S": sk}},
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
                for sk in ("PROFILE", "CASE#1", "POINT#1")
            ]
        )

    def receive_delete() -> None:
        got = t.sqs.receive_message(QueueUrl=t.queue, MaxNumberOfMessages=1).get("Messages", [])
        for m in got:
            t.sqs.delete_message(QueueUrl=t.queue, ReceiptHandle=m["ReceiptHandle"])

    return {
        "GetItem": lambda: t.ddb.get_item(TableName=t.table, Key={"PK": {"S": "OWNER#5"}, "SK": {"S": "PROFILE"}}),
        "PutItem": lambda: t.ddb.put_item(TableName=t.table, Item=_item(t.next(), "PUT")),
        "Query GSI1 (Limit 10)": lambda: t.ddb.query(
            TableName=t.table,
            IndexName="GSI1",
            KeyConditionExpression="G1PK = :c",
            ExpressionAttributeValues={":c": {"S": "CLIENT#3"}},
            Limit=10,
        ),
        "TransactWriteItems (3 puts)": transact,
        "BatchWriteItem (25 puts)": lambda: t.ddb.batch_write_item(
            RequestItems={t.table: [{"PutRequest": {"Item": _item(t.next(), "BATCH")}} for _ in range(25)]}
        ),
        "SQS SendMessage": lambda: t.sqs.send_message(QueueUrl=t.queue, MessageBody=json.dumps(_item(t.next()))),
        "SQS ReceiveMessage + DeleteMessage": receive_delete,
        "PutEvents (1 entry, rule into SQS)": lambda: t.events.put_events(
            Entries=[
                {"Source": "finview.bench", "DetailType": "Tested", "Detail": json.dumps({"id": str(uuid.uuid4())})}
            ]
        ),
    }


def _batch(pid: int, fn: Callable[[], Any], n: int) -> tuple[float, float]:
    c0, t0 = cpu_seconds(pid), time.perf_counter()
    for _ in range(n):
        fn()
    return cpu_seconds(pid) - c0, time.perf_counter() - t0


def run(report: Report, quick: bool) -> None:
    rounds, per_batch = (3, 50) if quick else (6, 100)
    fast, slow = Target(fast=True), Target(fast=False)
    try:
        ops = {"fast": operations(fast), "slow": operations(slow)}
        load = os.getloadavg()[0]
        totals: dict[str, float] = {"fast": 0.0, "slow": 0.0}
        for name in ops["fast"]:
            for side in ("fast", "slow"):
                for _ in range(5):
                    ops[side][name]()  # warm
            spent = {"fast": [0.0, 0.0], "slow": [0.0, 0.0]}
            for _ in range(rounds):
                for side, target in (("slow", slow), ("fast", fast)):
                    cpu, wall = _batch(target.pid, ops[side][name], per_batch)
                    spent[side][0] += cpu
                    spent[side][1] += wall
            calls = rounds * per_batch
            new, old = (spent[s][0] / calls * 1000 for s in ("fast", "slow"))
            totals["fast"] += new
            totals["slow"] += old
            report.add(
                f"moto CPU per call: {name}",
                new,
                "ms",
                baseline="moto's own path (Flask, serializer, waitress)",
                baseline_value=old,
                note=f"{calls} calls; wall {spent['fast'][1] / calls * 1000:.2f} vs "
                f"{spent['slow'][1] / calls * 1000:.2f} ms; load {load:.1f}",
            )
        report.add(
            "moto CPU per call, sum over the 8 operations",
            totals["fast"],
            "ms",
            baseline="moto's own path",
            baseline_value=totals["slow"],
            note=f"load average {load:.1f} -> {os.getloadavg()[0]:.1f}",
        )
    finally:
        fast.stop()
        slow.stop()
