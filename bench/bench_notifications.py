"""Notifications: what one message costs to render and to send, per channel, against moto's server on loopback.

Render: the template engine's time for a whole e-mail (subject, plain and HTML part in one language, Babel
formatting, the RDG block), an SMS (with its segment count) and a PDF letter; baseline = the ``string.Template``
substitution the service used before templates (what the richer messages cost on top). Send: ``deliver()`` as the
consumer runs it (record claimed in DynamoDB, rendered, SES / SNS / S3 call, record marked, MessageSent published),
baseline = a bare SES SendEmail of an already rendered message on the same server (what our pipeline adds).
"""

from __future__ import annotations

import uuid
from string import Template

from bench.bench_contacts_api import backend
from bench.harness import Report, percentile, timings
from services.notifications import channels, deliveries, letters, messages, rendering, sms
from shared import aws
from shared.events import Channel, ContactActionRequested
from tests.unit.notifications.samples import debtor_message

SENDER = "no-reply@finview.example"
OLD = Template("Hello $first_name,\n\nwe are writing to you about case $case on behalf of $client.\n")


def _ms(values: list[float], p: float = 50) -> float:
    return percentile(values, p) * 1000


def _render(report: Report, n: int) -> None:
    old = timings(lambda: OLD.substitute(first_name="Jürgen", case="SW-2026-0815", client="Stadtwerke"), n)
    baseline = _ms(old)
    language, data = messages.debtor_data(debtor_message("payment_plan_reminder", "de"))
    email = timings(lambda: rendering.render("payment_plan_reminder", language, data), n)
    text = timings(lambda: sms.checked(rendering.render_sms("payment_plan_reminder", language, data).text, 3), n)
    letter = timings(lambda: letters.letter_pdf("contact_request", language, data), max(n // 10, 5))
    note = f"n={n}; de, RDG block; baseline p50 = {baseline * 1000:.1f} µs"
    base = "string.Template substitute"
    report.add(
        "render e-mail p50 (subject, text, HTML)", _ms(email), "ms", baseline=base, baseline_value=baseline, note=note
    )
    report.add("render SMS + segment count p50", _ms(text), "ms", baseline=base, baseline_value=baseline, note=note)
    report.add(
        "render PDF letter p50", _ms(letter), "ms", baseline=base, baseline_value=baseline, note=f"n={max(n // 10, 5)}"
    )


def _request(channel: Channel, to: str) -> ContactActionRequested:
    message = debtor_message("payment_plan_reminder", "de", unsubscribe_url=None)
    message = message.model_copy(update={"sender": message.sender.model_copy(update={"email": SENDER})})
    return ContactActionRequested(
        correlation_id="bench",
        client_id="cl-bench",
        case_owner_id="owner-bench",
        case_id="case-bench",
        action=channel,
        contact_point_id="cp",
        contact_point_value=to,
        automatic=True,
        requested_by="bench",
        debtor_message=message,
    )


def _send(report: Report, n: int) -> None:
    with backend("server"):
        s3, sqs = aws.client("s3"), aws.client("sqs")
        bucket = f"bench-letters-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        outbox = deliveries.Outbox(bucket, sqs.create_queue(QueueName=bucket)["QueueUrl"], None, "https://x.example/u")
        language, data = messages.debtor_data(debtor_message("payment_plan_reminder", "de"))
        rendered = rendering.render("payment_plan_reminder", language, data)

        def bare() -> None:
            channels.send_email(
                sender_name="", sender_email=SENDER, reply_to=None, to="bench@example.de", rendered=rendered
            )

        baseline = timings(bare, n)
        for channel, to, label in (
            ("email", "juergen.weiss@example.de", "e-mail"),
            ("sms", "+4915112345678", "SMS"),
            ("letter", "Lindenstraße 5, 10969 Berlin", "letter"),
        ):
            spent = timings(lambda c=channel, t=to: deliveries.deliver(_request(c, t), outbox), n)  # type: ignore[misc]
            report.add(
                f"deliver {label} p50 (render + send + record + publish)",
                _ms(spent),
                "ms",
                baseline="bare SES SendEmail, pre-rendered",
                baseline_value=_ms(baseline),
                note=f"n={n}; p99 {_ms(spent, 99):.1f} ms; baseline p50 {_ms(baseline):.1f} ms",
            )


def run(report: Report, quick: bool) -> None:
    _render(report, 50 if quick else 500)
    _send(report, 10 if quick else 100)
