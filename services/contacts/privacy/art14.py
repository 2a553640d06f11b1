"""GDPR Art. 14: a person whose data we obtained elsewhere (skip tracing) must be told so, at the latest at the first
communication with them, otherwise within one month of obtaining it (Art. 14(3)(a),(b)).

Each traced contact point puts a notice item on its client's partition. The debtor templates do not carry the
notice, so the agency gives it (a letter, a call) and records it (``POST /case-owners/{id}/art14-notice``, with the
evidence, audited), which takes the person's items away. A message sent to the person before that makes the notice
due at once (it had to go with the first communication, Art. 14(3)(b)). The report lists what is still owed, the
overdue first.

Keys (contacts table):
  CLIENT#<client_id>   ART14#<case_owner_id>#<contact_point_id>   a traced point whose notice is still owed
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Key

from services.contacts import store
from services.contacts.cases import audit, repository
from services.contacts.cases.repository import Tx
from services.contacts.clients import use_cases as clients
from services.contacts.identity import Identity
from services.contacts.privacy import models
from services.contacts.privacy.subject_access import one_month_after
from shared.errors import Forbidden, NotFound
from shared.events import ContactPointsTraced, MessageSent


def _pk(client_id: str) -> str:
    return f"CLIENT#{client_id}"


def owed(event: ContactPointsTraced, added: list[dict[str, Any]]) -> None:
    """The notice each newly traced point of ``event`` owes (``added``: its stored points)."""
    with store.table().batch_writer() as batch:
        for point in added:
            batch.put_item(
                Item={
                    "PK": _pk(event.client_id),
                    "SK": f"ART14#{event.case_owner_id}#{point['contact_point_id']}",
                    "case_owner_id": event.case_owner_id,
                    "case_id": event.case_id,
                    "contact_point_id": point["contact_point_id"],
                    "type": point["type"],
                    "provider": event.provider,
                    "obtained_at": event.obtained_at.isoformat(),
                    "notice_due_on": one_month_after(event.obtained_at.date()).isoformat(),
                }
            )


def _items(client_id: str, case_owner_id: str | None = None) -> list[dict[str, Any]]:
    prefix = f"ART14#{case_owner_id}#" if case_owner_id else "ART14#"
    return store.query_all(
        KeyConditionExpression=Key("PK").eq(_pk(client_id)) & Key("SK").begins_with(prefix), ConsistentRead=True
    )


def contacted(event: MessageSent) -> None:
    """A message reached the person: the notice of every point obtained before it was due then at the latest."""
    if event.client_id is None or event.case_owner_id is None:
        return
    if event.traced_data is False:
        return  # the person had no traced point when the message was decided: no notice is owed (no read)
    for item in _items(event.client_id, event.case_owner_id):
        if datetime.fromisoformat(str(item["obtained_at"])) <= event.sent_at and not item.get("first_contact_at"):
            due = min(str(item["notice_due_on"]), event.sent_at.date().isoformat())
            store.table().update_item(
                Key={"PK": item["PK"], "SK": item["SK"]},
                UpdateExpression="SET first_contact_at = :at, notice_due_on = :due",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues={":at": event.sent_at.isoformat(), ":due": due},
            )


def record_given(
    case_owner_id: str, body: models.Art14GivenIn, who: Identity, correlation_id: str
) -> models.Art14Given:
    """The agency gave the person the notice: their items go, the audit keeps how and when."""
    if not who.is_agency:
        raise Forbidden("only the agency records a data-protection notice")
    owner = repository.get_owner(case_owner_id)
    if owner is None:
        raise NotFound("case_owner", case_owner_id)
    items = _items(owner.client_id, case_owner_id)
    tx = Tx()
    for item in items[:90]:  # a transaction holds 100 items; a person has a handful of traced points
        tx.delete({"PK": str(item["PK"]), "SK": str(item["SK"])})
    tx.audit(
        audit.entry(
            case_owner_id,
            audit.Actor.of(who),
            "art14.notice_given",
            target_type="case_owner",
            target_id=case_owner_id,
            after={
                "contact_points": [str(i["contact_point_id"]) for i in items],
                "given_on": body.given_on.isoformat(),
            },
            why={"evidence": body.evidence},
            correlation_id=correlation_id,
        )
    )
    tx.commit()
    return models.Art14Given(case_owner_id=case_owner_id, notices_cleared=len(items), given_on=body.given_on)


def forget(client_id: str, case_owner_id: str) -> int:
    """An erased person owes no notice any more."""
    items = _items(client_id, case_owner_id)
    with store.table().batch_writer() as batch:
        for item in items:
            batch.delete_item(Key={"PK": item["PK"], "SK": item["SK"]})
    return len(items)


def report(client_id: str, who: Identity, at: datetime | None = None) -> models.Art14Report:
    """GET /clients/{id}/art14-notices: the people whose traced data still needs the notice, the overdue first."""
    clients.get_client(client_id, who)
    today = (at or datetime.now(UTC)).date()
    notices = [
        models.Art14Notice.model_validate({**store.clean(i), "overdue": str(i["notice_due_on"]) < today.isoformat()})
        for i in _items(client_id)
    ]
    notices.sort(key=lambda n: (n.notice_due_on, n.case_owner_id))
    return models.Art14Report(client_id=client_id, as_of=today, notices=notices)
