"""Until when a person's records must be kept (GDPR Art. 17(3)(b): a legal obligation to keep them; (e): legal
claims), free of AWS. The periods are data (``retention.json``: per country, the law's default); a client may keep
longer (its ``data_protection.retention_years``), never shorter than the law.

A person may be erased once no case is open and the longest period, counted from each case's closing, has run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

RULES_FILE = Path(__file__).with_name("retention.json")
OPEN = frozenset({"open", "in_settlement"})


@dataclass(frozen=True)
class Retention:
    years: int
    law: str
    from_year_end: bool  # commercial codes count from the end of the calendar year


@cache
def rules() -> dict[str, Retention]:
    raw = json.loads(RULES_FILE.read_text())
    return {
        country: Retention(int(r["years"]), str(r["law"]), r.get("counts_from", "year_end") == "year_end")
        for country, r in raw.items()
        if not country.startswith("_")
    }


def retention_for(country: str | None, client_years: int | None = None) -> Retention:
    """The law's period for the client's country (the default when we have none), lengthened by the client's."""
    law = rules().get((country or "").upper(), rules()["default"])
    if client_years and client_years > law.years:
        return Retention(
            client_years, f"client's retention of {client_years} years (the law: {law.law})", law.from_year_end
        )
    return law


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def kept_until(closed_on: date, retention: Retention) -> date:
    """The first day a case closed on ``closed_on`` may be erased."""
    start = date(closed_on.year + 1, 1, 1) if retention.from_year_end else closed_on + timedelta(days=1)
    return add_years(start, retention.years)


def earliest_erasure(cases: Sequence[tuple[str, date | None]], retention: Retention) -> date | None:
    """(status, closed on) of each case → the first day the person may be erased; None while a case is open."""
    if any(status in OPEN for status, _ in cases):
        return None
    closed = [closed_on for _, closed_on in cases if closed_on is not None]
    return max((kept_until(d, retention) for d in closed), default=date.min)


def expires_on(cases: Sequence[tuple[str, date | None]], retention: Retention) -> date | None:
    """(status, last activity) of each case → the first day the person is erased though nobody asked (storage
    limitation, Art. 5(1)(e)); None while a case is open or has no date to count from (kept: never a guess)."""
    if not cases or any(status in OPEN or last is None for status, last in cases):
        return None
    return kept_until(max(last for _, last in cases if last is not None), retention)
