"""Provider notifications → delivery outcomes. No AWS here.

In AWS, SES publishes delivery, bounce and complaint notifications to an SNS topic, and SMS delivery status and
inbound replies (STOP) reach SNS too; the topic delivers to notifications' outcomes queue. A queue record's body is
the SNS envelope (``Type: Notification`` with the provider's JSON as ``Message``), or the provider's JSON itself
when raw delivery is on. Both SES shapes are read: identity notifications (``notificationType``) and
configuration-set events (``eventType``); for SMS, SNS delivery-status logs (``status``/``delivery``), End User
Messaging events (``eventType: TEXT_…``) and two-way replies (``messageBody``/``originationNumber``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

Outcome = Literal["delivered", "bounced", "complained", "sms_failed", "opt_out", "ignored"]
OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "CANCEL", "ARRET", "ARRÊT", "STOPP"})
_SMS_DELIVERED = frozenset({"TEXT_DELIVERED", "TEXT_SUCCESSFUL"})
_SMS_PENDING = frozenset({"TEXT_QUEUED", "TEXT_PENDING", "TEXT_SENT"})


class UnreadableNotification(ValueError):
    """A record that is neither an SES nor an SMS notification: a wiring error, left to the DLQ with its reason."""


@dataclass(frozen=True)
class ProviderOutcome:
    outcome: Outcome
    provider_message_id: str | None
    recipient: str | None = None
    bounce_type: Literal["permanent", "transient"] | None = None
    diagnostic: str | None = None
    keyword: str | None = None
    tags: dict[str, str] | None = None


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableNotification(f"not JSON: {error}") from None
    if not isinstance(value, dict):
        raise UnreadableNotification("not a JSON object")
    return value


def unwrap(body: str) -> dict[str, Any]:
    """The provider's notification inside an SQS record body (SNS envelope or raw delivery)."""
    outer = _json(body)
    if outer.get("Type") == "Notification" and "Message" in outer:
        message = outer["Message"]
        return message if isinstance(message, dict) else _json(str(message))
    return outer


def _tags(mail: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v[0]) for k, v in (mail.get("tags") or {}).items() if isinstance(v, list) and v}


def _ses(note: dict[str, Any], kind: str) -> list[ProviderOutcome]:
    mail = note.get("mail") or {}
    message_id = mail.get("messageId")
    tags = _tags(mail)
    if kind == "Delivery":
        recipients = (note.get("delivery") or {}).get("recipients") or mail.get("destination") or [None]
        return [ProviderOutcome("delivered", message_id, r, tags=tags) for r in recipients]
    if kind == "Bounce":
        bounce = note.get("bounce") or {}
        # Undetermined bounces are retried by SES like transient ones; only Permanent invalidates the address.
        bounce_type: Literal["permanent", "transient"] = (
            "permanent" if bounce.get("bounceType") == "Permanent" else "transient"
        )
        return [
            ProviderOutcome(
                "bounced",
                message_id,
                r.get("emailAddress"),
                bounce_type=bounce_type,
                diagnostic=r.get("diagnosticCode") or bounce.get("bounceSubType"),
                tags=tags,
            )
            for r in bounce.get("bouncedRecipients") or [{}]
        ]
    if kind == "Complaint":
        complaint = note.get("complaint") or {}
        return [
            ProviderOutcome(
                "complained",
                message_id,
                r.get("emailAddress"),
                diagnostic=complaint.get("complaintFeedbackType"),
                tags=tags,
            )
            for r in complaint.get("complainedRecipients") or [{}]
        ]
    return [ProviderOutcome("ignored", message_id, tags=tags)]  # Send, Open, Click, DeliveryDelay: not outcomes


def _sms(note: dict[str, Any]) -> list[ProviderOutcome]:
    if "messageBody" in note and "originationNumber" in note:  # a reply from the debtor's phone
        words = str(note["messageBody"]).strip().upper().split()
        keyword = words[0] if words else ""
        outcome: Outcome = "opt_out" if keyword in OPT_OUT_KEYWORDS else "ignored"
        return [
            ProviderOutcome(
                outcome, note.get("previousPublishedMessageId"), str(note["originationNumber"]), keyword=keyword
            )
        ]
    if "status" in note and "notification" in note:  # SNS SMS delivery-status log
        delivery = note.get("delivery") or {}
        message_id = (note.get("notification") or {}).get("messageId")
        if note["status"] == "SUCCESS":
            return [ProviderOutcome("delivered", message_id, delivery.get("destination"))]
        return [
            ProviderOutcome(
                "sms_failed", message_id, delivery.get("destination"), diagnostic=delivery.get("providerResponse")
            )
        ]
    event = str(note.get("eventType", ""))
    message_id = note.get("messageId")
    recipient = note.get("destinationPhoneNumber")
    context = note.get("context")
    tags = {str(k): str(v) for k, v in context.items()} if isinstance(context, dict) else None
    if event in _SMS_DELIVERED:
        return [ProviderOutcome("delivered", message_id, recipient, tags=tags)]
    if event in _SMS_PENDING:
        return [ProviderOutcome("ignored", message_id, recipient, tags=tags)]
    return [
        ProviderOutcome(
            "sms_failed", message_id, recipient, diagnostic=note.get("messageStatusDescription") or event, tags=tags
        )
    ]


def parse(body: str) -> list[ProviderOutcome]:
    note = unwrap(body)
    ses_kind = note.get("notificationType") or note.get("eventType")
    if "mail" in note and ses_kind:
        return _ses(note, str(ses_kind))
    if str(note.get("eventType", "")).startswith("TEXT_") or "messageBody" in note or "status" in note:
        return _sms(note)
    raise UnreadableNotification(f"neither an SES nor an SMS notification: keys {sorted(note)[:8]}")
