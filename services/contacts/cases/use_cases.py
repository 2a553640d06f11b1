"""Case use cases: case files, reassignment, the notepad, communication actions, the audit trail, and the bus
events (from imports and enrichment) that create or enrich case owners, cases and contact points."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from services.contacts import pagination, store
from services.contacts.cases import (
    audit,
    contact_points,
    contact_requests,
    domain,
    enrichment,
    observations,
    repository,
)
from services.contacts.cases.models import (
    AuditEntry,
    Case,
    CaseActionIn,
    CaseFile,
    CaseOwner,
    CaseOwnerChange,
    CaseOwnerFile,
    ContactActionOut,
    Note,
)
from services.contacts.clients import use_cases as clients
from services.contacts.identity import Identity
from services.contacts.models import Page
from shared import outbox
from shared.errors import Conflict, Forbidden, NotFound
from shared.events import CaseData, CaseFileImported, CaseFileImportedV2, CaseOpened, EnrichmentResultFound, new_id
from shared.observability import logger, metrics

SERVICE = "contacts"
CASE_OPENED = uuid.UUID("5f0c6f1e-6d1f-4b7e-9a57-2b7f7d0c9e31")  # CaseOpened's event id: uuid5(this, case id)
log = logger(SERVICE)


# ---- reads -----------------------------------------------------------------------------------------------


def get_case_file(case_id: str, who: Identity, include_invalid: bool = False) -> CaseFile:
    case_file = repository.get_case_file(case_id, include_invalid=include_invalid)
    if case_file is None or not who.may_see_client(case_file.case.client_id) or _hidden(case_file.case.restricted, who):
        # A client user asking for another client's case learns nothing, not even that it exists.
        raise NotFound("case", case_id)
    return case_file


def list_cases(client_id: str, who: Identity, limit: int = 100, next_token: str | None = None) -> Page[Case]:
    clients.get_client(client_id, who)
    cases, last = repository.list_cases(
        client_id, limit=limit, start=pagination.decode(next_token, {"GSI1PK": f"CLIENT#{client_id}#CASES"})
    )
    return Page[Case](items=cases, next_token=pagination.encode(last))


def get_case_owner(case_owner_id: str, who: Identity) -> CaseOwnerFile:
    owner = contact_points.current_owner(case_owner_id, who)  # a merged one's link leads to the survivor
    return CaseOwnerFile(
        case_owner=owner,
        cases=repository.owner_cases(owner.case_owner_id),
        defaults=repository.defaults(owner.case_owner_id),  # type: ignore[arg-type]
    )


def change_case_owner(case_owner_id: str, change: CaseOwnerChange, who: Identity, correlation_id: str) -> CaseOwner:
    """PATCH /case-owners/{id}: the language debtor messages are written in (null: back to the business unit's)."""
    owner = contact_points.owner_for_change(case_owner_id, who)
    fields = {name: getattr(change, name) for name in change.model_fields_set}
    before = {name: getattr(owner, name) for name in fields}
    if fields == before:
        return owner
    tx = repository.Tx().update(repository.owner_key(case_owner_id, "PROFILE"), fields)
    tx.audit(
        audit.entry(
            case_owner_id,
            audit.Actor.of(who),
            "case_owner.changed",
            target_type="case_owner",
            target_id=case_owner_id,
            before=before,
            after=fields,
            correlation_id=correlation_id,
        )
    )
    tx.commit()
    return owner.model_copy(update=fields)


def list_audit(case_owner_id: str, who: Identity, limit: int, next_token: str | None) -> Page[AuditEntry]:
    contact_points.visible_owner(case_owner_id, who)
    start = pagination.decode(next_token, {"PK": f"OWNER#{case_owner_id}"}, "AUDIT#")
    items, last = repository.page(f"OWNER#{case_owner_id}", "AUDIT#", limit, start)
    return Page[AuditEntry](
        items=[AuditEntry.model_validate(_plain(store.clean(i))) for i in items], next_token=pagination.encode(last)
    )


def _plain(value: Any) -> Any:
    """DynamoDB numbers (Decimal) back to ints where they are whole, so the audit reads as it was written."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value


def case_item(case_id: str, who: Identity, *, change: bool) -> dict[str, Any]:
    """The stored case if ``who`` may see it (and change it, when ``change``)."""
    pointer = repository.case_pointer(case_id)
    if pointer is None or not who.may_see_client(str(pointer["client_id"])):
        raise NotFound("case", case_id)
    if change and not who.is_agency:
        raise Forbidden("client users may read their cases, not change them")
    item = repository.get_case_item(str(pointer["case_owner_id"]), case_id)
    if item is None or _hidden(bool(item.get("restricted")), who):
        raise NotFound("case", case_id)
    return item


def _hidden(restricted: bool, who: Identity) -> bool:
    """A restricted case owner's cases are the agency's alone (GDPR Art. 18, Recital 67)."""
    return restricted and not who.is_agency


# ---- case file: collector, notepad, actions -------------------------------------------------------------


def assign_collector(case_id: str, collector: str, reason: str | None, who: Identity, correlation_id: str) -> Case:
    for _ in range(contact_points.MAX_ATTEMPTS):
        item = case_item(case_id, who, change=True)
        owner_id = str(item["case_owner_id"])
        if item.get("collector") == collector:
            return Case.model_validate(store.clean(item))
        tx = repository.Tx()
        condition, values, names = repository.revision_condition(repository.revision(item))
        tx.update(
            {"PK": str(item["PK"]), "SK": str(item["SK"])},
            {"collector": collector, "revision": repository.revision(item) + 1, "updated_at": store.now()},
            condition=condition,
            values=values,
            names=names,
        )
        tx.audit(
            audit.entry(
                owner_id,
                audit.Actor.of(who),
                "case.collector_assigned",
                target_type="case",
                target_id=case_id,
                case_id=case_id,
                before={"collector": item.get("collector")},
                after={"collector": collector},
                why={"reason": reason} if reason else None,
                correlation_id=correlation_id,
            )
        )
        try:
            tx.commit()
        except repository.WriteConflict:
            continue
        return Case.model_validate(store.clean({**item, "collector": collector}))
    raise Conflict("concurrent_change", "the case kept changing meanwhile; read it again and retry")


def add_note(case_id: str, text: str, who: Identity, correlation_id: str) -> Note:
    item = case_item(case_id, who, change=True)
    observations.check_note(text)
    note = Note(note_id=new_id(), case_id=case_id, author=who.principal, created_at=datetime.now(UTC), text=text)
    stored = note.model_dump(mode="json")
    tx = repository.Tx().put({"PK": f"CASE#{case_id}", "SK": f"NOTE#{stored['created_at']}#{note.note_id}", **stored})
    tx.audit(
        audit.entry(
            str(item["case_owner_id"]),
            audit.Actor.of(who),
            "case.note_added",
            target_type="note",
            target_id=note.note_id,
            case_id=case_id,
            after={"text": text},
            correlation_id=correlation_id,
        )
    )
    tx.commit()
    return note


def list_notes(case_id: str, who: Identity, limit: int, next_token: str | None) -> Page[Note]:
    case_item(case_id, who, change=False)
    items, last = repository.page(
        f"CASE#{case_id}", "NOTE#", limit, pagination.decode(next_token, {"PK": f"CASE#{case_id}"}, "NOTE#")
    )
    return Page[Note](items=[Note.model_validate(store.clean(i)) for i in items], next_token=pagination.encode(last))


def case_action(case_id: str, body: CaseActionIn, who: Identity, correlation_id: str) -> ContactActionOut:
    """A communication action of the case (on the given point, or on the default of the action's type), decided
    by the contact-policy gate: 202 requested or deferred, 409 naming the rule when refused."""
    item = case_item(case_id, who, change=True)
    return contact_requests.request_from_api(
        case_id,
        body.action,
        who,
        correlation_id,
        automatic=body.automatic,
        case_owner_id=str(item["case_owner_id"]),
        contact_point_id=body.contact_point_id,
        message_kind=body.message_kind,
        retry_of=body.retry_of,
    )


# ---- bus events ------------------------------------------------------------------------------------------


def on_case_file_imported(event: CaseFileImported) -> None:
    """Create or merge the case owner, its cases and contact points. Idempotent on content as well as on the
    event id: every id is deterministic and every write is conditional, so a re-import changes nothing.

    A case owner imports matched as new is written without a read first (:func:`_store_new_owner`); any other,
    or a new one whose transaction finds something there already, goes through :func:`_store_case_file`."""
    if event.matched_by == "new" and _store_new_owner(event):
        return
    _store_case_file(event)


def on_case_files_imported(event: CaseFileImportedV2) -> None:
    """``CaseFileImported.v2``, set-at-a-time: the case owners imports matched as new are written together, their
    conditional groups (each owner's whole file, with its CaseOpened outbox rows) sharing TransactWriteItems of at
    most 100 items, without a read first. A group whose condition fails (a redelivery, a second part of a file, an
    owner created meanwhile, an erased owner's tombstone) is left out of the transaction, which is written again
    without it, and that owner takes the per-owner general path, as does every known owner (one Query each).

    A failure between two transactions leaves whole owners written and the rest not: the redelivery finds the
    written ones (their groups fail, the general path writes nothing more) and writes the others; the committed
    owners' CaseOpened rows are published from the outbox then."""
    batched: list[tuple[CaseFileImported, list[domain.NewContactPoint], repository.Tx]] = []
    rest: list[CaseFileImported] = []
    owners: set[str] = set()
    for case_file in event.as_v1():
        owner_id = case_file.case_owner.case_owner_id
        first = owner_id not in owners  # a second file of the same owner touches the same items: after the first
        owners.add(owner_id)
        if case_file.matched_by == "new" and first:
            points = domain.points_to_add(owner_id, case_file.contact_points, set(), "import")
            tx = _new_owner_writes(case_file, owner_id, points)
            if len(tx.items) <= repository.MAX_TRANSACTION_ITEMS:
                batched.append((case_file, points, tx))
                continue
            outbox.discarded(tx.items)
        rest.append(case_file)
    written = repository.write_unless_exists([tx for _, _, tx in batched]) if batched else []
    for (case_file, points, tx), ok in zip(batched, written, strict=True):
        if ok:
            _announce_new_owner(case_file, points)
        else:
            outbox.discarded(tx.items)  # the general path builds its own
            rest.append(case_file)
    for case_file in rest:
        _store_case_file(case_file)


def _case_file_writes(
    event: CaseFileImported,
    owner_id: str,
    cases: list[CaseData],
    points: list[domain.NewContactPoint],
    restricted: bool,
) -> list[repository.Tx]:
    """The owner, ``cases`` (each with its CaseOpened in the outbox, id derived from the case: a delivery that
    dies after the commit leaves it there, and the consumer's flush on the retry publishes it) and ``points``, each
    group with its pointer and audit entries."""
    actor = audit.Actor.system("imports")
    why = {"event_id": event.event_id, "import_id": event.import_id, "rows": event.row_numbers}
    return [
        repository.case_owner_writes(event.client_id, event.case_owner, actor, event.correlation_id),
        *(
            repository.case_writes(
                event.client_id,
                owner_id,
                case,
                actor,
                event.correlation_id,
                why,
                events=[
                    CaseOpened(
                        event_id=str(uuid.uuid5(CASE_OPENED, case.case_id)),
                        correlation_id=event.correlation_id,
                        client_id=event.client_id,
                        case_owner_id=owner_id,
                        case_id=case.case_id,
                        opened_on=case.opened_on,
                    )
                ],
                restricted=restricted,
            )
            for case in cases
        ),
        *(repository.point_writes(owner_id, new, actor, event.correlation_id, why) for new in points),
    ]


def _new_owner_writes(event: CaseFileImported, owner_id: str, points: list[domain.NewContactPoint]) -> repository.Tx:
    """A new case owner's whole file as one transaction's items: the owner, its cases (with their CaseOpened
    outbox rows) and its points, every put conditional on not existing, and ONE audit entry, ``case_file.imported``,
    naming each of them as its own entry would (``audit.one_entry``). The file is written all or nothing, so one
    entry records it whole; the general path, which may write only some of a file's parts, keeps an entry per
    part."""
    tx = repository.Tx()
    entries: list[dict[str, Any]] = []
    for group in _case_file_writes(event, owner_id, _cases(event), points, restricted=False):
        items, audited = group.unaudited()
        tx.items.extend(items)
        entries.extend(audited)
    why = {"event_id": event.event_id, "import_id": event.import_id, "rows": event.row_numbers}
    actor = audit.Actor.system("imports")
    return tx.audit(
        audit.one_entry(owner_id, actor, "case_file.imported", entries, why=why, correlation_id=event.correlation_id)
    )


def _store_new_owner(event: CaseFileImported) -> bool:
    """A case owner the import matched as new: its whole file in one transaction, every item conditional on not
    existing, without reading anything first (a new owner has no points to compare with, no restriction, no
    merge). False, with nothing written, when the transaction does not fit one request or finds any of its items
    there (a redelivery, a second part of a big file, an owner created meanwhile): the caller then takes the
    general path, which reads what is stored and writes only what is missing."""
    owner_id = event.case_owner.case_owner_id
    points = domain.points_to_add(owner_id, event.contact_points, set(), "import")
    tx = _new_owner_writes(event, owner_id, points)
    if len(tx.items) > repository.MAX_TRANSACTION_ITEMS:
        return False
    try:
        tx.commit()
    except repository.WriteConflict as conflict:
        if any(code not in ("None", "", "ConditionalCheckFailed") for code in conflict.reasons):
            raise
        outbox.discarded(tx.items)  # the general path builds its own
        return False
    _announce_new_owner(event, points)
    return True


def _announce_new_owner(event: CaseFileImported, points: list[domain.NewContactPoint]) -> None:
    """A new owner's file is written: count its cases and send enrichment the snapshot (no read: it is what was
    written)."""
    owner_id = event.case_owner.case_owner_id
    metrics(SERVICE).add_metric(name="CasesOpened", unit="Count", value=len(_cases(event)))
    enrichment.publish_contacts_changed(
        owner_id,
        event.correlation_id,
        owner=CaseOwner(client_id=event.client_id, **event.case_owner.model_dump()),
        items=sorted((repository.point_item(owner_id, new) for new in points), key=lambda i: str(i["SK"])),
    )


def _cases(event: CaseFileImported) -> list[CaseData]:
    return list({case.case_id: case for case in event.cases}.values())  # one write per item and transaction


def _store_case_file(event: CaseFileImported) -> None:
    """The general path: what is stored is read first (the owner, its cases and its points in one Query), and only
    what is missing is written: a known owner's file with nothing new costs that read and no write."""
    owner_id = event.case_owner.case_owner_id
    stored = repository.read_owner(owner_id)
    known = _owner(stored)  # a restricted owner's new case stays out of the case list
    if known is not None and known.merged_into is not None:
        # Rows imported before imports learnt of an accepted merge: they belong to the surviving case owner.
        owner_id = surviving_owner(owner_id)
        event = event.model_copy(update={"case_owner": event.case_owner.model_copy(update={"case_owner_id": owner_id})})
        stored = repository.read_owner(owner_id)
        known = _owner(stored)
    cases = [case for case in _cases(event) if stored.case(case.case_id) is None]
    stored_points = stored.points
    existing = repository.ids_of_points(owner_id, stored_points)
    points = domain.points_to_add(owner_id, event.contact_points, existing, "import")
    restricted = known is not None and known.restricted_since is not None
    groups = _case_file_writes(event, owner_id, cases, points, restricted)
    if known is not None:
        groups = groups[1:]  # the owner is there: only its new cases and points
    # In as few TransactWriteItems as fit (a few past 100 items); anything written meanwhile is left as it is.
    written = repository.write_unless_exists(groups)
    owner_written = known is None and written[0]
    written = written[1:] if known is None else written
    if not owner_written and event.case_owner.language:
        repository.learn_language(owner_id, event.case_owner.language)  # a known owner, a language at last
    metrics(SERVICE).add_metric(name="CasesOpened", unit="Count", value=sum(written[: len(cases)]))
    # The contacts snapshot tells enrichment what the owner lacks (a newer snapshot supersedes a lost one). When
    # every point this event brought was written, the stored points are those read above and those written (no
    # second read); the owner is the one read above, or the one just written.
    points_written = all(written[len(cases) :])
    new_owner = CaseOwner(client_id=event.client_id, **event.case_owner.model_dump()) if owner_written else None
    enrichment.publish_contacts_changed(
        owner_id,
        event.correlation_id,
        owner=known or new_owner,
        items=sorted(  # in key order, as a read gives them
            [*stored_points, *(repository.point_item(owner_id, new) for new in points)], key=lambda i: str(i["SK"])
        )
        if points_written
        else None,
    )


def _owner(stored: repository.OwnerRead) -> CaseOwner | None:
    return CaseOwner.model_validate(store.clean(stored.profile)) if stored.profile else None


def surviving_owner(case_owner_id: str) -> str:
    """The case owner's id, or the survivor's where it was merged (followed through a chain of merges)."""
    for _ in range(5):
        owner = repository.get_owner(case_owner_id)
        if owner is None or owner.merged_into is None:
            break
        case_owner_id = owner.merged_into
    return case_owner_id


def on_enrichment_result(event: EnrichmentResultFound) -> None:
    """Add what enrichment found as pending points; a value the case owner has already (validated, default,
    invalid or pending) is left exactly as it is. Found for a merged case owner: added to the survivor."""
    owner = repository.get_owner(event.case_owner_id)
    if owner is None:
        raise LookupError(f"enrichment found something for unknown case owner {event.case_owner_id}")
    if owner.merged_into is not None:
        event = event.model_copy(update={"case_owner_id": surviving_owner(event.case_owner_id)})
    actor = audit.Actor.system("enrichment")
    why = {"event_id": event.event_id, "provider": event.provider, "attempt": event.attempt}
    existing = repository.contact_point_ids(event.case_owner_id)
    added = domain.points_to_add(event.case_owner_id, event.contact_points, existing, "enrichment")
    stored = [
        new for new in added if repository.add_contact_point(event.case_owner_id, new, actor, event.correlation_id, why)
    ]
    log.info("enrichment result merged", extra={"case_id": event.case_id, "added": len(stored)})
    if stored:
        enrichment.publish_contacts_changed(event.case_owner_id, event.correlation_id)
