"""Shared fixtures: one moto server on loopback per test session, a freshly provisioned stage per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from infra.definition import Names
from infra.local import fidelity
from infra.local.stack import local_environment, quiet_moto
from infra.provision import LocalOverrides, Provisioned, provision

REGION = "eu-west-1"
# Contacts are timed by the debtor's local hour: by default the contact policy's clock reads a weekday noon in
# Europe, so no test depends on the hour it runs at (the policy's own tests pin the times they are about).
POLICY_NOON = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test ever talks to real AWS: fake credentials everywhere."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(var, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(autouse=True)
def _daytime_contact_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.contacts.policy import gate

    monkeypatch.setattr(gate, "now", lambda: POLICY_NOON)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    quiet_moto()
    fidelity.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Provisioned:
    """A fresh stage (own tables, bus, queues, buckets) on the session's moto server, env set as in Lambda."""
    stage = "t" + uuid.uuid4().hex[:8]
    provisioned = provision(moto_endpoint, Names(stage), region=REGION, overrides=LocalOverrides())
    for key, value in local_environment(provisioned, log_file=None).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    return provisioned


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


os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
