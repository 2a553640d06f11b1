"""The contact policy, free of AWS: may this contact reach this debtor now, and if not, when?

One decision (``decide``) weighs, in this order, the contact point (valid, valid for the channel, the default for
automatic work), holds (deceased, cease communication, moratorium, dispute, care/hardship, breathing space), the
debtor's wishes (opt-outs per point and channel, no contact at work), the retries of one call request, the contact
window in the debtor's local time (in every zone the debtor may be in, minus the times the debtor named), the wait
after a telephone conversation, and the frequency caps. The law comes as presets per jurisdiction (PRODUCT.md §5);
a client may tighten a legal preset, and where no law sets a limit (DE, FR, UK) the client's own settings apply.
The first failing rule names the refusal; ``next_allowed`` walks forward until every rule passes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.errors import Conflict, Invalid

Channel = Literal["call", "sms", "email", "letter"]
CHANNELS: tuple[Channel, ...] = ("call", "sms", "email", "letter")
POINT_TYPE: dict[Channel, str] = {"call": "phone", "sms": "phone", "email": "email", "letter": "postal_address"}

# What a contact is for: notifications' template kinds (shared.events.MessageKind) plus two purposes that holds
# treat apart. "contact_request" is any contact that chases payment (the collector's own calls and texts too).
MessageKind = Literal[
    "contact_request",
    "payment_plan_reminder",
    "closing_fully_paid",
    "closing_settlement_paid",
    "cease_efforts_ended",  # the three messages FDCPA 1692c(c) still allows after "cease communication"
    "cease_remedies_may_be_used",
    "cease_remedy_intended",
    "reply_to_debtor",  # an answer the debtor asked for
    "statutory_notice",
]
MESSAGE_KINDS: tuple[MessageKind, ...] = get_args(MessageKind)
CEASE_MESSAGES: frozenset[str] = frozenset(
    {"cease_efforts_ended", "cease_remedies_may_be_used", "cease_remedy_intended"}
)
CLOSING: frozenset[str] = frozenset({"closing_fully_paid", "closing_settlement_paid"})

HoldKind = Literal[
    "breathing_space",
    "moratorium_standard",
    "moratorium_mental_health",
    "care",
    "hardship",
    "dispute",
    "cease_communication",
    "deceased",
    "restriction",
    "objection",
]
HOLD_KINDS: tuple[HoldKind, ...] = get_args(HoldKind)
# GDPR holds: they stand for the person (every case), last until the agency ends them and stop skip tracing too.
DATA_PROTECTION_HOLDS: frozenset[str] = frozenset({"restriction", "objection"})
ConsentSource = Literal["debtor_verbal", "debtor_written", "client_file", "enrichment"]
DEBTOR_SOURCES: frozenset[str] = frozenset({"debtor_verbal", "debtor_written"})
OptOutSource = Literal["debtor_reply", "collector", "complaint", "debtor_written"]
CallOutcome = Literal["no_answer", "voicemail", "busy", "conversation", "wrong_number", "refused_to_talk"]
CALL_OUTCOMES: tuple[CallOutcome, ...] = get_args(CallOutcome)

# Replies that opt a channel out (Reg F 1006.6(e) names STOP, unsubscribe, end, quit, cancel; "stop" any case).
OPT_OUT_KEYWORDS: frozenset[str] = frozenset({"stop", "unsubscribe", "end", "quit", "cancel", "stopall", "optout"})

UK_STANDARD_MORATORIUM = timedelta(days=60)
HISTORY_KEPT = timedelta(days=31)  # longest counting window (Massachusetts 30 days) plus a day
ANY_CASE = "*"  # a contact from a contact point, about no case in particular: counts against every case


# ---- what the policy is made of ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """Contact allowed from ``start`` (inclusive) to ``end`` (exclusive), local time."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise Invalid("window_ends_before_start", "a contact window must end after it starts", "window.end")

    def holds(self, local: time) -> bool:
        return self.start <= local < self.end

    def narrowed(self, other: Window) -> Window:
        start, end = max(self.start, other.start), min(self.end, other.end)
        if end <= start:
            raise Invalid("window_ends_before_start", "the client's window leaves no time at all", "window")
        return Window(start, end)


@dataclass(frozen=True)
class Cap:
    """At most ``limit`` contacts on ``channels`` within ``days`` rolling days, counted per case or per case owner."""

    channels: frozenset[str]
    limit: int
    days: int
    per: Literal["case", "case_owner"] = "case"
    points: Literal["any", "work", "personal"] = "any"
    law: str = "client settings"
    code: str = "contact_cap_reached"

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise Invalid("invalid_cap", "a cap must allow at least one contact", "caps.limit")
        if self.days < 1:
            raise Invalid("invalid_cap", "a cap counts over at least one day", "caps.days")


@dataclass(frozen=True)
class Preset:
    """The law of one jurisdiction. ``legal_window``: a client may only narrow the window, never widen it."""

    jurisdiction: str
    window: Window
    window_channels: frozenset[str]
    legal_window: bool
    caps: tuple[Cap, ...] = ()
    conversation_wait: timedelta | None = None  # no call within this time after a telephone conversation
    consent_exempts: bool = False  # Reg F: calls within 7 days of the debtor's consent do not count
    law: str = "no legal limit found: the client's settings apply"


_DAY = Window(time(8), time(21))
_RINGING = frozenset({"call", "sms"})
_REG_F_CAP = Cap(frozenset({"call"}), 7, 7, "case", law="12 CFR 1006.14(b)(2)(i)(A)", code="call_cap_reached")
_US = Preset(
    "US",
    _DAY,
    frozenset({"call", "sms", "email"}),
    legal_window=True,
    caps=(_REG_F_CAP,),
    conversation_wait=timedelta(days=7),
    consent_exempts=True,
    law="US Reg F 12 CFR 1006.6(b)(1)(i), 1006.14",
)
PRESETS: dict[str, Preset] = {
    "US": _US,
    "US-MA": replace(
        _US,
        jurisdiction="US-MA",
        caps=(
            _REG_F_CAP,
            Cap(frozenset({"call", "sms"}), 2, 7, "case_owner", "personal", "940 CMR 7.04(1)(f)", "call_cap_reached"),
            Cap(frozenset({"call", "sms"}), 2, 30, "case_owner", "work", "940 CMR 7.04(1)(f)", "call_cap_reached"),
        ),
        law="US Reg F + Massachusetts 940 CMR 7.04(1)(f), 209 CMR 18.16",
    ),
    # No law sets hours here: the default window keeps calls and texts (which ring) to the day; an e-mail waits in
    # the inbox, so it is timed only when the client adds it (ClientRules.window_channels).
    "DE": Preset("DE", _DAY, _RINGING, legal_window=False),
    "FR": Preset("FR", _DAY, _RINGING, legal_window=False),
    "GB": Preset("GB", _DAY, _RINGING, legal_window=False),
    "DEFAULT": Preset("DEFAULT", _DAY, _RINGING, legal_window=False),
}


def jurisdiction(country: str | None, region: str | None) -> str:
    """The preset for a debtor's location: US states with their own rules first, then the country."""
    if country == "US" and region == "MA":
        return "US-MA"
    if country in PRESETS:
        return str(country)
    return "DEFAULT"


@dataclass(frozen=True)
class ClientRules:
    """A client's own contact rules (configurable per client; empty = the preset alone)."""

    window: Window | None = None
    window_channels: frozenset[str] = frozenset()  # added to the preset's timed channels, never removed
    caps: tuple[Cap, ...] = ()
    max_phone_call_retries: int = 3
    breathing_space_days: int | None = None
    transient_bounce_limit: int = 3

    def __post_init__(self) -> None:
        if self.max_phone_call_retries < 0:
            raise Invalid("invalid_retries", "retries cannot be negative", "max_phone_call_retries")
        if self.transient_bounce_limit < 1:
            raise Invalid("invalid_bounce_limit", "at least one bounce", "transient_bounce_limit")


@dataclass(frozen=True)
class Policy:
    """What applies to one debtor: the preset, tightened (or, without a law, replaced) by the client's rules."""

    preset: Preset
    window: Window
    window_channels: frozenset[str]
    caps: tuple[Cap, ...]
    max_phone_call_retries: int
    breathing_space_days: int | None
    transient_bounce_limit: int


def effective(preset: Preset, client: ClientRules) -> Policy:
    window = preset.window
    if client.window is not None:
        window = preset.window.narrowed(client.window) if preset.legal_window else client.window
    return Policy(
        preset,
        window,
        preset.window_channels | client.window_channels,
        preset.caps + client.caps,
        client.max_phone_call_retries,
        client.breathing_space_days,
        client.transient_bounce_limit,
    )


# ---- holds ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldEffect:
    code: str
    allows: frozenset[str]  # message kinds that still go out during the hold
    automatic_only: bool = False  # breathing space pauses the workflow, not a collector answering the debtor
    permanent: bool = False  # nothing later makes the refused contact right: refuse, do not defer
    law: str | None = None


_SERVICE = frozenset({"reply_to_debtor", "statutory_notice"})
HOLD_EFFECTS: dict[str, HoldEffect] = {
    "deceased": HoldEffect("deceased", frozenset(), permanent=True),
    "cease_communication": HoldEffect("cease_communication", CEASE_MESSAGES, permanent=True),
    # Art. 18(2): restricted data is only stored; answering the debtor's own request is processing they asked for.
    # Refused, not deferred: a lifted restriction must not release a pile of stale reminders.
    "restriction": HoldEffect(
        "processing_restricted", frozenset({"reply_to_debtor"}), permanent=True, law="GDPR Art. 18"
    ),
    "moratorium_standard": HoldEffect("moratorium", _SERVICE),
    "moratorium_mental_health": HoldEffect("moratorium", _SERVICE),
    "dispute": HoldEffect("dispute", _SERVICE | {*CLOSING}),
    # Art. 21(1): chasing stops while the agency weighs the objection against the claim (Art. 21(1) "legal claims").
    "objection": HoldEffect("objection", _SERVICE | {*CLOSING}, law="GDPR Art. 21"),
    "care": HoldEffect("care_hold", _SERVICE | {*CLOSING}),
    "hardship": HoldEffect("hardship_hold", _SERVICE | {*CLOSING}),
    "breathing_space": HoldEffect("breathing_space", _SERVICE | {*CLOSING}, automatic_only=True),
}
_HOLD_ORDER = tuple(HOLD_EFFECTS)


@dataclass(frozen=True)
class Hold:
    hold_id: str
    kind: HoldKind
    starts_at: datetime
    ends_at: datetime | None
    set_by: str
    reason: str
    evidence: str | None = None
    case_id: str | None = None  # None: every case of the case owner
    ended_at: datetime | None = None
    ended_by: str | None = None

    def active(self, at: datetime) -> bool:
        end = min((t for t in (self.ends_at, self.ended_at) if t is not None), default=None)
        return self.starts_at <= at and (end is None or at < end)

    def covers(self, case_id: str | None) -> bool:
        """A hold on one case covers that case; a contact not about one case ("*") meets every hold."""
        return self.case_id is None or case_id in (self.case_id, ANY_CASE)

    @property
    def no_fees_or_interest(self) -> bool:
        """UK moratorium: no fees or interest while it lasts (a flag for the finance side)."""
        return self.kind.startswith("moratorium")


def new_hold(
    hold_id: str,
    kind: str,
    starts_at: datetime,
    ends_at: datetime | None,
    set_by: str,
    reason: str,
    evidence: str | None,
    case_id: str | None,
) -> Hold:
    """A hold as a collector sets it, with the duration rules of its kind (422 naming the field otherwise)."""
    if kind not in HOLD_KINDS or kind == "breathing_space":
        raise Invalid(
            "invalid_hold_kind",
            "breathing space comes from the client's settings"
            if kind == "breathing_space"
            else f"kind must be one of {', '.join(HOLD_KINDS[1:])}",
            "kind",
        )
    if ends_at is not None and ends_at <= starts_at:
        raise Invalid("hold_ends_before_start", "a hold must end after it starts", "ends_at")
    if kind == "moratorium_standard":
        if ends_at is not None and ends_at != starts_at + UK_STANDARD_MORATORIUM:
            raise Invalid(
                "moratorium_is_60_days", "a standard moratorium lasts 60 days; end it early instead", "ends_at"
            )
        ends_at = starts_at + UK_STANDARD_MORATORIUM
    if kind == "moratorium_mental_health" and ends_at is not None:
        raise Invalid(
            "moratorium_open_ended",
            "a mental-health crisis moratorium has no fixed end; end it when it ends",
            "ends_at",
        )
    if kind in DATA_PROTECTION_HOLDS:
        if ends_at is not None:
            raise Invalid("hold_open_ended", f"a {kind} lasts until the agency ends it", "ends_at")
        if case_id is not None:
            raise Invalid("hold_covers_the_person", f"a {kind} covers the person, not one case", "case_id")
    if kind in ("care", "hardship") and ends_at is None:
        raise Invalid("expiry_required", f"a {kind} hold needs an expiry", "ends_at")
    if not reason.strip():
        raise Invalid("reason_required", "say why the hold is set", "reason")
    return Hold(hold_id, kind, starts_at, ends_at, set_by, reason.strip(), evidence, case_id)  # type: ignore[arg-type]


def breathing_space(opened_on: date, days: int | None, case_id: str) -> Hold | None:
    """Seed 001: the breathing space precedes the workflow, from the day the case was opened."""
    if not days:
        return None
    start = datetime.combine(opened_on, time(), UTC)
    return Hold(
        f"breathing-space-{case_id}",
        "breathing_space",
        start,
        start + timedelta(days=days),
        "client settings",
        f"breathing space of {days} days from the case's opening",
        None,
        case_id,
    )


# ---- the debtor's wishes on one contact point ---------------------------------------------------------------


@dataclass(frozen=True)
class Consent:
    channel: str
    source: ConsentSource
    at: datetime
    evidence: str | None = None


@dataclass(frozen=True)
class OptOut:
    channel: str
    source: OptOutSource
    at: datetime
    evidence: str
    keyword: str | None = None


@dataclass(frozen=True)
class PointFacts:
    """A contact point as the gate sees it: validity, default, location, opt-outs and consents per channel."""

    contact_point_id: str
    type: str
    valid: bool
    is_default: bool
    zones: tuple[str, ...]
    opt_outs: dict[str, OptOut] = field(default_factory=dict)
    consents: dict[str, Consent] = field(default_factory=dict)
    invalid_for: frozenset[str] = frozenset()  # an SMS failure: the phone still takes calls
    at_work: bool = False
    no_contact_at_work: bool = False  # the employer forbids it (Reg F 1006.6(b)(3))


def opt_out_keyword(reply: str) -> str | None:
    """The keyword of a STOP-style reply ("STOP", "please stop", "stop texting me please"), None otherwise.
    Only short replies count, so "end of month I pay" does not silence a debtor by accident."""
    words = [w for w in (w.strip(".,;:!?\"'()").casefold() for w in reply.split()) if w]
    if words and len(words) <= 4 and words[0] in OPT_OUT_KEYWORDS:
        return words[0]
    found = [w for w in words if w in OPT_OUT_KEYWORDS]
    return found[0] if found and len(words) <= 3 else None


def opt_in(point: PointFacts, consent: Consent) -> dict[str, OptOut]:
    """An opted-out channel comes back only on the debtor's own word, recorded with evidence."""
    if consent.channel in point.opt_outs:
        if consent.source not in DEBTOR_SOURCES:
            raise Conflict(
                "opt_in_needs_debtor", "only the debtor can lift an opt-out (debtor_verbal or debtor_written)", "source"
            )
        if not consent.evidence:
            raise Invalid("evidence_required", "lifting an opt-out needs the debtor's words as evidence", "evidence")
    return {ch: o for ch, o in point.opt_outs.items() if ch != consent.channel}


# ---- what happened before ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    at: datetime
    channel: str
    case_id: str
    contact_point_id: str
    action_id: str
    counted: bool = True  # False: within 7 days of the debtor's consent (Reg F 1006.14(b)(3))
    at_work: bool = False
    retry_of: str | None = None


@dataclass(frozen=True)
class History:
    attempts: tuple[Attempt, ...] = ()
    conversations: tuple[tuple[datetime, str], ...] = ()  # (when, case_id)

    def recent(self, now: datetime) -> History:
        """What still counts: older entries are dropped when the history is written back."""
        since = now - HISTORY_KEPT
        return History(
            tuple(a for a in self.attempts if a.at >= since), tuple(c for c in self.conversations if c[0] >= since)
        )

    def with_attempt(self, attempt: Attempt) -> History:
        return History((*self.recent(attempt.at).attempts, attempt), self.recent(attempt.at).conversations)

    def with_conversation(self, at: datetime, case_id: str) -> History:
        kept = self.recent(at)
        return History(kept.attempts, (*kept.conversations, (at, case_id)))


# ---- the decision -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    channel: Channel
    case_id: str
    automatic: bool
    at: datetime
    message_kind: MessageKind = "contact_request"
    retry_of: str | None = None


@dataclass(frozen=True)
class Situation:
    """Everything the gate knows about the case owner at decision time."""

    policy: Policy
    holds: tuple[Hold, ...] = ()
    inconvenient: tuple[InconvenientTime, ...] = ()
    history: History = History()


@dataclass(frozen=True)
class InconvenientTime:
    """A time the debtor named as inconvenient, local time; ``weekdays`` 0=Monday, empty = every day."""

    start: time
    end: time
    weekdays: frozenset[int] = frozenset()
    note: str | None = None

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise Invalid("window_ends_before_start", "an inconvenient time must end after it starts", "end")
        if any(d < 0 or d > 6 for d in self.weekdays):
            raise Invalid("invalid_weekday", "weekdays are 0 (Monday) to 6 (Sunday)", "weekdays")

    def covers(self, local: datetime) -> bool:
        return (not self.weekdays or local.weekday() in self.weekdays) and self.start <= local.time() < self.end


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: str | None = None
    message: str = ""
    law: str | None = None
    permanent: bool = False
    not_before: datetime | None = None  # when this one rule would pass (None: not by waiting)
    counted: bool = True

    @property
    def deferrable(self) -> bool:
        return not self.allowed and not self.permanent


ALLOWED = Decision(True)


def _refuse(
    rule: str, message: str, *, law: str | None = None, permanent: bool = False, not_before: datetime | None = None
) -> Decision:
    return Decision(False, rule, message, law, permanent, not_before)


@cache
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zones_or_default(zones: Iterable[str], fallback: Iterable[str]) -> tuple[ZoneInfo, ...]:
    """The zones we can read; none known → the fallback (the jurisdiction's country: its strictest window)."""
    found = tuple(z for z in (_zone(n) for n in zones) if z is not None)
    if found:
        return found
    return tuple(z for z in (_zone(n) for n in fallback) if z is not None) or (ZoneInfo("UTC"),)


def in_window(
    at: datetime, zones: tuple[ZoneInfo, ...], window: Window, inconvenient: tuple[InconvenientTime, ...]
) -> bool:
    for zone in zones:
        local = at.astimezone(zone)
        if not window.holds(local.time()) or any(t.covers(local) for t in inconvenient):
            return False
    return True


def next_window_open(
    at: datetime, zones: tuple[ZoneInfo, ...], window: Window, inconvenient: tuple[InconvenientTime, ...]
) -> datetime | None:
    """The first instant from ``at`` when the window is open in every zone and no named time covers it."""
    candidates = {at}
    for zone in zones:
        day = at.astimezone(zone).date()
        for offset in range(-1, 9):
            d = day + timedelta(days=offset)
            starts = [window.start, *(t.end for t in inconvenient)]
            for s in starts:
                candidates.add(datetime.combine(d, s, zone).astimezone(UTC))
    for candidate in sorted(c for c in candidates if c >= at):
        if in_window(candidate, zones, window, inconvenient):
            return candidate
    return None


def _same_case(a: str, b: str) -> bool:
    return a == b or ANY_CASE in (a, b)


def _cap_covers_point(cap: Cap, at_work: bool) -> bool:
    return cap.points == "any" or at_work == (cap.points == "work")


def decide(request: Request, point: PointFacts | None, situation: Situation, zones: tuple[ZoneInfo, ...]) -> Decision:
    """The first rule the contact breaks, or ALLOWED (with ``counted``: does it count against the caps)."""
    policy, at, channel = situation.policy, request.at, request.channel
    # The contact point itself.
    if point is None:
        kind = POINT_TYPE[channel].replace("_", " ")
        return _refuse("no_default", f"the case owner has no valid default {kind}", permanent=True)
    if POINT_TYPE[channel] != point.type:
        return _refuse("action_not_for_type", f"a {channel} needs a {POINT_TYPE[channel]}", permanent=True)
    if not point.valid or channel in point.invalid_for:
        return _refuse(
            "contact_point_invalid", f"this {point.type.replace('_', ' ')} is invalid for {channel}", permanent=True
        )
    if request.automatic and not point.is_default:
        return _refuse("not_default", f"an automatic {channel} may only use the default", permanent=True)
    # Holds, strongest first.
    active = [h for h in situation.holds if h.active(at) and h.covers(request.case_id)]
    for kind in _HOLD_ORDER:
        for hold in (h for h in active if h.kind == kind):
            effect = HOLD_EFFECTS[kind]
            if request.message_kind in effect.allows or (effect.automatic_only and not request.automatic):
                continue
            end = min((t for t in (hold.ends_at, hold.ended_at) if t is not None), default=None)
            allowed = ", ".join(sorted(effect.allows)) or "nothing"
            return _refuse(
                effect.code,
                f"{kind.replace('_', ' ')} since {hold.starts_at:%Y-%m-%d}: only {allowed}",
                law=effect.law,
                permanent=effect.permanent,
                not_before=end,
            )
    # The debtor's wishes.
    if channel in point.opt_outs:
        o = point.opt_outs[channel]
        return _refuse(
            "channel_opted_out",
            f"the debtor opted out of {channel} here on {o.at:%Y-%m-%d} ({o.source})",
            law="12 CFR 1006.6(e)",
            permanent=True,
        )
    if point.at_work and point.no_contact_at_work and channel != "letter":
        return _refuse(
            "no_contact_at_work",
            "the debtor's employer forbids contact at work",
            law="12 CFR 1006.6(b)(3)",
            permanent=True,
        )
    # One call request is retried at most max_phone_call_retries times (seed 001).
    if request.retry_of is not None:
        retries = sum(1 for a in situation.history.attempts if a.retry_of == request.retry_of)
        if retries >= policy.max_phone_call_retries:
            return _refuse(
                "call_retries_exhausted",
                f"this call was already retried {retries} times (max {policy.max_phone_call_retries})",
                permanent=True,
            )
    # The contact window in the debtor's local time (letters are not timed).
    if channel in policy.window_channels and not in_window(at, zones, policy.window, situation.inconvenient):
        return _refuse(
            "outside_contact_window",
            f"outside {policy.window.start:%H:%M}-{policy.window.end:%H:%M} or a time the debtor named, "
            f"at the debtor's location ({', '.join(z.key for z in zones)})",
            law=policy.preset.law,
            not_before=next_window_open(at, zones, policy.window, situation.inconvenient),
        )
    consent = point.consents.get(channel)
    exempt = (
        policy.preset.consent_exempts
        and consent is not None
        and consent.source in DEBTOR_SOURCES
        and at - timedelta(days=7) <= consent.at <= at
    )
    # No call within 7 days after a telephone conversation about the debt (Reg F).
    wait = policy.preset.conversation_wait
    if channel == "call" and wait is not None and not exempt:
        last = max(
            (c for c, case in situation.history.conversations if _same_case(case, request.case_id) and c <= at),
            default=None,
        )
        if last is not None and at < last + wait:
            return _refuse(
                "conversation_wait",
                f"a telephone conversation took place on {last:%Y-%m-%d %H:%M} UTC",
                law="12 CFR 1006.14(b)(2)(i)(B)",
                not_before=last + wait,
            )
    # Frequency caps over rolling windows.
    for cap in policy.caps:
        if channel not in cap.channels or not _cap_covers_point(cap, point.at_work):
            continue
        if exempt and cap.law.startswith("12 CFR"):
            continue
        since = at - timedelta(days=cap.days)
        counted = sorted(
            a.at
            for a in situation.history.attempts
            if a.counted
            and a.channel in cap.channels
            and since < a.at <= at
            and (cap.per == "case_owner" or _same_case(a.case_id, request.case_id))
            and _cap_covers_point(cap, a.at_work)
        )
        if len(counted) >= cap.limit:
            release = counted[len(counted) - cap.limit] + timedelta(days=cap.days)
            return _refuse(
                cap.code,
                f"{len(counted)} of {cap.limit} contacts by {'/'.join(sorted(cap.channels))} "
                f"in {cap.days} days per {cap.per.replace('_', ' ')}",
                law=cap.law,
                not_before=release,
            )
    return Decision(True, counted=not exempt)


def next_allowed(
    request: Request,
    point: PointFacts | None,
    situation: Situation,
    zones: tuple[ZoneInfo, ...],
    horizon_days: int = 400,
) -> datetime | None:
    """Walk forward from rule to rule until every rule passes; None when waiting never helps."""
    at = request.at
    limit = request.at + timedelta(days=horizon_days)
    for _ in range(64):
        decision = decide(replace(request, at=at), point, situation, zones)
        if decision.allowed:
            return at
        if decision.permanent or decision.not_before is None or decision.not_before > limit:
            return None
        at = max(decision.not_before, at + timedelta(seconds=1))
    return None
