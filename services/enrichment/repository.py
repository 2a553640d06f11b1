"""DynamoDB access for the enrichment table.

Keys:
  CLIENT#<id>   PROFILE                 own copy of the client's enrichment settings (GSI1: CLIENTS / <id>)
  CLIENT#<id>   SPEND#<YYYY-MM>         the month's booked (quotes of open attempts + costs) and spent totals
  CLIENT#<id>   BUDGET_NOTICE#<YYYY-MM> the month's "budget reached" notice was sent
  OWNER#<id>    PROFILE                 what contacts published: search subject, lacking types, restriction
  OWNER#<id>    CASE#<case_id>          the owner's tracked cases (a new contact snapshot re-indexes them)
  CASE#<id>     TRACK                   tracked case; GSI1 (sparse): CLIENT#<id>#DUE|DONE / <waiting since>#<case>
  CASE#<id>     ATTEMPT#<nnn>           the cost ledger line: booked before the call, settled after, with the
                                        result (the points kept) and its events' ids stored on it; the events'
                                        outbox rows (shared.outbox) are written in the settling transaction
"""

from __future__ import annotations

import json
from collections.abc import Container, Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from services.enrichment import settings
from services.enrichment.domain import EnrichmentSettings, IndexState, OwnerContacts, TrackedCase, index_key
from shared import aws, consumer, dynamo, outbox
from shared.events import ContactPointType, Event, TraceSubject


def _table() -> Any:
    return aws.table(settings.get().table)


def _query(kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    return dynamo.query_all(_table(), **kwargs)


def subject_data(case_owner_id: str, case_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Every item enrichment holds about one person: its copy of the contacts snapshot, the tracked cases and
    their cost ledger lines with what the bureau found (a data subject's request)."""
    section: dict[str, list[dict[str, Any]]] = {"contacts_copy": [], "tracked_cases": [], "ledger": []}
    owner = _query({"KeyConditionExpression": Key("PK").eq(f"OWNER#{case_owner_id}")})
    ids = set(case_ids) | {str(i["SK"]).removeprefix("CASE#") for i in owner if str(i["SK"]).startswith("CASE#")}
    section["contacts_copy"] = [_readable(i) for i in owner if i["SK"] == "PROFILE"]
    for case_id in sorted(ids):
        for item in _query({"KeyConditionExpression": Key("PK").eq(f"CASE#{case_id}")}):
            kind = "ledger" if str(item["SK"]).startswith("ATTEMPT#") else "tracked_cases"
            section[kind].append(_readable(item))
    return section


def erase_subject(case_owner_id: str, case_ids: Iterable[str]) -> dict[str, int]:
    """A data subject's erasure: every item ``subject_data`` finds, deleted (safe to run again)."""
    section = subject_data(case_owner_id, case_ids)
    owner = _query({"KeyConditionExpression": Key("PK").eq(f"OWNER#{case_owner_id}")})
    with _table().batch_writer() as batch:
        for item in owner:
            batch.delete_item(Key={"PK": item["PK"], "SK": item["SK"]})
        for item in [*section["tracked_cases"], *section["ledger"]]:
            batch.delete_item(Key={"PK": item["PK"], "SK": item["SK"]})
    return {kind: len(items) for kind, items in section.items()}


def _readable(item: dict[str, Any]) -> dict[str, Any]:
    """The item with the JSON it stores as text (the search subject, a bureau's result) as JSON again."""
    out = dict(item)
    for name, value in item.items():
        if isinstance(value, str) and value[:1] in "{[":
            try:
                out[name] = json.loads(value)
            except ValueError:
                pass
    return out


# ---- clients ---------------------------------------------------------------------------------------------------


def put_client(client_id: str) -> None:
    _table().update_item(
        Key={"PK": f"CLIENT#{client_id}", "SK": "PROFILE"},
        UpdateExpression="SET GSI1PK = :c, GSI1SK = :id",
        ExpressionAttributeValues={":c": "CLIENTS", ":id": client_id},
    )


def put_settings(client_id: str, new: EnrichmentSettings) -> EnrichmentSettings | None:
    """Store the settings; returns the ones they replace (None for the first)."""
    consumer.forget_for_the_batch(("enrichment-settings", client_id))
    old = (
        _table()
        .update_item(
            Key={"PK": f"CLIENT#{client_id}", "SK": "PROFILE"},
            UpdateExpression="SET granted = :g, interval_days = :i, attempts = :a, monthly_budget = :b, "
            "GSI1PK = :c, GSI1SK = :id",
            ExpressionAttributeValues={
                ":g": new.granted,
                ":i": new.interval_days,
                ":a": new.attempts,
                ":b": None if new.monthly_budget is None else str(new.monthly_budget),
                ":c": "CLIENTS",
                ":id": client_id,
            },
            ReturnValues="ALL_OLD",
        )
        .get("Attributes")
    )
    return _settings(old) if old and "granted" in old else None


def _settings(item: dict[str, Any] | None) -> EnrichmentSettings:
    if not item:
        return EnrichmentSettings()
    budget = item.get("monthly_budget")
    return EnrichmentSettings(
        granted=bool(item.get("granted", False)),
        interval_days=int(item.get("interval_days", 30)),
        attempts=int(item.get("attempts", 1)),
        monthly_budget=None if budget is None else Decimal(str(budget)),
    )


def client_settings(client_id: str) -> EnrichmentSettings:
    """Read once per consumer batch: every record of an import's batch is a case or owner of the same client."""
    return consumer.read_once_per_batch(
        ("enrichment-settings", client_id),
        lambda: _settings(_table().get_item(Key={"PK": f"CLIENT#{client_id}", "SK": "PROFILE"}).get("Item")),
    )


def clients() -> list[tuple[str, EnrichmentSettings]]:
    items = _query({"IndexName": "GSI1", "KeyConditionExpression": Key("GSI1PK").eq("CLIENTS")})
    return [(str(item["GSI1SK"]), _settings(item)) for item in items]


# ---- case owners and tracked cases -----------------------------------------------------------------------------


def _owner(item: dict[str, Any]) -> OwnerContacts:
    lacking: frozenset[ContactPointType] = frozenset(item.get("lacking") or [])
    return OwnerContacts(
        client_id=str(item["client_id"]),
        case_owner_id=str(item["PK"]).removeprefix("OWNER#"),
        subject=TraceSubject.model_validate_json(str(item["subject"])),
        lacking=lacking,
        restricted=bool(item.get("restricted", False)),
        as_of=datetime.fromisoformat(str(item["as_of"])),
    )


def owners(owner_ids: Iterable[str]) -> dict[str, OwnerContacts]:
    """Key lookups, 100 per request."""
    keys = [{"PK": f"OWNER#{o}", "SK": "PROFILE"} for o in sorted(set(owner_ids))]
    return {o.case_owner_id: o for o in map(_owner, _batch_get(keys))}


def _batch_get(keys: list[dict[str, str]]) -> list[dict[str, Any]]:
    name, out = settings.get().table, []
    resource = aws.resource("dynamodb")
    for start in range(0, len(keys), 100):
        pending: dict[str, Any] = {name: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
        while pending:
            answer = resource.batch_get_item(RequestItems=pending)
            out.extend(answer["Responses"].get(name, []))
            pending = answer.get("UnprocessedKeys") or {}
    return out


Written = Literal["first", "newer"]  # how a snapshot was stored: put-if-new (no snapshot before it), or kept as newer


def put_owners(owners: Sequence[OwnerContacts], *, known: Container[str]) -> list[Written | None]:
    """Keep the newest snapshot of each owner only (the bus may deliver an older one late), in as few
    TransactWriteItems as fit; None for a stale one. Each stored snapshot counts itself on the item
    (``snapshots``), so a reader can tell whether another one came first.

    An owner not in ``known`` (no item when the caller read them) gets its first snapshot as a put-if-new: the same
    item the update would make, at the same write units, but a Put costs moto's DynamoDB about a tenth of an Update
    on a new item (0.7 of an import row's ~4.5 ms there). "first" says no snapshot was stored before it. Where another
    snapshot stored the item meanwhile, the put-if-new is refused and the owner takes the keep-the-newest update
    after all ("newer" when that keeps it)."""
    name = settings.get().table
    first = [owner.case_owner_id not in known for owner in owners]
    client = aws.client("dynamodb")
    groups = [
        [_first_snapshot(name, o) if new else _newer_snapshot(name, o)] for o, new in zip(owners, first, strict=True)
    ]
    written: list[Written | None] = [
        ("first" if new else "newer") if ok else None
        for new, ok in zip(first, dynamo.write_unless_condition_fails(client, groups), strict=True)
    ]
    refused = [i for i, (new, how) in enumerate(zip(first, written, strict=True)) if new and how is None]
    if refused:
        again = dynamo.write_unless_condition_fails(client, [[_newer_snapshot(name, owners[i])] for i in refused])
        for i, ok in zip(refused, again, strict=True):
            written[i] = "newer" if ok else None
    return written


def _snapshot_values(owner: OwnerContacts) -> dict[str, Any]:
    return {
        "client_id": owner.client_id,
        "subject": owner.subject.model_dump_json(exclude_none=True),
        "lacking": sorted(owner.lacking),
        "restricted": owner.restricted,
        "as_of": owner.as_of.isoformat(),
    }


def _first_snapshot(table: str, owner: OwnerContacts) -> dict[str, Any]:
    item = {"PK": f"OWNER#{owner.case_owner_id}", "SK": "PROFILE", **_snapshot_values(owner), "snapshots": 1}
    return {"Put": {"TableName": table, "Item": _attrs(item), "ConditionExpression": "attribute_not_exists(PK)"}}


def _newer_snapshot(table: str, owner: OwnerContacts) -> dict[str, Any]:
    values = _snapshot_values(owner)
    return {
        "Update": {
            "TableName": table,
            "Key": _attrs({"PK": f"OWNER#{owner.case_owner_id}", "SK": "PROFILE"}),
            "UpdateExpression": "SET client_id = :c, subject = :s, lacking = :l, restricted = :r, as_of = :t "
            "ADD snapshots :one",
            "ConditionExpression": "attribute_not_exists(PK) OR as_of <= :t",
            "ExpressionAttributeValues": _attrs(
                {
                    ":c": values["client_id"],
                    ":s": values["subject"],
                    ":l": values["lacking"],
                    ":r": values["restricted"],
                    ":t": values["as_of"],
                    ":one": 1,
                }
            ),
        }
    }


def tracking(cases: Sequence[TrackedCase]) -> tuple[dict[str, OwnerContacts], set[str]]:
    """The snapshots of the cases' owners and which of the cases are tracked already: one BatchGetItem a 100 keys."""
    owner_ids = sorted({c.case_owner_id for c in cases})
    keys = [{"PK": f"OWNER#{o}", "SK": "PROFILE"} for o in owner_ids]
    keys += [{"PK": f"CASE#{c}", "SK": "TRACK"} for c in sorted({c.case_id for c in cases})]
    owners, tracked = {}, set()
    for item in _batch_get(keys):
        if item["SK"] == "PROFILE":
            owner = _owner(item)
            owners[owner.case_owner_id] = owner
        else:
            tracked.add(str(item["PK"]).removeprefix("CASE#"))
    return owners, tracked


def _track_item(item: dict[str, Any]) -> TrackedCase:
    last = item.get("last_attempt_on")
    return TrackedCase(
        client_id=str(item["client_id"]),
        case_owner_id=str(item["case_owner_id"]),
        case_id=str(item["PK"]).removeprefix("CASE#"),
        opened_on=date.fromisoformat(str(item["opened_on"])),
        attempts_made=int(item.get("attempts_made", 0)),
        last_attempt_on=date.fromisoformat(str(last)) if last else None,
    )


def _new_track(case: TrackedCase, state: IndexState | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "PK": f"CASE#{case.case_id}",
        "SK": "TRACK",
        "client_id": case.client_id,
        "case_owner_id": case.case_owner_id,
        "opened_on": case.opened_on.isoformat(),
        "attempts_made": 0,
    }
    key = index_key(case, state)
    if key:
        item["GSI1PK"], item["GSI1SK"] = key
    return item


def track_case(case: TrackedCase, state: IndexState | None) -> bool:
    """Idempotent: the same case opened twice (a re-delivered CaseOpened) is tracked once."""
    created = dynamo.put_new(_table(), _new_track(case, state))
    dynamo.put_new(_table(), {"PK": f"OWNER#{case.case_owner_id}", "SK": f"CASE#{case.case_id}"})
    return created


def track_cases(cases: Sequence[tuple[TrackedCase, IndexState | None]]) -> list[bool]:
    """Track many new cases: each owner's link first, in BatchWriteItem (25 a request: a link carries nothing but
    its key and needs no condition, so it is no transaction's item at twice the write units), then the track items
    put-if-new in as few TransactWriteItems as fit (100 cases a request); False for a case tracked already (its
    track item is never overwritten: attempts may have been made). A link is never missing for a tracked case; a
    link without its track item (a crash between the two) is read as no case, and the redelivery writes the track."""
    with _table().batch_writer(overwrite_by_pkeys=["PK", "SK"]) as batch:
        for case, _ in cases:
            batch.put_item(Item={"PK": f"OWNER#{case.case_owner_id}", "SK": f"CASE#{case.case_id}"})
    name = settings.get().table
    groups = [
        [
            {
                "Put": {
                    "TableName": name,
                    "Item": _attrs(_new_track(case, state)),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        ]
        for case, state in cases
    ]
    return dynamo.write_unless_condition_fails(aws.client("dynamodb"), groups)


def owner_cases(owner_id: str) -> list[TrackedCase]:
    links = _query({"KeyConditionExpression": Key("PK").eq(f"OWNER#{owner_id}") & Key("SK").begins_with("CASE#")})
    keys = [{"PK": str(link["SK"]), "SK": "TRACK"} for link in links]
    return [_track_item(i) for i in _batch_get(keys)]


def owners_cases(owner_ids: Iterable[str]) -> dict[str, list[tuple[TrackedCase, tuple[str, str] | None]]]:
    """Each owner's tracked cases with their index key as stored: a Query of links per owner, then one BatchGetItem a
    100 track items for all of them."""
    links = {
        o: _query({"KeyConditionExpression": Key("PK").eq(f"OWNER#{o}") & Key("SK").begins_with("CASE#")})
        for o in dict.fromkeys(owner_ids)
    }
    cases = sorted({str(link["SK"]) for found in links.values() for link in found})  # a key once per request
    keys = [{"PK": case, "SK": "TRACK"} for case in cases]
    by_owner: dict[str, list[tuple[TrackedCase, tuple[str, str] | None]]] = {o: [] for o in links}
    for item in _batch_get(keys):
        case = _track_item(item)
        key = (str(item["GSI1PK"]), str(item["GSI1SK"])) if "GSI1PK" in item else None
        if case.case_owner_id in by_owner:  # a link left behind by a merge names a case that moved on
            by_owner[case.case_owner_id].append((case, key))
    return by_owner


def move_case(case: TrackedCase, to_owner: str, state: IndexState | None) -> None:
    """The case belongs to ``to_owner`` now (contacts merged its owner into that one): the track item names it, the
    owner's link moves, the index entry follows ``state`` (the new owner's snapshot)."""
    key = index_key(replace(case, case_owner_id=to_owner), state)
    values: dict[str, Any] = {":o": to_owner}
    if key:
        update = "SET case_owner_id = :o, GSI1PK = :p, GSI1SK = :s"
        values |= {":p": key[0], ":s": key[1]}
    else:
        update = "SET case_owner_id = :o REMOVE GSI1PK, GSI1SK"
    _table().update_item(
        Key={"PK": f"CASE#{case.case_id}", "SK": "TRACK"}, UpdateExpression=update, ExpressionAttributeValues=values
    )
    dynamo.put_new(_table(), {"PK": f"OWNER#{to_owner}", "SK": f"CASE#{case.case_id}"})
    _table().delete_item(Key={"PK": f"OWNER#{case.case_owner_id}", "SK": f"CASE#{case.case_id}"})


def drop_owner(owner_id: str) -> None:
    """Forget a case owner's snapshot (merged into another: nothing is searched for it any more)."""
    _table().delete_item(Key={"PK": f"OWNER#{owner_id}", "SK": "PROFILE"})


def cases_in_index(client_id: str, state: IndexState, until: str | None = None) -> list[TrackedCase]:
    condition = Key("GSI1PK").eq(f"CLIENT#{client_id}#{state.upper()}")
    if until is not None:
        condition = condition & Key("GSI1SK").lte(until)
    return [_track_item(i) for i in _query({"IndexName": "GSI1", "KeyConditionExpression": condition})]


def get_case(case_id: str) -> TrackedCase | None:
    item = _table().get_item(Key={"PK": f"CASE#{case_id}", "SK": "TRACK"}, ConsistentRead=True).get("Item")
    return _track_item(item) if item else None


def set_index(case: TrackedCase, state: IndexState | None) -> None:
    key = index_key(case, state)
    if key:
        _table().update_item(
            Key={"PK": f"CASE#{case.case_id}", "SK": "TRACK"},
            UpdateExpression="SET GSI1PK = :p, GSI1SK = :s",
            ExpressionAttributeValues={":p": key[0], ":s": key[1]},
        )
    else:
        _table().update_item(
            Key={"PK": f"CASE#{case.case_id}", "SK": "TRACK"}, UpdateExpression="REMOVE GSI1PK, GSI1SK"
        )


# ---- the cost ledger ---------------------------------------------------------------------------------------------


def _line_key(case_id: str, attempt: int) -> dict[str, str]:
    return {"PK": f"CASE#{case_id}", "SK": f"ATTEMPT#{attempt:03d}"}


def _spend_key(client_id: str, month: str) -> dict[str, str]:
    return {"PK": f"CLIENT#{client_id}", "SK": f"SPEND#{month}"}


def line(case_id: str, attempt: int) -> dict[str, Any] | None:
    item = _table().get_item(Key=_line_key(case_id, attempt), ConsistentRead=True).get("Item")
    return dict(item) if item else None


def book(
    case: TrackedCase,
    attempt: int,
    *,
    reference: str,
    provider: str,
    quote: Decimal,
    month: str,
    ceiling: Decimal | None,
    wanted: frozenset[ContactPointType],
    now: datetime,
    lease_until: datetime,
    lease_id: str,
) -> bool:
    """Write the ledger line and book the quote on the month in one transaction. False when it did not happen:
    the line exists (another run booked it) or the month's bookings would pass the budget (``ceiling``)."""
    name = settings.get().table
    line_key = _line_key(case.case_id, attempt)
    spend: dict[str, Any] = {
        "TableName": name,
        "Key": {k: {"S": v} for k, v in _spend_key(case.client_id, month).items()},
        "UpdateExpression": "ADD booked :q",
        "ExpressionAttributeValues": {":q": {"N": str(quote)}},
    }
    if ceiling is not None:
        spend["ConditionExpression"] = "attribute_not_exists(booked) OR booked <= :ceiling"
        spend["ExpressionAttributeValues"][":ceiling"] = {"N": str(ceiling)}
    item = {
        **line_key,
        "status": "booked",
        "reference": reference,
        "provider": provider,
        "quote": str(quote),
        "month": month,
        "wanted": sorted(wanted),
        "client_id": case.client_id,
        "case_owner_id": case.case_owner_id,
        "booked_at": now.isoformat(),
        "lease_until": lease_until.isoformat(),
        "lease_id": lease_id,
    }
    try:
        aws.client("dynamodb").transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": name,
                        "Item": _attrs(item),
                        # A failed search was not billed: its attempt may be booked again.
                        "ConditionExpression": "attribute_not_exists(PK) OR #s = :failed",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {":failed": {"S": "failed"}},
                    }
                },
                {"Update": spend},
            ]
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "TransactionCanceledException":
            return False
        raise


def take_over(case_id: str, attempt: int, now: datetime, lease_until: datetime, lease_id: str) -> bool:
    """Reuse a booked line whose run died (lease expired): one run at a time may finish it."""
    try:
        _table().update_item(
            Key=_line_key(case_id, attempt),
            UpdateExpression="SET lease_until = :until, lease_id = :id",
            ConditionExpression="#s = :booked AND lease_until < :now",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":booked": "booked",
                ":now": now.isoformat(),
                ":until": lease_until.isoformat(),
                ":id": lease_id,
            },
        )
        return True
    except ClientError as exc:
        if dynamo.is_condition_failure(exc):
            return False
        raise


def settle(
    case: TrackedCase,
    attempt: int,
    *,
    month: str,
    lease_id: str,
    result: dict[str, Any] | None,
    booked_delta: Decimal,
    moved_on: TrackedCase | None,
    state: IndexState | None,
    events: Sequence[Event] = (),
) -> bool:
    """In one transaction: settle the line with its stored result (None: the search failed and is not billed),
    the outbox rows of the events built from it, the month's bookings, and the case moved on (``moved_on``:
    attempts made, waiting since, index). A paid result is never booked without its events, nor announced
    without being booked. False when this run no longer holds the line (another run took it over)."""
    name = settings.get().table
    line_values: dict[str, Any]
    if result is None:
        line_set, line_values = "SET #s = :failed", {":failed": "failed"}
    else:
        line_set = "SET #s = :settled, #r = :r, cost = :c, settled_at = :t, event_ids = :e"
        line_values = {
            ":settled": "settled",
            ":r": json.dumps(result),
            ":c": result["cost"],
            ":t": result["settled_at"],
            ":e": [e.event_id for e in events],
        }
    names = {"#s": "status"} | ({"#r": "result"} if result is not None else {})
    spent = Decimal(str(result["cost"])) if result is not None else Decimal(0)
    items: list[dict[str, Any]] = [
        {
            "Update": {
                "TableName": name,
                "Key": _attrs(_line_key(case.case_id, attempt)),
                "UpdateExpression": line_set + " REMOVE lease_until",
                "ConditionExpression": "#s = :booked AND lease_id = :mine",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": _attrs({**line_values, ":booked": "booked", ":mine": lease_id}),
            }
        },
        {
            "Update": {
                "TableName": name,
                "Key": _attrs(_spend_key(case.client_id, month)),
                "UpdateExpression": "ADD booked :d, spent :c, line_count :n",
                "ExpressionAttributeValues": _attrs(
                    {":d": booked_delta, ":c": spent, ":n": 0 if result is None else 1}
                ),
            }
        },
    ]
    if moved_on is not None:
        key = index_key(moved_on, state)
        values: dict[str, Any] = {
            ":n": moved_on.attempts_made,
            ":prev": case.attempts_made,
            ":on": (moved_on.last_attempt_on or moved_on.opened_on).isoformat(),
        }
        expression = "SET attempts_made = :n, last_attempt_on = :on"
        if key:
            expression += ", GSI1PK = :p, GSI1SK = :k"
            values[":p"], values[":k"] = key
        else:
            expression += " REMOVE GSI1PK, GSI1SK"
        items.append(
            {
                "Update": {
                    "TableName": name,
                    "Key": _attrs({"PK": f"CASE#{case.case_id}", "SK": "TRACK"}),
                    "UpdateExpression": expression,
                    "ConditionExpression": "attempts_made = :prev",
                    "ExpressionAttributeValues": _attrs(values),
                }
            }
        )
    items.extend(outbox.put_items(events, name))
    try:
        aws.client("dynamodb").transact_write_items(TransactItems=items)
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "TransactionCanceledException":
            return False
        raise


def ledger(case_id: str) -> list[dict[str, Any]]:
    return _query({"KeyConditionExpression": Key("PK").eq(f"CASE#{case_id}") & Key("SK").begins_with("ATTEMPT#")})


def spend(client_id: str, month: str) -> dict[str, Decimal]:
    item = _table().get_item(Key=_spend_key(client_id, month), ConsistentRead=True).get("Item") or {}
    return {k: Decimal(str(item.get(k, 0))) for k in ("booked", "spent", "line_count")}


def budget_notice_sent(client_id: str, month: str) -> bool:
    key = {"PK": f"CLIENT#{client_id}", "SK": f"BUDGET_NOTICE#{month}"}
    return "Item" in _table().get_item(Key=key, ConsistentRead=True)


def record_budget_notice(client_id: str, month: str, at: datetime) -> None:
    dynamo.put_new(_table(), {"PK": f"CLIENT#{client_id}", "SK": f"BUDGET_NOTICE#{month}", "at": at.isoformat()})


def _attrs(values: dict[str, Any]) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, float):
            return Decimal(str(value))
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return {k: dynamo.wire(plain(v)) for k, v in values.items()}
