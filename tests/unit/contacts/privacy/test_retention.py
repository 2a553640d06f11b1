"""Until when a person's records are kept (GDPR Art. 17(3)(b)), from the law's periods in retention.json."""

from __future__ import annotations

from datetime import date

import pytest

from services.contacts.privacy import retention
from services.contacts.privacy.subject_access import one_month_after


@pytest.mark.parametrize(
    ("country", "closed_on", "first_day"),
    [
        ("DE", date(2026, 3, 5), date(2037, 1, 1)),  # HGB §257(4): 10 years from the end of the year
        ("de", date(2026, 12, 31), date(2037, 1, 1)),
        ("FR", date(2026, 3, 5), date(2037, 1, 1)),
        ("AT", date(2026, 3, 5), date(2034, 1, 1)),
        ("US", date(2026, 3, 5), date(2029, 3, 6)),  # Reg F: 3 years from the last activity
        ("US", date(2028, 2, 29), date(2031, 3, 1)),
        ("ZZ", date(2026, 3, 5), date(2037, 1, 1)),  # no rule: the default
        (None, date(2026, 3, 5), date(2037, 1, 1)),
    ],
)
def test_the_first_day_a_closed_case_may_be_erased(country: str | None, closed_on: date, first_day: date) -> None:
    assert retention.kept_until(closed_on, retention.retention_for(country)) == first_day


def test_an_open_case_keeps_everything_and_the_latest_closing_decides() -> None:
    de = retention.retention_for("DE")
    assert retention.earliest_erasure([("closed", date(2020, 1, 1)), ("open", None)], de) is None
    assert retention.earliest_erasure([("in_settlement", None)], de) is None
    cases = [("closed", date(2020, 6, 1)), ("paid", date(2024, 2, 1))]
    assert retention.earliest_erasure(cases, de) == date(2035, 1, 1)
    assert retention.earliest_erasure([], de) == date.min  # nothing to keep


def test_a_client_may_keep_longer_than_the_law_never_shorter() -> None:
    assert retention.retention_for("DE", 12).years == 12
    assert retention.retention_for("DE", 3).years == 10
    assert retention.retention_for("US", 5).law.startswith("client's retention of 5 years")


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2026, 11, 20), date(2026, 12, 20)),
        (date(2026, 1, 31), date(2026, 2, 28)),
        (date(2026, 12, 5), date(2027, 1, 5)),
    ],
)
def test_the_answer_is_due_one_month_after_receipt(received: date, due: date) -> None:
    assert one_month_after(received) == due


DE = retention.retention_for("DE")


@pytest.mark.parametrize(
    ("cases", "expires"),
    [
        ([("open", None)], None),  # an open case keeps the person, however old
        ([("closed", date(2020, 1, 1)), ("in_settlement", None)], None),
        ([("closed", date(2020, 1, 1)), ("paid", None)], None),  # no date to count from: kept, never guessed
        ([], None),  # no case: nothing to count from
        ([("closed", date(2026, 3, 5))], date(2037, 1, 1)),
        ([("closed", date(2020, 3, 5)), ("paid", date(2026, 11, 28))], date(2037, 1, 1)),  # the last activity
    ],
)
def test_a_person_nobody_asked_about_expires_when_every_case_is_closed_and_retention_has_run(
    cases: list[tuple[str, date | None]], expires: date | None
) -> None:
    assert retention.expires_on(cases, DE) == expires


def test_expiry_without_a_request_counts_from_the_last_activity_under_reg_f() -> None:
    us = retention.retention_for("US")
    assert retention.expires_on([("closed", date(2026, 3, 5)), ("paid", date(2027, 6, 1))], us) == date(2030, 6, 2)
