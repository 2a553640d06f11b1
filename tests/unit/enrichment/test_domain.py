"""Enrichment rules: when a case is due, where it sits in the sparse index, what its owner lacks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.enrichment.domain import (
    EnrichmentSettings,
    OwnerContacts,
    TrackedCase,
    due_until,
    index_key,
    index_state,
    is_trusted,
    lacking_types,
    next_attempt_due,
    searchable,
)
from shared.events import ContactPointChecks, ContactPointSummary, PhoneCheck, TraceSubject

CASE = TrackedCase(client_id="c", case_owner_id="o", case_id="k", opened_on=date(2026, 1, 1))
GRANTED = EnrichmentSettings(granted=True, interval_days=30, attempts=2)
OWNER = OwnerContacts("c", "o", TraceSubject(), frozenset({"phone"}), False, datetime(2026, 1, 1, tzinfo=UTC))


def test_nothing_is_due_unless_an_administrator_granted_enrichment() -> None:
    assert next_attempt_due(CASE, EnrichmentSettings(granted=False, interval_days=30, attempts=3)) is None


def test_first_attempt_is_due_interval_days_after_opening_further_ones_after_the_previous() -> None:
    assert next_attempt_due(CASE, GRANTED) == date(2026, 1, 31)
    after_one = replace(CASE, attempts_made=1, last_attempt_on=date(2026, 5, 1))
    assert next_attempt_due(after_one, GRANTED) == date(2026, 5, 31)
    assert next_attempt_due(replace(after_one, attempts_made=2), GRANTED) is None


def test_index_key_is_the_waiting_day_so_the_due_bound_is_a_key_range() -> None:
    key = index_key(CASE, index_state(CASE, OWNER, GRANTED))
    assert key == ("CLIENT#c#DUE", "2026-01-01#k")
    assert key[1] <= due_until(GRANTED, date(2026, 1, 31)) and key[1] > due_until(GRANTED, date(2026, 1, 30))


def test_a_case_leaves_the_index_when_nothing_is_to_be_found_or_restricted() -> None:
    assert index_state(CASE, replace(OWNER, lacking=frozenset()), GRANTED) is None
    assert index_state(CASE, replace(OWNER, restricted=True), GRANTED) is None
    assert index_key(CASE, None) is None


def test_a_case_whose_owner_is_not_known_yet_waits_in_the_index() -> None:
    """The run reads each due case's owner and searches nothing without it; the owner's first snapshot then has
    no case to move."""
    assert index_state(CASE, None, GRANTED) == "due"
    assert searchable(OWNER) and not searchable(replace(OWNER, restricted=True))


def test_used_up_cases_wait_in_their_own_part_of_the_index() -> None:
    done = replace(CASE, attempts_made=2, last_attempt_on=date(2026, 3, 1))
    assert index_state(done, OWNER, GRANTED) == "done"
    assert index_key(done, "done") == ("CLIENT#c#DONE", "2026-03-01#k")


def _point(cp_id: str, kind: str, state: str, usable: bool | None = None) -> ContactPointSummary:
    return ContactPointSummary.model_validate(
        {"contact_point_id": cp_id, "type": kind, "value": "v", "state": state, "usable": usable}
    )


def test_lacking_types_are_those_without_a_usable_default() -> None:
    points = [
        _point("1", "phone", "default"),
        _point("2", "email", "validated"),
        _point("3", "postal_address", "default", usable=False),
    ]
    assert lacking_types(points, []) == {"email", "postal_address"}
    bad_phone = ContactPointChecks(
        contact_point_id="1", type="phone", value="v", checked_at=datetime.now(UTC), phone=PhoneCheck(valid=False)
    )
    assert lacking_types(points, [bad_phone]) == {"phone", "email", "postal_address"}


def test_settings_are_read_from_the_client_settings_event_with_defaults() -> None:
    assert EnrichmentSettings.from_client_settings({}) == EnrichmentSettings(False, 30, 1, None)
    parsed = EnrichmentSettings.from_client_settings(
        {"enrichment": {"granted": True, "interval_days": 10, "attempts": 4, "monthly_budget": "250.00"}}
    )
    assert parsed == EnrichmentSettings(True, 10, 4, Decimal("250.00"))
    with pytest.raises(ValueError, match="monthly_budget"):
        EnrichmentSettings.from_client_settings({"enrichment": {"monthly_budget": "lots"}})


def test_confidence_threshold() -> None:
    assert is_trusted(Decimal("0.80"), Decimal("0.80")) and not is_trusted(Decimal("0.79"), Decimal("0.80"))
