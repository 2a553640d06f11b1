"""DynamoDB access for the notifications table.

Keys:
  CLIENT#<id>            PROFILE | OPERATIONAL#<email>   (own copy: sender and who gets automatic mail)
  DELIVERY#<cause_id>    <kind>#<recipient>              (one delivery per cause and recipient)
GSI1: OUTBOX#<kind> / <queued_at>: letters and calls waiting for the print service / call-centre connector.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Key

from services.notifications import settings
from shared import aws, dynamo, expiry
from shared.events import Sender


def _table() -> Any:
    return aws.table(settings.get().table)


def put_client(client_id: str, sender_email: str, sender: Sender | None = None) -> None:
    item: dict[str, Any] = {"PK": f"CLIENT#{client_id}", "SK": "PROFILE", "sender_email": sender_email}
    if sender is not None:
        item["sender"] = sender.model_dump_json()
    _table().put_item(Item=item)


def _profile(client_id: str) -> dict[str, Any] | None:
    item = _table().get_item(Key={"PK": f"CLIENT#{client_id}", "SK": "PROFILE"}).get("Item")
    return dict(item) if item else None


def sender_for(client_id: str) -> str | None:
    item = _profile(client_id)
    return str(item["sender_email"]) if item else None


def client_sender(client_id: str) -> Sender | None:
    """The client's business unit as contacts last announced it (None before the first such ClientRegistered)."""
    item = _profile(client_id)
    return Sender.model_validate_json(str(item["sender"])) if item and item.get("sender") else None


def add_operational_contact(client_id: str, email: str, language: str | None = None) -> None:
    item = {"PK": f"CLIENT#{client_id}", "SK": f"OPERATIONAL#{email}", "email": email}
    if language:
        item["language"] = language
    _table().put_item(Item=item)


def remove_operational_contact(client_id: str, email: str) -> None:
    _table().delete_item(Key={"PK": f"CLIENT#{client_id}", "SK": f"OPERATIONAL#{email}"})


def operational_contacts(client_id: str) -> list[tuple[str, str | None]]:
    """(e-mail, language) of each client user who gets the client's automatic e-mails."""
    query: dict[str, Any] = {
        "KeyConditionExpression": Key("PK").eq(f"CLIENT#{client_id}") & Key("SK").begins_with("OPERATIONAL#")
    }
    found: list[tuple[str, str | None]] = []
    while True:
        resp = _table().query(**query)
        found += [(str(i["email"]), i.get("language")) for i in resp["Items"]]
        if "LastEvaluatedKey" not in resp:
            return found
        query["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def claim_delivery(cause_id: str, kind: str, recipient: str, correlation_id: str) -> bool:
    """False when this cause already produced this delivery (sent, or being sent)."""
    return dynamo.put_new(
        _table(),
        {
            "PK": f"DELIVERY#{cause_id}",
            "SK": f"{kind}#{recipient}",
            "status": "sending",
            "correlation_id": correlation_id,
            "created_at": datetime.now(UTC).isoformat(),
            "expiration": expiry.expires("message_records", datetime.now(UTC)),  # a sent message: see shared.expiry
        },
    )


def pointer(case_owner_id: str, cause_id: str, kind: str, recipient: str) -> dict[str, Any]:
    """The item that makes a delivery findable by its debtor (on their partition, kept as long as the delivery)."""
    return {
        "PK": f"OWNER#{case_owner_id}",
        "SK": f"DELIVERY#{cause_id}#{kind}#{recipient}",
        "cause_id": cause_id,
        "kind": kind,
        "recipient": recipient,
        "expiration": expiry.expires("message_records", datetime.now(UTC)),
    }


def link_delivery(case_owner_id: str, cause_id: str, kind: str, recipient: str) -> None:
    """A debtor's delivery, findable by the debtor (a data subject's request): a pointer on their partition."""
    _table().put_item(Item=pointer(case_owner_id, cause_id, kind, recipient))


def link_deliveries_of(case_owner_id: str, cause_ids: list[str]) -> int:
    """Deliveries of the debtor's contacts (``cause_ids``: the ContactActionRequested events) recorded before each was
    linked to its debtor (``link_delivery``), linked now; returns how many were not linked yet."""
    linked = 0
    for cause_id in cause_ids:
        for delivery in dynamo.query_all(_table(), KeyConditionExpression=Key("PK").eq(f"DELIVERY#{cause_id}")):
            kind, _, recipient = str(delivery["SK"]).partition("#")
            linked += dynamo.put_new(_table(), pointer(case_owner_id, cause_id, kind, recipient))
    return linked


def owner_deliveries(case_owner_id: str) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Each pointer of ``link_delivery`` with its delivery (None when it is gone)."""
    pointers = dynamo.query_all(
        _table(), KeyConditionExpression=Key("PK").eq(f"OWNER#{case_owner_id}") & Key("SK").begins_with("DELIVERY#")
    )
    out = []
    for pointer in pointers:
        key = {"PK": f"DELIVERY#{pointer['cause_id']}", "SK": f"{pointer['kind']}#{pointer['recipient']}"}
        out.append((pointer, _table().get_item(Key=key).get("Item")))
    return out


def erase_deliveries(case_owner_id: str) -> int:
    """A data subject's erasure: their deliveries and the pointers to them."""
    found = owner_deliveries(case_owner_id)
    with _table().batch_writer() as batch:
        for pointer, delivery in found:
            if delivery is not None:
                batch.delete_item(Key={"PK": delivery["PK"], "SK": delivery["SK"]})
            batch.delete_item(Key={"PK": pointer["PK"], "SK": pointer["SK"]})
    return len(found)


def mark_sent(cause_id: str, kind: str, recipient: str, message_id: str) -> None:
    _table().update_item(
        Key={"PK": f"DELIVERY#{cause_id}", "SK": f"{kind}#{recipient}"},
        UpdateExpression="SET #s = :s, message_id = :m",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "sent", ":m": message_id},
    )


def mark_queued(cause_id: str, kind: str, recipient: str, request: dict[str, Any]) -> None:
    _table().update_item(
        Key={"PK": f"DELIVERY#{cause_id}", "SK": f"{kind}#{recipient}"},
        UpdateExpression="SET #s = :s, #r = :r, GSI1PK = :outbox, GSI1SK = :at",
        ExpressionAttributeNames={"#s": "status", "#r": "request"},
        ExpressionAttributeValues={
            ":s": "queued",
            ":r": request,
            ":outbox": f"OUTBOX#{kind}",
            ":at": datetime.now(UTC).isoformat(),
        },
    )


def outbox(kind: str) -> list[dict[str, Any]]:
    resp = _table().query(IndexName="GSI1", KeyConditionExpression=Key("GSI1PK").eq(f"OUTBOX#{kind}"))
    return list(resp["Items"])


def release_delivery(cause_id: str, kind: str, recipient: str) -> None:
    """Sending failed: drop the claim so the retry may send."""
    _table().delete_item(Key={"PK": f"DELIVERY#{cause_id}", "SK": f"{kind}#{recipient}"})
