"""SES's delivery notifications on the local stack, as AWS sends them: SES → SNS topic → the subscribed queue.

moto records every e-mail it is asked to send, but its own feedback (for the simulator addresses only) carries a
canned message id that matches no sent message, so nothing could be traced back. This simulator watches what moto's
SES recorded and publishes, for each new e-mail, the identity notification SES would: a Delivery, or for SES's
mailbox-simulator addresses a permanent Bounce (``bounce@simulator.amazonses.com``) or a Complaint
(``complaint@simulator.amazonses.com``), with the real message id, to the feedback topic through moto's SNS.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import boto3
from moto.backends import get_backend

from infra.local.lambda_runtime import ACCOUNT

BOUNCE = "bounce@simulator.amazonses.com"
COMPLAINT = "complaint@simulator.amazonses.com"


def notification(message_id: str, source: str, recipient: str) -> dict[str, Any]:
    """The SES identity notification for one recipient of one message (shape of the SES developer guide)."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    mail = {"timestamp": now, "messageId": message_id, "source": source, "destination": [recipient]}
    if recipient.lower() == BOUNCE:
        return {
            "notificationType": "Bounce",
            "mail": mail,
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [
                    {
                        "emailAddress": recipient,
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                ],
                "timestamp": now,
                "feedbackId": f"{message_id}-bounce",
            },
        }
    if recipient.lower() == COMPLAINT:
        return {
            "notificationType": "Complaint",
            "mail": mail,
            "complaint": {
                "complainedRecipients": [{"emailAddress": recipient}],
                "complaintFeedbackType": "abuse",
                "timestamp": now,
                "feedbackId": f"{message_id}-complaint",
            },
        }
    return {
        "notificationType": "Delivery",
        "mail": mail,
        "delivery": {
            "timestamp": now,
            "recipients": [recipient],
            "smtpResponse": "250 2.0.0 OK",
            "processingTimeMillis": 420,
        },
    }


class SesFeedback:
    """Publishes the notifications of the e-mails moto's SES recorded since the last call (or on a thread)."""

    def __init__(self, endpoint_url: str, topic_arn: str, region: str) -> None:
        self.topic_arn, self.region = topic_arn, region
        self._sns = boto3.client(
            "sns",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        self._done = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def publish_new(self) -> int:
        sent = get_backend("ses")[ACCOUNT][self.region].sent_messages
        new, self._done = sent[self._done :], len(sent)
        count = 0
        for message in new:
            destinations = getattr(message, "destinations", {}) or {}
            recipients = destinations.get("ToAddresses", []) if isinstance(destinations, dict) else list(destinations)
            for recipient in recipients:
                note = notification(message.id, str(message.source), str(recipient))
                self._sns.publish(TopicArn=self.topic_arn, Message=json.dumps(note))
                count += 1
        return count

    def start(self, interval: float = 0.5) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                self.publish_new()

        self._thread = threading.Thread(target=loop, name="ses-feedback", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
