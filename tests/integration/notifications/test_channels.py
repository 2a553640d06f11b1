"""The channels against moto's server: SES v2 with both parts and List-Unsubscribe, SNS SMS, letters, calls."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.backends import get_backend

from infra.local.lambda_runtime import ACCOUNT
from infra.local.stack import sent_emails
from infra.provision import Provisioned
from services.notifications import channels, messages, rendering
from shared import aws as shared_aws
from tests.integration.support import client
from tests.unit.notifications.samples import template_data

SENDER = "no-reply@finview.example"  # verified by provisioning


def _requests(service: str, operation: str) -> list[dict[str, Any]]:
    """Capture what our code asks the provider for (moto keeps only part of an SES v2 request)."""
    seen: list[dict[str, Any]] = []
    shared_aws.client(service).meta.events.register(
        f"provide-client-params.{service}.{operation}", lambda params, **_: seen.append(dict(params))
    )
    return seen


def test_email_goes_through_ses_v2_with_both_parts_and_list_unsubscribe(aws: Provisioned) -> None:
    seen = _requests("sesv2", "SendEmail")
    language, data = template_data("payment_plan_reminder", "de")
    rendered = rendering.render("payment_plan_reminder", language, data)
    headers = channels.list_unsubscribe("https://app.finview.example/unsubscribe?m=msg-1", SENDER)
    to = f"juergen.weiss.{aws.names.stage}@example.de"  # moto's SES is shared by the whole session
    message_id = channels.send_email(
        sender_name="Inkasso Nord",
        sender_email=SENDER,
        reply_to="fragen@inkasso-nord.example",
        to=to,
        rendered=rendered,
        headers=headers,
        tags={"message_id": "msg-1", "kind": "payment_plan_reminder"},
    )
    assert message_id
    stored = sent_emails(aws.endpoint_url, to=to)
    assert len(stored) == 1 and stored[0]["subject"] == rendered.subject
    simple = seen[-1]["Content"]["Simple"]
    assert simple["Body"]["Text"]["Data"] == rendered.text and simple["Body"]["Html"]["Data"] == rendered.html
    assert {h["Name"]: h["Value"] for h in simple["Headers"]} == {
        "List-Unsubscribe": f"<https://app.finview.example/unsubscribe?m=msg-1>, <mailto:{SENDER}?subject=unsubscribe>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert seen[-1]["ReplyToAddresses"] == ["fragen@inkasso-nord.example"]
    assert seen[-1]["FromEmailAddress"] == f'"Inkasso Nord" <{SENDER}>'


@pytest.mark.parametrize("address", ["not-an-address", "a@b", "jürgen@@example.de", ""])
def test_an_invalid_address_is_refused_before_ses_is_called(aws: Provisioned, address: str) -> None:
    seen = _requests("sesv2", "SendEmail")
    rendered = rendering.render("contact_request", *template_data("contact_request", "en"))
    with pytest.raises(channels.RecipientRefused):
        channels.send_email(sender_name="", sender_email=SENDER, reply_to=None, to=address, rendered=rendered)
    assert seen == []


def test_sms_goes_through_sns_and_an_invalid_number_is_refused(aws: Provisioned) -> None:
    language, data = template_data("payment_plan_reminder", "fr")
    text = rendering.render_sms("payment_plan_reminder", language, data).text
    assert channels.send_sms("+33 6 12 34 56 78", text)
    sns = get_backend("sns")[ACCOUNT][aws.region]
    assert ("+33612345678", text) in sns.sms_messages.values()
    for number in ("0612345678", "+49 123", "call me"):
        with pytest.raises(channels.RecipientRefused):
            channels.send_sms(number, text)


def test_a_letter_is_one_object_in_the_outbox_bucket_and_a_call_one_task(aws: Provisioned) -> None:
    s3, sqs = client(aws, "s3"), client(aws, "sqs")
    s3.create_bucket(Bucket="outbox-test", CreateBucketConfiguration={"LocationConstraint": aws.region})
    key = channels.put_letter("outbox-test", "letters/2026-11-28/msg-1.pdf", b"%PDF-1.7 x", {"case_id": "case-4711"})
    head = s3.head_object(Bucket="outbox-test", Key=key)
    assert head["ContentType"] == "application/pdf" and head["Metadata"] == {"case_id": "case-4711"}
    url = sqs.create_queue(QueueName="calls-test")["QueueUrl"]
    channels.queue_call(url, {"message_id": "msg-2", "phone": "+4915112345678"})
    body = json.loads(sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"])
    assert body == {"message_id": "msg-2", "phone": "+4915112345678"}


def _throttle() -> ClientError:
    return ClientError({"Error": {"Code": "Throttling", "Message": "Maximum sending rate exceeded."}}, "SendEmail")


def test_throttling_is_retried_with_growing_jittered_backoff_then_given_up() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _throttle()
        return "ok"

    assert channels.with_backoff(flaky, sleep=sleeps.append, rng=random.Random(1)) == "ok"
    assert len(calls) == 3 and len(sleeps) == 2 and sleeps[0] <= 0.2 and sleeps[1] <= 0.4

    def always() -> str:
        raise _throttle()

    with pytest.raises(channels.Throttled, match="throttled 4 times"):
        channels.with_backoff(always, sleep=sleeps.append)


def test_other_provider_errors_are_not_retried() -> None:
    calls: list[int] = []

    def rejected() -> str:
        calls.append(1)
        raise ClientError({"Error": {"Code": "MessageRejected", "Message": "Email address is not verified."}}, "Send")

    with pytest.raises(ClientError):
        channels.with_backoff(rejected, sleep=lambda _: None)
    assert len(calls) == 1


def test_debtor_kinds_are_the_ones_contacts_may_request() -> None:
    from typing import get_args

    from shared.events import MessageKind

    assert set(get_args(MessageKind)) == set(messages.DEBTOR_KINDS)
