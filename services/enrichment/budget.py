"""Budget rules, free of AWS: a client's monthly enrichment budget against what its attempts booked.

An attempt books the provider's quote (its maximum price) before the call; settling replaces the quote with the
real cost (nothing for a failed search). An attempt whose quote would take the month's bookings over the budget
is not made. No budget set (None) means no monthly cap: the interval and the number of attempts still limit it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class InvalidMonth(ValueError):
    pass


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def parse_month(text: str) -> str:
    """A billing month as ``YYYY-MM``; raises InvalidMonth with the reason."""
    match = _MONTH.match(text or "")
    if not match or not 2000 <= int(match.group(1)) <= 2999:
        raise InvalidMonth(f"month must be YYYY-MM (e.g. 2026-11), got {text!r}")
    return text


def ceiling_before_booking(budget: Decimal | None, quote: Decimal) -> Decimal | None:
    """The most the month may have booked already for this attempt to fit; None when there is no cap.

    DynamoDB conditions cannot add, so the booking's condition compares the booked total with this bound.
    """
    if budget is None:
        return None
    return budget - quote


def fits(budget: Decimal | None, booked: Decimal, quote: Decimal) -> bool:
    ceiling = ceiling_before_booking(budget, quote)
    return ceiling is None or booked <= ceiling


@dataclass(frozen=True)
class Settlement:
    """How the month's booked total moves when an attempt settles."""

    cost: Decimal
    booked_delta: Decimal  # real cost minus the quote booked before the call


def settle(quote: Decimal, cost: Decimal) -> Settlement:
    return Settlement(cost=cost, booked_delta=cost - quote)
