"""A data subject's access request (GDPR Art. 15, portability Art. 20): everything FinView holds about one case
owner, one JSON document with a section per service plus the attachments, zipped into a private S3 object.

Contacts answers for its own table at once; the other services answer through the bus (no service reads another's
table): ``SubjectAccessRequested`` goes out in the outbox of the request's transaction, each service replies with
its ``…SubjectAccessCompleted`` (in parts when large). Every part is stored under the request; the part that
completes the set assembles the export. Consumers are idempotent: a part is stored once (conditional put) and
only one assembly marks the request ready (conditional update); a second assembly writes the same object.

Keys (contacts table):
  DSR#<request_id>   REQUEST                 the request: who, when, why, status, the export's object and dates
  DSR#<request_id>   PART#<service>#<nnnn>   one part of one service's section (JSON)
"""

from __future__ import annotations

import calendar
import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key

from services.contacts import settings, store
from services.contacts.cases import audit, case_messages, repository
from services.contacts.cases.repository import Tx, WriteConflict
from services.contacts.identity import Identity
from services.contacts.privacy import models
from shared import aws, expiry, outbox, subject_requests
from shared.errors import Forbidden, NotFound
from shared.events import SubjectAccessCompleted, SubjectAccessRequested, new_id
from shared.observability import logger

log = logger("contacts")
SERVICES = ("contacts", "imports", "enrichment", "notifications")
LINK_VALID = timedelta(hours=24)
# SK prefixes of the owner's and the cases' items → the section's kinds; the rest are internal (markers, pointers).
OWNER_KINDS = {
    "PROFILE": "case_owner",
    "CASE": "cases",
    "CP": "contact_points",
    "DEFAULT": "default_contact_points",
    "POLICY": "contact_policy",
    "AUDIT": "audit_trail",
}
CASE_KINDS = {"NOTE": "notes", "ATTACHMENT": "attachments", "ACTION": "contact_actions", "MESSAGE": "messages"}
INTERNAL = {"PEVENT", "POINTER", "IDEMPOTENCY"}


def now() -> datetime:
    return datetime.now(UTC)


def one_month_after(day: date) -> date:
    """GDPR Art. 12(3): the answer is due within one month of receipt (the same day next month, or its last)."""
    year, month = day.year + day.month // 12, day.month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def request_key(request_id: str, sk: str = "REQUEST") -> dict[str, str]:
    return {"PK": f"DSR#{request_id}", "SK": sk}


def _kind(sk: str, kinds: dict[str, str]) -> str | None:
    prefix = sk.split("#", 1)[0]
    if prefix in INTERNAL:
        return None
    return kinds.get(prefix, prefix.lower())  # a kind added later is exported under its own name, never dropped


MAX_MERGED = 100


def merged_into(case_owner_id: str) -> list[str]:
    """The case owners merged into this one by accepted match reviews, and into those (their audit says so): the
    same person's earlier files, whose tombstones, audit and traces in the other services stay under their ids."""
    found: list[str] = []
    queue = [case_owner_id]
    while queue and len(found) < MAX_MERGED:
        entries = store.query_all(
            KeyConditionExpression=Key("PK").eq(f"OWNER#{queue.pop()}") & Key("SK").begins_with("AUDIT#"),
            ConsistentRead=True,
        )
        for entry in entries:
            merged = (entry.get("after") or {}).get("merged_case_owner_id")
            if entry.get("action") == "case_owner.merged" and merged and str(merged) not in (*found, case_owner_id):
                found.append(str(merged))
                queue.append(str(merged))
    return found


def own_section(
    case_owner_id: str, merged: list[str] | None = None
) -> tuple[dict[str, list[dict[str, Any]]], list[str], list[str]]:
    """Contacts' section (every item of the person, of the case owners merged into them, and of their cases), the
    case ids and the import ids."""
    section: dict[str, list[dict[str, Any]]] = {}
    owner_items = [
        item
        for person in (case_owner_id, *(merged or []))
        for item in store.query_all(KeyConditionExpression=Key("PK").eq(f"OWNER#{person}"), ConsistentRead=True)
    ]
    case_ids = [str(i["case_id"]) for i in owner_items if str(i["SK"]).startswith("CASE#")]
    for item in owner_items:
        kind = _kind(str(item["SK"]), OWNER_KINDS)
        if kind:
            section.setdefault(kind, []).append(subject_requests.without_keys(item))
    for case_id in case_ids:
        items = store.query_all(KeyConditionExpression=Key("PK").eq(f"CASE#{case_id}"), ConsistentRead=True)
        messages = [i for i in items if str(i["SK"]).startswith("MSG#")]
        for item in [i for i in items if not str(i["SK"]).startswith("MSG#")]:
            kind = _kind(str(item["SK"]), CASE_KINDS)
            if kind:
                section.setdefault(kind, []).append({"case_id": case_id, **subject_requests.without_keys(item)})
        for message in case_messages.merged(messages):  # one entry a message, not one per event of it
            section.setdefault("msg", []).append({"case_id": case_id, **message})
    imports = sorted(
        {
            str(entry["why"]["import_id"])
            for entry in section.get("audit_trail", [])
            if isinstance(entry.get("why"), dict) and entry["why"].get("import_id")
        }
    )
    return section, case_ids, imports


# The ids of a person's contacts ride on the request events: 3,000 take ~120 KB of the bus's 256 KB per event.
MAX_CONTACT_EVENT_IDS = 3000


def contact_event_ids(case_owner_id: str, case_ids: list[str], merged: list[str] | None = None) -> list[str]:
    """The ids of the ContactActionRequested events published for the person, oldest first (each contact's record
    keeps its event's id): notifications finds by them the collectors' e-mails and SMS it recorded before it linked
    each to the person. Past ``MAX_CONTACT_EVENT_IDS`` the newest are left out (they are linked already)."""
    records = [
        item
        for pk in (*(f"OWNER#{o}" for o in (case_owner_id, *(merged or []))), *(f"CASE#{c}" for c in case_ids))
        for item in store.query_all(
            KeyConditionExpression=Key("PK").eq(pk) & Key("SK").begins_with("ACTION#"), ConsistentRead=True
        )
    ]
    records.sort(key=lambda r: str(r.get("decided_at") or r.get("requested_at") or ""))
    ids = dict.fromkeys(str(r["event_id"]) for r in records if r.get("event_id"))
    if len(ids) > MAX_CONTACT_EVENT_IDS:
        log.warning("contact event ids cut", extra={"case_owner_id": case_owner_id, "contacts": len(ids)})
    return list(ids)[:MAX_CONTACT_EVENT_IDS]


def _part_item(
    request_id: str, service: str, part: int, parts: int, section: dict[str, Any], counts: dict[str, int]
) -> dict[str, Any]:
    return {
        **request_key(request_id, f"PART#{service}#{part:04d}"),
        "service": service,
        "part": part,
        "parts": parts,
        "counts": counts,
        "section": json.dumps(section, default=str),
        "expiration": expiry.expires("data_export_parts", now()),  # copies of the person's data: not for long
    }


def request_export(
    case_owner_id: str, body: models.DataExportIn, who: Identity, correlation_id: str
) -> models.DataRequestOut:
    """POST /case-owners/{id}/data-export: contacts' own section now, the others' through the bus (202)."""
    if not who.is_agency:
        raise Forbidden("only the agency answers a data subject's request")
    models.refuse_personal_data(body.reason, "reason")
    owner = repository.get_owner(case_owner_id)
    if owner is None:
        raise NotFound("case_owner", case_owner_id)
    request_id, at = new_id(), now()
    merged = merged_into(case_owner_id)
    section, case_ids, import_ids = own_section(case_owner_id, merged)
    counts = {kind: len(records) for kind, records in section.items()}
    parts = subject_requests.split(section)
    for n, part in enumerate(parts, start=1):  # idempotent: a retried request (same key) writes the same parts
        store.table().put_item(Item=_part_item(request_id, "contacts", n, len(parts), part, counts))
    record = {
        **request_key(request_id),
        "request_id": request_id,
        "kind": "access",
        "case_owner_id": case_owner_id,
        "client_id": owner.client_id,
        "status": "collecting",
        "requested_by": who.principal,
        "requested_at": at.isoformat(),
        "reason": body.reason,
        "received_on": (body.received_on or at.date()).isoformat(),
    }
    record = store.drop_none(record)
    event = SubjectAccessRequested(
        correlation_id=correlation_id,
        request_id=request_id,
        client_id=owner.client_id,
        case_owner_id=case_owner_id,
        case_ids=case_ids,
        import_ids=import_ids,
        contact_event_ids=contact_event_ids(case_owner_id, case_ids, merged),
        merged_case_owner_ids=merged,
    )
    tx = Tx().put(record)
    tx.audit(
        audit.entry(
            case_owner_id,
            audit.Actor.of(who),
            "data_export.requested",
            target_type="data_request",
            target_id=request_id,
            why=store.drop_none({"reason": body.reason, "received_on": record.get("received_on")}),
            correlation_id=correlation_id,
        )
    )
    tx.events([event])
    tx.commit()
    outbox.try_flush(store.table_name())
    return view(request_id, who)


def _parts(request_id: str) -> list[dict[str, Any]]:
    return store.query_all(
        KeyConditionExpression=Key("PK").eq(f"DSR#{request_id}") & Key("SK").begins_with("PART#"), ConsistentRead=True
    )


def progress(parts: list[dict[str, Any]]) -> dict[str, models.ServiceProgress]:
    out: dict[str, models.ServiceProgress] = {}
    for service in SERVICES:
        mine = [p for p in parts if p["service"] == service]
        expected = int(mine[0]["parts"]) if mine else None
        out[service] = models.ServiceProgress(
            answered=expected is not None and len(mine) == expected,
            parts_received=len(mine),
            parts=expected,
            counts={k: int(v) for k, v in (mine[0]["counts"] if mine else {}).items()},
        )
    return out


def on_access_completed(event: SubjectAccessCompleted) -> None:
    """Store one service's part; the part that completes the set assembles the export."""
    record = get_record(event.request_id)
    if record is None:
        raise LookupError(f"an answer to unknown data request {event.request_id}")
    item = _part_item(event.request_id, event.service, event.part, event.parts, event.section, event.counts)
    if not store.put_new(item):
        log.info("data request part already stored", extra={"request_id": event.request_id, "service": event.service})
    if record["status"] != "collecting":
        return
    parts = _parts(event.request_id)
    if all(p.answered for p in progress(parts).values()):
        assemble(record, parts)


def get_record(request_id: str) -> dict[str, Any] | None:
    item = store.table().get_item(Key=request_key(request_id), ConsistentRead=True).get("Item")
    return dict(item) if item else None


def _bucket() -> str:
    return settings.get().exports_bucket


def object_key(request_id: str) -> str:
    return f"data-exports/{request_id}.zip"


def assemble(record: dict[str, Any], parts: list[dict[str, Any]]) -> None:
    """The export: data.json (one section per service) and the attachments' files, zipped into the private exports
    bucket; the request becomes ready (once) and the audit says so."""
    request_id = str(record["request_id"])
    sections: dict[str, dict[str, list[Any]]] = {s: {} for s in SERVICES}
    for part in sorted(parts, key=lambda p: (str(p["service"]), int(p["part"]))):
        for kind, records in json.loads(str(part["section"])).items():
            sections[str(part["service"])].setdefault(kind, []).extend(records)
    at = now()
    document = {
        "request_id": request_id,
        "case_owner_id": record["case_owner_id"],
        "client_id": record["client_id"],
        "requested_at": record["requested_at"],
        "generated_at": at.isoformat(),
        "controller_note": "personal data held by FinView on behalf of the agency and its client (GDPR Art. 15)",
        "sections": sections,
    }
    buffer = io.BytesIO()
    s3 = aws.client("s3")
    missing: list[str] = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for attachment in sections["contacts"].get("attachments", []):
            key = attachment.get("object_key")
            if not key:
                continue
            try:
                body = s3.get_object(Bucket=settings.get().attachments_bucket, Key=key)["Body"].read()
            except s3.exceptions.NoSuchKey:
                missing.append(str(attachment.get("attachment_id")))  # announced, never uploaded
                continue
            folder = f"attachments/{attachment['case_id']}"
            archive.writestr(f"{folder}/{attachment['attachment_id']}-{attachment.get('filename', 'file')}", body)
        document["attachments_without_file"] = missing
        archive.writestr("data.json", json.dumps(document, indent=2, ensure_ascii=False, default=str))
    key = object_key(request_id)
    s3.put_object(Bucket=_bucket(), Key=key, Body=buffer.getvalue(), ContentType="application/zip")
    tx = Tx().update(
        request_key(request_id),
        {
            "status": "ready",
            "object_key": key,
            "ready_at": at.isoformat(),
            "link_expires_at": (at + LINK_VALID).isoformat(),
        },
        condition="attribute_exists(PK) AND #status = :collecting",
        names={"#status": "status"},
        values={":collecting": "collecting"},
    )
    tx.audit(
        audit.entry(
            str(record["case_owner_id"]),
            audit.Actor.system("contacts"),
            "data_export.ready",
            target_type="data_request",
            target_id=request_id,
            after={"object_key": key, "counts": {s: sum(map(len, v.values())) for s, v in sections.items()}},
            correlation_id=None,
        )
    )
    try:
        tx.commit()
    except WriteConflict:
        log.info("data export assembled elsewhere first", extra={"request_id": request_id})


def view(request_id: str, who: Identity) -> models.DataRequestOut:
    """GET /data-requests/{id}: progress per service and, once ready, a link valid until 24 h after it was ready."""
    if not who.is_agency:
        raise Forbidden("only the agency answers a data subject's request")
    record = get_record(request_id)
    if record is None:
        raise NotFound("data_request", request_id)
    status, url, expires = str(record["status"]), None, None
    if status == "ready":
        expires = datetime.fromisoformat(str(record["link_expires_at"]))
        left = int((expires - now()).total_seconds())
        if left <= 0:
            status = "expired"
        else:
            url = aws.client("s3", signature_version="s3v4").generate_presigned_url(
                "get_object", Params={"Bucket": _bucket(), "Key": record["object_key"]}, ExpiresIn=left
            )
    return models.DataRequestOut(
        request_id=request_id,
        kind=str(record["kind"]),
        case_owner_id=str(record["case_owner_id"]),
        status=status,
        requested_by=str(record["requested_by"]),
        requested_at=datetime.fromisoformat(str(record["requested_at"])),
        reason=record.get("reason"),
        received_on=date.fromisoformat(str(record["received_on"])),
        answer_due_on=one_month_after(date.fromisoformat(str(record["received_on"]))),
        progress=progress(_parts(request_id)),
        download_url=url,
        link_expires_at=expires,
    )
