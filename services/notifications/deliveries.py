"""Delivering what contacts decided: a ContactActionRequested with a debtor message → one message on its channel.

Notifications never decides to write to a debtor; it renders the kind contacts asked for in the debtor's language,
checks the recipient, sends through the channel's provider, records the message and publishes ``MessageSent``
(or ``MessageFailed`` with the reason). A redelivered request finds its record and sends nothing more; it
announces the message again, with the same event id, in case the first delivery's announcement did not get out
(the bus consumer publishes a batch's events after its records, so no idempotency record is needed here).
A ``ContactActionsRequested.v2`` (a reminder page) is delivered member by member, each as its v1; the batch's
MessageSent go out as one ``MessagesSent.v2`` (``shared.consumer``).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.notifications import channels, letters, message_records, messages, rendering, settings, sms
from shared import bus
from shared.consumer import SetAtATime, batch_steps
from shared.events import ContactActionRequested, DebtorMessage, MessageFailed, MessageSent
from shared.observability import logger

log = logger("notifications")
_now = time.monotonic  # the batch's clock for its marks
_NAMESPACE = uuid.UUID("0c6a3c52-93b1-4c8e-9f7d-1e2a4b5c6d7e")

# Refusals no retry can fix: the message is recorded as failed with its reason, contacts is told.
_REFUSALS: dict[type[Exception], str] = {
    channels.RecipientRefused: "invalid_recipient",
    sms.TooManySegments: "too_many_segments",
    rendering.RenderError: "render_error",
    letters.LetterError: "no_postal_address",
}


@dataclass(frozen=True)
class Outbox:
    """Where letters and calls go, and what every e-mail needs: from the function's environment."""

    letters_bucket: str
    calls_queue_url: str  # the dialer's queue: its URL, or its name (resolved once)
    configuration_set: str | None
    unsubscribe_base_url: str
    sms_configuration_set: str | None = None  # End User Messaging; None: SNS Publish

    @classmethod
    def from_env(cls) -> Outbox:
        found = settings.outbox()
        return cls(
            letters_bucket=found.letters_bucket,
            calls_queue_url=found.calls_queue,
            configuration_set=found.configuration_set,
            unsubscribe_base_url=found.unsubscribe_base_url,
            sms_configuration_set=found.sms_configuration_set or None,
        )


@dataclass(frozen=True)
class Sent:
    provider_message_id: str
    template: str
    language: str
    segments: int | None = None


class BeingSent(RuntimeError):
    """Another delivery of this request holds its message's claim (its lease has not run out): try again later."""


class DeliveryBatch(SetAtATime):
    """A consumer batch of requests, set at a time: its messages are claimed together before the first is sent and
    the sent ones marked together (a TransactWriteItems each for up to 100 messages, not a write per message and
    step); SES's SendEmail stays one call per message. A message the batch could not claim or mark is claimed or
    marked on its own; one whose mark could not be written at all returns to the queue unannounced.
    A batch's claims are leases ('claimed', ``message_records.CLAIM_LEASE``): if the batch dies before sending a
    message, the request's redelivery takes the message over and sends it.

    The sent messages are marked as the batch goes, whenever the oldest unmarked one has waited ``MARK_EVERY``
    seconds, and the rest after the last: a batch of 100 sends for a second or more, and a message's delivery
    notice can come back within one, before its mark. A message whose outcome got there first keeps its status and
    gets its fields in one more shared request (``message_records.fill_many``), not two UpdateItems of its own."""

    MARK_EVERY = 0.5  # seconds: the delivery notices of the local SES come after 0.5-1.5 s, AWS's after seconds

    def __init__(self) -> None:
        self.claims: dict[str, dict[str, Any] | None] = {}  # message id → the record claimed; None: it existed
        self.sent: dict[str, tuple[str, dict[str, Any]]] = {}  # message id → (its cause's event id, record to write)
        self.unfinished: set[str] = set()  # the causes whose message could not be marked
        self._since: float | None = None  # when the oldest message in ``sent`` was sent (monotonic)

    def prepare(self, events: list[Any]) -> None:
        items: dict[str, dict[str, Any]] = {}
        for event in events:
            if isinstance(event, ContactActionRequested) and event.debtor_message is not None:
                item = message_records.claim_item(_record(event, event.debtor_message), status="claimed")
                items.setdefault(str(item["message_id"]), item)
        for (message_id, item), claimed in zip(
            items.items(), message_records.claim_many(list(items.values())), strict=True
        ):
            if claimed is not None:
                self.claims[message_id] = item if claimed else None

    def was_sent(self, message_id: str, cause: str, item: dict[str, Any]) -> None:
        """A claimed message went out: it is marked with the batch's next marks (now, if they are due)."""
        self.sent[message_id] = (cause, item)
        now = _now()
        if self._since is None:
            self._since = now
        if now - self._since >= self.MARK_EVERY:
            self._mark()

    def finish(self) -> set[str]:
        self._mark()
        return self.unfinished

    def _mark(self) -> None:
        ids, self._since = list(self.sent), None
        sent, self.sent = self.sent, {}
        if not ids:
            return
        # one line for the messages this mark writes, not one a message (a crash loses at most MARK_EVERY's worth)
        log.info(
            "messages sent",
            extra={
                "message_ids": ids,
                "count": len(ids),
                "correlation_ids": sorted({str(sent[m][1].get("correlation_id")) for m in ids}),
            },
        )
        results: list[bool | None]
        try:
            results = message_records.mark_many([sent[m][1] for m in ids])
        except Exception:
            log.exception("marking the batch's messages failed; each is marked on its own")
            results = [None] * len(ids)
        early = [m for m, written in zip(ids, results, strict=True) if written is False]
        filled: dict[str, bool | None] = {}
        if early:  # their status moved on from 'claimed': an outcome got there first, its status stays
            try:
                fields = [(m, {k: sent[m][1].get(k) for k in _SENT_FIELDS}) for m in early]
                filled = dict(zip(early, message_records.fill_many(fields), strict=True))
            except Exception:
                log.exception("filling in the early-delivered messages failed; each is marked on its own")
        for message_id, written in zip(ids, results, strict=True):
            if written or filled.get(message_id):
                continue
            cause, item = sent[message_id]
            try:  # the batch's writes did not go through, or the record is in an unexpected state: on its own
                message_records.mark_sent(message_id, str(item["status"]), **{k: item.get(k) for k in _SENT_FIELDS})
            except Exception:
                log.exception("a sent message could not be marked", extra={"message_id": message_id})
                self.unfinished.add(cause)


_SENT_FIELDS = ("provider_message_id", "template", "language", "segments", "sent_at")


def _record(event: ContactActionRequested, message: DebtorMessage) -> dict[str, Any]:
    """The message record a request makes (its id derived from the request, so a redelivery finds it)."""
    recipient = event.contact_point_value
    return {
        "message_id": message_records.message_id_for(event.event_id, message.kind, recipient),
        "kind": message.kind,
        "channel": event.action,
        "recipient": recipient,
        "client_id": event.client_id,
        "case_id": event.case_id,
        "case_owner_id": event.case_owner_id,
        "contact_point_id": event.contact_point_id,
        "cause_event_id": event.event_id,
        "cause_type": event.DETAIL_TYPE,
        "correlation_id": event.correlation_id,
    }


def _claim(record: dict[str, Any], batch: DeliveryBatch | None) -> tuple[bool, dict[str, Any] | None]:
    """Whether this request claimed its message now, and the record as claimed when its batch claimed it."""
    message_id = str(record["message_id"])
    if batch is not None and message_id in batch.claims:
        item = batch.claims.pop(message_id)  # a second copy of the request in the batch claims on its own (and fails)
        return item is not None, item
    return message_records.claim(record), None


def deliver(event: ContactActionRequested, outbox: Outbox | None = None) -> str | None:
    """The message id of the delivered (or refused) message; None when this request was delivered before."""
    if event.debtor_message is None:
        raise ValueError("deliver() needs a debtor message; the collector's free text goes through on_contact_action")
    outbox = outbox or Outbox.from_env()
    message = event.debtor_message
    record = _record(event, message)
    message_id = str(record["message_id"])
    batch = batch_steps(DeliveryBatch)
    claimed, claimed_item = _claim(record, batch)
    if not claimed:
        existing = message_records.get(message_id) or {}
        if existing.get("status") == "claimed":  # a batch's claim: its batch may be sending it right now
            if not message_records.take_over(message_id):
                raise BeingSent(f"message {message_id} is claimed by another delivery; SQS tries again later")
        elif existing.get("status") != "retrying":
            log.info("already delivered", extra={"message_id": message_id, "status": existing.get("status")})
            _announce_again(event, existing)
            return None
        else:
            message_records.mark(message_id, "sending")
    try:
        sent = _send(event, message, message_id, outbox)
    except channels.Throttled as error:
        # Left for SQS to retry later; after the queue's last retry the request is in the DLQ, its reason here.
        message_records.mark(message_id, "retrying", reason_code="throttled", reason=str(error))
        log.warning("provider throttled", extra={"message_id": message_id, "reason": str(error)})
        raise
    except tuple(_REFUSALS) as error:
        code = next(c for t, c in _REFUSALS.items() if isinstance(error, t))
        message_records.mark(message_id, "failed", reason_code=code, reason=str(error))
        log.warning("message refused", extra={"message_id": message_id, "reason_code": code, "reason": str(error)})
        bus.publish([_failed(event, message_id, code, str(error))])
        return message_id
    except Exception:
        message_records.release(message_id)  # unknown failure: let the retry send it
        raise
    sent_at = datetime.now(UTC)
    status = "queued" if event.action in ("letter", "call") else "sent"
    fields = sent_fields(sent, sent_at)
    if batch is not None and claimed_item is not None:  # written whole with the batch's, before it is announced
        batch.was_sent(message_id, event.event_id, {**claimed_item, "status": status, **_present(fields)})
    else:
        message_records.mark(message_id, status, **fields)
    # SES's configuration-set events and End User Messaging's carry our tag (the message id) and need no
    # pointer; SES's identity notifications and the SNS fallback (SMS on the local stack) only carry its id.
    if not _tagged_outcomes(event.action, outbox):
        message_records.link_provider_id(sent.provider_message_id, message_id)
    bus.publish([_sent(event, {**record, **sent_fields(sent, sent_at)})])
    if batch is None or claimed_item is None:  # a batch's messages are logged with its marks, several a line
        log.info("message sent", extra={"message_id": message_id, "kind": message.kind, "channel": event.action})
    return message_id


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _tagged_outcomes(channel: str, outbox: Outbox) -> bool:
    """Whether the provider's outcome events for this channel carry our tags (the message id)."""
    return (
        bool(outbox.configuration_set)
        if channel == "email"
        else channel == "sms" and bool(outbox.sms_configuration_set)
    )


def sent_fields(sent: Sent, sent_at: datetime) -> dict[str, Any]:
    return {
        "provider_message_id": sent.provider_message_id,
        "template": sent.template,
        "language": sent.language,
        "segments": sent.segments,
        "sent_at": sent_at.isoformat(),
    }


def _event_id(message_id: str, what: str) -> str:
    """An announcement's id, derived from the message: announcing it again gives the same event."""
    return str(uuid.uuid5(_NAMESPACE, f"{message_id}|{what}"))


def _sent(event: ContactActionRequested, record: dict[str, Any]) -> MessageSent:
    segments = record.get("segments")
    return MessageSent(
        event_id=_event_id(str(record["message_id"]), "sent"),
        correlation_id=event.correlation_id,
        message_id=str(record["message_id"]),
        client_id=event.client_id,
        case_id=event.case_id,
        case_owner_id=event.case_owner_id,
        contact_point_id=event.contact_point_id,
        channel=event.action,
        provider_message_id=str(record["provider_message_id"]),
        kind=str(record["kind"]),
        recipient=str(record["recipient"]),
        template=str(record["template"]),
        language=str(record["language"]),
        cause_event_id=event.event_id,
        sent_at=datetime.fromisoformat(str(record["sent_at"])),
        segments=int(segments) if segments is not None else None,
        traced_data=event.traced_data,
    )


def _announce_again(event: ContactActionRequested, record: dict[str, Any]) -> None:
    """The announcement of a message this request already produced: sent (whatever became of it since), or
    refused for good; a message still being sent is announced by the delivery sending it."""
    if record.get("sent_at") and record.get("provider_message_id"):
        bus.publish([_sent(event, record)])
    elif record.get("status") == "failed" and record.get("reason_code"):
        message_id = str(record["message_id"])
        bus.publish([_failed(event, message_id, str(record["reason_code"]), str(record.get("reason", "")))])


def _data(event: ContactActionRequested, message: DebtorMessage, message_id: str, outbox: Outbox) -> dict[str, Any]:
    language, data = messages.debtor_data(message, custom_text=event.message, subject=event.subject)
    if not data["unsubscribe_url"]:
        data["unsubscribe_url"] = f"{outbox.unsubscribe_base_url}?m={message_id}"
    data["language_chosen"] = language
    return data


def _send(event: ContactActionRequested, message: DebtorMessage, message_id: str, outbox: Outbox) -> Sent:
    data = _data(event, message, message_id, outbox)
    language = str(data.pop("language_chosen"))
    kind = message.kind
    if event.action == "email":
        rendered = messages.email(kind, language, data, message.sender)
        provider_id = channels.send_email(
            sender_name=message.sender.name,
            sender_email=message.sender.email,
            reply_to=message.sender.reply_to,
            to=event.contact_point_value,
            rendered=rendered,
            headers=channels.list_unsubscribe(data["unsubscribe_url"], message.sender.reply_to or message.sender.email),
            tags={"message_id": message_id, "kind": kind},
            configuration_set=outbox.configuration_set,
        )
        return Sent(provider_id, rendered.template, rendered.language)
    if event.action == "sms":
        text_sms = rendering.render_sms(kind, language, data)
        text, cost = sms.checked(text_sms.text, message.max_sms_segments)
        provider_id = channels.send_sms(
            event.contact_point_value,
            text,
            configuration_set=outbox.sms_configuration_set,
            context={"message_id": message_id, "kind": kind},
        )
        return Sent(provider_id, text_sms.template, text_sms.language, cost.segments)
    if event.action == "letter":
        letter, pdf = letters.letter_pdf(kind, language, data)
        key = f"letters/{datetime.now(UTC):%Y-%m-%d}/{message_id}.pdf"
        metadata = {"message_id": message_id, "case_id": event.case_id or "", "kind": kind}
        channels.put_letter(outbox.letters_bucket, key, pdf, metadata)
        return Sent(key, letter.template, letter.language)
    # A call: the dialer gets who to call, about what, and in which language to greet.
    number = channels.valid_phone(event.contact_point_value)
    task = {
        "message_id": message_id,
        "phone": number,
        "kind": kind,
        "language": language,
        "case_id": event.case_id,
        "case_owner_id": event.case_owner_id,
        "debtor_name": message.debtor_name,
        "creditor": message.creditor.legal_name,
    }
    provider_id = channels.queue_call(outbox.calls_queue_url, task)
    return Sent(provider_id, f"{language}/call", language)


def _failed(event: ContactActionRequested, message_id: str, code: str, reason: str) -> MessageFailed:
    return MessageFailed(
        event_id=_event_id(message_id, "failed"),
        correlation_id=event.correlation_id,
        message_id=message_id,
        case_id=event.case_id,
        case_owner_id=event.case_owner_id,
        contact_point_id=event.contact_point_id,
        channel=event.action,
        provider_message_id=None,
        reason_code=code,
        reason=reason,
    )
