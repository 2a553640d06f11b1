"""SES's and SMS delivery notifications on the local stack, as AWS sends them: → SNS topic → the subscribed queue.

moto records every e-mail it is asked to send, but its own feedback (for the simulator addresses only) carries a
canned message id that matches no sent message, so nothing could be traced back. This simulator watches what moto's
SES recorded and publishes, for each new e-mail, the identity notification SES would: a Delivery, or for SES's
mailbox-simulator addresses a permanent Bounce (``bounce@simulator.amazonses.com``) or a Complaint
(``complaint@simulator.amazonses.com``), with the real message id, to the feedback topic through moto's SNS.

E-mails sent through a configuration set (every e-mail notifications sends, in AWS and here) get the events of
its event destination instead, as AWS sends them: ``eventType`` and the e-mail's own tags in ``mail.tags`` (our
message id among them), so notifications finds its message without a pointer from SES's id. moto's SES v2 keeps
neither the configuration set nor the tags, so ``remember_configuration_sets`` wraps its SendEmail in moto's
process to keep both per message.

SMS likewise: in AWS each SMS goes through End User Messaging's configuration set, whose event destination sends
its delivery status (``TEXT_DELIVERED``, or a failure such as ``TEXT_CARRIER_UNREACHABLE``) to the same topic.
moto has no End User Messaging (the local stack sends with SNS Publish, which moto records), so for each new SMS
this publishes the event End User Messaging would, with the real message id: delivered, or carrier unreachable
for ``UNREACHABLE_PHONE`` (the local stack's counterpart of SES's simulator addresses).
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

from moto.backends import get_backend

from infra.local import ACCOUNT  # not through lambda_runtime: this runs in moto's process (infra.local)

BOUNCE = "bounce@simulator.amazonses.com"
COMPLAINT = "complaint@simulator.amazonses.com"
UNREACHABLE_PHONE = "+4917699999999"


_sent_through: dict[str, tuple[str, dict[str, list[str]]]] = {}  # moto's message id → configuration set, tags
_sent_lock = threading.Lock()


def remember_configuration_sets() -> None:
    """Keep, per e-mail moto's SES v2 sends, its configuration set and tags (moto drops both); in moto's process."""
    from moto.sesv2.responses import SESV2Response

    original = SESV2Response.send_email
    if getattr(original, "remembers_configuration_sets", False):
        return

    def send_email(self: SESV2Response) -> str:
        answer = original(self)
        params = json.loads(self.body)
        if params.get("ConfigurationSetName"):
            tags = {str(t["Name"]): [str(t["Value"])] for t in params.get("EmailTags") or []}
            tags["ses:configuration-set"] = [str(params["ConfigurationSetName"])]
            with _sent_lock:
                _sent_through[json.loads(answer)["MessageId"]] = (str(params["ConfigurationSetName"]), tags)
        return answer

    send_email.remembers_configuration_sets = True  # type: ignore[attr-defined]
    SESV2Response.send_email = send_email  # type: ignore[method-assign]


def sent_through(message_id: str) -> tuple[str, dict[str, list[str]]] | None:
    """The configuration set and tags of an e-mail moto sent, once (None: sent without a configuration set)."""
    with _sent_lock:
        return _sent_through.pop(message_id, None)


def notification(
    message_id: str, source: str, recipient: str, tags: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """The SES notification for one recipient of one message (shape of the SES developer guide): the identity
    notification, or with ``tags`` (the e-mail went through a configuration set) the configuration set's event,
    which names its type ``eventType`` and carries the e-mail's tags."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    mail: dict[str, Any] = {"timestamp": now, "messageId": message_id, "source": source, "destination": [recipient]}
    if tags is not None:
        mail["tags"] = tags
        event = _identity_notification(now, mail, message_id, recipient)
        return {"eventType": event.pop("notificationType"), **event}
    return _identity_notification(now, mail, message_id, recipient)


def _identity_notification(now: str, mail: dict[str, Any], message_id: str, recipient: str) -> dict[str, Any]:
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


def sms_event(message_id: str, phone: str, text: str) -> dict[str, Any]:
    """The End User Messaging SMS event for one message (shape of its event destination documentation)."""
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    unreachable = phone == UNREACHABLE_PHONE
    return {
        "eventType": "TEXT_CARRIER_UNREACHABLE" if unreachable else "TEXT_DELIVERED",
        "eventVersion": "1.0",
        "eventTimestamp": now_ms,
        "isFinal": True,
        "originationPhoneNumber": "FinView",
        "destinationPhoneNumber": phone,
        "messageId": message_id,
        "messageRequestTimestamp": now_ms - 1500,
        "messageEncoding": "GSM" if text.isascii() else "UCS2",
        "messageType": "TRANSACTIONAL",
        "messageStatus": "CARRIER_UNREACHABLE" if unreachable else "DELIVERED",
        "messageStatusDescription": (
            "The destination carrier is unreachable." if unreachable else "Message has been accepted by phone"
        ),
        "totalMessageParts": 1,
    }


class SesFeedback:
    """Publishes the notifications of the e-mails moto's SES and the SMS moto's SNS recorded since the last call
    (or on a thread)."""

    def __init__(self, topic_arn: str, region: str) -> None:
        remember_configuration_sets()
        self.topic_arn, self.region = topic_arn, region
        self._done = 0
        self._sms_done: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def publish_new(self) -> int:
        sent = get_backend("ses")[ACCOUNT][self.region].sent_messages
        new, self._done = sent[self._done :], len(sent)
        notes: list[dict[str, Any]] = []
        for message in new:
            destinations = getattr(message, "destinations", {}) or {}
            recipients = destinations.get("ToAddresses", []) if isinstance(destinations, dict) else list(destinations)
            through = sent_through(message.id)
            for recipient in recipients:
                notes.append(
                    notification(message.id, str(message.source), str(recipient), through[1] if through else None)
                )
        self._publish(notes)
        return len(notes) + self.publish_new_sms()

    def publish_new_sms(self) -> int:
        sms = get_backend("sns")[ACCOUNT][self.region].sms_messages
        new = [(message_id, sent) for message_id, sent in list(sms.items()) if message_id not in self._sms_done]
        self._sms_done.update(message_id for message_id, _ in new)
        self._publish([sms_event(message_id, phone, text) for message_id, (phone, text) in new])
        return len(new)

    def _publish(self, notes: list[dict[str, Any]]) -> None:
        """Each notification its own SNS message (so its own SQS record, as in AWS), published on moto's SNS in this
        process, as SES's own service publishes to SNS: not through moto's HTTP front (a client serialising and
        moto parsing a request per ten notifications, a fifth of moto's CPU on the reminder chain once). SNS's
        delivery to the subscribed queue is moto's own, as for any Publish."""
        sns = get_backend("sns")[ACCOUNT][self.region]
        for note in notes:
            sns.publish(message=json.dumps(note), arn=self.topic_arn)

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
