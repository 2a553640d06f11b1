"""The providers of each channel: SES (e-mail), SNS (SMS), the letters bucket (print service), the calls queue.

A recipient is checked before any provider is called (an invalid one is refused, never sent); a provider that
throttles is retried with exponential backoff and full jitter, on top of botocore's own retries, before the
delivery gives up with ``Throttled`` (its caller records the reason and moves the request to the DLQ).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import phonenumbers
from botocore.exceptions import ClientError
from email_validator import EmailNotValidError, validate_email

from services.notifications.rendering import Rendered
from shared import aws

T = TypeVar("T")
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "LimitExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "ThrottledException",
    }
)
ATTEMPTS = 4
BASE_DELAY, MAX_DELAY = 0.2, 5.0


class RecipientRefused(ValueError):
    """The recipient cannot receive this channel (malformed address, not a valid phone number)."""

    def __init__(self, channel: str, recipient: str, reason: str) -> None:
        super().__init__(f"{channel} recipient {recipient!r} refused: {reason}")
        self.reason = reason


class Throttled(RuntimeError):
    """The provider kept throttling after every retry."""


def valid_email(address: str) -> str:
    try:
        return str(validate_email(address, check_deliverability=False).normalized)
    except EmailNotValidError as error:
        raise RecipientRefused("email", address, str(error)) from None


def valid_phone(number: str) -> str:
    """The number in E.164, refused unless it is a valid number (a country code is required)."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as error:
        raise RecipientRefused("sms", number, str(error)) from None
    if not phonenumbers.is_valid_number(parsed):
        raise RecipientRefused("sms", number, "not a valid phone number")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def is_throttling(error: BaseException) -> bool:
    if isinstance(error, ClientError):
        error_info = error.response.get("Error", {})
        code = str(error_info.get("Code", ""))
        message = str(error_info.get("Message", ""))
        return code in THROTTLING_CODES or "rate exceeded" in message.lower()
    return False


def with_backoff(
    call: Callable[[], T],
    *,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Run ``call``, retrying provider throttling with exponential backoff and full jitter."""
    jitter = rng or random.Random()
    for attempt in range(attempts):
        try:
            return call()
        except ClientError as error:
            if not is_throttling(error):
                raise
            if attempt == attempts - 1:
                raise Throttled(f"provider throttled {attempts} times: {error}") from error
            sleep(jitter.uniform(0, min(MAX_DELAY, BASE_DELAY * 2**attempt)))
    raise AssertionError("unreachable")


def list_unsubscribe(unsubscribe_url: str | None, mailbox: str) -> dict[str, str]:
    """RFC 2369 / RFC 8058 headers: a mailto always, one-click when there is an https link."""
    targets = [f"<mailto:{mailbox}?subject=unsubscribe>"]
    headers = {}
    if unsubscribe_url and unsubscribe_url.startswith("https://"):
        targets.insert(0, f"<{unsubscribe_url}>")
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return {"List-Unsubscribe": ", ".join(targets), **headers}


def send_email(
    *,
    sender_name: str,
    sender_email: str,
    reply_to: str | None,
    to: str,
    rendered: Rendered,
    headers: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
    configuration_set: str | None = None,
) -> str:
    """SES v2 SendEmail with the plain and the HTML part; the provider's message id."""
    recipient = valid_email(to)
    request: dict[str, Any] = {
        "FromEmailAddress": f'"{sender_name}" <{sender_email}>' if sender_name else sender_email,
        "Destination": {"ToAddresses": [recipient]},
        "Content": {
            "Simple": {
                "Subject": {"Data": rendered.subject, "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": rendered.text, "Charset": "UTF-8"},
                    "Html": {"Data": rendered.html, "Charset": "UTF-8"},
                },
                "Headers": [{"Name": k, "Value": v} for k, v in (headers or {}).items()],
            }
        },
        "EmailTags": [{"Name": k, "Value": _tag(v)} for k, v in (tags or {}).items()],
    }
    if reply_to:
        request["ReplyToAddresses"] = [reply_to]
    if configuration_set:
        request["ConfigurationSetName"] = configuration_set
    response = with_backoff(lambda: aws.client("sesv2").send_email(**request))
    return str(response["MessageId"])


def _tag(value: str) -> str:
    """SES tag values allow only ASCII letters, digits, '_', '-', '.', '@'."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "_-.@") else "_" for c in value)[:256] or "_"


def send_sms(
    phone: str,
    text: str,
    *,
    sender_id: str | None = None,
    configuration_set: str | None = None,
    context: Mapping[str, str] | None = None,
) -> str:
    """One SMS, transactional (collections messages must not be dropped as promotional); the provider's message id.

    With a configuration set: AWS End User Messaging SMS ``SendTextMessage``, whose configuration set reports each
    message's delivery status (TEXT_DELIVERED, TEXT_CARRIER_UNREACHABLE, …) to the delivery-feedback topic under
    this id. Without one: SNS ``Publish`` to the number (the local stack: moto has no End User Messaging; its
    feedback is simulated in the same shape)."""
    number = valid_phone(phone)
    if configuration_set:
        request: dict[str, Any] = {
            "DestinationPhoneNumber": number,
            "MessageBody": text,
            "MessageType": "TRANSACTIONAL",
            "ConfigurationSetName": configuration_set,
        }
        if context:
            request["Context"] = {k: _tag(v) for k, v in context.items()}
        if sender_id:
            request["OriginationIdentity"] = sender_id
        sent = with_backoff(lambda: aws.client("pinpoint-sms-voice-v2").send_text_message(**request))
        return str(sent["MessageId"])
    attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
    if sender_id:
        attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": sender_id[:11]}
    response = with_backoff(
        lambda: aws.client("sns").publish(PhoneNumber=number, Message=text, MessageAttributes=attributes)
    )
    return str(response["MessageId"])


def put_letter(bucket: str, key: str, pdf: bytes, metadata: Mapping[str, str]) -> str:
    """One S3 object per letter in the outbox bucket the print service reads; its key is the letter's id."""
    with_backoff(
        lambda: aws.client("s3").put_object(
            Bucket=bucket,
            Key=key,
            Body=pdf,
            ContentType="application/pdf",
            Metadata={k: _tag(v) for k, v in metadata.items()},
        )
    )
    return key


_queue_urls: dict[tuple[str, int], str] = {}


def _queue_url(queue: str) -> str:
    """A queue's URL from its URL or its name (the environment names it; the URL is looked up once)."""
    if queue.startswith(("http://", "https://")):
        return queue
    sqs = aws.client("sqs")  # one client per endpoint: the key keeps stages apart
    key = (queue, id(sqs))
    if key not in _queue_urls:
        _queue_urls[key] = str(sqs.get_queue_url(QueueName=queue)["QueueUrl"])
    return _queue_urls[key]


def queue_call(queue: str, task: Mapping[str, Any]) -> str:
    """A call task for the dialer on the outbox queue; the provider's id is the SQS message id."""
    url = _queue_url(queue)
    response = with_backoff(
        lambda: aws.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(task, default=str))
    )
    return str(response["MessageId"])
