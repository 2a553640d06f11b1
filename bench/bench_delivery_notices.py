"""What one e-mail's delivery notice costs the local stack: SES's notification published to the feedback topic and
delivered by SNS to the outcomes queue, in moto's process. Measured in one process, on an in-process moto server:
the simulator as it was (ten a PublishBatch through moto's HTTP front, moto 5.2.5 building a signing certificate for
every notification) against the simulator now (published on moto's SNS directly, one certificate a subscription:
``fidelity.signed_once_per_subscription``). CPU of the whole process (client and server) per notice, the median of
three rounds each."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import boto3
from moto.backends import get_backend
from moto.server import ThreadedMotoServer

from bench.harness import Report, median
from infra.local import fidelity
from infra.local.lambda_runtime import ACCOUNT
from infra.local.ses_feedback import SesFeedback, notification

REGION = "eu-west-1"


def _notes(n: int) -> list[dict[str, Any]]:
    tags = {"message_id": [str(uuid.uuid4())], "ses:configuration-set": ["finview"]}
    return [notification(str(uuid.uuid4()), "no-reply@finview.example", f"d{i}@example.de", tags) for i in range(n)]


def _drain(sqs: Any, url: str, n: int) -> None:
    got = 0
    while got < n:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        assert messages, f"{got} of {n} notices arrived"
        got += len(messages)
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        )


def run(report: Report, quick: bool) -> None:
    n = 200 if quick else 1000
    # the local stack's other corrections, as in moto's process (SNS's own comes between the two measurements)
    fidelity.scalable_sqs()
    fidelity.cached_request_routing()
    fidelity.lean_requests()
    fidelity.weakly_tracked_models()
    server = ThreadedMotoServer(port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"

        def client(service: str) -> Any:
            return boto3.client(
                service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t"
            )

        sns, sqs = client("sns"), client("sqs")
        topic = sns.create_topic(Name="feedback")["TopicArn"]
        url = sqs.create_queue(QueueName="outcomes")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        backend = get_backend("sns")[ACCOUNT][REGION]

        def over_http(notes: list[dict[str, Any]]) -> None:  # the simulator until this session
            for k in range(0, len(notes), 10):
                entries = [{"Id": str(i), "Message": json.dumps(x)} for i, x in enumerate(notes[k : k + 10])]
                sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)

        def direct(notes: list[dict[str, Any]]) -> None:
            SesFeedback(topic, REGION)._publish(notes)

        def cost(publish: Any) -> float:
            rounds = []
            for _ in range(3):
                notes = _notes(n)
                started = time.process_time()
                publish(notes)
                rounds.append((time.process_time() - started) / n * 1000)
                _drain(sqs, url, n)
            return median(rounds)

        before_http = cost(over_http)  # moto's own signing: a certificate per notification
        before_direct = cost(direct)
        assert fidelity.signed_once_per_subscription(), "moto is not the pinned version"
        after_http = cost(over_http)
        after_direct = cost(direct)
        assert backend.topics[topic]  # the same topic throughout
    finally:
        server.stop()
    what = "CPU per delivery notice, SES → SNS → SQS (client and moto)"
    report.add(f"{what}: PublishBatch over HTTP, certificate per notice (before)", before_http, "ms")
    report.add(
        f"{what}: published on moto's SNS, certificate per notice",
        before_direct,
        "ms",
        baseline="before",
        baseline_value=before_http,
    )
    report.add(
        f"{what}: PublishBatch over HTTP, certificate per subscription",
        after_http,
        "ms",
        baseline="before",
        baseline_value=before_http,
    )
    report.add(
        f"{what}: published on moto's SNS, certificate per subscription (now)",
        after_direct,
        "ms",
        baseline="before",
        baseline_value=before_http,
        note=f"n={n} notices a round, median of 3 rounds",
    )
