"""Budget rules: a quote that would take the month over the budget is refused; months are YYYY-MM."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.enrichment.budget import InvalidMonth, ceiling_before_booking, fits, month_of, parse_month, settle


def test_an_attempt_fits_while_the_month_stays_within_the_budget() -> None:
    budget, quote = Decimal("10.00"), Decimal("0.45")
    assert fits(budget, Decimal("9.55"), quote)  # lands exactly on the budget
    assert not fits(budget, Decimal("9.56"), quote)
    assert ceiling_before_booking(budget, quote) == Decimal("9.55")


def test_no_budget_means_no_monthly_cap_and_a_zero_budget_stops_everything() -> None:
    assert fits(None, Decimal("1000000"), Decimal("0.45")) and ceiling_before_booking(None, Decimal("1")) is None
    assert not fits(Decimal("0"), Decimal("0"), Decimal("0.45"))


def test_settling_replaces_the_quote_with_the_real_cost() -> None:
    assert settle(Decimal("0.80"), Decimal("0.80")).booked_delta == Decimal("0")
    failed = settle(Decimal("0.80"), Decimal("0"))
    assert failed.cost == Decimal("0") and failed.booked_delta == Decimal("-0.80")


def test_months() -> None:
    assert month_of(date(2026, 1, 31)) == "2026-01" and parse_month("2026-11") == "2026-11"


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "26-11", "2026-11-01", "", "1999-12", "2026-00"])
def test_bad_months_are_refused(bad: str) -> None:
    with pytest.raises(InvalidMonth):
        parse_month(bad)
