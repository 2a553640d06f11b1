"""Contact-policy use cases besides the gate itself: holds, the debtor's wishes, outcomes that feed back into
contact-point validity, the policy view, and the client's rules. Every change writes its audit entry in the same
transaction; delivery-outcome consumers are idempotent (an event marker in that transaction)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.contacts import store
from services.contacts.cases import audit, contact_points
from services.contacts.cases import repository as cases_repository
from services.contacts.clients import repository as clients_repository
from services.contacts.identity import Identity
from services.contacts.policy import gate, models, repository, rules
from services.contacts.policy.rules import Channel
from services.contacts.privacy import restriction
from shared import outbox
from shared.errors import Conflict, Forbidden, Invalid, NotFound
from shared.events import (
    MessageBounced,
    MessageComplained,
    OptOutReceived,
    SmsFailed,
)
from shared.observability import logger

log = logger("contacts")
WRITE_ATTEMPTS = 40


def _agency(who: Identity) -> None:
    if not who.is_agency:
        raise Forbidden("only the agency changes a debtor's contact policy")


def _owner(case_owner_id: str, who: Identity) -> str:
    owner = contact_points.visible_owner(case_owner_id, who)
    return owner.client_id


def _point_item(case_owner_id: str, contact_point_id: str) -> dict[str, Any]:
    item = cases_repository.get_contact_point(case_owner_id, contact_point_id)
    if item is None:
        raise NotFound("contact_point", contact_point_id)
    return item


def _now() -> datetime:
    return gate.now()


# ---- holds --------------------------------------------------------------------------------------------------


def hold_out(hold: rules.Hold, at: datetime) -> models.HoldOut:
    effect = rules.HOLD_EFFECTS[hold.kind]
    return models.HoldOut(
        hold_id=hold.hold_id,
        kind=hold.kind,
        rule=effect.code,
        starts_at=hold.starts_at,
        ends_at=hold.ends_at,
        set_by=hold.set_by,
        reason=hold.reason,
        evidence=hold.evidence,
        case_id=hold.case_id,
        ended_at=hold.ended_at,
        ended_by=hold.ended_by,
        active=hold.active(at),
        allows=sorted(effect.allows),
        no_fees_or_interest=hold.no_fees_or_interest,
    )


def set_hold(case_owner_id: str, body: models.HoldIn, who: Identity, correlation_id: str) -> models.HoldOut:
    _agency(who)
    _owner(case_owner_id, who)
    if body.case_id is not None:
        case = gate.case_of(body.case_id)
        if case["case_owner_id"] != case_owner_id:
            raise NotFound("case", body.case_id)
    at = _now()
    if body.kind in rules.DATA_PROTECTION_HOLDS and body.starts_at is not None and body.starts_at > at:
        raise Invalid("hold_starts_now", f"a {body.kind} applies from the moment it is set", "starts_at")
    hold = rules.new_hold(
        repository.new_hold_id(),
        body.kind,
        body.starts_at or at,
        body.ends_at,
        who.principal,
        body.reason,
        body.evidence,
        body.case_id,
    )
    tx = repository.Tx().put(repository.hold_item(case_owner_id, hold))
    tx.audit(
        audit.entry(
            case_owner_id,
            audit.Actor.of(who),
            "policy.hold_set",
            target_type="hold",
            target_id=hold.hold_id,
            case_id=hold.case_id,
            after=repository.hold_item(case_owner_id, hold) | {"PK": None, "SK": None},
            why={"reason": hold.reason, "evidence": hold.evidence},
            correlation_id=correlation_id,
        )
    )
    if hold.kind in rules.DATA_PROTECTION_HOLDS:
        restriction.start(tx, case_owner_id, hold, at, correlation_id)
    try:
        tx.commit()
    except repository.WriteConflict as exc:
        if hold.kind in rules.DATA_PROTECTION_HOLDS:
            raise Conflict(f"{hold.kind}_already_active", f"the case owner already has an active {hold.kind}") from exc
        raise
    outbox.try_flush(store.table_name())
    return hold_out(hold, at)


def end_hold(
    case_owner_id: str, hold_id: str, body: models.HoldEndIn, who: Identity, correlation_id: str
) -> models.HoldOut:
    _agency(who)
    _owner(case_owner_id, who)
    item = repository.get_hold_item(case_owner_id, hold_id)
    if item is None:
        raise NotFound("hold", hold_id)
    hold, at = repository.hold_from(item), _now()
    if hold.ended_at is not None:
        raise Conflict("hold_already_ended", f"the hold ended on {hold.ended_at:%Y-%m-%d}")
    tx = repository.Tx().update(
        {"PK": str(item["PK"]), "SK": str(item["SK"])},
        {
            "ended_at": at.isoformat(),
            "ended_by": who.principal,
            "end_reason": body.reason,
            "end_evidence": body.evidence,
        },
        condition="attribute_exists(PK) AND attribute_not_exists(ended_at)",
    )
    tx.audit(
        audit.entry(
            case_owner_id,
            audit.Actor.of(who),
            "policy.hold_ended",
            target_type="hold",
            target_id=hold_id,
            case_id=hold.case_id,
            before={"ended_at": None},
            after={"ended_at": at.isoformat()},
            why={"reason": body.reason, "evidence": body.evidence},
            correlation_id=correlation_id,
        )
    )
    if hold.kind in rules.DATA_PROTECTION_HOLDS:
        others = {
            h.kind
            for h in repository.owner_policy(case_owner_id).holds
            if h.kind in rules.DATA_PROTECTION_HOLDS and h.hold_id != hold_id and h.ended_at is None
        }
        restriction.end(tx, case_owner_id, hold, others, correlation_id)
    try:
        tx.commit()
    except repository.WriteConflict as exc:
        raise Conflict("hold_already_ended", "the hold was ended meanwhile") from exc
    outbox.try_flush(store.table_name())
    ended = rules.Hold(**{**hold.__dict__, "ended_at": at, "ended_by": who.principal})
    return hold_out(ended, at)


def list_holds(case_owner_id: str, who: Identity) -> list[models.HoldOut]:
    _owner(case_owner_id, who)
    at = _now()
    holds = repository.owner_policy(case_owner_id).holds
    return [hold_out(h, at) for h in sorted(holds, key=lambda h: h.starts_at, reverse=True)]


# ---- inconvenient times -------------------------------------------------------------------------------------


def set_inconvenient_times(
    case_owner_id: str, body: models.InconvenientTimesIn, who: Identity, correlation_id: str
) -> models.InconvenientTimesIn:
    _agency(who)
    _owner(case_owner_id, who)
    times = []
    for i, t in enumerate(body.times):
        try:
            times.append(rules.InconvenientTime(t.start, t.end, frozenset(t.weekdays), t.note))
        except Invalid as exc:
            raise Invalid(exc.code, exc.message, f"times.{i}.{exc.field}") from exc
    item = repository.times_item(case_owner_id, times)
    tx = repository.Tx().put(item, condition=None)
    tx.audit(
        audit.entry(
            case_owner_id,
            audit.Actor.of(who),
            "policy.inconvenient_times_set",
            target_type="case_owner",
            target_id=case_owner_id,
            after={"times": item["times"]},
            correlation_id=correlation_id,
        )
    )
    tx.commit()
    return body


# ---- the debtor's wishes on a contact point -----------------------------------------------------------------


def _wishes_out(case_owner_id: str, contact_point_id: str, prefs: dict[str, Any]) -> models.WishesOut:
    return models.WishesOut(
        case_owner_id=case_owner_id,
        contact_point_id=contact_point_id,
        opt_outs={
            ch: {k: str(v) if v is not None else None for k, v in o.items()}
            for ch, o in (prefs.get("opt_outs") or {}).items()
        },
        consents={
            ch: {k: str(v) if v is not None else None for k, v in c.items()}
            for ch, c in (prefs.get("consents") or {}).items()
        },
        invalid_for=sorted(prefs.get("invalid_for") or []),
        at_work=bool(prefs.get("at_work", False)),
        no_contact_at_work=bool(prefs.get("no_contact_at_work", False)),
        transient_bounces=int(prefs.get("transient_bounces", 0)),
    )


def _change_wishes(
    case_owner_id: str,
    contact_point_id: str,
    change: Any,
    actor: audit.Actor,
    action: str,
    correlation_id: str,
    why: dict[str, Any] | None = None,
    event_id: str | None = None,
) -> dict[str, Any] | None:
    """Read the point's policy item, apply ``change`` (prefs → new fields, or None for nothing to do) and write
    it with its audit entry (and the event marker) in one conditional transaction; retry when raced.
    Returns the new prefs, or None when the event was already applied."""
    point = _point_item(case_owner_id, contact_point_id)
    for _ in range(WRITE_ATTEMPTS):
        prefs = repository.owner_policy(case_owner_id).points.get(contact_point_id)
        fields = change(dict(prefs or {}), point)
        if fields is None:
            return dict(prefs or {})
        tx = repository.Tx()
        repository.update_wishes(tx, case_owner_id, prefs, {**fields, "contact_point_id": contact_point_id})
        if event_id:
            repository.mark_event(tx, case_owner_id, event_id)
        tx.audit(
            audit.entry(
                case_owner_id,
                actor,
                action,
                target_type="contact_point",
                target_id=contact_point_id,
                before={k: (prefs or {}).get(k) for k in fields},
                after=fields,
                why=why,
                correlation_id=correlation_id,
            )
        )
        try:
            tx.commit()
        except repository.WriteConflict:
            if event_id and repository.event_seen(case_owner_id, event_id):
                return None
            continue
        return {**(prefs or {}), **fields}
    raise Conflict("concurrent_change", "the contact point's policy kept changing meanwhile; try again")


def _opt_out_change(channel: str, entry: dict[str, Any]) -> Any:
    def change(prefs: dict[str, Any], point: dict[str, Any]) -> dict[str, Any] | None:
        if rules.POINT_TYPE[channel] != point["type"]:  # type: ignore[index]
            raise Invalid("channel_not_for_type", f"a {point['type']} has no {channel} channel", "channel")
        if channel in (prefs.get("opt_outs") or {}):
            return None
        return {"opt_outs": {**(prefs.get("opt_outs") or {}), channel: entry}}

    return change


def opt_out(
    case_owner_id: str, contact_point_id: str, body: models.OptOutIn, who: Identity, correlation_id: str
) -> models.WishesOut:
    _agency(who)
    _owner(case_owner_id, who)
    entry = {
        "source": body.source,
        "at": _now().isoformat(),
        "evidence": body.evidence,
        "keyword": body.keyword,
        "by": who.principal,
    }
    prefs = _change_wishes(
        case_owner_id,
        contact_point_id,
        _opt_out_change(body.channel, {k: v for k, v in entry.items() if v}),
        audit.Actor.of(who),
        "policy.opted_out",
        correlation_id,
        {"evidence": body.evidence},
    )
    return _wishes_out(case_owner_id, contact_point_id, prefs or {})


def consent(
    case_owner_id: str, contact_point_id: str, body: models.ConsentIn, who: Identity, correlation_id: str
) -> models.WishesOut:
    """Consent with its source and date; from the debtor, with evidence, it also lifts an opt-out."""
    _agency(who)
    _owner(case_owner_id, who)
    at = _now()

    def change(prefs: dict[str, Any], point: dict[str, Any]) -> dict[str, Any]:
        if rules.POINT_TYPE[body.channel] != point["type"]:
            raise Invalid("channel_not_for_type", f"a {point['type']} has no {body.channel} channel", "channel")
        facts = repository.point_wishes(point, prefs, ())
        remaining = rules.opt_in(facts, rules.Consent(body.channel, body.source, at, body.evidence))
        entry = {"source": body.source, "at": at.isoformat(), "evidence": body.evidence, "by": who.principal}
        return {
            "consents": {**(prefs.get("consents") or {}), body.channel: {k: v for k, v in entry.items() if v}},
            "opt_outs": {ch: o for ch, o in (prefs.get("opt_outs") or {}).items() if ch in remaining},
        }

    prefs = _change_wishes(
        case_owner_id,
        contact_point_id,
        change,
        audit.Actor.of(who),
        "policy.consent_recorded",
        correlation_id,
        {"source": body.source, "evidence": body.evidence},
    )
    return _wishes_out(case_owner_id, contact_point_id, prefs or {})


def set_work_contact(
    case_owner_id: str, contact_point_id: str, body: models.WorkContactIn, who: Identity, correlation_id: str
) -> models.WishesOut:
    _agency(who)
    _owner(case_owner_id, who)
    if body.no_contact_at_work and not body.at_work:
        raise Invalid("not_at_work", "only a work contact point can be closed to contact at work", "no_contact_at_work")

    def change(prefs: dict[str, Any], point: dict[str, Any]) -> dict[str, Any] | None:
        if point["type"] == "postal_address":
            raise Invalid("not_for_addresses", "letters are not contact at work in this sense", "at_work")
        fields = {"at_work": body.at_work, "no_contact_at_work": body.no_contact_at_work}
        return None if all(prefs.get(k, False) == v for k, v in fields.items()) else fields

    prefs = _change_wishes(
        case_owner_id,
        contact_point_id,
        change,
        audit.Actor.of(who),
        "policy.work_contact_set",
        correlation_id,
        {"evidence": body.evidence} if body.evidence else None,
    )
    return _wishes_out(case_owner_id, contact_point_id, prefs or {})


def get_wishes(case_owner_id: str, contact_point_id: str, who: Identity) -> models.WishesOut:
    _owner(case_owner_id, who)
    _point_item(case_owner_id, contact_point_id)
    prefs = repository.owner_policy(case_owner_id).points.get(contact_point_id) or {}
    return _wishes_out(case_owner_id, contact_point_id, prefs)


# ---- outcomes -----------------------------------------------------------------------------------------------


def record_call_outcome(
    case_id: str, action_id: str, body: models.CallOutcomeIn, who: Identity, correlation_id: str
) -> models.ActionOutcomeOut:
    """A call's outcome: a conversation starts the wait before the next call; a wrong number invalidates the
    phone with the call as evidence."""
    _agency(who)
    case = gate.case_of(case_id)
    if not who.may_see_client(str(case["client_id"])):
        raise NotFound("case", case_id)
    owner_id = str(case["case_owner_id"])
    for _ in range(WRITE_ATTEMPTS):
        action = repository.get_action(case_id, action_id)
        if action is None:
            raise NotFound("action", action_id)
        if action["channel"] != "call" or action["status"] != "requested":
            raise Conflict("not_a_call", "only a call that went out can have a call outcome")
        if action.get("outcome") == body.outcome:
            break
        if action.get("outcome"):
            raise Conflict("outcome_already_recorded", f"this call's outcome is {action['outcome']!r}")
        at = _now()
        tx = repository.Tx().update(
            repository.action_key(case_id, action_id),
            {
                "outcome": body.outcome,
                "outcome_note": body.note,
                "outcome_at": at.isoformat(),
                "outcome_by": who.principal,
            },
            condition="attribute_exists(PK) AND attribute_not_exists(outcome)",
        )
        if body.outcome == "conversation":
            owner = repository.owner_policy(owner_id)
            repository.write_history(tx, owner_id, owner.history.with_conversation(at, case_id), owner.history_revision)
        tx.audit(
            audit.entry(
                owner_id,
                audit.Actor.of(who),
                "contact.call_outcome",
                target_type="contact_point",
                target_id=str(action["contact_point_id"]),
                case_id=case_id,
                after={"outcome": body.outcome},
                why={"action_id": action_id, "note": body.note},
                correlation_id=correlation_id,
            )
        )
        try:
            tx.commit()
        except repository.WriteConflict:
            continue
        break
    else:
        raise Conflict("concurrent_change", "the case owner's contacts kept changing meanwhile; try again")
    invalidated = False
    if body.outcome == "wrong_number":
        invalidated = contact_points.invalidate_with_evidence(
            owner_id,
            str(action["contact_point_id"]),
            {"evidence": "wrong_number", "action_id": action_id, "note": body.note, "recorded_by": who.principal},
            audit.Actor.of(who),
            correlation_id,
        )
    wait = None
    if body.outcome == "conversation":
        wait = at + timedelta(days=7) if gate.know(case).policy.preset.conversation_wait else None
    return models.ActionOutcomeOut(
        action_id=action_id,
        case_id=case_id,
        channel="call",
        status="requested",
        outcome=body.outcome,
        contact_point_invalidated=invalidated,
        wait_until=wait,
    )


def letter_returned(
    case_owner_id: str, contact_point_id: str, body: models.ReturnedLetterIn, who: Identity, correlation_id: str
) -> models.WishesOut:
    """A returned letter (a collector or the print service's callback): the address becomes invalid."""
    _agency(who)
    _owner(case_owner_id, who)
    point = _point_item(case_owner_id, contact_point_id)
    if point["type"] != "postal_address":
        raise Invalid("not_an_address", "only a postal address gets letters back", "contact_point_id")
    contact_points.invalidate_with_evidence(
        case_owner_id,
        contact_point_id,
        {"evidence": "letter_returned", "source": body.source, "note": body.evidence},
        audit.Actor.of(who),
        correlation_id,
    )
    return get_wishes(case_owner_id, contact_point_id, who)


# ---- delivery outcomes from notifications (bus consumers, idempotent) ----------------------------------------

NOTIFICATIONS = audit.Actor.system("notifications")


def _target(event: MessageBounced | MessageComplained | SmsFailed | OptOutReceived) -> tuple[str, str] | None:
    if not event.case_owner_id or not event.contact_point_id:
        log.warning("a delivery outcome without its contact point", extra={"event_id": event.event_id})
        return None
    return event.case_owner_id, event.contact_point_id


def _evidence(event: Any, **more: Any) -> dict[str, Any]:
    return {
        "event": type(event).__name__,
        "event_id": event.event_id,
        "message_id": event.message_id,
        "provider_message_id": event.provider_message_id,
        **{k: v for k, v in more.items() if v is not None},
    }


def on_message_bounced(event: MessageBounced) -> None:
    """Permanent bounce: the e-mail becomes invalid with the bounce as evidence. Transient: counted; invalid
    once the client's limit is reached."""
    target = _target(event)
    if target is None:
        return
    owner_id, cp_id = target
    evidence = _evidence(event, bounce_type=event.bounce_type, diagnostic=event.diagnostic)
    if event.bounce_type == "permanent":
        contact_points.invalidate_with_evidence(owner_id, cp_id, evidence, NOTIFICATIONS, event.correlation_id)
        return
    limit = gate.client_rules(_client_of(owner_id), None).transient_bounce_limit

    def count(prefs: dict[str, Any], _point: dict[str, Any]) -> dict[str, Any]:
        return {"transient_bounces": int(prefs.get("transient_bounces", 0)) + 1}

    prefs = _change_wishes(
        owner_id,
        cp_id,
        count,
        NOTIFICATIONS,
        "policy.transient_bounce",
        event.correlation_id,
        evidence,
        event.event_id,
    )
    if prefs is not None and int(prefs.get("transient_bounces", 0)) >= limit:
        contact_points.invalidate_with_evidence(
            owner_id,
            cp_id,
            {**evidence, "transient_bounces": int(prefs["transient_bounces"]), "limit": limit},
            NOTIFICATIONS,
            event.correlation_id,
        )


def _client_of(case_owner_id: str) -> str:
    owner = cases_repository.get_owner(case_owner_id)
    if owner is None:
        raise NotFound("case_owner", case_owner_id)
    return owner.client_id


def _opt_out_event(
    event: MessageComplained | OptOutReceived, channel: Channel, source: str, keyword: str | None
) -> None:
    target = _target(event)
    if target is None:
        return
    owner_id, cp_id = target
    evidence = _evidence(event, keyword=keyword)
    entry = {"source": source, "at": event.occurred_at.isoformat(), "evidence": str(evidence), "keyword": keyword}
    _change_wishes(
        owner_id,
        cp_id,
        _opt_out_change(channel, {k: v for k, v in entry.items() if v}),
        NOTIFICATIONS,
        "policy.opted_out",
        event.correlation_id,
        evidence,
        event.event_id,
    )


def on_message_complained(event: MessageComplained) -> None:
    """A complaint (spam report) opts the e-mail channel out: we never write there again unasked."""
    _opt_out_event(event, "email", "complaint", None)


def on_opt_out_received(event: OptOutReceived) -> None:
    """STOP / unsubscribe / end / quit / cancel: that channel of that contact point only."""
    channel: Channel = "sms" if event.channel == "sms" else "email"
    _opt_out_event(event, channel, "debtor_reply", event.keyword.casefold())


def on_sms_failed(event: SmsFailed) -> None:
    """An SMS that could not be delivered: the phone stays valid for calls, invalid for SMS."""
    target = _target(event)
    if target is None:
        return
    owner_id, cp_id = target

    def change(prefs: dict[str, Any], _point: dict[str, Any]) -> dict[str, Any] | None:
        current = set(prefs.get("invalid_for") or [])
        return None if "sms" in current else {"invalid_for": sorted(current | {"sms"})}

    _change_wishes(
        owner_id,
        cp_id,
        change,
        NOTIFICATIONS,
        "policy.invalid_for_sms",
        event.correlation_id,
        _evidence(event, reason=event.reason),
        event.event_id,
    )


# ---- the policy view ----------------------------------------------------------------------------------------


def view(case_id: str, who: Identity) -> models.PolicyView:
    case = gate.case_of(case_id)
    if not who.may_see_client(str(case["client_id"])):
        raise NotFound("case", case_id)
    known, at = gate.know(case), _now()
    situation = known.situation()
    policy = known.policy
    channels = []
    for channel in rules.CHANNELS:
        item = known.point(channel, None)
        facts, zones_ = known.facts(item), known.zones_of(item)
        manual = rules.Request(channel, case_id, False, at)
        decision = rules.decide(manual, facts, situation, zones_)
        automatic = rules.decide(rules.Request(channel, case_id, True, at), facts, situation, zones_)
        channels.append(
            models.ChannelView(
                channel=channel,
                contact_point_id=str(item["contact_point_id"]) if item else None,
                allowed_now=decision.allowed,
                rule=decision.rule,
                message=decision.message or None,
                law=decision.law,
                next_allowed_at=at if decision.allowed else rules.next_allowed(manual, facts, situation, zones_),
                automatic_allowed_now=automatic.allowed,
                automatic_rule=automatic.rule,
                zones=[z.key for z in zones_],
            )
        )
    caps = []
    for cap in policy.caps:
        since = at - timedelta(days=cap.days)
        used = sum(
            1
            for a in situation.history.attempts
            if a.counted
            and a.channel in cap.channels
            and since < a.at <= at
            and (cap.per == "case_owner" or a.case_id == case_id)
        )
        caps.append(
            models.CapCount(
                channels=sorted(cap.channels), limit=cap.limit, days=cap.days, per=cap.per, law=cap.law, used=used
            )
        )
    conversations = [c for c, cid in situation.history.conversations if cid == case_id]
    wait = policy.preset.conversation_wait
    return models.PolicyView(
        case_id=case_id,
        case_owner_id=known.case_owner_id,
        jurisdiction=known.jurisdiction,
        law=policy.preset.law,
        window={"start": policy.window.start.isoformat("minutes"), "end": policy.window.end.isoformat("minutes")},
        window_channels=sorted(policy.window_channels),
        caps=caps,
        conversation_wait_days=wait.days if wait else None,
        last_conversation_at=max(conversations, default=None),
        max_phone_call_retries=policy.max_phone_call_retries,
        holds=[hold_out(h, at) for h in situation.holds if h.covers(case_id)],
        inconvenient_times=[
            {
                "start": t.start.isoformat("minutes"),
                "end": t.end.isoformat("minutes"),
                "weekdays": sorted(t.weekdays),
                "note": t.note,
            }
            for t in situation.inconvenient
        ],
        channels=channels,
        deferred=repository.count_deferred(case_id),
        at=at,
    )


# ---- the client's rules -------------------------------------------------------------------------------------


def put_client_rules(client_id: str, body: models.ClientRulesIn, who: Identity) -> models.ClientRulesOut:
    who.require_admin()
    if not clients_repository.get_client(client_id) is not None:
        raise NotFound("client", client_id)
    # Build the rules once to refuse what cannot work (422 naming the field) before anything is stored.
    try:
        if body.window is not None:
            start, end = (datetime.strptime(v, "%H:%M").time() for v in (body.window.start, body.window.end))
            rules.Window(start, end)
    except ValueError as exc:
        raise Invalid("invalid_time", "times are HH:MM, 00:00-23:59", "window") from exc
    for i, cap in enumerate(body.caps):
        try:
            rules.Cap(frozenset(cap.channels), cap.limit, cap.days, cap.per)
        except Invalid as exc:
            raise Invalid(exc.code, exc.message, f"caps.{i}.{str(exc.field).split('.')[-1]}") from exc
    if body.transient_bounce_limit < 1:
        raise Invalid("invalid_bounce_limit", "at least one bounce", "transient_bounce_limit")
    repository.put_client_rules(client_id, body.model_dump(mode="json"))
    return models.ClientRulesOut(client_id=client_id, **body.model_dump())


def get_client_rules(client_id: str, who: Identity) -> models.ClientRulesOut:
    if not who.may_see_client(client_id) or not clients_repository.get_client(client_id) is not None:
        raise NotFound("client", client_id)
    stored = repository.get_client_rules(client_id) or {}
    return models.ClientRulesOut.model_validate(
        {"client_id": client_id, **{k: v for k, v in stored.items() if k in models.ClientRulesIn.model_fields}}
    )
