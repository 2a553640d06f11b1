"""The bus contract on moto's server: provisioning, routing, consumers, partial failures, DLQ, idempotency."""

from __future__ import annotations

import json
import time
from typing import Any

from infra.definition import STACK, Names
from infra.local.dispatcher import Dispatcher
from infra.local.stack import sent_emails
from infra.provision import Provisioned, provision
from services.notifications import repository as notifications_repository
from shared import bus
from shared.events import ClientRegistered, ClientUserCreated
from tests.integration.support import REGION, client, receive_all


def _registered(client_id: str = "c-1") -> ClientRegistered:
    return ClientRegistered(
        correlation_id="corr-42",
        client_id=client_id,
        legal_name="Acme GmbH",
        business_unit_id="default",
        sender_email="no-reply@finview.example",
    )


def test_provisioning_is_idempotent_and_complete(aws: Provisioned) -> None:
    again = provision(aws.endpoint_url, aws.names, region=REGION)
    assert again.queue_urls == aws.queue_urls
    ddb, sqs, events = client(aws, "dynamodb"), client(aws, "sqs"), client(aws, "events")
    for table in STACK.tables:
        desc = ddb.describe_table(TableName=aws.names.table(table.logical))["Table"]
        assert {i["IndexName"] for i in desc.get("GlobalSecondaryIndexes", [])} == {i.name for i in table.indexes}
    for queue in STACK.queues:
        attrs = sqs.get_queue_attributes(QueueUrl=aws.queue_urls[queue.logical], AttributeNames=["All"])["Attributes"]
        assert json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] == queue.max_receive_count
    for rule in STACK.rules:
        targets = events.list_targets_by_rule(Rule=aws.names.rule(rule.logical), EventBusName=aws.names.bus)
        assert len(targets["Targets"]) == 1


def test_an_event_reaches_exactly_the_queues_whose_rules_match(aws: Provisioned) -> None:
    bus.publish([_registered()])
    expected = {r.queue for r in STACK.rules if ClientRegistered in r.events}
    assert expected == {"imports-inbox", "enrichment-inbox", "notifications-inbox"}
    bus_fed = {r.queue for r in STACK.rules}
    for queue in (q for q in STACK.queues if q.logical in bus_fed):
        messages = receive_all(aws, queue.logical)
        assert len(messages) == (1 if queue.logical in expected else 0), queue.logical
        for m in messages:
            envelope = json.loads(m["Body"])
            assert envelope["detail-type"] == "ClientRegistered.v1"
            assert envelope["detail"]["correlation_id"] == "corr-42"


def _dispatcher(aws: Provisioned) -> Dispatcher:
    return Dispatcher(aws)


def _notifications_fn() -> Any:
    return next(f for f in STACK.functions if f.service == "notifications")


def _send(aws: Provisioned, queue: str, body: str) -> None:
    client(aws, "sqs").send_message(QueueUrl=aws.queue_urls[queue], MessageBody=body)


def test_partial_batch_failure_keeps_only_the_bad_record_and_it_ends_in_the_dlq(aws: Provisioned) -> None:
    good = {
        "source": "finview.contacts",
        "detail-type": "ClientRegistered.v1",
        "detail": json.loads(_registered("c-good").model_dump_json()),
    }
    _send(aws, "notifications-inbox", json.dumps(good))
    _send(aws, "notifications-inbox", "{this is not json")
    dispatcher = _dispatcher(aws)
    fn = _notifications_fn()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        dispatcher.poll_once(fn, wait_seconds=1)
        dlq = client(aws, "sqs").get_queue_attributes(
            QueueUrl=aws.dlq_urls["notifications-inbox"], AttributeNames=["ApproximateNumberOfMessages"]
        )
        if int(dlq["Attributes"]["ApproximateNumberOfMessages"]):
            break
    # The good record was processed once (the client is known to notifications) and deleted.
    assert notifications_repository.sender_for("c-good") == "no-reply@finview.example"
    dead = receive_all(aws, "notifications-inbox", dlq=True)
    assert [m["Body"] for m in dead] == ["{this is not json"]
    assert int(dead[0]["Attributes"]["ApproximateReceiveCount"]) >= STACK.queue("notifications-inbox").max_receive_count
    assert receive_all(aws, "notifications-inbox") == []
    assert dispatcher.invocations >= STACK.queue("notifications-inbox").max_receive_count


def test_same_event_delivered_twice_sends_one_invitation(aws: Provisioned) -> None:
    event = ClientUserCreated(
        correlation_id="corr-inv",
        client_id="c-1",
        user_id="u-1",
        email="twice@example.de",
        first_name="Tom",
        last_name="Twice",
        commercial=False,
        operational=True,
        platform_access=True,
        sender_email="no-reply@finview.example",
    )
    envelope = {"source": event.SOURCE, "detail-type": event.DETAIL_TYPE, "detail": json.loads(event.model_dump_json())}
    for _ in range(2):
        _send(aws, "notifications-inbox", json.dumps(envelope))
    dispatcher = _dispatcher(aws)
    fn = _notifications_fn()
    for _ in range(4):
        dispatcher.poll_once(fn, wait_seconds=0)
    sent = sent_emails(aws.endpoint_url, to="twice@example.de")
    assert len(sent) == 1, sent
    assert sent[0]["subject"] == "Your access to FinView"
    # One idempotency record, partitioned by its own key (no hot partition), completed.
    items = client(aws, "dynamodb").scan(TableName=aws.names.table("notifications"))["Items"]
    records = [i for i in items if i["SK"]["S"] == "IDEMPOTENCY"]
    assert len(records) == 1
    assert "ClientUserCreated" in records[0]["PK"]["S"] and records[0]["status"]["S"] == "COMPLETED"


def test_stages_are_isolated(aws: Provisioned) -> None:
    other = provision(aws.endpoint_url, Names(aws.names.stage + "x"), region=REGION)
    bus.publish([_registered()])
    assert receive_all(other, "imports-inbox") == []
    assert len(receive_all(aws, "imports-inbox")) == 1
