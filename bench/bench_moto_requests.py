"""What one request costs, per hot operation of the local stack: moto's server CPU (user + system, read from /proc)
with the local stack's request fast path (``infra.local.fidelity.lean_requests`` and ``infra.local.wsgi_server``)
and without it (``FINVIEW_MOTO_FAST_PATH=0``: Flask, moto's serializer, waitress), the wall time per call, and the
client's CPU per call (botocore in this process, the cost each call also has in ``finview up`` and in a Lambda).

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
        self.ddb, self.sqs, self.events, self.sesv2, self.sns, self.s3 = (
            boto3.client(s, **kw) for s in ("dynamodb", "sqs", "events", "sesv2", "sns", "s3")
        )
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
        self.sesv2.create_email_identity(EmailIdentity="example.org")
        self.topic = self.sns.create_topic(Name="outcomes")["TopicArn"]
        self.bucket = "drops"
        self.s3.create_bucket(Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        self.s3.put_object(Bucket=self.bucket, Key="case-file.csv", Body=b"x" * 4096)
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
        "SES v2 SendEmail (text + HTML, tags)": lambda: t.sesv2.send_email(
            FromEmailAddress='"Inkasso Bench" <mahnung@example.org>',
            Destination={"ToAddresses": [f"debtor{t.next()}@example.net"]},
            Content={
                "Simple": {
                    "Subject": {"Data": "Zahlungserinnerung", "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": "Bitte zahlen Sie " * 40, "Charset": "UTF-8"},
                        "Html": {"Data": "<p>Bitte zahlen Sie</p>" * 40, "Charset": "UTF-8"},
                    },
                }
            },
            EmailTags=[{"Name": "case", "Value": "c-1"}, {"Name": "kind", "Value": "reminder"}],
        ),
        "SNS Publish (to a topic)": lambda: t.sns.publish(TopicArn=t.topic, Message=json.dumps(_item(t.next()))),
        "S3 GetObject (4 KB)": lambda: t.s3.get_object(Bucket=t.bucket, Key="case-file.csv")["Body"].read(),
        "S3 PutObject (4 KB)": lambda: t.s3.put_object(Bucket=t.bucket, Key=f"k{t.next()}", Body=b"y" * 4096),
    }


def _batch(pid: int, fn: Callable[[], Any], n: int) -> tuple[float, float, float]:
    """moto's CPU, the wall time and this process's CPU (the client: botocore, urllib3) over ``n`` calls."""
    c0, t0, own0 = cpu_seconds(pid), time.perf_counter(), time.process_time()
    for _ in range(n):
        fn()
    return cpu_seconds(pid) - c0, time.perf_counter() - t0, time.process_time() - own0


def run(report: Report, quick: bool) -> None:
    rounds, per_batch = (3, 50) if quick else (6, 100)
    fast, slow = Target(fast=True), Target(fast=False)
    try:
        ops = {"fast": operations(fast), "slow": operations(slow)}
        load = os.getloadavg()[0]
        totals: dict[str, float] = {"fast": 0.0, "slow": 0.0, "client": 0.0}
        for name in ops["fast"]:
            for side in ("fast", "slow"):
                for _ in range(5):
                    ops[side][name]()  # warm
            spent = {"fast": [0.0, 0.0, 0.0], "slow": [0.0, 0.0, 0.0]}
            for _ in range(rounds):
                for side, target in (("slow", slow), ("fast", fast)):
                    for i, value in enumerate(_batch(target.pid, ops[side][name], per_batch)):
                        spent[side][i] += value
            calls = rounds * per_batch
            new, old = (spent[s][0] / calls * 1000 for s in ("fast", "slow"))
            client = spent["fast"][2] / calls * 1000
            totals["fast"] += new
            totals["slow"] += old
            totals["client"] += client
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
                f"client CPU per call: {name}",
                client,
                "ms",
                baseline="moto's CPU per call, fast path",
                baseline_value=new,
                note="botocore/urllib3 in the calling process (user + system)",
            )
        report.add(
            f"client CPU per call, sum over the {len(ops['fast'])} operations",
            totals["client"],
            "ms",
            baseline="moto's CPU, fast path",
            baseline_value=totals["fast"],
        )
        report.add(
            f"moto CPU per call, sum over the {len(ops['fast'])} operations",
            totals["fast"],
            "ms",
            baseline="moto's own path",
            baseline_value=totals["slow"],
            note=f"load average {load:.1f} -> {os.getloadavg()[0]:.1f}",
        )
    finally:
        fast.stop()
        slow.stop()
