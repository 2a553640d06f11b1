"""Request and response bodies of the contact-policy routes."""

from __future__ import annotations

from datetime import datetime, time
from typing import Literal

from pydantic import BaseModel, Field

from services.contacts.models import In
from services.contacts.policy.rules import (
    CallOutcome,
    Channel,
    ConsentSource,
    HoldKind,
    MessageKind,
    OptOutSource,
)


class HoldIn(In):
    kind: HoldKind
    reason: str = Field(min_length=1, max_length=2000)
    evidence: str | None = Field(default=None, max_length=2000, description="what proves it (a letter, a call)")
    starts_at: datetime | None = Field(default=None, description="now if absent")
    ends_at: datetime | None = Field(default=None, description="expiry; fixed for a standard moratorium (60 days)")
    case_id: str | None = Field(default=None, max_length=64, description="one case only; all cases if absent")


class HoldEndIn(In):
    reason: str = Field(min_length=1, max_length=2000)
    evidence: str | None = Field(default=None, max_length=2000)


class HoldOut(BaseModel):
    hold_id: str
    kind: str
    rule: str
    starts_at: datetime
    ends_at: datetime | None = None
    set_by: str
    reason: str
    evidence: str | None = None
    case_id: str | None = None
    ended_at: datetime | None = None
    ended_by: str | None = None
    active: bool
    allows: list[str]
    no_fees_or_interest: bool = False


class InconvenientTimeIn(In):
    start: time
    end: time
    weekdays: list[int] = Field(default_factory=list, description="0 = Monday … 6 = Sunday; every day if empty")
    note: str | None = Field(default=None, max_length=500)


class InconvenientTimesIn(In):
    times: list[InconvenientTimeIn] = Field(max_length=50)


class OptOutIn(In):
    channel: Channel
    source: OptOutSource = "collector"
    evidence: str = Field(min_length=1, max_length=2000, description="e.g. 'debtor said stop calling, call 14:02'")
    keyword: str | None = Field(default=None, max_length=40)


class ConsentIn(In):
    channel: Channel
    source: ConsentSource
    evidence: str | None = Field(default=None, max_length=2000)


class WorkContactIn(In):
    at_work: bool
    no_contact_at_work: bool = False
    evidence: str | None = Field(default=None, max_length=2000)


class ReturnedLetterIn(In):
    evidence: str = Field(min_length=1, max_length=2000, description="e.g. 'returned: addressee unknown'")
    source: Literal["collector", "print_service"] = "collector"


class CallOutcomeIn(In):
    outcome: CallOutcome
    note: str | None = Field(default=None, max_length=2000)


class WishesOut(BaseModel):
    case_owner_id: str
    contact_point_id: str
    opt_outs: dict[str, dict[str, str | None]]
    consents: dict[str, dict[str, str | None]]
    invalid_for: list[str]
    at_work: bool
    no_contact_at_work: bool
    transient_bounces: int = 0


class CapIn(In):
    channels: list[Channel] = Field(min_length=1)
    limit: int = Field(description="at least 1")
    days: int = Field(description="at least 1")
    per: Literal["case", "case_owner"] = "case"


class WindowIn(In):
    start: str = Field(pattern=r"^\d\d:\d\d$", description="HH:MM local time")
    end: str = Field(pattern=r"^\d\d:\d\d$", description="HH:MM local time, after start")


class ClientRulesIn(In):
    window: WindowIn | None = None
    window_channels: list[Channel] = Field(
        default_factory=list, description="channels timed by the window besides the law's (e.g. email in DE/FR)"
    )
    caps: list[CapIn] = Field(default_factory=list, max_length=20)
    transient_bounce_limit: int = Field(default=3, description="transient bounces before an e-mail is invalid")


class ClientRulesOut(ClientRulesIn):
    client_id: str


class CapCount(BaseModel):
    channels: list[str]
    limit: int
    days: int
    per: str
    law: str
    used: int


class ChannelView(BaseModel):
    channel: str
    contact_point_id: str | None
    allowed_now: bool
    rule: str | None = None
    message: str | None = None
    law: str | None = None
    next_allowed_at: datetime | None = None
    automatic_allowed_now: bool
    automatic_rule: str | None = None
    zones: list[str]


class PolicyView(BaseModel):
    """GET /cases/{id}/contact-policy: what an agent's screen shows before dialling."""

    case_id: str
    case_owner_id: str
    jurisdiction: str
    law: str
    window: dict[str, str]
    window_channels: list[str]
    caps: list[CapCount]
    conversation_wait_days: int | None
    last_conversation_at: datetime | None
    max_phone_call_retries: int
    holds: list[HoldOut]
    inconvenient_times: list[dict[str, object]]
    channels: list[ChannelView]
    deferred: int = Field(description="automatic contacts waiting for their time")
    at: datetime


class ActionOutcomeOut(BaseModel):
    action_id: str
    case_id: str
    channel: str
    status: str
    outcome: str | None = None
    contact_point_invalidated: bool = False
    wait_until: datetime | None = None


class RequestIn(In):
    """The gate's extra inputs on a communication action."""

    message_kind: MessageKind = "contact_request"
    retry_of: str | None = Field(default=None, max_length=64, description="the call request this call retries")
