"""The messages of a case as contacts shows them (GET /cases/{id}/messages): a read model kept from
notifications' events. Contacts never reads notifications' table; notifications announces each message it sent
(MessageSent, with kind, channel, recipient, template, language, cause and the provider's id) and each outcome
(MessageDelivered, MessageBounced, MessageComplained, SmsFailed, MessageFailed, OptOutReceived).

Events may arrive in any order (an outcome before its MessageSent): every write is an upsert of its own fields,
and the status only moves forward (sent < delivered < bounced/failed < complained). So a redelivered event may
simply run again: the consumer keeps no idempotency record for these (``shared.consumer.rerunnable``).

Set at a time (``Batch``): a consumer batch's messages are read in one BatchGetItem, each message's events applied
to it in order here, and the messages written back whole in as few TransactWriteItems as fit, each only if nobody
wrote it since it was read (its ``version``, which every write moves on). A message whose write lost that race is
upserted on its own by its records, as before.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from services.contacts import store
from services.contacts.cases.models import CaseMessage
from services.contacts.cases.use_cases import case_item
from services.contacts.identity import Identity
from services.contacts.models import Page
from shared import aws, dynamo
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

_serialize, _deserialize = TypeSerializer().serialize, TypeDeserializer().deserialize
RANK = {"queued": 1, "sent": 1, "delivered": 2, "bounced": 3, "sms_failed": 3, "failed": 3, "complained": 4}
Outcome = MessageDelivered | MessageBounced | MessageComplained | SmsFailed | MessageFailed | OptOutReceived


def _key(case_id: str, message_id: str) -> dict[str, str]:
    return {"PK": f"CASE#{case_id}", "SK": f"MSG#{message_id}"}


Change = tuple[str, str, dict[str, Any], str | None]  # case id, message id, fields, status (None: fields only)


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
                UpdateExpression="SET " + ", ".join([*sets, "#s = :s", "#r = :r"]) + " ADD #v :one",
                ConditionExpression="attribute_not_exists(#r) OR #r < :r",
                ExpressionAttributeNames={**names, "#s": "status", "#r": "status_rank", "#v": "version"},
                ExpressionAttributeValues={**values, ":s": status, ":r": RANK[status], ":one": 1},
            )
            return
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
    table.update_item(
        Key=_key(case_id, message_id),
        UpdateExpression="SET " + ", ".join(sets) + " ADD #v :one",
        ExpressionAttributeNames={**names, "#v": "version"},
        ExpressionAttributeValues={**values, ":one": 1},
    )


def _apply(item: dict[str, Any], change: Change) -> None:
    """``_upsert`` on an item in memory."""
    _, _, fields, status = change
    item.update(fields)
    if status is not None and ("status_rank" not in item or int(item["status_rank"]) < RANK[status]):
        item["status"], item["status_rank"] = status, RANK[status]


class Batch(SetAtATime):
    """A consumer batch of message events, set at a time (see the module's docstring): one BatchGetItem and one
    TransactWriteItems for up to 100 messages, instead of one or two UpdateItem per event."""

    def __init__(self) -> None:
        self.done: set[str] = set()  # the events whose change is written

    def prepare(self, events: list[Any]) -> None:
        # each message's changes in the batch's order, found by key (a scan of all changes per message was quadratic:
        # a batch of v2 events carries thousands)
        by_key: dict[tuple[str, str], list[tuple[str, Change]]] = {}
        for e in events:
            if (c := change_of(e)) is not None:
                by_key.setdefault((c[0], c[1]), []).append((e.event_id, c))
        keys = list(by_key)
        if len(keys) < 2:
            return  # one message: its own upsert is one request, the batch's would be two
        client, name = aws.client("dynamodb"), store.table_name()
        read = {
            (str(i["PK"]).removeprefix("CASE#"), str(i["SK"]).removeprefix("MSG#")): i
            for i in (
                {k: _deserialize(v) for k, v in raw.items()}
                for raw in dynamo.batch_get(client, name, [_serialized(_key(*k)) for k in keys])
            )
        }
        groups, causes = [], []
        for key in keys:
            before = read.get(key)
            item: dict[str, Any] = dict(before) if before is not None else dict(_key(*key))
            mine = by_key[key]
            for _, change in mine:
                _apply(item, change)
            version = int(before.get("version", 0)) if before is not None else 0
            item["version"] = version + 1
            if before is None:
                condition, values = "attribute_not_exists(PK)", None
            elif "version" in before:
                condition, values = "#v = :v", {":v": version}
            else:
                condition, values = "attribute_exists(PK) AND attribute_not_exists(#v)", None
            op: dict[str, Any] = {
                "TableName": name,
                "Item": _serialized(item),
                "ConditionExpression": condition,
            }
            if "#v" in condition:
                op["ExpressionAttributeNames"] = {"#v": "version"}
            if values:
                op["ExpressionAttributeValues"] = _serialized(values)
            groups.append([{"Put": op}])
            causes.append({event_id for event_id, _ in mine})
        for written, events_of_key in zip(
            dynamo.write_groups(groups, dynamo.transact(aws.client("dynamodb"))), causes, strict=True
        ):
            if written is None:
                self.done |= events_of_key


def _serialized(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _serialize(v) for k, v in item.items()}


def _written_by_the_batch(event_id: str) -> bool:
    batch = batch_steps(Batch)
    return batch is not None and event_id in batch.done


def change_of(event: Any) -> Change | None:
    """The change an event makes to its case's message (None: a message about no case, or another event)."""
    if isinstance(event, MessageSent):
        return _sent_change(event)
    if isinstance(event, Outcome):
        return _outcome_change(event)
    return None


def on_message_sent(event: MessageSent) -> None:
    change = _sent_change(event)
    if change is not None and not _written_by_the_batch(event.event_id):
        _upsert(*change)


def on_outcome(event: Outcome) -> None:
    change = _outcome_change(event)
    if change is not None and not _written_by_the_batch(event.event_id):
        _upsert(*change)


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
    messages = [CaseMessage.model_validate(store.clean(i)) for i in items]
    messages.sort(key=lambda m: m.sent_at or "", reverse=True)
    return Page[CaseMessage](items=messages[:limit])
