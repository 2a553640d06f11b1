"""infra.local.fidelity.scalable_sqs: moto's SQS at the cost of the batch, not of the queue's depth, with SQS's
answers: order, visibility, deletes (twice is fine, a wrong handle is not), redrive, attributes, retention."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from typing import Any

import boto3
import moto
import pytest
from botocore.exceptions import ClientError

from infra.local import fidelity

ACCOUNT, REGION = "123456789012", "eu-west-1"


@pytest.fixture
def sqs(moto_endpoint: str) -> Any:
    return boto3.client("sqs", endpoint_url=moto_endpoint, region_name=REGION)


def new_queue(sqs: Any, **attributes: str) -> str:
    return str(sqs.create_queue(QueueName=f"fidelity-{uuid.uuid4().hex[:8]}", Attributes=attributes)["QueueUrl"])


def send(sqs: Any, url: str, n: int, start: int = 0) -> None:
    for b in range(start, start + n, 10):
        entries = [{"Id": str(i), "MessageBody": f"m{i:05d}"} for i in range(b, min(b + 10, start + n))]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def receive(sqs: Any, url: str, n: int = 10, **kwargs: Any) -> list[dict[str, Any]]:
    return list(
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=n, WaitTimeSeconds=0, **kwargs).get("Messages", [])
    )


def attrs(sqs: Any, url: str) -> dict[str, int]:
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return {k.removeprefix("ApproximateNumberOf"): int(v) for k, v in got.items()}


def test_the_sqs_patches_are_pinned_to_the_installed_moto() -> None:
    assert moto.__version__ == fidelity.PINNED_MOTO
    assert fidelity.sqs_sources() == fidelity.PINNED_SQS_SOURCES
    assert fidelity.scalable_sqs() is True


def test_receive_delete_and_counts_behave_as_sqs(sqs: Any) -> None:
    url = new_queue(sqs, VisibilityTimeout="30")
    send(sqs, url, 35)
    assert attrs(sqs, url) == {"Messages": 35, "MessagesNotVisible": 0, "MessagesDelayed": 0}
    first = receive(sqs, url)
    assert [m["Body"] for m in first] == [f"m{i:05d}" for i in range(10)]  # oldest first (a standard queue may
    # reorder; moto keeps the order, and so does the patch)
    second = receive(sqs, url)
    assert [m["Body"] for m in second] == [f"m{i:05d}" for i in range(10, 20)]  # in flight: not again
    assert attrs(sqs, url) == {"Messages": 15, "MessagesNotVisible": 20, "MessagesDelayed": 0}
    done = sqs.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(first)]
    )
    assert len(done["Successful"]) == 10 and not done.get("Failed")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])  # deleting twice is fine
    with pytest.raises(ClientError) as wrong:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
    assert wrong.value.response["Error"]["Code"] == "ReceiptHandleIsInvalid"
    assert attrs(sqs, url) == {"Messages": 15, "MessagesNotVisible": 10, "MessagesDelayed": 0}
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second[3]["ReceiptHandle"], VisibilityTimeout=0)
    again = receive(sqs, url, 1)
    assert [m["Body"] for m in again] == ["m00013"]  # visible again, and first in the queue
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=second[3]["ReceiptHandle"])  # its older handle: deleted too
    rest = [m["Body"] for _ in range(3) for m in receive(sqs, url)]
    assert rest == [f"m{i:05d}" for i in range(20, 35)]
    assert attrs(sqs, url) == {"Messages": 0, "MessagesNotVisible": 24, "MessagesDelayed": 0}


def test_delayed_messages_and_invalid_attribute_names(sqs: Any) -> None:
    url = new_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    sqs.send_message(QueueUrl=url, MessageBody="now")
    assert attrs(sqs, url) == {"Messages": 1, "MessagesNotVisible": 0, "MessagesDelayed": 1}
    assert [m["Body"] for m in receive(sqs, url)] == ["now"]
    with pytest.raises(ClientError) as bad:
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "Nonsense"])
    assert bad.value.response["Error"]["Code"] == "InvalidAttributeName"
    everything = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert everything["ApproximateNumberOfMessagesDelayed"] == "1" and "QueueArn" in everything


def test_redrive_after_max_receive_count(sqs: Any) -> None:
    dlq = new_queue(sqs)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = new_queue(
        sqs, VisibilityTimeout="0", RedrivePolicy=f'{{"deadLetterTargetArn": "{dlq_arn}", "maxReceiveCount": "2"}}'
    )
    send(sqs, url, 3)
    for _ in range(2):
        assert len(receive(sqs, url)) == 3  # never deleted: visible again at once
    assert receive(sqs, url) == []
    assert sorted(m["Body"] for m in receive(sqs, dlq)) == ["m00000", "m00001", "m00002"]


def test_expired_messages_are_not_received(sqs: Any) -> None:
    from moto.sqs.models import sqs_backends

    url = new_queue(sqs, MessageRetentionPeriod="60")
    send(sqs, url, 2)
    queue = sqs_backends[ACCOUNT][REGION].queues[url.rsplit("/", 1)[1]]
    queue._messages[0].sent_timestamp = int((time.time() - 61) * 1000)  # type: ignore[assignment]  # 61 s ago
    assert [m["Body"] for m in receive(sqs, url)] == []  # moto stops at the first expired one, as before
    assert [m["Body"] for m in receive(sqs, url)] == ["m00001"]  # the expired one is never delivered


def test_a_deep_queue_costs_a_receive_what_a_shallow_one_does(sqs: Any) -> None:
    from moto.sqs.models import sqs_backends

    url = new_queue(sqs, VisibilityTimeout="30")
    queue = sqs_backends[ACCOUNT][REGION].queues[url.rsplit("/", 1)[1]]
    send(sqs, url, 300)
    looked_at = []
    real = queue._messages

    class Counting(list):  # type: ignore[type-arg]
        def __iter__(self) -> Any:
            for n, m in enumerate(real):
                looked_at.append(n)
                yield m

    counting = queue._messages = Counting(real)
    try:
        got = receive(sqs, url)
        received = len(looked_at)
        sqs.send_message(QueueUrl=url, MessageBody="one more")  # EventBridge's fan-out sends one by one
    finally:
        queue._messages = counting[:]  # what the queue holds now, as a plain list
    assert [m["Body"] for m in got] == [f"m{i:05d}" for i in range(10)]
    assert received <= 20, received  # the batch, not the 300 (moto alone walks all of them, 9 times)
    assert len(looked_at) == received  # sending looks at no message (moto alone walks all of them, 3 times)
    assert queue._messages[-1].body == "one more"


def test_a_receive_waits_for_the_running_sqs_operation(sqs: Any) -> None:
    """moto's receive iterates the queue's pending set; beside a delete that discards from it, it failed with an
    HTTP 500 ("Set changed size during iteration"). It now waits for the running operation, as writes do."""
    url = new_queue(sqs)
    send(sqs, url, 1)
    got: list[list[dict[str, Any]]] = []
    asking = threading.Thread(target=lambda: got.append(receive(sqs, url)))
    with fidelity._sqs_lock:  # as a running delete holds it
        asking.start()
        asking.join(timeout=1.0)
        assert asking.is_alive() and not got, "ReceiveMessage did not wait for the running operation"
    asking.join(timeout=30)
    assert [m["Body"] for m in got[0]] == ["m00000"]


def test_a_long_poll_holds_no_lock_and_gets_what_is_sent_meanwhile(sqs: Any) -> None:
    url = new_queue(sqs)
    got: list[list[dict[str, Any]]] = []
    waiting = threading.Thread(
        target=lambda: got.append(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10).get("Messages", []))
    )
    waiting.start()
    time.sleep(0.5)  # the receiver is in its long poll
    start = time.perf_counter()
    sqs.send_message(QueueUrl=url, MessageBody="late")
    assert time.perf_counter() - start < 2.0, "the send waited for the long poll"
    waiting.join(timeout=15)
    assert [m["Body"] for m in got[0]] == ["late"]


def test_concurrent_receivers_get_each_message_once(sqs: Any) -> None:
    """Eight receivers and a sender at once: every message is received exactly once (its visibility outlasts the
    test), and no request fails."""
    url = new_queue(sqs, VisibilityTimeout="120")
    send(sqs, url, 300)
    seen: list[str] = []
    errors: list[BaseException] = []

    def receiver() -> None:
        client = boto3.client("sqs", endpoint_url=sqs.meta.endpoint_url, region_name=REGION)
        try:
            for _ in range(60):
                batch = receive(client, url)
                seen.extend(m["Body"] for m in batch)
                for m in batch[::2]:  # delete some: deletes discard from the pending set receives iterate
                    client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=receiver) for _ in range(8)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads (moto's server's among them) switch often: races show up
    try:
        for t in threads:
            t.start()
        send(sqs, url, 100, start=300)
        for t in threads:
            t.join(timeout=120)
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors[:3]
    assert sorted(seen) == sorted(set(seen)), "a message was delivered twice while still invisible"
    assert len(seen) == 400


def test_a_send_converts_no_attribute_name_again(sqs: Any) -> None:
    """Each send asks the queue's attributes whether it deduplicates by content; the ~15 attribute names are turned
    into Python names once per process, not once a send (it was most of a send's own cost)."""
    from moto.core import utils
    from moto.sqs import models
    from moto.sqs.models import Queue

    names = [*Queue.BASE_ATTRIBUTES, *Queue.FIFO_ATTRIBUTES, *Queue.KMS_ATTRIBUTES]
    assert [models.camelcase_to_underscores(n) for n in names] == [utils.camelcase_to_underscores(n) for n in names]
    url = new_queue(sqs, MessageRetentionPeriod="600")
    sqs.send_message(QueueUrl=url, MessageBody="first")
    before = models.camelcase_to_underscores.cache_info()  # type: ignore[attr-defined]
    send(sqs, url, 30)
    after = models.camelcase_to_underscores.cache_info()  # type: ignore[attr-defined]
    assert after.misses == before.misses and after.hits >= before.hits + 30 * len(Queue.BASE_ATTRIBUTES)
    assert attrs(sqs, url)["Messages"] == 31
