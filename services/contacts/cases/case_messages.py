"""The messages of a case as contacts shows them (GET /cases/{id}/messages): a read model kept from
notifications' events. Contacts never reads notifications' table; notifications announces each message it sent
(MessageSent, with kind, channel, recipient, template, language, cause and the provider's id) and each outcome
(MessageDelivered, MessageBounced, MessageComplained, SmsFailed, MessageFailed, OptOutReceived).

Each event is an item of its own, ``CASE#<case_id>`` / ``MSG#<message_id>#<event_id>``, written blind: a redelivered
event puts the same item again, and no two events share one, so nothing is read before a write and no write has a
condition to lose (a consumer batch's events go out in BatchWriteItem, 25 a request; at-least-once delivery needs no
idempotency record: ``shared.consumer.rerunnable``). The reader merges a message's items (``merged``): the status
only moves forward (sent < delivered < bounced/failed < complained), the fields are applied in the order the events
occurred, so events arriving in any order give one answer.

Before, a message was one item, ``MSG#<message_id>``, read and rewritten whole by every batch that had an event of
it (two reads and two transaction items a reminder: its MessageSent and its delivery usually arrive in different
batches). Those items stay readable: an old item is the base its message's newer event items are merged onto.
"""

from __future__ import annotations

import time
from typing import Any

from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import TypeSerializer

from services.contacts import store
from services.contacts.cases import domain
from services.contacts.cases.models import CaseMessage
from services.contacts.cases.use_cases import case_item
from services.contacts.identity import Identity
from services.contacts.models import Page
from shared import aws
from shared.consumer import SetAtATime, batch_steps
from shared.events import (
    MessageBounced,
    MessageComplained,
    MessageDelivered,
    MessageFailed,
    MessageSent,
    OptOutReceived,
    SmsFailed,
)

_serialize = TypeSerializer().serialize
Outcome = MessageDelivered | MessageBounced | MessageComplained | SmsFailed | MessageFailed | OptOutReceived
_EVENT_STATUS, _OCCURRED_AT, _EVENT_ID = domain.MESSAGE_EVENT_STATUS, domain.MESSAGE_EVENT_AT, domain.MESSAGE_EVENT_ID
merged = domain.merged_messages
BATCH_WRITE_ITEMS = 25  # DynamoDB's limit per BatchWriteItem
_UNPROCESSED_TRIES = 5


Change = tuple[str, str, dict[str, Any], str | None]  # case id, message id, fields, status (None: fields only)


def event_item(event_id: str, occurred_at: str, change: Change) -> dict[str, Any]:
    """The item an event's change is kept in: its own key (the event id), so writing it again changes nothing."""
    case_id, message_id, fields, status = change
    item = {
        "PK": f"CASE#{case_id}",
        "SK": f"MSG#{message_id}#{event_id}",
        **fields,
        _EVENT_ID: event_id,
        _OCCURRED_AT: occurred_at,
    }
    if status is not None:
        item[_EVENT_STATUS] = status
    return item


def _item_of(event: Any) -> dict[str, Any] | None:
    change = change_of(event)
    if change is None:
        return None
    return event_item(event.event_id, event.occurred_at.isoformat(), change)


def put_all(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Put the items in BatchWriteItem requests (25 each), again for what DynamoDB left unprocessed, a few times;
    the items it never took are returned (their events write on their own)."""
    client, name = aws.client("dynamodb"), store.table_name()
    left: list[dict[str, Any]] = []
    for n in range(0, len(items), BATCH_WRITE_ITEMS):
        chunk = items[n : n + BATCH_WRITE_ITEMS]
        requests = [{"PutRequest": {"Item": {k: _serialize(v) for k, v in i.items()}}} for i in chunk]
        for attempt in range(_UNPROCESSED_TRIES):
            if attempt:
                time.sleep(0.05 * 2**attempt)  # DynamoDB left some out: it is busy, back off
            response = client.batch_write_item(RequestItems={name: requests})
            requests = (response.get("UnprocessedItems") or {}).get(name) or []
            if not requests:
                break
        unprocessed = {(r["PutRequest"]["Item"]["PK"]["S"], r["PutRequest"]["Item"]["SK"]["S"]) for r in requests}
        left.extend(i for i in chunk if (i["PK"], i["SK"]) in unprocessed)
    return left


class Batch(SetAtATime):
    """A consumer batch of message events, set at a time: every event's item in BatchWriteItem (25 a request)
    before the records run, instead of a PutItem each; a record whose item is written has nothing left to do."""

    def __init__(self) -> None:
        self.done: set[str] = set()  # the events whose item is written

    def prepare(self, events: list[Any]) -> None:
        items = {(i["PK"], i["SK"]): i for e in events if (i := _item_of(e)) is not None}
        if not items:
            return
        left = {(i["PK"], i["SK"]) for i in put_all(list(items.values()))}
        self.done |= {str(i[_EVENT_ID]) for key, i in items.items() if key not in left}


def _put_one(event: Any) -> None:
    batch = batch_steps(Batch)
    if batch is not None and event.event_id in batch.done:
        return
    item = _item_of(event)
    if item is not None:
        store.table().put_item(Item=item)


def change_of(event: Any) -> Change | None:
    """The change an event makes to its case's message (None: a message about no case, or another event)."""
    if isinstance(event, MessageSent):
        return _sent_change(event)
    if isinstance(event, Outcome):
        return _outcome_change(event)
    return None


def on_message_sent(event: MessageSent) -> None:
    _put_one(event)


def on_outcome(event: Outcome) -> None:
    _put_one(event)


def _sent_change(event: MessageSent) -> Change | None:
    if event.case_id is None:
        return None  # messages to client users (invitations, import reports) belong to no case
    fields = {
        "message_id": event.message_id,
        "case_id": event.case_id,
        "case_owner_id": event.case_owner_id,
        "kind": event.kind,
        "channel": event.channel,
        "recipient": event.recipient,
        "contact_point_id": event.contact_point_id,
        "template": event.template,
        "language": event.language,
        "cause_event_id": event.cause_event_id,
        "provider_message_id": event.provider_message_id,
        "sent_at": event.sent_at.isoformat(),
        "segments": event.segments,
    }
    return (
        event.case_id,
        event.message_id,
        {k: v for k, v in fields.items() if v is not None},
        "queued" if event.channel in ("letter", "call") else "sent",
    )


def _outcome_change(event: Outcome) -> Change | None:
    if event.case_id is None:
        return None
    fields: dict[str, Any] = {"message_id": event.message_id, "case_id": event.case_id, "channel": event.channel}
    status: str | None
    if isinstance(event, MessageDelivered):
        status, fields["delivered_at"] = "delivered", event.occurred_at.isoformat()
    elif isinstance(event, MessageBounced):
        status = "bounced" if event.bounce_type == "permanent" else None
        fields["outcome"] = f"{event.bounce_type} bounce" + (f": {event.diagnostic}" if event.diagnostic else "")
    elif isinstance(event, MessageComplained):
        status, fields["outcome"] = "complained", "the recipient marked it as spam"
    elif isinstance(event, SmsFailed):
        status, fields["outcome"] = "sms_failed", event.reason or "not delivered"
    elif isinstance(event, MessageFailed):
        status, fields["outcome"] = "failed", f"{event.reason_code}: {event.reason}"
    else:
        status, fields["opt_out"] = None, event.keyword
    if event.provider_message_id:
        fields["provider_message_id"] = event.provider_message_id
    return event.case_id, event.message_id, fields, status


def list_messages(case_id: str, who: Identity, limit: int = 100) -> Page[CaseMessage]:
    case_item(case_id, who, change=False)  # 404 unless the caller may see the case
    items = store.query_all(KeyConditionExpression=Key("PK").eq(f"CASE#{case_id}") & Key("SK").begins_with("MSG#"))
    messages = [CaseMessage.model_validate(store.clean(m)) for m in merged(items)]
    messages.sort(key=lambda m: m.sent_at or "", reverse=True)
    return Page[CaseMessage](items=messages[:limit])
