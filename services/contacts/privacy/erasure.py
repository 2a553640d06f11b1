"""A data subject's erasure (GDPR Art. 17) with its legal exceptions (Art. 17(3)(b) a legal obligation to keep
the records, (e) legal claims).

``request_erasure`` (POST /case-owners/{id}/erasure) records the request and, while a case is open or a retention
period runs, restricts the person (a ``restriction`` hold: hidden from every list, never contacted, never traced)
with the earliest erasure date (``retention``). The daily job ``erase_due`` re-reckons that date (cases close
meanwhile) and, once it has passed, erases: contacts at once (``erase_own``), the other services through
``SubjectErasureRequested`` (in the outbox of the transaction that starts the erasure). Each answers with its
``…SubjectErasureCompleted`` (counts only); the last answer marks the request erased and writes the audit entry
that says when and why. Every step is a delete or an overwrite of what is left, so a run that dies half-way is
finished by the next one (idempotent and resumable).

What stays: the person's profile as a tombstone (their id, client, when and by which request they were erased),
the audit trail with every entry's action, actor and time but none of its before/after/why, and the request
record (who asked, when, the reason the agency gave, the law that deferred it, the counts).

Keys (contacts table):
  DSR#<request_id>   REQUEST       kind "erasure"; GSI1: ERASURES#<status> / <requested_at>#<request_id>
  OWNER#<id>         ERASURE       the person's one erasure request (a second is refused)
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from services.contacts import settings, store
from services.contacts.cases import audit, repository
from services.contacts.cases.repository import Tx, WriteConflict
from services.contacts.clients import repository as clients_repository
from services.contacts.identity import Identity
from services.contacts.policy import repository as policy_repository
from services.contacts.policy import rules
from services.contacts.privacy import art14, models, restriction, retention, subject_access
from shared import aws, dynamo, expiry, outbox
from shared.errors import Conflict, Forbidden, NotFound
from shared.events import SubjectErasureCompleted, SubjectErasureRequested, new_id
from shared.observability import logger

log = logger("contacts")
WAITING, ERASING, ERASED = "waiting", "erasing", "erased"
ANSWERING = ("imports", "enrichment", "notifications")


def now() -> datetime:
    return datetime.now(UTC)


def _index(status: str, record: dict[str, Any]) -> dict[str, str]:
    return {"GSI1PK": f"ERASURES#{status.upper()}", "GSI1SK": f"{record['requested_at']}#{record['request_id']}"}


def _cases(case_owner_id: str) -> list[dict[str, Any]]:
    return store.query_all(
        KeyConditionExpression=Key("PK").eq(f"OWNER#{case_owner_id}") & Key("SK").begins_with("CASE#"),
        ConsistentRead=True,
    )


def _retention(client_id: str) -> retention.Retention:
    """The client's country's law (its address, else where its imports default to), or the client's longer one."""
    client = clients_repository.get_client(client_id)
    client_settings = clients_repository.get_settings(client_id) or {}
    country = client.address.country if client is not None and client.address is not None else None
    country = country or (client_settings.get("imports") or {}).get("default_country")
    years = (client_settings.get("data_protection") or {}).get("retention_years")
    return retention.retention_for(country, int(years) if years else None)


def _earliest(case_owner_id: str, rule: retention.Retention) -> date | None:
    cases = [
        (str(c["status"]), datetime.fromisoformat(str(c["closed_at"])).date() if c.get("closed_at") else None)
        for c in _cases(case_owner_id)
    ]
    return retention.earliest_erasure(cases, rule)


# ---- the request ---------------------------------------------------------------------------------------------


def request_erasure(
    case_owner_id: str, body: models.ErasureIn, who: Identity, correlation_id: str
) -> models.ErasureOut:
    if not who.is_agency:
        raise Forbidden("only the agency answers a data subject's request")
    models.refuse_personal_data(body.reason, "reason")
    owner = repository.get_owner(case_owner_id)
    if owner is None or owner.erased_at is not None:
        raise NotFound("case_owner", case_owner_id)
    at = now()
    rule = _retention(owner.client_id)
    earliest = _earliest(case_owner_id, rule)
    record, tx = _new_request(
        case_owner_id,
        owner.client_id,
        audit.Actor.of(who),
        body.reason,
        body.received_on or at.date(),
        rule,
        earliest,
        at,
        correlation_id,
    )
    if owner.restricted_since is None:
        # Until the day it may be erased, the person is restricted: hidden, never contacted, never traced.
        hold = rules.Hold(
            policy_repository.new_hold_id(),
            "restriction",
            at,
            None,
            who.principal,
            f"erasure requested ({record['request_id']}): kept until the legal exceptions run out",
        )
        tx.put(policy_repository.hold_item(case_owner_id, hold))
        restriction.start(tx, case_owner_id, hold, at, correlation_id)
    try:
        tx.commit()
    except WriteConflict as exc:
        raise Conflict("erasure_already_requested", "this person's erasure has been requested already") from exc
    outbox.try_flush(store.table_name())
    return view(str(record["request_id"]), who)


def _new_request(
    case_owner_id: str,
    client_id: str,
    actor: audit.Actor,
    reason: str,
    received_on: date,
    rule: retention.Retention,
    earliest: date | None,
    at: datetime,
    correlation_id: str,
) -> tuple[dict[str, Any], Tx]:
    """The request record, the person's one ``ERASURE`` marker (conditional: a second request conflicts) and the
    ``erasure.requested`` audit entry, in one transaction for the caller to add to and commit."""
    request_id = new_id()
    record = store.drop_none(
        {
            **subject_access.request_key(request_id),
            "request_id": request_id,
            "kind": "erasure",
            "case_owner_id": case_owner_id,
            "client_id": client_id,
            "status": WAITING,
            "requested_by": actor.principal,
            "requested_at": at.isoformat(),
            "received_on": received_on.isoformat(),
            "reason": reason,
            "retention_years": rule.years,
            "retention_law": rule.law,
            "retention_from_year_end": rule.from_year_end,
            "answers": {},
            "earliest_erasure": earliest.isoformat() if earliest else None,
        }
    )
    record.update(_index(WAITING, record))
    tx = Tx().put(record)
    tx.put(
        {
            **repository.owner_key(case_owner_id, "ERASURE"),
            "request_id": request_id,
            "requested_at": record["requested_at"],
        }
    )
    tx.audit(
        audit.entry(
            case_owner_id,
            actor,
            "erasure.requested",
            target_type="data_request",
            target_id=request_id,
            why=store.drop_none(
                {
                    "reason": reason,
                    "earliest_erasure": record.get("earliest_erasure"),
                    "kept_because": None if earliest and earliest <= at.date() else rule.law,
                }
            ),
            correlation_id=correlation_id,
        )
    )
    return record, tx


def view(request_id: str, who: Identity) -> models.ErasureOut:
    if not who.is_agency:
        raise Forbidden("only the agency answers a data subject's request")
    record = subject_access.get_record(request_id)
    if record is None or record.get("kind") != "erasure":
        raise NotFound("erasure_request", request_id)
    return models.ErasureOut.model_validate(
        {k: v for k, v in store.clean(record).items() if k in models.ErasureOut.model_fields}
    )


# ---- the daily job ---------------------------------------------------------------------------------------------


def _records(status: str) -> list[dict[str, Any]]:
    return store.query_all(IndexName="GSI1", KeyConditionExpression=Key("GSI1PK").eq(f"ERASURES#{status.upper()}"))


def erase_due(at: datetime | None = None) -> dict[str, int]:
    """Erase every person whose earliest erasure date has passed; finish erasures a dead run left half-done."""
    at = at or now()
    counts = {"waiting": 0, "started": 0, "resumed": 0}
    for record in _records(WAITING):
        current = store.table().get_item(Key=subject_access.request_key(str(record["request_id"])), ConsistentRead=True)
        record = current.get("Item") or record
        rule = retention.Retention(
            int(record["retention_years"]), str(record["retention_law"]), bool(record["retention_from_year_end"])
        )
        earliest = _earliest(str(record["case_owner_id"]), rule)
        if earliest is None or earliest > at.date():
            _note_earliest(record, earliest)
            counts["waiting"] += 1
            continue
        if _start(record, at):
            counts["started"] += 1
            finish_own(str(record["request_id"]))
    for record in _records(ERASING):
        if "contacts" not in (record.get("answers") or {}):
            finish_own(str(record["request_id"]))
            counts["resumed"] += 1
    log.info("erasure job", extra=counts)
    return counts


# ---- storage limitation (Art. 5(1)(e)): erasure without a request ---------------------------------------------

RETENTION_EXPIRED = "retention_expired"
SWEEP_STATE = {"PK": "SWEEP#retention_expired", "SK": "STATE"}
SWEEP_PAGE_ITEMS = 500


def sweep_expired(
    at: datetime | None = None, budget_seconds: float = 120.0, page_items: int = SWEEP_PAGE_ITEMS
) -> dict[str, int]:
    """Start the erasure of every person whose cases are all closed and whose retention has run out, though nobody
    asked: the same request (system actor, reason ``retention_expired``) an agency's would be, so ``erase_due`` fans
    it out, audits it and finishes it the same way.

    No index gives "closed cases by date" (GSI1 lists a client's cases by opening), so this reads the table in pages
    (case items only, keys only) and saves its cursor after each page (``SWEEP#retention_expired``): a run stops
    after ``budget_seconds`` and the next one goes on; a pass that reaches the end starts over on the next run.
    Idempotent: a person with an erasure request (pending or done) is never asked for again."""
    at = at or now()
    table = store.table()
    state = table.get_item(Key=SWEEP_STATE, ConsistentRead=True).get("Item") or {}
    counts = {"owners_checked": 0, "retention_expired": 0}
    kwargs: dict[str, Any] = {
        "Limit": page_items,
        "FilterExpression": Attr("PK").begins_with("OWNER#") & Attr("SK").begins_with("CASE#"),
        "ProjectionExpression": "PK",
    }
    cursor, seen, started = state.get("cursor"), set[str](), time.monotonic()
    while True:
        if cursor:
            kwargs["ExclusiveStartKey"] = cursor
        page = table.scan(**kwargs)
        for owner_id in dict.fromkeys(str(i["PK"]).removeprefix("OWNER#") for i in page.get("Items", [])):
            if owner_id in seen:
                continue
            seen.add(owner_id)
            counts["owners_checked"] += 1
            counts[RETENTION_EXPIRED] += _expire(owner_id, at)
        cursor = page.get("LastEvaluatedKey")
        table.put_item(
            Item={**SWEEP_STATE, "updated_at": at.isoformat(), **({"cursor": cursor} if cursor else {"passed": True})}
        )
        if cursor is None or time.monotonic() - started >= budget_seconds:
            break
    log.info("storage limitation sweep", extra={**counts, "pass_finished": cursor is None})
    return counts


def _last_activity(case: dict[str, Any]) -> date | None:
    """The day a case closed or last changed, whichever is later."""
    stamps = [datetime.fromisoformat(str(case[k])).date() for k in ("closed_at", "updated_at") if case.get(k)]
    return max(stamps, default=None)


def _expire(owner_id: str, at: datetime) -> bool:
    """The person's erasure requested by the system if their retention has run out; False when kept."""
    owner = repository.get_owner(owner_id)
    if owner is None or owner.erased_at is not None or owner.merged_into is not None:
        return False  # gone already, or goes with the person it was merged into
    if store.table().get_item(Key=repository.owner_key(owner_id, "ERASURE"), ConsistentRead=True).get("Item"):
        return False  # a request is pending or done: erase_due answers for it
    rule = _retention(owner.client_id)
    earliest = retention.expires_on([(str(c["status"]), _last_activity(c)) for c in _cases(owner_id)], rule)
    if earliest is None or earliest > at.date():
        return False
    _, tx = _new_request(
        owner_id,
        owner.client_id,
        audit.Actor.system("contacts"),
        RETENTION_EXPIRED,
        at.date(),
        rule,
        earliest,
        at,
        f"retention-expired-{owner_id}",
    )
    try:
        tx.commit()
    except WriteConflict:
        return False  # an agency's request came first
    return True


def _note_earliest(record: dict[str, Any], earliest: date | None) -> None:
    value = earliest.isoformat() if earliest else None
    if record.get("earliest_erasure") != value:
        store.table().update_item(
            Key=subject_access.request_key(str(record["request_id"])),
            UpdateExpression="SET earliest_erasure = :e" if value else "REMOVE earliest_erasure",
            **({"ExpressionAttributeValues": {":e": value}} if value else {}),
        )


def _import_ids(case_owner_id: str) -> list[str]:
    entries = store.query_all(
        KeyConditionExpression=Key("PK").eq(f"OWNER#{case_owner_id}") & Key("SK").begins_with("AUDIT#")
    )
    return sorted(
        {str(e["why"]["import_id"]) for e in entries if isinstance(e.get("why"), dict) and e["why"].get("import_id")}
    )


def _start(record: dict[str, Any], at: datetime) -> bool:
    """Waiting → erasing, with SubjectErasureRequested in the same transaction (only one run starts it)."""
    owner_id, request_id = str(record["case_owner_id"]), str(record["request_id"])
    case_ids = sorted(str(c["case_id"]) for c in _cases(owner_id))
    merged = subject_access.merged_into(owner_id)  # kept on the request: erasing strips the entries naming them
    import_ids = sorted({i for o in (owner_id, *merged) for i in _import_ids(o)})
    event = SubjectErasureRequested(
        correlation_id=f"erasure-{request_id}",
        request_id=request_id,
        client_id=str(record["client_id"]),
        case_owner_id=owner_id,
        case_ids=case_ids,
        import_ids=import_ids,
        contact_event_ids=subject_access.contact_event_ids(owner_id, case_ids, merged),
        merged_case_owner_ids=merged,
    )
    tx = Tx().update(
        subject_access.request_key(request_id),
        {
            "status": ERASING,
            "erasing_since": at.isoformat(),
            "case_ids": case_ids,
            "import_ids": import_ids,
            "merged_case_owner_ids": merged,
            **_index(ERASING, record),
        },
        condition="attribute_exists(PK) AND #status = :waiting",
        names={"#status": "status"},
        values={":waiting": WAITING},
    )
    tx.events([event])
    try:
        tx.commit()
    except WriteConflict:
        return False
    outbox.try_flush(store.table_name())
    return True


# ---- contacts' own erasure ---------------------------------------------------------------------------------------


def _delete_all_versions(bucket: str, key: str) -> int:
    s3 = aws.client("s3")
    deleted = 0
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key)
    for page in pages:
        for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            if version["Key"] == key:
                s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
                deleted += 1
    return deleted


def _delete(items: list[dict[str, Any]]) -> None:
    with store.table().batch_writer() as batch:
        for item in items:
            batch.delete_item(Key={"PK": item["PK"], "SK": item["SK"]})


def _evidence_expiration(record: dict[str, Any]) -> int:
    """What stays is the proof that and why the person was erased, without their data: it expires in its class,
    counted from the erasure's start (the job's clock), so every run of a resumed erasure gives the same date."""
    started = record.get("erasing_since")
    return expiry.expires("erasure_evidence", datetime.fromisoformat(str(started)) if started else now())


def erase_own(record: dict[str, Any]) -> dict[str, int]:
    """Everything contacts holds about the person, erased; what must stay, stripped. Safe to run again."""
    owner_id = str(record["case_owner_id"])
    counts = {
        "cases": 0,
        "contact_points": 0,
        "notes": 0,
        "attachments": 0,
        "files": 0,
        "other": 0,
        "audit_stripped": 0,
        "exports": 0,
    }
    cfg = settings.get()
    for case_id in record.get("case_ids") or []:
        items = store.query_all(KeyConditionExpression=Key("PK").eq(f"CASE#{case_id}"), ConsistentRead=True)
        for item in items:
            sk = str(item["SK"])
            if sk.startswith("ATTACHMENT#") and item.get("object_key"):
                counts["files"] += _delete_all_versions(cfg.attachments_bucket, str(item["object_key"]))
            kind = "notes" if sk.startswith("NOTE#") else "attachments" if sk.startswith("ATTACHMENT#") else "other"
            counts[kind] += 1
        _delete(items)
    for person in (owner_id, *(str(m) for m in record.get("merged_case_owner_ids") or [])):
        _erase_partition(person, record, counts)
    return counts


def _erase_partition(owner_id: str, record: dict[str, Any], counts: dict[str, int]) -> None:
    """One case owner's own partition: deleted but for the audit (stripped), the request's marker and the profile
    (a tombstone); a merged one's tombstone keeps pointing to the survivor."""
    items = store.query_all(KeyConditionExpression=Key("PK").eq(f"OWNER#{owner_id}"), ConsistentRead=True)
    gone = [i for i in items if not str(i["SK"]).startswith("AUDIT#") and i["SK"] not in ("PROFILE", "ERASURE")]
    for item in gone:
        sk = str(item["SK"])
        kind = "cases" if sk.startswith("CASE#") else "contact_points" if sk.startswith("CP#") else "other"
        counts[kind] += 1
    _delete(gone)
    expiration = _evidence_expiration(record)
    for entry in (i for i in items if str(i["SK"]).startswith("AUDIT#") or i["SK"] == "ERASURE"):
        if str(entry.get("action", "")).startswith("erasure.") or entry["SK"] == "ERASURE":
            if "expiration" not in entry:
                store.table().update_item(
                    Key={"PK": entry["PK"], "SK": entry["SK"]},
                    UpdateExpression="SET expiration = :e",
                    ExpressionAttributeValues={":e": expiration},
                )
            continue
        if entry.get("erased"):
            continue
        store.table().update_item(
            Key={"PK": entry["PK"], "SK": entry["SK"]},
            UpdateExpression="REMOVE #b, #a, #w SET erased = :t, expiration = :e",
            ExpressionAttributeNames={"#b": "before", "#a": "after", "#w": "why"},
            ExpressionAttributeValues={":t": True, ":e": expiration},
        )
        counts["audit_stripped"] += 1
        if entry.get("action") == "data_export.requested":
            counts["exports"] += _erase_export(str(entry["target_id"]))
    counts["other"] += art14.forget(str(record["client_id"]), owner_id)
    profile = next((i for i in items if i["SK"] == "PROFILE"), None)
    if profile is not None and not profile.get("erased_at"):
        store.table().put_item(
            Item={
                "PK": f"OWNER#{owner_id}",
                "SK": "PROFILE",
                "case_owner_id": owner_id,
                "client_id": profile["client_id"],
                "erased_at": now().isoformat(),
                "erasure_request_id": record["request_id"],
                "expiration": expiration,
                **({"merged_into": profile["merged_into"]} if profile.get("merged_into") else {}),
            }
        )


def _erase_export(request_id: str) -> int:
    """An earlier export of the person: its parts and its zip (every version)."""
    parts = store.query_all(
        KeyConditionExpression=Key("PK").eq(f"DSR#{request_id}") & Key("SK").begins_with("PART#"), ConsistentRead=True
    )
    _delete(parts)
    return _delete_all_versions(settings.get().exports_bucket, subject_access.object_key(request_id)) + len(parts)


def finish_own(request_id: str) -> None:
    record = subject_access.get_record(request_id)
    if record is None or record["status"] != ERASING:
        return
    counts = erase_own(record)
    _answer(request_id, "contacts", counts)


def on_erasure_completed(event: SubjectErasureCompleted) -> None:
    _answer(event.request_id, event.service, event.counts)


def _answer(request_id: str, service: str, counts: dict[str, int]) -> None:
    """Record one service's answer; the last one marks the request erased and writes the audit entry."""
    key = subject_access.request_key(request_id)
    try:
        store.table().update_item(
            Key=key,
            UpdateExpression="SET answers.#svc = :counts",
            ConditionExpression="#status = :erasing",
            ExpressionAttributeNames={"#svc": service, "#status": "status"},
            ExpressionAttributeValues={":counts": counts, ":erasing": ERASING},
        )
    except ClientError as exc:
        if not dynamo.is_condition_failure(exc):
            raise
        log.info("erasure answer after the end", extra={"request_id": request_id, "service": service})
        return
    record = subject_access.get_record(request_id)
    assert record is not None
    answers = record.get("answers") or {}
    if not all(s in answers for s in ("contacts", *ANSWERING)):
        return
    at = now()
    expiration = _evidence_expiration(record)
    tx = Tx().update(
        key,
        {"status": ERASED, "erased_at": at.isoformat(), "GSI1PK": None, "GSI1SK": None, "expiration": expiration},
        condition="attribute_exists(PK) AND #status = :erasing",
        names={"#status": "status"},
        values={":erasing": ERASING},
    )
    completed = audit.entry(
        str(record["case_owner_id"]),
        audit.Actor.system("contacts"),
        "erasure.completed",
        target_type="data_request",
        target_id=request_id,
        after={"erased_at": at.isoformat(), "counts": answers},
        why=store.drop_none(
            {
                "reason": record.get("reason"),
                "requested_at": record["requested_at"],
                "requested_by": record["requested_by"],
                "kept_until": record.get("earliest_erasure"),
                "retention_law": record.get("retention_law"),
            }
        ),
    )
    tx.audit({**completed, "expiration": expiration})
    try:
        tx.commit()
    except WriteConflict:
        log.info("erasure completed elsewhere first", extra={"request_id": request_id})
