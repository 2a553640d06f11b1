"""The messages of a case as contacts shows them (GET /cases/{id}/messages): a read model kept from
notifications' events. Contacts never reads notifications' table; notifications announces each message it sent
(MessageSent, with kind, channel, recipient, template, language, cause and the provider's id) and each outcome
(MessageDelivered, MessageBounced, MessageComplained, SmsFailed, MessageFailed, OptOutReceived).

Events may arrive in any order (an outcome before its MessageSent): every write is an upsert of its own fields,
and the status only moves forward (sent < delivered < bounced/failed < complained). So a redelivered event may
simply run again: the consumer keeps no idempotency record for these (``shared.consumer.rerunnable``).
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from services.contacts import store
from services.contacts.cases.models import CaseMessage
from services.contacts.cases.use_cases import case_item
from services.contacts.identity import Identity
from services.contacts.models import Page
from shared.events import (
    MessageBounced,
    MessageComplained,
    MessageDelivered,
    MessageFailed,
    MessageSent,
    OptOutReceived,
    SmsFailed,
)

RANK = {"queued": 1, "sent": 1, "delivered": 2, "bounced": 3, "sms_failed": 3, "failed": 3, "complained": 4}
Outcome = MessageDelivered | MessageBounced | MessageComplained | SmsFailed | MessageFailed | OptOutReceived


def _key(case_id: str, message_id: str) -> dict[str, str]:
    return {"PK": f"CASE#{case_id}", "SK": f"MSG#{message_id}"}


def _upsert(case_id: str, message_id: str, fields: dict[str, Any], status: str | None) -> None:
    """Set ``fields`` and, if it moves the status forward, the status: one request when it does (the usual case:
    a MessageSent, then its delivery), a second one for the fields alone when it does not (a late "delivered"
    never hides a bounce or a complaint, and a redelivered event changes nothing)."""
    names = {f"#f{i}": k for i, k in enumerate(fields)}
    values: dict[str, Any] = {f":f{i}": v for i, v in enumerate(fields.values())}
    sets = [f"#f{i} = :f{i}" for i in range(len(fields))]
    table = store.table()
    if status is not None:
        try:
            table.update_item(
                Key=_key(case_id, message_id),
                UpdateExpression="SET " + ", ".join([*sets, "#s = :s", "#r = :r"]),
                ConditionExpression="attribute_not_exists(#r) OR #r < :r",
                ExpressionAttributeNames={**names, "#s": "status", "#r": "status_rank"},
                ExpressionAttributeValues={**values, ":s": status, ":r": RANK[status]},
            )
            return
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
    table.update_item(
        Key=_key(case_id, message_id),
        UpdateExpression="SET " + ", ".join(sets),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def on_message_sent(event: MessageSent) -> None:
    if event.case_id is None:
        return  # messages to client users (invitations, import reports) belong to no case
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
    _upsert(
        event.case_id,
        event.message_id,
        {k: v for k, v in fields.items() if v is not None},
        "queued" if event.channel in ("letter", "call") else "sent",
    )


def on_outcome(event: Outcome) -> None:
    if event.case_id is None:
        return
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
    _upsert(event.case_id, event.message_id, fields, status)


def list_messages(case_id: str, who: Identity, limit: int = 100) -> Page[CaseMessage]:
    case_item(case_id, who, change=False)  # 404 unless the caller may see the case
    items = store.query_all(KeyConditionExpression=Key("PK").eq(f"CASE#{case_id}") & Key("SK").begins_with("MSG#"))
    messages = [CaseMessage.model_validate(store.clean(i)) for i in items]
    messages.sort(key=lambda m: m.sent_at or "", reverse=True)
    return Page[CaseMessage](items=messages[:limit])
