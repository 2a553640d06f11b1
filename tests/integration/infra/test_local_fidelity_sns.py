"""moto's SNS signs each notification with its subscription's certificate, built once
(``fidelity.signed_once_per_subscription``): what a subscriber receives is signed as SNS signs it, and verifies
against the certificate at its SigningCertURL."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from infra.local import fidelity
from infra.provision import Provisioned
from tests.integration.support import client


def _certificate(region: str, cert_url: str) -> x509.Certificate:
    """The PEM moto serves at a notification's SigningCertURL (its PEM route reads it from this backend; the test
    session's moto server runs in this process)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    key_name = cert_url.rsplit("/", 1)[1]
    return x509.load_pem_x509_certificate(sns_backends[DEFAULT_ACCOUNT_ID][region]._message_public_keys[key_name])


def _string_to_sign(notification: dict[str, Any]) -> bytes:
    """SNS's canonical string of a Notification (AWS's "Verifying the signatures of Amazon SNS messages")."""
    fields = ["Message", "MessageId", *(["Subject"] if "Subject" in notification else []), "Timestamp", "TopicArn"]
    return "".join(f"{name}\n{notification[name]}\n" for name in [*fields, "Type"]).encode()


def test_notifications_are_signed_with_one_certificate_a_subscription_and_verify(aws: Provisioned) -> None:
    assert fidelity.sns_sources() == fidelity.PINNED_SNS_SOURCES
    assert "sns-signed-once-per-subscription" in fidelity.installed()
    sns, sqs = client(aws, "sns"), client(aws, "sqs")
    topic = sns.create_topic(Name=f"signed-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"signed-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    texts = [json.dumps({"notificationType": "Delivery", "n": i}) for i in range(12)]
    sns.publish_batch(
        TopicArn=topic, PublishBatchRequestEntries=[{"Id": str(i), "Message": t} for i, t in enumerate(texts[:10])]
    )
    sns.publish(TopicArn=topic, Message=texts[10])
    sns.publish(TopicArn=topic, Message=texts[11], Subject="with a subject")

    received: list[dict[str, Any]] = []
    while len(received) < len(texts):
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        assert messages, f"only {len(received)} of {len(texts)} notifications arrived"
        received.extend(json.loads(m["Body"]) for m in messages)

    assert sorted(n["Message"] for n in received) == sorted(texts)
    assert {n["Type"] for n in received} == {"Notification"} and {n["SignatureVersion"] for n in received} == {"2"}
    assert len({n["MessageId"] for n in received}) == len(texts)
    urls = {n["SigningCertURL"] for n in received}
    assert len(urls) == 1, "one certificate signs every notification of a subscription, as SNS's of a region"
    certificate = _certificate(aws.region, urls.pop())
    key = certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    for notification in received:
        # raises InvalidSignature on a notification its certificate did not sign
        key.verify(
            base64.b64decode(notification["Signature"]),
            _string_to_sign(notification),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    forged = {**received[0], "Message": "tampered"}
    with pytest.raises(InvalidSignature):
        key.verify(base64.b64decode(forged["Signature"]), _string_to_sign(forged), padding.PKCS1v15(), hashes.SHA256())
