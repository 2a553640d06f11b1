"""The contact policy of issue 11, table by table, without AWS: presets, windows, caps, holds, wishes, zones.

Phones are phonenumbers' own example numbers where the library has them for the zone under test.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
import pytest

from services.contacts.policy import rules, zones
from services.contacts.policy.rules import (
    Attempt,
    Cap,
    ClientRules,
    Consent,
    History,
    Hold,
    InconvenientTime,
    OptOut,
    PointFacts,
    Request,
    Situation,
    Window,
)
from shared.api import STATUS
from shared.errors import DomainError

NY_PHONE = "+12125550123"  # Manhattan prefix
LA_PHONE = "+13105550123"  # Los Angeles prefix
NY, LA = ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles")
US = rules.effective(rules.PRESETS["US"], ClientRules())
MA = rules.effective(rules.PRESETS["US-MA"], ClientRules())
DE = rules.effective(rules.PRESETS["DE"], ClientRules())
MONDAY_NOON_NY = datetime(2026, 11, 30, 12, 0, tzinfo=NY).astimezone(UTC)


def _status(error: DomainError) -> int:
    return next(code for kind, code in STATUS.items() if isinstance(error, kind))


def point(point_type: str = "phone", **kw: object) -> PointFacts:
    base = PointFacts("cp-1", point_type, valid=True, is_default=True, zones=("America/New_York",))
    return replace(base, **kw)  # type: ignore[arg-type]


def ask(channel: str = "call", at: datetime = MONDAY_NOON_NY, **kw: object) -> Request:
    return Request(channel, "case-1", kw.pop("automatic", False), at, **kw)  # type: ignore[arg-type]


def decide(request: Request, facts: PointFacts | None, situation: Situation, tz: ZoneInfo = NY) -> rules.Decision:
    return rules.decide(request, facts, situation, (tz,))


def calls(n: int, end: datetime, every: timedelta = timedelta(hours=20), case_id: str = "case-1") -> History:
    return History(tuple(Attempt(end - every * i, "call", case_id, "cp-1", f"a{i}") for i in range(1, n + 1)))


# ---- windows in the debtor's local time ---------------------------------------------------------------------


@pytest.mark.parametrize("phone", [NY_PHONE, LA_PHONE])
@pytest.mark.parametrize(
    ("local", "allowed"),
    [(time(7, 59), False), (time(8, 0), True), (time(12, 0), True), (time(20, 59), True), (time(21, 0), False)],
)
def test_call_window_in_new_york_and_los_angeles(phone: str, local: time, allowed: bool) -> None:
    location = zones.of_phone(phone)
    tz = ZoneInfo(location.zones[0])
    at = datetime.combine(date(2026, 11, 30), local, tz).astimezone(UTC)
    decision = rules.decide(ask(at=at), point(zones=location.zones), Situation(US), (tz,))
    assert decision.allowed is allowed
    if not allowed:
        assert decision.rule == "outside_contact_window"
        assert decision.not_before is not None and decision.not_before.astimezone(tz).time() == time(8, 0)


def test_the_phones_of_the_test_table_are_in_the_zones_we_claim() -> None:
    assert zones.of_phone(NY_PHONE).zones == ("America/New_York",)
    assert zones.of_phone(LA_PHONE).zones == ("America/Los_Angeles",)


def test_several_zones_the_window_must_hold_in_all_of_them() -> None:
    both = (NY, LA)
    # 09:00 in New York is 06:00 in Los Angeles: refused; 11:00 NY = 08:00 LA: allowed; 21:00 NY refused.
    for hour, allowed in [(9, False), (11, True), (20, True), (21, False)]:
        at = datetime(2026, 11, 30, hour, tzinfo=NY).astimezone(UTC)
        assert rules.decide(ask(at=at), point(), Situation(US), both).allowed is allowed, hour


def test_letters_are_not_timed_but_email_and_sms_are() -> None:
    night = datetime(2026, 11, 30, 23, 30, tzinfo=NY).astimezone(UTC)
    assert decide(ask("letter", night), point("postal_address"), Situation(US)).allowed
    assert decide(ask("email", night), point("email"), Situation(US)).rule == "outside_contact_window"
    assert decide(ask("sms", night), point(), Situation(US)).rule == "outside_contact_window"


def test_outside_the_us_the_default_window_times_what_rings_and_the_client_may_add_email() -> None:
    night = datetime(2026, 11, 30, 23, 30, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
    berlin = ZoneInfo("Europe/Berlin")
    assert decide(ask("email", night), point("email"), Situation(DE), berlin).allowed
    assert decide(ask("sms", night), point(), Situation(DE), berlin).rule == "outside_contact_window"
    timed = rules.effective(rules.PRESETS["DE"], ClientRules(window_channels=frozenset({"email"})))
    assert decide(ask("email", night), point("email"), Situation(timed), berlin).rule == "outside_contact_window"


def test_a_time_the_debtor_named_is_refused_and_the_next_allowed_time_is_after_it() -> None:
    lunch = InconvenientTime(time(12), time(14), frozenset({0}))  # Mondays 12-14
    situation = Situation(US, inconvenient=(lunch,))
    decision = decide(ask(), point(), situation)
    assert decision.rule == "outside_contact_window"
    assert rules.next_allowed(ask(), point(), situation, (NY,)) == datetime(2026, 11, 30, 14, tzinfo=NY)
    tuesday = MONDAY_NOON_NY + timedelta(days=1)
    assert decide(ask(at=tuesday), point(), situation).allowed


def test_unknown_zone_falls_back_to_the_strictest_window_of_the_country() -> None:
    us_zones = rules.zones_or_default(["Not/A_Zone"], zones.country_zones("US"))
    assert len(us_zones) > 5
    # 12:00 in New York is 07:00 in Honolulu: refused everywhere-at-once reading.
    assert not rules.in_window(MONDAY_NOON_NY, us_zones, US.window, ())
    assert rules.in_window(datetime(2026, 11, 30, 20, 0, tzinfo=NY).astimezone(UTC), us_zones, US.window, ())


@pytest.mark.parametrize(
    ("country", "postcode", "expected", "region"),
    [
        ("US", "10001", ("America/New_York",), "NY"),
        ("US", "90210", ("America/Los_Angeles",), "CA"),
        ("US", "02118", ("America/New_York",), "MA"),
        ("US", "37201", ("America/Chicago", "America/New_York"), "TN"),
        ("US", "85001", ("America/Phoenix",), "AZ"),
        ("CA", "V6B 1A1", ("America/Vancouver",), None),
        ("DE", "10115", ("Europe/Berlin", "Europe/Busingen"), None),
        ("FR", "75001", ("Europe/Paris",), None),
    ],
)
def test_address_zones_by_postcode_or_country(
    country: str, postcode: str, expected: tuple[str, ...], region: str | None
) -> None:
    location = zones.of_address(country, postcode)
    assert tuple(sorted(location.zones)) == tuple(sorted(expected))
    assert location.region == region


def test_a_us_address_without_postcode_has_every_us_zone() -> None:
    location = zones.of_address("US", "")
    assert location.source == "country"
    assert {"Pacific/Honolulu", "America/New_York"} <= set(location.zones)


def test_every_example_number_of_phonenumbers_gets_a_readable_zone_or_its_country() -> None:
    for region in ("US", "GB", "DE", "FR", "CA", "AU", "BR"):
        example = phonenumbers.example_number(region)
        assert example is not None
        e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        location = zones.of_phone(e164)
        assert location.zones and all(rules.zones_or_default([z], []) for z in location.zones), region
        assert location.country == region


# ---- frequency caps ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("situation_policy", "before", "allowed", "rule"),
    [
        (US, 6, True, None),  # 7th call in 7 days
        (US, 7, False, "call_cap_reached"),  # 8th call in 7 days
        (MA, 1, True, None),  # Massachusetts: 2nd phone contact in 7 days
        (MA, 2, False, "call_cap_reached"),  # 3rd
        (DE, 30, True, None),  # no legal cap in Germany
    ],
)
def test_call_caps_by_preset(situation_policy: rules.Policy, before: int, allowed: bool, rule: str | None) -> None:
    decision = decide(ask(), point(), Situation(situation_policy, history=calls(before, MONDAY_NOON_NY)))
    assert (decision.allowed, decision.rule) == (allowed, rule)


def test_the_cap_frees_when_the_oldest_call_leaves_the_7_days() -> None:
    history = calls(7, MONDAY_NOON_NY, every=timedelta(hours=10))
    oldest = MONDAY_NOON_NY - timedelta(hours=70)  # 14:00 in New York: the cap frees inside the window
    decision = decide(ask(), point(), Situation(US, history=history))
    assert decision.not_before == oldest + timedelta(days=7)
    assert rules.next_allowed(ask(), point(), Situation(US, history=history), (NY,)) == oldest + timedelta(days=7)


def test_caps_count_per_case_under_reg_f() -> None:
    other_case = calls(7, MONDAY_NOON_NY, case_id="case-2")
    assert decide(ask(), point(), Situation(US, history=other_case)).allowed
    # A contact about no case in particular counts against every case, and meets every case's count.
    anywhere = calls(7, MONDAY_NOON_NY, case_id=rules.ANY_CASE)
    assert decide(ask(), point(), Situation(US, history=anywhere)).rule == "call_cap_reached"
    assert decide(replace(ask(), case_id=rules.ANY_CASE), point(), Situation(US, history=other_case)).rule == (
        "call_cap_reached"
    )


def test_massachusetts_counts_sms_and_work_phones_over_30_days() -> None:
    sms = History(
        (
            Attempt(MONDAY_NOON_NY - timedelta(days=1), "sms", "case-9", "cp-1", "s1"),
            Attempt(MONDAY_NOON_NY - timedelta(days=2), "sms", "case-9", "cp-1", "s2"),
        )
    )
    assert decide(ask(), point(), Situation(MA, history=sms)).rule == "call_cap_reached"
    work = History(
        tuple(
            Attempt(MONDAY_NOON_NY - timedelta(days=d), "call", "case-1", "cp-1", f"w{d}", at_work=True)
            for d in (10, 20)
        )
    )
    assert decide(ask(), point(at_work=True), Situation(MA, history=work)).rule == "call_cap_reached"
    assert decide(ask(), point(at_work=False), Situation(MA, history=work)).allowed


def test_client_caps_apply_where_the_law_has_none() -> None:
    mine = rules.effective(rules.PRESETS["DE"], ClientRules(caps=(Cap(frozenset({"email"}), 1, 3),)))
    sent = History((Attempt(MONDAY_NOON_NY - timedelta(days=1), "email", "case-1", "cp-1", "e1"),))
    assert decide(ask("email"), point("email"), Situation(mine, history=sent)).rule == "contact_cap_reached"


def test_calls_within_7_days_of_the_debtors_consent_do_not_count() -> None:
    consent = Consent("call", "debtor_verbal", MONDAY_NOON_NY - timedelta(days=2), "asked to be called back")
    decision = decide(ask(), point(consents={"call": consent}), Situation(US, history=calls(7, MONDAY_NOON_NY)))
    assert decision.allowed and decision.counted is False
    from_file = Consent("call", "client_file", MONDAY_NOON_NY - timedelta(days=2))
    assert not decide(
        ask(), point(consents={"call": from_file}), Situation(US, history=calls(7, MONDAY_NOON_NY))
    ).allowed


@pytest.mark.parametrize(("retries_before", "allowed"), [(0, True), (2, True), (3, False)])
def test_max_phone_call_retries_caps_the_retries_of_one_call_request(retries_before: int, allowed: bool) -> None:
    history = History(
        tuple(
            Attempt(MONDAY_NOON_NY - timedelta(hours=i + 1), "call", "case-1", "cp-1", f"r{i}", retry_of="first")
            for i in range(retries_before)
        )
    )
    decision = decide(ask(retry_of="first"), point(), Situation(US, history=history))
    assert decision.allowed is allowed
    assert allowed or (decision.rule, decision.permanent) == ("call_retries_exhausted", True)


# ---- conversations ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("days_after", "allowed"), [(1, False), (6, False), (7, True)])
def test_no_call_within_7_days_after_a_conversation(days_after: int, allowed: bool) -> None:
    talked = MONDAY_NOON_NY - timedelta(days=days_after)
    decision = decide(ask(), point(), Situation(US, history=History(conversations=((talked, "case-1"),))))
    assert decision.allowed is allowed
    assert allowed or (decision.rule, decision.not_before) == ("conversation_wait", talked + timedelta(days=7))


def test_a_conversation_does_not_stop_e_mail_nor_german_calls() -> None:
    history = History(conversations=((MONDAY_NOON_NY - timedelta(days=1), "case-1"),))
    assert decide(ask("email"), point("email"), Situation(US, history=history)).allowed
    assert decide(ask(), point(), Situation(DE, history=history)).allowed


# ---- holds ------------------------------------------------------------------------------------------------

OPENED = date(2026, 11, 20)
SPACE = rules.breathing_space(OPENED, 30, "case-1")


@pytest.mark.parametrize(
    ("automatic", "kind", "allowed"),
    [
        (True, "contact_request", False),
        (True, "payment_plan_reminder", False),
        (True, "reply_to_debtor", True),
        (False, "contact_request", True),  # a collector answering or calling by hand: the workflow is paused, not him
    ],
)
def test_breathing_space_refuses_automatic_email_and_allows_a_reply_the_debtor_asked_for(
    automatic: bool, kind: str, allowed: bool
) -> None:
    assert SPACE is not None
    decision = decide(
        ask("email", automatic=automatic, message_kind=kind), point("email"), Situation(US, holds=(SPACE,))
    )
    assert decision.allowed is allowed
    if not allowed:
        assert (decision.rule, decision.not_before) == ("breathing_space", datetime(2026, 12, 20, tzinfo=UTC))
        assert decision.deferrable


def hold(kind: str, ends_at: datetime | None = None) -> Hold:
    starts = MONDAY_NOON_NY - timedelta(days=1)
    return rules.new_hold("h1", kind, starts, ends_at, "collector-1", "debtor called", "call recording 17", None)


@pytest.mark.parametrize("kind", rules.MESSAGE_KINDS)
def test_cease_communication_allows_only_the_three_messages(kind: str) -> None:
    ceased = Situation(US, holds=(hold("cease_communication"),))
    decision = decide(ask("letter", message_kind=kind), point("postal_address"), ceased)
    assert decision.allowed is (kind in rules.CEASE_MESSAGES)
    assert decision.allowed or (decision.rule, decision.permanent) == ("cease_communication", True)


@pytest.mark.parametrize(
    ("kind", "message_kind", "rule"),
    [
        ("moratorium_standard", "contact_request", "moratorium"),
        ("moratorium_standard", "statutory_notice", None),
        ("moratorium_mental_health", "reply_to_debtor", None),
        ("moratorium_mental_health", "payment_plan_reminder", "moratorium"),
        ("dispute", "contact_request", "dispute"),
        ("dispute", "closing_fully_paid", None),
        ("deceased", "reply_to_debtor", "deceased"),
        ("restriction", "payment_plan_reminder", "processing_restricted"),
        ("restriction", "closing_fully_paid", "processing_restricted"),
        ("restriction", "reply_to_debtor", None),
        ("objection", "contact_request", "objection"),
        ("objection", "statutory_notice", None),
    ],
)
def test_holds_let_through_only_what_they_allow(kind: str, message_kind: str, rule: str | None) -> None:
    decision = decide(ask("email", message_kind=message_kind), point("email"), Situation(US, holds=(hold(kind),)))
    assert decision.rule == rule


def test_care_and_hardship_end_at_their_expiry_and_a_hold_on_another_case_does_not_apply() -> None:
    care = hold("care", ends_at=MONDAY_NOON_NY + timedelta(days=3))
    assert decide(ask(), point(), Situation(US, holds=(care,))).not_before == MONDAY_NOON_NY + timedelta(days=3)
    assert decide(ask(at=MONDAY_NOON_NY + timedelta(days=3)), point(), Situation(US, holds=(care,))).allowed
    elsewhere = replace(hold("dispute"), case_id="case-2")
    assert decide(ask(), point(), Situation(US, holds=(elsewhere,))).allowed
    ended = replace(hold("dispute"), ended_at=MONDAY_NOON_NY - timedelta(hours=1))
    assert decide(ask(), point(), Situation(US, holds=(ended,))).allowed


def test_gdpr_holds_name_the_law_a_restriction_refuses_for_good_an_objection_waits_and_both_cover_the_person() -> None:
    restricted = decide(ask("email"), point("email"), Situation(US, holds=(hold("restriction"),)))
    assert (restricted.law, restricted.permanent) == ("GDPR Art. 18", True)
    objected = decide(ask("email", automatic=True), point("email"), Situation(US, holds=(hold("objection"),)))
    assert (objected.law, objected.deferrable, objected.not_before) == ("GDPR Art. 21", True, None)
    with pytest.raises(DomainError) as info:
        rules.new_hold("h", "restriction", MONDAY_NOON_NY, None, "c", "why", None, "case-1")
    assert (info.value.code, info.value.field) == ("hold_covers_the_person", "case_id")


def test_a_standard_moratorium_is_60_days_and_stops_fees_and_interest() -> None:
    m = hold("moratorium_standard")
    assert m.ends_at == m.starts_at + timedelta(days=60) and m.no_fees_or_interest


@pytest.mark.parametrize(
    ("kind", "ends_in", "code", "field"),
    [
        ("care", timedelta(days=-1), "hold_ends_before_start", "ends_at"),
        ("care", None, "expiry_required", "ends_at"),
        ("moratorium_mental_health", timedelta(days=30), "moratorium_open_ended", "ends_at"),
        ("moratorium_standard", timedelta(days=30), "moratorium_is_60_days", "ends_at"),
        ("breathing_space", None, "invalid_hold_kind", "kind"),
        ("holiday", None, "invalid_hold_kind", "kind"),
        ("restriction", timedelta(days=30), "hold_open_ended", "ends_at"),
        ("objection", timedelta(days=30), "hold_open_ended", "ends_at"),
    ],
)
def test_bad_holds_are_422_with_the_field(kind: str, ends_in: timedelta | None, code: str, field: str) -> None:
    with pytest.raises(DomainError) as info:
        rules.new_hold("h", kind, MONDAY_NOON_NY, MONDAY_NOON_NY + ends_in if ends_in else None, "c", "why", None, None)
    assert (_status(info.value), info.value.code, info.value.field) == (422, code, field)


@pytest.mark.parametrize(
    ("build", "code", "field"),
    [
        (lambda: Window(time(21), time(8)), "window_ends_before_start", "window.end"),
        (lambda: Cap(frozenset({"call"}), 0, 7), "invalid_cap", "caps.limit"),
        (lambda: Cap(frozenset({"call"}), -1, 7), "invalid_cap", "caps.limit"),
        (lambda: Cap(frozenset({"call"}), 3, 0), "invalid_cap", "caps.days"),
        (lambda: InconvenientTime(time(14), time(12)), "window_ends_before_start", "end"),
        (lambda: ClientRules(max_phone_call_retries=-1), "invalid_retries", "max_phone_call_retries"),
    ],
)
def test_bad_rules_are_422_with_the_field(build: object, code: str, field: str) -> None:
    with pytest.raises(DomainError) as info:
        build()  # type: ignore[operator]
    assert (_status(info.value), info.value.code, info.value.field) == (422, code, field)


# ---- presets and client settings --------------------------------------------------------------------------


def test_a_client_may_narrow_a_legal_window_but_never_widen_it() -> None:
    wider = rules.effective(rules.PRESETS["US"], ClientRules(window=Window(time(7), time(22))))
    assert wider.window == Window(time(8), time(21))
    narrower = rules.effective(rules.PRESETS["US"], ClientRules(window=Window(time(9), time(18))))
    assert narrower.window == Window(time(9), time(18))


def test_without_a_legal_window_the_clients_window_applies() -> None:
    wide = Window(time(7), time(22))
    assert rules.effective(rules.PRESETS["FR"], ClientRules(window=wide)).window == wide


@pytest.mark.parametrize(
    ("country", "region", "preset"),
    [
        ("US", "MA", "US-MA"),
        ("US", "NY", "US"),
        ("US", None, "US"),
        ("DE", None, "DE"),
        ("GB", None, "GB"),
        ("CH", None, "DEFAULT"),
        (None, None, "DEFAULT"),
    ],
)
def test_jurisdiction_presets(country: str | None, region: str | None, preset: str) -> None:
    assert rules.jurisdiction(country, region) == preset


# ---- the debtor's wishes ----------------------------------------------------------------------------------


def test_stop_by_sms_opts_out_sms_only() -> None:
    stopped = point(opt_outs={"sms": OptOut("sms", "debtor_reply", MONDAY_NOON_NY, "reply 'STOP'", "stop")})
    assert decide(ask("sms"), stopped, Situation(US)).rule == "channel_opted_out"
    assert decide(ask("call"), stopped, Situation(US)).allowed


@pytest.mark.parametrize(
    ("reply", "keyword"),
    [
        ("STOP", "stop"),
        ("stop.", "stop"),
        ("Unsubscribe please", "unsubscribe"),
        ("END", "end"),
        ("Quit", "quit"),
        ("cancel!", "cancel"),
        ("end of month I will pay you", None),
        ("please stop", "stop"),
        ("stop texting me please", "stop"),
        ("I will not stop paying", None),
        ("", None),
        ("ok", None),
    ],
)
def test_opt_out_keywords(reply: str, keyword: str | None) -> None:
    assert rules.opt_out_keyword(reply) == keyword


def test_only_the_debtor_with_evidence_lifts_an_opt_out() -> None:
    stopped = point(opt_outs={"sms": OptOut("sms", "debtor_reply", MONDAY_NOON_NY, "reply 'STOP'", "stop")})
    with pytest.raises(DomainError) as info:
        rules.opt_in(stopped, Consent("sms", "client_file", MONDAY_NOON_NY))
    assert (_status(info.value), info.value.code) == (409, "opt_in_needs_debtor")
    with pytest.raises(DomainError):
        rules.opt_in(stopped, Consent("sms", "debtor_written", MONDAY_NOON_NY))
    assert rules.opt_in(stopped, Consent("sms", "debtor_written", MONDAY_NOON_NY, "letter of 28.11.")) == {}


def test_no_contact_at_work_and_invalid_for_sms() -> None:
    work = point(at_work=True, no_contact_at_work=True)
    assert decide(ask(), work, Situation(US)).rule == "no_contact_at_work"
    sms_failed = point(invalid_for=frozenset({"sms"}))
    assert decide(ask("sms"), sms_failed, Situation(US)).rule == "contact_point_invalid"
    assert decide(ask("call"), sms_failed, Situation(US)).allowed


def test_automatic_work_needs_a_valid_default() -> None:
    assert decide(ask("email", automatic=True), None, Situation(US)).rule == "no_default"
    assert decide(ask("email", automatic=True), point("email", is_default=False), Situation(US)).rule == "not_default"
    assert decide(ask("email"), point("email", valid=False), Situation(US)).rule == "contact_point_invalid"


def test_permanent_refusals_have_no_next_allowed_time_and_waiting_ones_do() -> None:
    assert rules.next_allowed(ask(), point(valid=False), Situation(US), (NY,)) is None
    night = datetime(2026, 11, 30, 22, tzinfo=NY).astimezone(UTC)
    assert rules.next_allowed(ask(at=night), point(), Situation(US), (NY,)) == datetime(2026, 12, 1, 8, tzinfo=NY)


def test_next_allowed_chains_rules_a_hold_ending_at_night_waits_for_the_window() -> None:
    care = hold("care", ends_at=datetime(2026, 12, 2, 23, tzinfo=NY).astimezone(UTC))
    expected = datetime(2026, 12, 3, 8, tzinfo=NY)
    assert rules.next_allowed(ask(), point(), Situation(US, holds=(care,)), (NY,)) == expected


def test_history_keeps_only_what_can_still_count() -> None:
    history = calls(40, MONDAY_NOON_NY, every=timedelta(days=1)).with_attempt(
        Attempt(MONDAY_NOON_NY, "call", "case-1", "cp-1", "now")
    )
    assert min(a.at for a in history.attempts) >= MONDAY_NOON_NY - rules.HISTORY_KEPT


def test_the_policy_knows_every_kind_of_debtor_message_notifications_can_write() -> None:
    from typing import get_args

    from shared import events

    assert set(get_args(events.MessageKind)) <= set(rules.MESSAGE_KINDS)
