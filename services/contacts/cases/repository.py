"""DynamoDB access for case owners, cases, contact points, notes, attachments and the audit trail.

Keys: see ``store``. Every change is one ``TransactWriteItems`` call carrying the change, its optimistic-lock
conditions (each contact point and case has a ``revision``; each type's default pointer ``DEFAULT#<type>`` too)
and its audit entry; ``WriteConflict`` means a condition failed and the caller re-reads and retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from services.contacts import store
from services.contacts.cases import audit, domain
from services.contacts.cases.models import Case, CaseFile, CaseOwner, ContactPoint
from shared import aws, dynamo, outbox
from shared.events import CaseData, CaseOwnerData, ContactPointData, ContactPointType, Event


class WriteConflict(dynamo.TransactionCancelled):
    """A transaction's condition failed: someone changed the same items since we read them."""


def owner_key(case_owner_id: str, sk: str) -> dict[str, str]:
    return {"PK": f"OWNER#{case_owner_id}", "SK": sk}


def point_sk(point_type: str, contact_point_id: str) -> str:
    return f"CP#{point_type}#{contact_point_id}"


class Tx:
    """One transaction under construction: puts and updates with their conditions."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.entries: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (audit entry, its Put) of ``audit``
        self._table: str | None = None

    @property
    def table(self) -> str:
        """The table's name, read once a transaction (a reminder's decision alone is five items)."""
        if self._table is None:
            self._table = store.table_name()
        return self._table

    def put(
        self,
        item: dict[str, Any],
        condition: str | None = "attribute_not_exists(PK)",
        *,
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
    ) -> Tx:
        """Put ``item`` whole (None values left out); ``condition`` uses ``#name``/``:value``."""
        op: dict[str, Any] = {"TableName": self.table, "Item": _serialise(store.drop_none(item))}
        if condition:
            op["ConditionExpression"] = condition
        if names:
            op["ExpressionAttributeNames"] = dict(names)
        if values:
            op["ExpressionAttributeValues"] = {k: dynamo.wire(v) for k, v in values.items()}
        self.items.append({"Put": op})
        return self

    def update(
        self,
        key: dict[str, str],
        fields: dict[str, Any],
        *,
        remove: tuple[str, ...] = (),
        condition: str = "attribute_exists(PK)",
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
    ) -> Tx:
        """SET ``fields`` (None values are removed), REMOVE ``remove``; ``condition`` uses ``#name``/``:value``."""
        all_names = dict(names or {})
        all_values = {k: dynamo.wire(v) for k, v in (values or {}).items()}
        sets, removes = [], [*remove]
        for i, (name, value) in enumerate(fields.items()):
            if value is None:
                removes.append(name)
                continue
            all_names[f"#f{i}"] = name
            all_values[f":f{i}"] = dynamo.wire(value)
            sets.append(f"#f{i} = :f{i}")
        for j, name in enumerate(removes):
            all_names[f"#r{j}"] = name
        expression = ""
        if sets:
            expression += "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(f"#r{j}" for j in range(len(removes)))
        op: dict[str, Any] = {
            "TableName": self.table,
            "Key": _serialise(key),
            "UpdateExpression": expression.strip(),
            "ConditionExpression": condition,
        }
        if all_names:
            op["ExpressionAttributeNames"] = all_names
        if all_values:
            op["ExpressionAttributeValues"] = all_values
        self.items.append({"Update": op})
        return self

    def check(self, key: dict[str, str], condition: str) -> Tx:
        """A condition on an item the transaction does not change (``ConditionCheck``)."""
        op = {"TableName": self.table, "Key": _serialise(key), "ConditionExpression": condition}
        self.items.append({"ConditionCheck": op})
        return self

    def delete(
        self,
        key: dict[str, str],
        condition: str = "attribute_exists(PK)",
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
    ) -> Tx:
        op: dict[str, Any] = {"TableName": self.table, "Key": _serialise(key), "ConditionExpression": condition}
        if names:
            op["ExpressionAttributeNames"] = names
        if values:
            op["ExpressionAttributeValues"] = _serialise(values)
        self.items.append({"Delete": op})
        return self

    def delete_unchanged(self, item: dict[str, Any]) -> Tx:
        """Delete ``item`` if nobody wrote it since it was read (its revision)."""
        condition, values, names = revision_condition(revision(item))
        return self.delete({"PK": str(item["PK"]), "SK": str(item["SK"])}, condition, values, names)

    def audit(self, item: dict[str, Any]) -> Tx:
        self.put(item)
        self.entries.append((item, self.items[-1]))
        return self

    def unaudited(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The transaction's items without its audit entries, and those entries: for a change recorded by one
        entry that names every part of it (``audit.one_entry``)."""
        puts = [put for _, put in self.entries]
        return [i for i in self.items if not any(i is put for put in puts)], [entry for entry, _ in self.entries]

    def events(self, events: Sequence[Event]) -> Tx:
        """The outbox rows of ``events``: committed with the change or not at all (``shared.outbox``)."""
        self.items.extend(outbox.put_items(events, self.table))
        return self

    def commit(self) -> None:
        # several owners' CaseOpened rows in one transaction: one outbox row (shared.outbox.merged)
        items, position = outbox.merged(self.items)
        try:
            aws.client("dynamodb").transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            sent = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
            # per item built, as the callers read them (a merged row's reason is each of its rows')
            reasons = [sent[p] for p in position] if len(sent) == len(items) else sent
            raise WriteConflict(reasons or [exc.response["Error"].get("Message", "cancelled")]) from exc
        outbox.committed(items)  # the consumer publishes these rows without reading them back


def _serialise(item: dict[str, Any]) -> dict[str, Any]:
    return {k: dynamo.wire(v) for k, v in item.items()}


def revision_condition(expected: int) -> tuple[str, dict[str, Any], dict[str, str]]:
    """The item still exists and nobody wrote it since we read ``expected`` (items without one are revision 0)."""
    values = {":expected_rev": expected}
    names = {"#rev": "revision"}
    if expected == 0:
        return "attribute_exists(PK) AND (attribute_not_exists(#rev) OR #rev = :expected_rev)", values, names
    return "attribute_exists(PK) AND #rev = :expected_rev", values, names


def revision(item: dict[str, Any] | None) -> int:
    return int((item or {}).get("revision", 0))


# ---- case owners and cases -------------------------------------------------------------------------------


def case_owner_writes(client_id: str, owner: CaseOwnerData, actor: audit.Actor, correlation_id: str) -> Tx:
    """The case owner with its audit entry, unless it exists."""
    item = owner.model_dump(mode="json")
    item.update(client_id=client_id, created_at=store.now())
    tx = Tx().put({**owner_key(owner.case_owner_id, "PROFILE"), **item})
    return tx.audit(
        audit.entry(
            owner.case_owner_id,
            actor,
            "case_owner.created",
            target_type="case_owner",
            target_id=owner.case_owner_id,
            after=store.drop_none(item),
            correlation_id=correlation_id,
        )
    )


def case_writes(
    client_id: str,
    case_owner_id: str,
    case: CaseData,
    actor: audit.Actor,
    correlation_id: str,
    why: dict[str, Any],
    events: Sequence[Event] = (),
    restricted: bool = False,
) -> Tx:
    """The case, its pointer, its audit entry and the outbox rows of ``events``, unless the case exists. The case
    of a ``restricted`` owner stays out of the client's case list (GDPR Art. 18)."""
    item = case.model_dump(mode="json")
    item.update(case_owner_id=case_owner_id, client_id=client_id, status="open", revision=0)
    listed = {"GSI1PK": f"CLIENT#{client_id}#CASES", "GSI1SK": f"{case.opened_on.isoformat()}#{case.case_id}"}
    stored = {
        **owner_key(case_owner_id, f"CASE#{case.case_id}"),
        **item,
        **({"restricted": True} if restricted else listed),
    }
    pointer = {"PK": f"CASE#{case.case_id}", "SK": "POINTER", "case_owner_id": case_owner_id, "client_id": client_id}
    return (
        Tx()
        .put(stored)
        .put(pointer)
        .audit(
            audit.entry(
                case_owner_id,
                actor,
                "case.opened",
                target_type="case",
                target_id=case.case_id,
                case_id=case.case_id,
                after=store.drop_none({k: v for k, v in item.items() if k != "revision"}),
                why=why,
                correlation_id=correlation_id,
            )
        )
        .events(events)
    )


MAX_TRANSACTION_ITEMS = dynamo.MAX_TRANSACTION_ITEMS


def write_unless_exists(groups: list[Tx]) -> list[bool]:
    """Write each group (an entity with its pointer and audit entry) all or nothing, unless it exists already;
    True for the groups written. The groups share as few TransactWriteItems as fit (``shared.dynamo.write_groups``):
    a case owner's file is one request instead of one per entity, for the same write units. A group whose
    condition fails is left out and the rest written again; any other cancellation raises."""
    results = dynamo.write_groups([g.items for g in groups], commit_items)
    for reasons in results:
        if reasons is not None and any(code not in ("None", "", "ConditionalCheckFailed") for code in reasons):
            raise WriteConflict(reasons)
    return [reasons is None for reasons in results]


def commit_items(items: list[dict[str, Any]]) -> None:
    """Write TransactWriteItems entries built by ``Tx`` (several entities' groups together): ``Tx.commit``."""
    tx = Tx()
    tx.items = items
    tx.commit()


def ensure_case_owner(client_id: str, owner: CaseOwnerData, actor: audit.Actor, correlation_id: str) -> bool:
    """Create the case owner (with its audit entry) unless it exists; False if it did."""
    return write_unless_exists([case_owner_writes(client_id, owner, actor, correlation_id)])[0]


def ensure_case(
    client_id: str,
    case_owner_id: str,
    case: CaseData,
    actor: audit.Actor,
    correlation_id: str,
    why: dict[str, Any],
    events: Sequence[Event] = (),
) -> bool:
    """Create the case, its pointer, its audit entry and the outbox rows of ``events`` together; False if the
    case already existed."""
    return write_unless_exists([case_writes(client_id, case_owner_id, case, actor, correlation_id, why, events)])[0]


def learn_language(case_owner_id: str, language: str) -> bool:
    """A case owner imported again with a language: kept only when none is known (a collector's choice or an
    earlier file wins; PATCH /case-owners/{id} changes it). False when one was known."""
    try:
        store.table().update_item(
            Key=owner_key(case_owner_id, "PROFILE"),
            UpdateExpression="SET #l = :l",
            ConditionExpression="attribute_exists(PK) AND attribute_not_exists(#l)",
            ExpressionAttributeNames={"#l": "language"},
            ExpressionAttributeValues={":l": language},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True


def get_owner(case_owner_id: str) -> CaseOwner | None:
    item = store.table().get_item(Key=owner_key(case_owner_id, "PROFILE")).get("Item")
    return CaseOwner.model_validate(store.clean(item)) if item else None


def case_pointer(case_id: str) -> dict[str, Any] | None:
    item = store.table().get_item(Key={"PK": f"CASE#{case_id}", "SK": "POINTER"}).get("Item")
    return dict(item) if item else None


def get_case_item(case_owner_id: str, case_id: str) -> dict[str, Any] | None:
    item = store.table().get_item(Key=owner_key(case_owner_id, f"CASE#{case_id}"), ConsistentRead=True).get("Item")
    return dict(item) if item else None


def owner_cases(case_owner_id: str) -> list[Case]:
    items = store.query_all(
        KeyConditionExpression=Key("PK").eq(f"OWNER#{case_owner_id}") & Key("SK").begins_with("CASE#")
    )
    return [Case.model_validate(store.clean(i)) for i in items]


def get_case_file(case_id: str, include_invalid: bool = False) -> CaseFile | None:
    pointer = case_pointer(case_id)
    if not pointer:
        return None
    owner_id = str(pointer["case_owner_id"])
    items = store.query_all(
        KeyConditionExpression=Key("PK").eq(f"OWNER#{owner_id}")
        & Key("SK").between("CASE#", "CP$")  # cases and points, not audit
    )
    by_sk = {str(i["SK"]): i for i in items}
    case_item = by_sk.get(f"CASE#{case_id}")
    profile = store.table().get_item(Key=owner_key(owner_id, "PROFILE")).get("Item")
    if not case_item or not profile:
        return None
    points = [to_point(i) for sk, i in by_sk.items() if sk.startswith("CP#")]
    if not include_invalid:
        points = [p for p in points if p.valid]
    points.sort(key=lambda p: (p.type, not p.is_default, p.qualification != "validated", p.created_at))
    return CaseFile(
        case=Case.model_validate(store.clean(case_item)),
        case_owner=CaseOwner.model_validate(store.clean(profile)),
        contact_points=points,
    )


def list_cases(
    client_id: str, limit: int = 50, start: dict[str, Any] | None = None
) -> tuple[list[Case], dict[str, Any] | None]:
    kwargs: dict[str, Any] = {
        "IndexName": "GSI1",
        "KeyConditionExpression": Key("GSI1PK").eq(f"CLIENT#{client_id}#CASES"),
        "Limit": limit,
    }
    if start:
        kwargs["ExclusiveStartKey"] = start
    resp = store.table().query(**kwargs)
    items = resp["Items"]
    # A case written by an import at the very moment its owner was restricted can carry list keys the restriction
    # did not see: the owner's flag decides (GDPR Art. 18), and such a case leaves the list for good.
    restricted = restricted_owners({str(i["case_owner_id"]) for i in items})
    for item in items:
        if item["case_owner_id"] in restricted:
            hide_listed_case(str(item["case_owner_id"]), str(item["case_id"]))
    listed = [i for i in items if i["case_owner_id"] not in restricted]
    return [Case.model_validate(store.clean(i)) for i in listed], resp.get("LastEvaluatedKey")


def restricted_owners(case_owner_ids: set[str]) -> set[str]:
    """Those of ``case_owner_ids`` whose processing is restricted now (one BatchGetItem per 100 owners)."""
    client, name, found = aws.client("dynamodb"), store.table_name(), set()
    ids = sorted(case_owner_ids)
    for n in range(0, len(ids), 100):
        keys = [{"PK": {"S": f"OWNER#{i}"}, "SK": {"S": "PROFILE"}} for i in ids[n : n + 100]]
        request: dict[str, Any] = {
            name: {"Keys": keys, "ConsistentRead": True, "ProjectionExpression": "PK, restricted_since"}
        }
        while request:
            response = client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(name, []):
                if "restricted_since" in item:
                    found.add(item["PK"]["S"].removeprefix("OWNER#"))
            request = response.get("UnprocessedKeys") or {}
    return found


def hide_listed_case(case_owner_id: str, case_id: str) -> bool:
    """Take a restricted owner's case out of the client's list, as ``privacy.restriction.start`` does, while the
    owner is still restricted (a restriction ended meanwhile put it back); False when that changed."""
    tx = Tx().check(owner_key(case_owner_id, "PROFILE"), "attribute_exists(restricted_since)")
    tx.update(owner_key(case_owner_id, f"CASE#{case_id}"), {"restricted": True}, remove=("GSI1PK", "GSI1SK"))
    try:
        tx.commit()
    except WriteConflict:
        return False
    return True


# ---- contact points --------------------------------------------------------------------------------------


def to_point(item: dict[str, Any]) -> ContactPoint:
    return ContactPoint.model_validate({**store.clean(item), "case_owner_id": str(item["PK"]).removeprefix("OWNER#")})


def contact_point_ids(case_owner_id: str) -> set[str]:
    """The ids of the owner's points, and the ids their values would have here: a point moved in by a merge keeps
    its id, and the same value proposed again later must still be recognised as that point."""
    items = store.query_all(
        KeyConditionExpression=Key("PK").eq(f"OWNER#{case_owner_id}") & Key("SK").begins_with("CP#"),
        ConsistentRead=True,
    )
    return ids_of_points(case_owner_id, items)


def ids_of_points(case_owner_id: str, items: list[dict[str, Any]]) -> set[str]:
    """The points' ids, and the ids their values would have on this owner (a point moved in by a merge keeps its
    own id; the same value proposed again must still be recognised as that point)."""
    ids = {str(i["contact_point_id"]) for i in items}
    ids.update(
        domain.contact_point_id(case_owner_id, ContactPointData(type=i["type"], value=str(i["value"]))) for i in items
    )
    return ids


def point_item(case_owner_id: str, new: domain.NewContactPoint) -> dict[str, Any]:
    data = new.data
    return store.drop_none(
        {
            **owner_key(case_owner_id, point_sk(data.type, new.contact_point_id)),
            "contact_point_id": new.contact_point_id,
            "type": data.type,
            "value": data.value,
            "address": data.address.model_dump() if data.address else None,
            "observation": data.observation,
            "valid": True,
            "qualification": "pending",
            "is_default": False,
            "source": new.source,
            "trace": new.trace,
            "created_at": store.now(),
            "revision": 0,
        }
    )


def point_writes(
    case_owner_id: str,
    new: domain.NewContactPoint,
    actor: audit.Actor,
    correlation_id: str,
    why: dict[str, Any] | None = None,
) -> Tx:
    """The point (pending) with its audit entry, unless a point with the same value exists."""
    return _point_writes(case_owner_id, new, point_item(case_owner_id, new), actor, correlation_id, why)


def _point_writes(
    case_owner_id: str,
    new: domain.NewContactPoint,
    item: dict[str, Any],
    actor: audit.Actor,
    correlation_id: str,
    why: dict[str, Any] | None,
) -> Tx:
    shown = {k: v for k, v in store.clean(item).items() if k not in ("revision", "created_at")}
    return (
        Tx()
        .put(item)
        .audit(
            audit.entry(
                case_owner_id,
                actor,
                "contact_point.added",
                target_type="contact_point",
                target_id=new.contact_point_id,
                after=shown,
                why=why,
                correlation_id=correlation_id,
            )
        )
    )


def add_contact_point(
    case_owner_id: str,
    new: domain.NewContactPoint,
    actor: audit.Actor,
    correlation_id: str,
    why: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Add the point (pending) with its audit entry; None if a point with the same value exists already."""
    item = point_item(case_owner_id, new)
    if not write_unless_exists([_point_writes(case_owner_id, new, item, actor, correlation_id, why)])[0]:
        return None
    return item


def get_contact_point(case_owner_id: str, contact_point_id: str) -> dict[str, Any] | None:
    items = store.query_all(
        KeyConditionExpression=Key("PK").eq(f"OWNER#{case_owner_id}") & Key("SK").begins_with("CP#"),
        FilterExpression=Attr("contact_point_id").eq(contact_point_id),
        ConsistentRead=True,
    )
    return dict(items[0]) if items else None


def list_contact_points(
    case_owner_id: str,
    *,
    include_invalid: bool,
    point_type: ContactPointType | None,
    limit: int,
    start: dict[str, Any] | None,
) -> tuple[list[ContactPoint], dict[str, Any] | None]:
    prefix = f"CP#{point_type}#" if point_type else "CP#"
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": Key("PK").eq(f"OWNER#{case_owner_id}") & Key("SK").begins_with(prefix),
        "Limit": limit,
    }
    if not include_invalid:
        kwargs["FilterExpression"] = Attr("valid").eq(True)
    if start:
        kwargs["ExclusiveStartKey"] = start
    resp = store.table().query(**kwargs)
    return [to_point(i) for i in resp["Items"]], resp.get("LastEvaluatedKey")


@dataclass(frozen=True)
class OwnerRead:
    """One consistent read of a case owner's partition from ``CASE#`` on: the cases, the contact points, the
    default pointers, the contact-policy items and the profile, in one Query instead of one request each (the
    reminder schedule's read per reminder). The audit trail (``AUDIT#``, which only grows) sorts before it and is
    not read."""

    case_owner_id: str
    items: tuple[dict[str, Any], ...]

    def _with(self, prefix: str) -> list[dict[str, Any]]:
        return [i for i in self.items if str(i["SK"]).startswith(prefix)]

    def case(self, case_id: str) -> dict[str, Any] | None:
        return next((dict(i) for i in self.items if i["SK"] == f"CASE#{case_id}"), None)

    @property
    def profile(self) -> dict[str, Any] | None:
        return next((dict(i) for i in self.items if i["SK"] == "PROFILE"), None)

    @property
    def points(self) -> list[dict[str, Any]]:
        """Every contact point, invalid ones included (as ``point_items``)."""
        return self._with("CP#")

    @property
    def defaults(self) -> dict[str, str]:
        """type → default contact point id (as ``defaults``)."""
        return {
            str(i["SK"]).removeprefix("DEFAULT#"): str(i["contact_point_id"])
            for i in self._with("DEFAULT#")
            if i.get("contact_point_id")
        }

    @property
    def policy_items(self) -> list[dict[str, Any]]:
        return self._with("POLICY#")


def read_owner(case_owner_id: str) -> OwnerRead:
    """The owner's partition from ``CASE#`` on, strongly consistent: through the client, not the Table resource
    (``dynamo.query_items``; the reminder schedule reads one a case)."""
    items = dynamo.query_items(
        aws.client("dynamodb"),
        TableName=store.table_name(),
        KeyConditionExpression="PK = :pk AND SK >= :from",
        ExpressionAttributeValues={":pk": {"S": f"OWNER#{case_owner_id}"}, ":from": {"S": "CASE#"}},
        ConsistentRead=True,
    )
    return OwnerRead(case_owner_id, tuple(items))


def default_pointer(case_owner_id: str, point_type: str) -> dict[str, Any] | None:
    item = store.table().get_item(Key=owner_key(case_owner_id, f"DEFAULT#{point_type}"), ConsistentRead=True)
    return dict(item["Item"]) if "Item" in item else None


def update_point(tx: Tx, item: dict[str, Any], fields: dict[str, Any]) -> None:
    """Change a point if nobody else did since ``item`` was read (revision), bumping its revision."""
    condition, values, names = revision_condition(revision(item))
    tx.update(
        {"PK": str(item["PK"]), "SK": str(item["SK"])},
        {**fields, "revision": revision(item) + 1, "updated_at": store.now()},
        condition=condition,
        values=values,
        names=names,
    )


def set_default_pointer(
    tx: Tx, case_owner_id: str, point_type: str, pointer: dict[str, Any] | None, cp_id: str | None
) -> None:
    """Move the type's default pointer (None: no default) if nobody moved it since ``pointer`` was read."""
    key = owner_key(case_owner_id, f"DEFAULT#{point_type}")
    if pointer is None:
        tx.put({**key, "contact_point_id": cp_id, "revision": 1, "updated_at": store.now()})
        return
    condition, values, names = revision_condition(revision(pointer))
    tx.update(
        key,
        {"contact_point_id": cp_id, "revision": revision(pointer) + 1, "updated_at": store.now()},
        condition=condition,
        values=values,
        names=names,
    )


def defaults(case_owner_id: str) -> dict[str, str]:
    """type → default contact point id, from the pointers."""
    items = store.query_all(
        KeyConditionExpression=Key("PK").eq(f"OWNER#{case_owner_id}") & Key("SK").begins_with("DEFAULT#"),
        ConsistentRead=True,
    )
    return {
        str(i["SK"]).removeprefix("DEFAULT#"): str(i["contact_point_id"]) for i in items if i.get("contact_point_id")
    }


# ---- notes, attachments, audit ---------------------------------------------------------------------------


def page(
    pk: str, prefix: str, limit: int, start: dict[str, Any] | None, newest_first: bool = True
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": Key("PK").eq(pk) & Key("SK").begins_with(prefix),
        "Limit": limit,
        "ScanIndexForward": not newest_first,
    }
    if start:
        kwargs["ExclusiveStartKey"] = start
    resp = store.table().query(**kwargs)
    return [dict(i) for i in resp["Items"]], resp.get("LastEvaluatedKey")


def get_item(pk: str, sk: str) -> dict[str, Any] | None:
    item = store.table().get_item(Key={"PK": pk, "SK": sk}, ConsistentRead=True).get("Item")
    return dict(item) if item else None


# ---- what enrichment tells contacts ------------------------------------------------------------------------


def point_items(case_owner_id: str) -> list[dict[str, Any]]:
    """Every contact point of a case owner, invalid ones included."""
    return store.query_all(
        KeyConditionExpression=Key("PK").eq(f"OWNER#{case_owner_id}") & Key("SK").begins_with("CP#"),
        ConsistentRead=True,
    )


def store_many_checks(checked: Sequence[tuple[str, str, str, str, dict[str, Any]]]) -> list[bool]:
    """Keep the offline checks on each point (case owner, type, point, value checked, checks) only while it still
    has the value that was checked: as few TransactWriteItems as fit (100 points a request; one point alone is a
    plain UpdateItem), False for a point whose value changed or that is gone, the others written."""
    name = store.table_name()  # read once a batch: it reads the function's settings (six variables) each time
    groups = [
        [
            {
                "Update": {
                    "TableName": name,
                    "Key": _serialise(owner_key(case_owner_id, point_sk(point_type, contact_point_id))),
                    "UpdateExpression": "SET checks = :c",
                    "ConditionExpression": "attribute_exists(PK) AND #v = :v",
                    "ExpressionAttributeNames": {"#v": "value"},
                    "ExpressionAttributeValues": {":c": dynamo.wire(checks), ":v": dynamo.wire(value)},
                }
            }
        ]
        for case_owner_id, point_type, contact_point_id, value, checks in checked
    ]
    return dynamo.write_unless_condition_fails(aws.client("dynamodb"), groups)


def mark_address_traced(case_owner_id: str, case_id: str, trace: dict[str, Any]) -> None:
    """The first traced address of a case is what its first letter must disclose; later ones keep that mark."""
    try:
        store.table().update_item(
            Key=owner_key(case_owner_id, f"CASE#{case_id}"),
            UpdateExpression="SET address_traced = :t",
            ConditionExpression="attribute_exists(PK) AND attribute_not_exists(address_traced)",
            ExpressionAttributeValues={":t": trace},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
