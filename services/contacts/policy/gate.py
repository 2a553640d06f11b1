"""The gate: every contact with a debtor is decided here, recorded, and only then published.

``request_contact`` reads the case, the contact point, the case owner's policy items and the client's rules,
asks ``rules.decide`` and, when allowed, writes the contact into the case owner's history in ONE conditional
transaction (history revision + action record + audit entry) before publishing ContactActionRequested. A lost
race re-reads and decides again, so a cap of 7 under 20 concurrent requests lets exactly 7 through.
A refused manual request raises ``Refused`` (409, nothing stored); a refused automatic one is deferred to its
next allowed time (``release_deferred`` lets it go then) or, when waiting cannot help, recorded as refused.
"""

from __future__ import annotations

import random
import time as clock
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from boto3.dynamodb.conditions import Key

from services.contacts import store
from services.contacts.cases import audit
from services.contacts.cases import repository as cases_repository
from services.contacts.clients import repository as clients_repository
from services.contacts.policy import repository, rules, zones
from services.contacts.policy.rules import Channel, MessageKind
from shared import dynamo, outbox
from shared.errors import Conflict, NotFound
from shared.events import ContactActionRequested, DebtorMessage, new_id
from shared.observability import logger

log = logger("contacts")
MAX_ATTEMPTS = 60
RECHECK = timedelta(days=1)  # a contact held by an open-ended hold is looked at again daily


def now() -> datetime:
    """The gate's clock (one place, so tests and the README's flow can pin the debtor's local hour)."""
    return datetime.now(UTC)


class Refused(Conflict):
    """409: the policy refuses this contact now; ``next_allowed_at`` when waiting helps."""

    def __init__(self, decision: rules.Decision, next_allowed_at: datetime | None) -> None:
        super().__init__(str(decision.rule), decision.message)
        self.decision = decision
        self.next_allowed_at = next_allowed_at
        self.details = {
            "next_allowed_at": next_allowed_at.isoformat() if next_allowed_at else None,
            "law": decision.law,
        }


@dataclass(frozen=True)
class Outcome:
    """What the gate did with one request."""

    status: str  # "requested" | "deferred" | "refused" | "already_claimed" | "released_elsewhere"
    action_id: str
    case_owner_id: str
    client_id: str
    case_id: str
    point_item: dict[str, Any] | None
    event: ContactActionRequested | None = None
    decision: rules.Decision = rules.ALLOWED
    next_allowed_at: datetime | None = None


# ---- what the gate knows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Known:
    """One read of everything a decision needs."""

    case: dict[str, Any]
    points: list[dict[str, Any]]
    owner: repository.OwnerPolicy
    policy: rules.Policy
    jurisdiction: str
    client_rules: rules.ClientRules

    @property
    def case_owner_id(self) -> str:
        return str(self.case["case_owner_id"])

    @property
    def case_id(self) -> str:
        return str(self.case["case_id"])

    def point(self, channel: Channel, contact_point_id: str | None) -> dict[str, Any] | None:
        kind = rules.POINT_TYPE[channel]
        if contact_point_id is not None:
            found = next((p for p in self.points if p["contact_point_id"] == contact_point_id), None)
            if found is None:
                raise NotFound("contact_point", contact_point_id)
            return found
        return next((p for p in self.points if p["type"] == kind and p.get("is_default") and p["valid"]), None)

    def address(self) -> dict[str, Any] | None:
        """The debtor's location for letters and e-mail: the default address, else any valid one."""
        addresses = [p for p in self.points if p["type"] == "postal_address" and p["valid"] and p.get("address")]
        addresses.sort(key=lambda p: not p.get("is_default"))
        return dict(addresses[0]["address"]) if addresses else None

    def location(self, item: dict[str, Any] | None) -> zones.Location:
        if item is not None and item["type"] == "phone":
            return zones.of_phone(str(item["value"]))
        if item is not None and item["type"] == "postal_address" and item.get("address"):
            return zones.of_address(item["address"].get("country"), item["address"].get("postcode"))
        address = self.address()
        if address:
            return zones.of_address(address.get("country"), address.get("postcode"))
        phone = next((p for p in self.points if p["type"] == "phone" and p["valid"]), None)
        return zones.of_phone(str(phone["value"])) if phone else zones.Location((), "unknown")

    def zones_of(self, item: dict[str, Any] | None) -> tuple[ZoneInfo, ...]:
        location = self.location(item)
        country = location.country or self.jurisdiction.split("-")[0]
        return rules.zones_or_default(location.zones, zones.country_zones(country) if len(country) == 2 else ())

    def facts(self, item: dict[str, Any] | None) -> rules.PointFacts | None:
        if item is None:
            return None
        location = self.location(item)
        prefs = self.owner.points.get(str(item["contact_point_id"]))
        return repository.point_wishes(item, prefs, location.zones)

    def situation(self) -> rules.Situation:
        holds = list(self.owner.holds)
        opened = self.case.get("opened_on")
        if opened:
            space = rules.breathing_space(
                date.fromisoformat(str(opened)), self.policy.breathing_space_days, self.case_id
            )
            if space is not None:
                holds.append(space)
        return rules.Situation(self.policy, tuple(holds), self.owner.inconvenient, self.owner.history)


def _workflow(settings: dict[str, Any], portfolio: str | None) -> dict[str, Any]:
    workflow = dict(settings.get("workflow") or {})
    override = (workflow.get("portfolio_overrides") or {}).get(portfolio or "", {}) if portfolio else {}
    return {**workflow, **{k: v for k, v in override.items() if v is not None}}


def client_rules(client_id: str, portfolio: str | None) -> rules.ClientRules:
    """The client's contact rules: its own CONTACT_POLICY item plus the workflow settings of seed 001."""
    workflow = _workflow(clients_repository.get_settings(client_id) or {}, portfolio)
    own = repository.get_client_rules(client_id) or {}
    window = own.get("window")
    return rules.ClientRules(
        window=rules.Window(
            datetime.strptime(window["start"], "%H:%M").time(), datetime.strptime(window["end"], "%H:%M").time()
        )
        if window
        else None,
        window_channels=frozenset(own.get("window_channels") or ()),
        caps=tuple(
            rules.Cap(frozenset(c["channels"]), int(c["limit"]), int(c["days"]), c.get("per", "case"))
            for c in own.get("caps", [])
        ),
        max_phone_call_retries=int(workflow.get("max_phone_call_retries", 3)),
        breathing_space_days=int(workflow["breathing_space_days"])
        if workflow.get("breathing_space_enabled") and workflow.get("breathing_space_days")
        else None,
        transient_bounce_limit=int(own.get("transient_bounce_limit", 3)),
    )


def case_of(case_id: str) -> dict[str, Any]:
    pointer = cases_repository.case_pointer(case_id)
    item = cases_repository.get_case_item(str(pointer["case_owner_id"]), case_id) if pointer else None
    if item is None or pointer is None:
        raise NotFound("case", case_id)
    return {**item, "case_owner_id": pointer["case_owner_id"], "client_id": pointer["client_id"], "case_id": case_id}


def owner_as_case(case_owner_id: str) -> dict[str, Any]:
    """A contact from a contact point about no case in particular: the case owner stands for every case."""
    owner = cases_repository.get_owner(case_owner_id)
    if owner is None:
        raise NotFound("case_owner", case_owner_id)
    return {"case_id": rules.ANY_CASE, "case_owner_id": case_owner_id, "client_id": owner.client_id}


def owner_points(case_owner_id: str) -> list[dict[str, Any]]:
    return store.query_all(
        KeyConditionExpression=Key("PK").eq(repository.owner_pk(case_owner_id)) & Key("SK").begins_with("CP#"),
        ConsistentRead=True,
    )


def know(
    case: dict[str, Any], client: rules.ClientRules | None = None, owner: cases_repository.OwnerRead | None = None
) -> Known:
    """``owner``: the case owner's partition as the caller read it (one Query), else the points and the policy
    items are read here."""
    owner_id = str(case["case_owner_id"])
    points = owner.points if owner is not None else owner_points(owner_id)
    address = next(
        (p["address"] for p in points if p["type"] == "postal_address" and p["valid"] and p.get("address")), None
    )
    location = zones.of_address(address.get("country"), address.get("postcode")) if address else None
    if location is None:
        phone = next((p for p in points if p["type"] == "phone" and p["valid"]), None)
        location = zones.of_phone(str(phone["value"])) if phone else zones.Location((), "unknown")
    jurisdiction = rules.jurisdiction(location.country, location.region)
    client = client or client_rules(str(case["client_id"]), case.get("portfolio"))
    policy = rules.effective(rules.PRESETS[jurisdiction], client)
    wishes = repository.OwnerPolicy(owner.policy_items) if owner is not None else repository.owner_policy(owner_id)
    return Known(case, points, wishes, policy, jurisdiction, client)


# ---- the one entry point ------------------------------------------------------------------------------------


def request_contact(
    case_id: str,
    channel: Channel,
    *,
    automatic: bool,
    requested_by: str,
    actor: audit.Actor,
    correlation_id: str,
    contact_point_id: str | None = None,
    message_kind: MessageKind = "contact_request",
    debtor_message: DebtorMessage | None = None,
    subject: str | None = None,
    message: str | None = None,
    retry_of: str | None = None,
    at_time: datetime | None = None,
    deferred: dict[str, Any] | None = None,
    case_owner_id: str | None = None,
    case: dict[str, Any] | None = None,
    client: rules.ClientRules | None = None,
    flush: bool = True,
    owner: cases_repository.OwnerRead | None = None,
    action_id: str | None = None,
) -> Outcome:
    """Decide one contact with the debtor of ``case_id`` and, if allowed, record it and publish it.

    Every message to a debtor passes here (the collector's actions, automatic workflow steps, reminders and
    closing e-mails). ``deferred``: the stored record of a deferred contact the schedule is releasing. ``case``
    and ``client`` (the client's rules), ``owner`` (the case owner's partition): what a caller read already, used
    for the first decision (a lost race reads again). ``flush=False``: the event stays in the
    outbox of the current cause for the caller to publish with others (one PutEvents for up to ten).
    ``action_id``: the contact's id when the caller derives it (a reminder's, from its instalment): its record is
    then its claim, written only if absent, first in the decision's transaction; when it exists already, nothing
    is written and the status is "already_claimed".
    """
    if debtor_message is not None and message_kind == "contact_request":
        message_kind = debtor_message.kind
    claims = action_id is not None and deferred is None
    action_id = str(deferred["action_id"]) if deferred else action_id or new_id()
    if case is None:
        case = case_of(case_id) if case_id != rules.ANY_CASE else owner_as_case(str(case_owner_id))
    for attempt in range(MAX_ATTEMPTS):
        known = know(case, client, owner if attempt == 0 else None)
        draft = _draft(
            known,
            rules.Request(channel, case_id, automatic, at_time or now(), message_kind, retry_of),
            contact_point_id,
            action_id,
            requested_by,
            actor,
            correlation_id,
            debtor_message,
            subject,
            message,
            deferred,
            claims,
        )
        try:
            draft.tx.commit()
        except repository.WriteConflict as conflict:
            lost = _lost(draft, conflict.reasons)
            if lost is not None:
                return lost
            # Someone else counted first: read again and decide again.
            clock.sleep(random.uniform(0, min(0.2, 0.005 * 2 ** min(attempt, 6))))
            continue
        return _written(draft, flush)
    raise Conflict("concurrent_change", "the case owner's contacts kept changing meanwhile; try again")


@dataclass(frozen=True)
class Draft:
    """One decision as a transaction not written yet; ``outcome``: what writing it means."""

    tx: repository.Tx
    outcome: Outcome
    claims: bool  # its record comes first and is put only if absent: a failed first condition means "claimed"
    deferred: dict[str, Any] | None


def _draft(
    known: Known,
    request: rules.Request,
    contact_point_id: str | None,
    action_id: str,
    requested_by: str,
    actor: audit.Actor,
    correlation_id: str,
    debtor_message: DebtorMessage | None,
    subject: str | None,
    message: str | None,
    deferred: dict[str, Any] | None,
    claims: bool,
) -> Draft:
    """Decide one contact from what is known and build its transaction (record, history, audit, outbox); a
    refused manual request raises ``Refused``."""
    case_id, channel, automatic, message_kind = (
        request.case_id,
        request.channel,
        request.automatic,
        request.message_kind,
    )
    client_id = str(known.case["client_id"])
    item = known.point(channel, contact_point_id)
    facts, zones_ = known.facts(item), known.zones_of(item)
    situation = known.situation()
    decision = rules.decide(request, facts, situation, zones_)
    if not decision.allowed:
        following = rules.next_allowed(request, facts, situation, zones_)
        if not automatic:
            raise Refused(decision, following)
        payload = store.drop_none(
            {
                "debtor_message": debtor_message.model_dump(mode="json") if debtor_message else None,
                "subject": subject,
                "message": message,
            }
        )
        return _hold_back(
            known,
            item,
            request,
            decision,
            following,
            action_id,
            actor,
            correlation_id,
            deferred,
            payload,
            requested_by,
            claims,
        )
    assert item is not None and facts is not None
    event = ContactActionRequested(
        correlation_id=correlation_id,
        client_id=client_id,
        case_owner_id=known.case_owner_id,
        case_id=None if case_id == rules.ANY_CASE else case_id,
        action=channel,
        contact_point_id=str(item["contact_point_id"]),
        contact_point_value=str(item["value"]),
        automatic=automatic,
        requested_by=requested_by,
        subject=subject,
        message=message,
        debtor_message=debtor_message,
        action_id=action_id,
        message_kind=message_kind,
        deferred_from=datetime.fromisoformat(str(deferred["requested_at"])) if deferred else None,
        traced_data=any(p.get("source") == "enrichment" for p in known.points),
    )
    new_attempt = rules.Attempt(
        request.at,
        channel,
        case_id,
        facts.contact_point_id,
        action_id,
        decision.counted,
        facts.at_work,
        request.retry_of,
    )
    record = _record(known, item, request, action_id, "requested", requested_by, correlation_id, deferred)
    record["event_id"] = event.event_id
    tx = repository.Tx()
    _put_record(tx, record, deferred)  # first: when it is the claim, a lost claim is the first reason it fails
    repository.write_history(
        tx, known.case_owner_id, known.owner.history.with_attempt(new_attempt), known.owner.history_revision
    )
    tx.audit(
        audit.entry(
            known.case_owner_id,
            actor,
            "contact.requested",
            target_type="contact_point",
            target_id=facts.contact_point_id,
            case_id=case_id,
            after={
                "channel": channel,
                "message_kind": message_kind,
                "automatic": automatic,
                "action_id": action_id,
            },
            why={"jurisdiction": known.jurisdiction, "counted": decision.counted}
            | ({"deferred_from": deferred["requested_at"]} if deferred else {}),
            correlation_id=correlation_id,
        )
    )
    tx.events([event])  # committed with the record of the contact, or not at all (shared.outbox)
    outcome = Outcome("requested", action_id, known.case_owner_id, client_id, case_id, item, event)
    return Draft(tx, outcome, claims, deferred)


def _lost(draft: Draft, reasons: list[str]) -> Outcome | None:
    """What a cancelled draft means: its claim was there ("already_claimed"), its deferred contact was released by
    another run ("released_elsewhere"), or None: someone else counted first, decide again."""
    outcome = draft.outcome
    if draft.claims and reasons[:1] == ["ConditionalCheckFailed"]:
        return replace(outcome, status="already_claimed", event=None)
    if outcome.status != "requested":
        # a held-back contact writes no history: only its claim or its deferred record can have failed
        return replace(outcome, status="released_elsewhere", event=None)
    deferred = draft.deferred
    if deferred and repository.get_action(outcome.case_id, outcome.action_id, outcome.case_owner_id) != deferred:
        return replace(outcome, status="released_elsewhere", event=None)
    return None


def _written(draft: Draft, flush: bool, quiet: bool = False) -> Outcome:
    """The decision once written; ``quiet``: its "contact allowed" line is the caller's (a page logs one line)."""
    outcome = draft.outcome
    if outcome.status == "requested":
        if flush:
            outbox.try_flush(store.table_name())
        event = outcome.event
        assert event is not None
        if not quiet:
            log.info(
                "contact allowed",
                extra={"action_id": outcome.action_id, "channel": event.action, "automatic": event.automatic},
            )
    return outcome


def _record(
    known: Known,
    item: dict[str, Any] | None,
    request: rules.Request,
    action_id: str,
    status: str,
    requested_by: str,
    correlation_id: str,
    deferred: dict[str, Any] | None,
) -> dict[str, Any]:
    return store.drop_none(
        {
            **repository.action_key(request.case_id, action_id, known.case_owner_id),
            "action_id": action_id,
            "case_id": request.case_id,
            "case_owner_id": known.case_owner_id,
            "client_id": str(known.case["client_id"]),
            "channel": request.channel,
            "message_kind": request.message_kind,
            "automatic": request.automatic,
            "contact_point_id": str(item["contact_point_id"]) if item else None,
            "retry_of": request.retry_of,
            "status": status,
            "requested_by": requested_by,
            "requested_at": deferred["requested_at"] if deferred else request.at.isoformat(),
            "decided_at": request.at.isoformat(),
            "correlation_id": correlation_id,
            "request": deferred.get("request") if deferred else None,
        }
    )


def _put_record(tx: repository.Tx, record: dict[str, Any], deferred: dict[str, Any] | None) -> None:
    """The contact's record: a new one, or in place of the deferred contact it releases."""
    if deferred:
        _replace_deferred(tx, deferred, record)
    else:
        tx.put(record)


def _replace_deferred(tx: repository.Tx, deferred: dict[str, Any], record: dict[str, Any]) -> None:
    """Release a deferred contact only if it is still the one we read (a second schedule run loses the race)."""
    tx.put(
        {**record, "request": deferred.get("request")},
        condition="attribute_exists(PK) AND #status = :deferred AND GSI1SK = :due",
    )
    op = tx.items[-1]["Put"]
    op["ExpressionAttributeNames"] = {"#status": "status"}
    op["ExpressionAttributeValues"] = {":deferred": {"S": "deferred"}, ":due": {"S": str(deferred["GSI1SK"])}}


def _hold_back(
    known: Known,
    item: dict[str, Any] | None,
    request: rules.Request,
    decision: rules.Decision,
    following: datetime | None,
    action_id: str,
    actor: audit.Actor,
    correlation_id: str,
    deferred: dict[str, Any] | None,
    payload: dict[str, Any],
    requested_by: str,
    claims: bool = False,
) -> Draft:
    """An automatic contact the policy refuses now: deferred to its next allowed time, never dropped (the draft of
    its record)."""
    status = "deferred" if decision.deferrable else "refused"
    record = _record(known, item, request, action_id, status, requested_by, correlation_id, deferred)
    record.update({"rule": decision.rule, "reason": decision.message, "request": payload or None})
    record = store.drop_none(record)
    if status == "deferred":
        due = following or request.at + RECHECK
        record.update({**repository.deferred_index(due, action_id), "next_allowed_at": due.isoformat()})
    tx = repository.Tx()
    _put_record(tx, record, deferred)  # first, as in ``_draft``
    tx.audit(
        audit.entry(
            known.case_owner_id,
            actor,
            f"contact.{status}",
            target_type="case",
            target_id=request.case_id,
            case_id=request.case_id,
            after={"channel": request.channel, "message_kind": request.message_kind, "action_id": action_id},
            why={"rule": decision.rule, "message": decision.message, "law": decision.law}
            | ({"next_allowed_at": record["next_allowed_at"]} if status == "deferred" else {}),
            correlation_id=correlation_id,
        )
    )
    outcome = Outcome(
        status,
        action_id,
        known.case_owner_id,
        str(known.case["client_id"]),
        request.case_id,
        item,
        decision=decision,
        next_allowed_at=following,
    )
    return Draft(tx, outcome, claims, deferred)


# ---- many at a time ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ask:
    """One automatic contact a schedule asks for: what it read already (the case, the owner's partition, the
    client's rules) and its ``action_id``, derived from what it is about (a reminder's instalment): its record,
    written only if absent, is its claim (what makes the ask safe to decide again: a second decision finds it)."""

    case: dict[str, Any]
    owner: cases_repository.OwnerRead
    channel: Channel
    action_id: str
    correlation_id: str
    requested_by: str
    actor: audit.Actor
    debtor_message: DebtorMessage | None = None
    client: rules.ClientRules | None = None

    def one_by_one(self) -> Outcome:
        """The ask on the one-request path, which reads the owner's partition again (its batch write conflicted)."""
        return request_contact(
            str(self.case["case_id"]),
            self.channel,
            automatic=True,
            requested_by=self.requested_by,
            actor=self.actor,
            correlation_id=self.correlation_id,
            debtor_message=self.debtor_message,
            case=self.case,
            client=self.client,
            flush=False,
            action_id=self.action_id,
        )


def request_contacts(asks: list[Ask]) -> list[Outcome | Exception]:
    """Decide many automatic contacts (different case owners: a reminder schedule's page) and write their
    decisions together, as few TransactWriteItems as fit (``shared.dynamo.write_groups``: each decision's items
    are one group, all or nothing). A decision whose record was there is "already_claimed"; one whose other
    condition failed (the owner's history changed since it was read, say) is taken again on its own path, which
    reads again. The events stay in the outbox of the current cause for the caller to publish (one PutEvents for
    ten). Per ask: its outcome, or the error that kept it from being decided (nothing of it was written)."""
    results: list[Outcome | Exception | None] = [None] * len(asks)
    drafts: dict[int, Draft] = {}
    for i, ask in enumerate(asks):
        kind = ask.debtor_message.kind if ask.debtor_message is not None else "contact_request"
        try:
            known = know(ask.case, ask.client, ask.owner)
            request = rules.Request(ask.channel, str(ask.case["case_id"]), True, now(), kind, None)
            drafts[i] = _draft(
                known,
                request,
                None,
                ask.action_id,
                ask.requested_by,
                ask.actor,
                ask.correlation_id,
                ask.debtor_message,
                None,
                None,
                None,
                True,
            )
        except Exception as error:  # one ask's trouble is its own (nothing of it is written)
            results[i] = error
    order = list(drafts)
    allowed: list[str] = []
    try:
        written = dynamo.write_groups([drafts[i].tx.items for i in order], cases_repository.commit_items)
    except Exception:
        log.exception("a batch of contact decisions failed; each is decided again on its own")
        written = [["Unknown"] for _ in order]
    for i, reasons in zip(order, written, strict=True):
        draft = drafts[i]
        if reasons is None:
            results[i] = _written(draft, flush=False, quiet=True)
            if draft.outcome.status == "requested":
                allowed.append(draft.outcome.action_id)
            continue
        if reasons[:1] == ["ConditionalCheckFailed"]:  # the record comes first: this contact was decided before
            results[i] = replace(draft.outcome, status="already_claimed", event=None)
            continue
        try:
            results[i] = asks[i].one_by_one()
        except Exception as error:
            results[i] = error
    done = [r for r in results if r is not None]
    assert len(done) == len(asks)
    if allowed:  # one line for the page's decisions, not one a reminder (those decided on their own path log theirs)
        log.info("contacts allowed", extra={"action_ids": allowed, "count": len(allowed), "automatic": True})
    return done


# ---- the schedule -------------------------------------------------------------------------------------------


def release_deferred(at_time: datetime | None = None, batch: int = 100) -> dict[str, int]:
    """Ask the gate again for every deferred contact whose time has come; each goes, waits again, or is refused
    for good (recorded). Safe to run twice at once: a contact is released by exactly one run."""
    at = at_time or now()
    counts = {"requested": 0, "deferred": 0, "refused": 0, "released_elsewhere": 0}
    for record in repository.due_deferred(at, batch):
        original = record.get("request") or {}
        try:
            outcome = request_contact(
                str(record["case_id"]),
                record["channel"],
                automatic=True,
                requested_by=str(record["requested_by"]),
                actor=audit.Actor.system("contact-policy"),
                correlation_id=str(record.get("correlation_id") or new_id()),
                contact_point_id=None,
                message_kind=record.get("message_kind", "contact_request"),
                debtor_message=DebtorMessage.model_validate(original["debtor_message"])
                if original.get("debtor_message")
                else None,
                subject=original.get("subject"),
                message=original.get("message"),
                at_time=at,
                deferred=record,
            )
        except NotFound:
            log.warning("deferred contact of a case that no longer exists", extra={"action_id": record["action_id"]})
            continue
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    log.info("deferred contacts released", extra=counts)
    return counts
