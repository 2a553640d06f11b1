"""DynamoDB access for the contact policy (contacts table; see ``store`` for the other keys).

Keys:
  OWNER#<id>   POLICY#HISTORY            the contacts and conversations that still count (one item: its
                                         ``revision`` is the lock that makes count-and-decide one conditional write)
  OWNER#<id>   POLICY#HOLD#<hold_id>     a hold (who, when, why, evidence, expiry, end)
  OWNER#<id>   POLICY#POINT#<cp_id>      the debtor's wishes on one contact point: opt-outs, consents, SMS failures,
                                         work phone, transient bounces
  OWNER#<id>   POLICY#TIMES              the times the debtor named as inconvenient
  OWNER#<id>   PEVENT#<event_id>         a delivery outcome already applied (consumers are idempotent)
  CASE#<id>    ACTION#<action_id>        one contact asked for: allowed, deferred, refused or released, its outcome
  CLIENT#<id>  CONTACT_POLICY            the client's own contact rules
GSI1: DEFERRED / <due_at>#<action_id> lists deferred automatic contacts by the time they may go.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from services.contacts import store
from services.contacts.cases.repository import Tx, WriteConflict
from services.contacts.policy import rules
from shared.events import new_id

__all__ = ["Tx", "WriteConflict"]

HISTORY_SK = "POLICY#HISTORY"
TIMES_SK = "POLICY#TIMES"
DEFERRED = "DEFERRED"


def owner_pk(case_owner_id: str) -> str:
    return f"OWNER#{case_owner_id}"


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


# ---- the policy items of one case owner, read at once ------------------------------------------------------


class OwnerPolicy:
    """Everything the gate needs about a case owner's wishes and past, from one query."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        by_sk = {str(i["SK"]): i for i in items}
        history = by_sk.get(HISTORY_SK)
        self.history_revision = int(history.get("revision", 0)) if history else 0
        self.history = history_from(history)
        self.holds = tuple(hold_from(i) for sk, i in by_sk.items() if sk.startswith("POLICY#HOLD#"))
        times = by_sk.get(TIMES_SK)
        self.inconvenient = tuple(times_from(times.get("times", []))) if times else ()
        self.points = {sk.removeprefix("POLICY#POINT#"): i for sk, i in by_sk.items() if sk.startswith("POLICY#POINT#")}


def owner_policy(case_owner_id: str) -> OwnerPolicy:
    items = store.query_all(
        KeyConditionExpression=Key("PK").eq(owner_pk(case_owner_id)) & Key("SK").begins_with("POLICY#"),
        ConsistentRead=True,
    )
    return OwnerPolicy(items)


# ---- history ------------------------------------------------------------------------------------------------


def history_from(item: dict[str, Any] | None) -> rules.History:
    if not item:
        return rules.History()
    attempts = tuple(
        rules.Attempt(
            datetime.fromisoformat(str(a["at"])),
            str(a["channel"]),
            str(a["case_id"]),
            str(a["contact_point_id"]),
            str(a["action_id"]),
            bool(a.get("counted", True)),
            bool(a.get("at_work", False)),
            str(a["retry_of"]) if a.get("retry_of") else None,
        )
        for a in item.get("attempts", [])
    )
    conversations = tuple(
        (datetime.fromisoformat(str(c["at"])), str(c["case_id"])) for c in item.get("conversations", [])
    )
    return rules.History(attempts, conversations)


def history_fields(history: rules.History, revision: int) -> dict[str, Any]:
    return {
        "attempts": [
            store.drop_none(
                {
                    "at": a.at.isoformat(),
                    "channel": a.channel,
                    "case_id": a.case_id,
                    "contact_point_id": a.contact_point_id,
                    "action_id": a.action_id,
                    "counted": a.counted,
                    "at_work": a.at_work,
                    "retry_of": a.retry_of,
                }
            )
            for a in history.attempts
        ],
        "conversations": [{"at": at.isoformat(), "case_id": case_id} for at, case_id in history.conversations],
        "revision": revision + 1,
        "updated_at": store.now(),
    }


def write_history(tx: Tx, case_owner_id: str, history: rules.History, revision: int) -> None:
    """The new history, only if nobody wrote it since we read ``revision``: the count and the decision are one
    conditional write, so concurrent requests can never both take the last place under a cap.

    Written whole (a Put), not as an UpdateExpression: the item holds nothing but its key and ``history_fields``
    (every writer, the case merge's too, sets them all and bumps ``revision``), so under the same condition the
    Put leaves the item an Update would; the same write units in AWS, and a fraction of the CPU of an update in
    the local DynamoDB (a reminder writes one)."""
    condition = "attribute_not_exists(PK)" if revision == 0 else "#rev = :expected_rev"
    tx.put(
        {"PK": owner_pk(case_owner_id), "SK": HISTORY_SK, **history_fields(history, revision)},
        condition,
        values={":expected_rev": revision} if revision else None,
        names={"#rev": "revision"} if revision else None,
    )


# ---- holds --------------------------------------------------------------------------------------------------


def hold_item(case_owner_id: str, hold: rules.Hold) -> dict[str, Any]:
    return store.drop_none(
        {
            "PK": owner_pk(case_owner_id),
            "SK": f"POLICY#HOLD#{hold.hold_id}",
            "hold_id": hold.hold_id,
            "kind": hold.kind,
            "starts_at": _iso(hold.starts_at),
            "ends_at": _iso(hold.ends_at),
            "set_by": hold.set_by,
            "set_at": store.now(),
            "reason": hold.reason,
            "evidence": hold.evidence,
            "case_id": hold.case_id,
            "ended_at": _iso(hold.ended_at),
            "ended_by": hold.ended_by,
        }
    )


def hold_from(item: dict[str, Any]) -> rules.Hold:
    return rules.Hold(
        str(item["hold_id"]),
        item["kind"],
        datetime.fromisoformat(str(item["starts_at"])),
        _dt(item.get("ends_at")),
        str(item["set_by"]),
        str(item["reason"]),
        item.get("evidence"),
        item.get("case_id"),
        _dt(item.get("ended_at")),
        item.get("ended_by"),
    )


def get_hold_item(case_owner_id: str, hold_id: str) -> dict[str, Any] | None:
    item = (
        store.table()
        .get_item(Key={"PK": owner_pk(case_owner_id), "SK": f"POLICY#HOLD#{hold_id}"}, ConsistentRead=True)
        .get("Item")
    )
    return dict(item) if item else None


# ---- inconvenient times -------------------------------------------------------------------------------------


def times_from(raw: list[dict[str, Any]]) -> list[rules.InconvenientTime]:
    return [
        rules.InconvenientTime(
            time.fromisoformat(str(t["start"])),
            time.fromisoformat(str(t["end"])),
            frozenset(int(d) for d in t.get("weekdays", [])),
            t.get("note"),
        )
        for t in raw
    ]


def times_item(case_owner_id: str, times: list[rules.InconvenientTime]) -> dict[str, Any]:
    return {
        "PK": owner_pk(case_owner_id),
        "SK": TIMES_SK,
        "times": [
            store.drop_none(
                {
                    "start": t.start.isoformat("minutes"),
                    "end": t.end.isoformat("minutes"),
                    "weekdays": sorted(t.weekdays),
                    "note": t.note,
                }
            )
            for t in times
        ],
        "updated_at": store.now(),
    }


# ---- a contact point's wishes -------------------------------------------------------------------------------


def point_key(case_owner_id: str, contact_point_id: str) -> dict[str, str]:
    return {"PK": owner_pk(case_owner_id), "SK": f"POLICY#POINT#{contact_point_id}"}


def point_wishes(item: dict[str, Any], prefs: dict[str, Any] | None, zones: tuple[str, ...]) -> rules.PointFacts:
    """A stored contact point and its policy item as the gate sees them."""
    prefs = prefs or {}
    return rules.PointFacts(
        str(item["contact_point_id"]),
        str(item["type"]),
        bool(item["valid"]),
        bool(item.get("is_default", False)),
        zones,
        opt_outs={
            ch: rules.OptOut(
                ch, o["source"], datetime.fromisoformat(str(o["at"])), str(o["evidence"]), o.get("keyword")
            )
            for ch, o in (prefs.get("opt_outs") or {}).items()
        },
        consents={
            ch: rules.Consent(ch, c["source"], datetime.fromisoformat(str(c["at"])), c.get("evidence"))
            for ch, c in (prefs.get("consents") or {}).items()
        },
        invalid_for=frozenset(prefs.get("invalid_for") or ()),
        at_work=bool(prefs.get("at_work", False)),
        no_contact_at_work=bool(prefs.get("no_contact_at_work", False)),
    )


def update_wishes(tx: Tx, case_owner_id: str, prefs: dict[str, Any] | None, fields: dict[str, Any]) -> None:
    """Change a point's policy item if nobody else did since we read it (created on first use)."""
    revision = int((prefs or {}).get("revision", 0))
    condition = "attribute_not_exists(PK)" if not prefs else "#rev = :expected_rev"
    tx.update(
        point_key(case_owner_id, str(fields.pop("contact_point_id"))),
        {**fields, "revision": revision + 1, "updated_at": store.now()},
        condition=condition,
        values={":expected_rev": revision} if prefs else None,
        names={"#rev": "revision"} if prefs else None,
    )


def new_hold_id() -> str:
    return new_id()


def event_seen(case_owner_id: str, event_id: str) -> bool:
    key = {"PK": owner_pk(case_owner_id), "SK": f"PEVENT#{event_id}"}
    return "Item" in store.table().get_item(Key=key, ConsistentRead=True)


def mark_event(tx: Tx, case_owner_id: str, event_id: str) -> None:
    """The event's marker in the same transaction as its effect: a redelivery fails the condition and stops."""
    tx.put({"PK": owner_pk(case_owner_id), "SK": f"PEVENT#{event_id}", "at": store.now()})


# ---- actions ------------------------------------------------------------------------------------------------


def action_key(case_id: str, action_id: str, case_owner_id: str | None = None) -> dict[str, str]:
    """A contact about a case lives with the case; one about no case in particular with the case owner."""
    pk = f"CASE#{case_id}" if case_id != rules.ANY_CASE else owner_pk(str(case_owner_id))
    return {"PK": pk, "SK": f"ACTION#{action_id}"}


def get_action(case_id: str, action_id: str, case_owner_id: str | None = None) -> dict[str, Any] | None:
    key = action_key(case_id, action_id, case_owner_id)
    item = store.table().get_item(Key=key, ConsistentRead=True).get("Item")
    return dict(item) if item else None


def deferred_index(due: datetime, action_id: str) -> dict[str, str]:
    return {"GSI1PK": DEFERRED, "GSI1SK": f"{due.isoformat()}#{action_id}"}


def due_deferred(now: datetime, limit: int = 100) -> list[dict[str, Any]]:
    """Deferred contacts whose time has come, oldest first."""
    resp = store.table().query(
        IndexName="GSI1",
        KeyConditionExpression=Key("GSI1PK").eq(DEFERRED) & Key("GSI1SK").lte(f"{now.isoformat()}#~"),
        Limit=limit,
    )
    return [dict(i) for i in resp["Items"]]


def count_deferred(case_id: str) -> int:
    items = store.query_all(
        KeyConditionExpression=Key("PK").eq(f"CASE#{case_id}") & Key("SK").begins_with("ACTION#"),
        FilterExpression=Attr("status").eq("deferred"),
        ProjectionExpression="action_id",
    )
    return len(items)


def actions_of(case_id: str) -> list[dict[str, Any]]:
    return store.query_all(
        KeyConditionExpression=Key("PK").eq(f"CASE#{case_id}") & Key("SK").begins_with("ACTION#"),
        ConsistentRead=True,
    )


# ---- client rules -------------------------------------------------------------------------------------------


def client_rules_key(client_id: str) -> dict[str, str]:
    return {"PK": f"CLIENT#{client_id}", "SK": "CONTACT_POLICY"}


def get_client_rules(client_id: str) -> dict[str, Any] | None:
    item = store.table().get_item(Key=client_rules_key(client_id)).get("Item")
    return dict(item) if item else None


def put_client_rules(client_id: str, body: dict[str, Any]) -> None:
    store.table().put_item(Item={**client_rules_key(client_id), **body, "updated_at": store.now()})
