"""Driving the imports service as Lambda would: a real S3 drop, its notification from SQS, the bus tap."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from infra.definition import STACK
from infra.local.dispatcher import sqs_record
from infra.local.lambda_runtime import ACCOUNT, LambdaContext, context_for
from infra.provision import Provisioned
from services.imports import handlers, repository
from tests.integration.support import client, receive_all

DROPS = "imports-drops"


def register_client(client_id: str, imports: dict[str, Any] | None = None) -> None:
    repository.put_client(client_id, f"Client {client_id}")
    if imports is not None:
        repository.put_settings(client_id, {"imports": imports})


def drop(p: Provisioned, key: str, body: bytes) -> dict[str, Any]:
    return dict(client(p, "s3").put_object(Bucket=p.names.bucket("drops"), Key=key, Body=body))


def context(p: Provisioned) -> LambdaContext:
    fn = next(f for f in STACK.functions if f.service == "imports" and f.handler == "on_file_dropped")
    return context_for(fn, p.region, p.names.stage)


def drops_event(p: Provisioned, messages: list[dict[str, Any]]) -> dict[str, Any]:
    arn = f"arn:aws:sqs:{p.region}:{ACCOUNT}:{p.names.queue(DROPS)}"
    return {"Records": [sqs_record(m, arn, p.region) for m in messages]}


def pending_drops(p: Provisioned) -> list[dict[str, Any]]:
    return receive_all(p, DROPS)


def run_drops(p: Provisioned, ctx: Any = None, rounds: int = 20) -> list[dict[str, Any]]:
    """Deliver every queued drop (and continuation) one by one, like the event source mapping (batch size 1).

    A record that fails (reported, or the handler raised) goes back to the queue, as SQS does after the
    visibility timeout.
    """
    sqs = client(p, "sqs")
    results: list[dict[str, Any]] = []
    for _ in range(rounds):
        messages = pending_drops(p)
        if not messages:
            return results
        for m in messages:
            try:
                result = handlers.on_file_dropped(drops_event(p, [m]), ctx or context(p))
            except BatchProcessingError:
                result = {"batchItemFailures": [{"itemIdentifier": m["MessageId"]}], "raised": True}
            results.append(result)
            if result.get("batchItemFailures"):
                sqs.send_message(QueueUrl=p.queue_urls[DROPS], MessageBody=m["Body"])
    return results


def bus_events(p: Provisioned, detail_type: str | None = None) -> list[dict[str, Any]]:
    envelopes = [json.loads(m["Body"]) for m in receive_all(p, "bus-tap")]
    return [e for e in envelopes if detail_type is None or e["detail-type"].startswith(detail_type)]


def job_for(p: Provisioned, key: str) -> dict[str, Any]:
    """The latest import job of the object ``key`` (through the client's job list, GSI1)."""
    jobs = [j for j in repository.list_jobs(key.split("/", 1)[0], limit=50) if j["object_key"] == key]
    assert jobs, f"no import for {key}"
    job = repository.get_job(str(jobs[0]["import_id"]))
    assert job is not None
    return job


HEADER = "case_number;first_name;last_name;email;phone;street;postcode;city;country;invoice_number;amount;opened_on\n"


def people_csv(n: int, *, seed_dupes: bool = True) -> bytes:
    """``n`` rows; every third row is another invoice of the previous debtor (phone spelled differently)."""
    lines = [HEADER]
    person = 0
    for i in range(1, n + 1):
        if seed_dupes and i % 3 == 0:
            p = person
            phone = f"030 {5550000 + p}"
        else:
            person += 1
            p = person
            phone = f"+49 30 {5550000 + p}"
        given = ["Anna", "Peter", "Lena", "Otto", "Maria", "Jonas", "Emma", "Felix"][p % 8]
        lines.append(
            f"K-{p};{given};Nachname{p};{given.lower()}.{p}@example.de;{phone};Weg {p};10115;Berlin;DE;"
            f"INV-{i};{i},50;2026-01-{1 + i % 28:02d}\n"
        )
    return "".join(lines).encode()
