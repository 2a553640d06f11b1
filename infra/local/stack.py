"""The whole local stack: moto's servers, the provisioned infra, the API and the dispatcher.

moto runs as two processes beside this one: DynamoDB in one, every other service (SQS, EventBridge, S3, SES, SNS,
which call each other inside moto) in the other. In AWS they are separate services; in one process moto's work for
all of them took turns on one GIL, and that process was the chain's limit (the reminder chain: moto ~0.85 of a core
while the functions' process waited on it, bench/RESULTS.md). ``FINVIEW_LOCAL_DYNAMODB_PROCESS=0`` serves
DynamoDB from the same process as the rest (the bench compares the two in one run).
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3

from infra.definition import SERVICES, STACK, Function, Names, Stack
from infra.local import fidelity, memory
from infra.local.apigw import LocalApiGateway
from infra.local.dispatcher import Dispatcher
from infra.local.moto_process import MotoProcess, quiet_moto
from infra.provision import LocalOverrides, Provisioned, provision

STATE_DIR = Path(".finview")


def dynamodb_apart() -> bool:
    """Whether DynamoDB gets a moto process of its own (the default)."""
    return os.environ.get("FINVIEW_LOCAL_DYNAMODB_PROCESS", "1") != "0"


def local_environment(p: Provisioned, log_file: str | None) -> dict[str, str]:
    """One process hosts every function, so it gets every service's variables (each reads only its own)."""
    env: dict[str, str] = {}
    for service in SERVICES:
        env.update(p.function_env(service))
    env.pop("POWERTOOLS_SERVICE_NAME", None)
    env.update(
        {
            # Never let a local run reach real AWS.
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true" if log_file else "false",
            "POWERTOOLS_IDEMPOTENCY_DISABLED": "false",
            "ENRICHMENT_DNS_CHECKS": "false",  # loopback only: the MX question would only time out
        }
    )
    if log_file:
        env["FINVIEW_LOG_FILE"] = log_file
    return env


def sent_emails(endpoint_url: str, to: str | None = None) -> list[dict[str, Any]]:
    """What SES recorded (moto keeps every sent message), optionally only those to one address."""
    # ?service=ses: only SES's models (infra.local.fidelity; a moto without it answers with everything)
    with urllib.request.urlopen(f"{endpoint_url}/moto-api/data.json?service=ses") as resp:
        messages = list(json.load(resp).get("ses", {}).get("Message", []))
    return [m for m in messages if to is None or to in m["destinations"]["ToAddresses"]]


class LocalStack:
    def __init__(
        self,
        *,
        stage: str = "local",
        moto_port: int = 0,
        api_port: int = 0,
        dynamodb_port: int = 0,
        log_file: str | None = None,
        tokens: dict[str, dict[str, str]] | None = None,
        stack: Stack = STACK,
        dispatch: bool = True,
    ) -> None:
        self.stage, self.moto_port, self.api_port, self.dynamodb_port = stage, moto_port, api_port, dynamodb_port
        self.log_file, self.tokens, self.stack, self.dispatch = log_file, tokens or {}, stack, dispatch
        self.region = "eu-west-1"
        self._moto: MotoProcess | None = None
        self._tables: MotoProcess | None = None  # DynamoDB's own moto process (``dynamodb_apart``)
        self.provisioned: Provisioned | None = None
        self.dispatcher: Dispatcher | None = None
        self.api: LocalApiGateway | None = None
        self.api_url = ""
        self.endpoint_url = ""
        self.dynamodb_url = ""  # where DynamoDB answers: its own process, or ``endpoint_url``
        self._trimming = threading.Event()  # set: this process's malloc trims end (infra.local.memory)

    def start(self) -> LocalStack:
        quiet_moto()
        memory.limit_arenas()  # before the dispatcher's and the API's threads (infra.local.memory)
        # moto runs in processes of its own (with the fidelity patches), so they and the handlers use both cores
        self._moto = MotoProcess(self.moto_port).launch()
        self._tables = MotoProcess(self.dynamodb_port).launch() if dynamodb_apart() else None
        try:
            self._moto.started()
            self.dynamodb_url = self._tables.started().endpoint_url if self._tables else self._moto.endpoint_url
        except OSError:
            if self._tables:
                self._tables.stop()
            raise
        self.endpoint_url = self._moto.endpoint_url
        self._trimming.clear()
        memory.trim_periodically(self._trimming)
        # concurrent invocations are threads of this process: each its own request and correlation id
        fidelity.isolate_chalice_requests()
        fidelity.isolate_log_correlation()
        self.provisioned = provision(
            self.endpoint_url,
            Names(self.stage),
            region=self.region,
            stack=self.stack,
            overrides=LocalOverrides(),
            dynamodb_url=self.dynamodb_url if self._tables else "",
        )
        os.environ.update(local_environment(self.provisioned, self.log_file))
        api_fn = self.function("contacts", "app")
        self.api = LocalApiGateway(api_fn, self.region, self.stage, self.tokens)
        self.api_url = self.api.serve(port=self.api_port)
        self.dispatcher = Dispatcher(self.provisioned, self.stack)
        topic = self.provisioned.topic_arns.get("delivery-feedback")
        if self.dispatch:
            self.dispatcher.start()
            if topic:
                # SES's delivery notifications, as AWS sends them through the configuration set's topic
                self._moto.tell("ses-feedback", topic, self.region)
        return self

    def stop(self, grace: float = 3.0) -> list[str]:
        """Stop polling, give running invocations up to ``grace`` s, then close the API and moto (their ports
        are free when this returns). Returns the names of invocations still running (abandoned, as Lambda
        would freeze them); their next call to moto fails."""
        busy = self.dispatcher.stop(grace) if self.dispatcher else []
        self._trimming.set()
        if self.api:
            self.api.stop()
        for moto in (self._moto, self._tables):
            if moto:
                moto.stop()
        return busy

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- helpers for the CLI and tests -----------------------------------------------------------------

    def function(self, service: str, handler: str) -> Function:
        return next(f for f in self.stack.functions if f.service == service and f.handler == handler)

    @property
    def moto_pids(self) -> list[int]:
        """moto's processes (for the benches' CPU and memory figures)."""
        return [m.proc.pid for m in (self._moto, self._tables) if m and m.proc]

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.dynamodb_url if service == "dynamodb" else self.endpoint_url,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def queue_depths(self) -> dict[str, int]:
        assert self.provisioned
        sqs = self.client("sqs")
        depths = {}
        for q in self.stack.queues:
            attrs = sqs.get_queue_attributes(
                QueueUrl=self.provisioned.queue_urls[q.logical],
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            depths[q.logical] = int(attrs["ApproximateNumberOfMessages"]) + int(
                attrs["ApproximateNumberOfMessagesNotVisible"]
            )
        return depths

    def dlq_depths(self) -> dict[str, int]:
        assert self.provisioned
        sqs = self.client("sqs")
        return {
            q.logical: int(
                sqs.get_queue_attributes(
                    QueueUrl=self.provisioned.dlq_urls[q.logical], AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"]["ApproximateNumberOfMessages"]
            )
            for q in self.stack.queues
        }

    def wait_idle(self, timeout: float = 60, settle: float = 0.6) -> bool:
        """Wait until every consumer queue has been empty for ``settle`` seconds."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            if sum(self.queue_depths().values()) == 0:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= settle:
                    return True
            else:
                quiet_since = None
            time.sleep(0.1)
        return False

    def drain_bus_tap(self) -> list[dict[str, Any]]:
        """The events that went over the bus since the last call (the local-only tap queue), oldest first. While
        the dispatcher runs it drains the tap continuously and keeps only the newest events (``BusTap``)."""
        assert self.provisioned
        out = self.dispatcher.tap.take() if self.dispatcher is not None else []
        return out + self._read_tap_queue()

    def _read_tap_queue(self) -> list[dict[str, Any]]:
        assert self.provisioned
        sqs = self.client("sqs")
        url = self.provisioned.queue_urls["bus-tap"]
        out: list[dict[str, Any]] = []
        while True:
            msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            if not msgs:
                return out
            out.extend(json.loads(m["Body"]) for m in msgs)
            sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)]
            )

    def sent_emails(self) -> list[dict[str, Any]]:
        return sent_emails(self.endpoint_url)

    def write_state(self, directory: Path = STATE_DIR) -> Path:
        directory.mkdir(exist_ok=True)
        path = directory / "stack.json"
        path.write_text(
            json.dumps(
                {
                    "stage": self.stage,
                    "endpoint_url": self.endpoint_url,
                    "dynamodb_url": self.dynamodb_url,
                    "api_url": self.api_url,
                    "region": self.region,
                    "pid": os.getpid(),
                },
                indent=1,
            )
        )
        return path
