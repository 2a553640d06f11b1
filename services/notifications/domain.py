"""The plain-text message not in template files: a collector's own text. No AWS."""

from __future__ import annotations

from dataclasses import dataclass
from string import Template

from shared.events import ContactActionRequested


@dataclass(frozen=True)
class Message:
    kind: str
    to: str
    subject: str
    body: str


CONTACT_REQUEST = Template(
    "Hello,\n\nwe are writing to you about an open matter on behalf of our client. Please contact us so we can "
    "find a solution together.\n"
)

# How each action reaches the debtor: e-mail through SES, SMS through SNS; letters and calls are handed to the
# print service and the call-centre software through the outbox.
CHANNEL = {"email": "ses", "sms": "sns", "letter": "outbox", "call": "outbox"}


def contact_action(event: ContactActionRequested) -> Message:
    body = event.message or CONTACT_REQUEST.substitute()
    subject = event.subject or "Your open case"
    return Message(f"action_{event.action}", event.contact_point_value, subject, body)
