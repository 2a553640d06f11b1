"""The enrichment cost ledger of a client, per month, as JSON or CSV for billing.

Enrichment owns the ledger (booked before each search, settled after) and publishes every settled line
(EnrichmentAttemptSettled); contacts keeps them as a read model because the API is contacts'. So the route never
reads enrichment's table, the lines arrive at most a few seconds after settling, and a re-delivered event rewrites
the same line.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from decimal import Decimal

from services.contacts.clients import repository
from services.contacts.clients.models import EnrichmentCostLine, EnrichmentCosts
from services.contacts.clients.use_cases import get_settings
from services.contacts.identity import Identity
from shared.errors import Invalid
from shared.events import EnrichmentAttemptSettled

_MONTH = re.compile(r"^(20\d\d)-(0[1-9]|1[0-2])$")
CSV_COLUMNS = (
    "month",
    "case_id",
    "case_owner_id",
    "attempt",
    "provider",
    "outcome",
    "candidates",
    "cost",
    "currency",
    "booked_at",
    "settled_at",
)


def billing_month(text: str | None) -> str:
    """The month asked for, ``YYYY-MM``; none: the current month (UTC, as enrichment books it)."""
    if not text:
        return datetime.now(UTC).strftime("%Y-%m")
    if not _MONTH.match(text):
        raise Invalid("invalid_month", f"month must be YYYY-MM (e.g. 2026-11), got {text!r}", "month")
    return text


def costs(client_id: str, month_text: str | None, who: Identity) -> EnrichmentCosts:
    budget = get_settings(client_id, who).enrichment.monthly_budget  # 404 for a client the caller may not see
    month = billing_month(month_text)
    lines = sorted(
        (EnrichmentCostLine.model_validate(item) for item in repository.cost_lines(client_id, month)),
        key=lambda line: (line.settled_at, line.case_id, line.attempt),
    )
    return EnrichmentCosts(
        client_id=client_id,
        month=month,
        total=sum((line.cost for line in lines), Decimal("0")),
        attempts=len(lines),
        budget=budget,
        lines=lines,
    )


def to_csv(ledger: EnrichmentCosts) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(CSV_COLUMNS)
    for line in ledger.lines:
        row = line.model_dump(mode="json")
        writer.writerow([ledger.month, *(row[c] for c in CSV_COLUMNS[1:])])
    return out.getvalue()


def on_attempt_settled(event: EnrichmentAttemptSettled) -> None:
    line = event.model_dump(
        mode="json",
        include={"case_id", "case_owner_id", "attempt", "provider", "outcome", "candidates", "currency"},
    )
    repository.put_cost_line(
        event.client_id,
        event.month,
        {
            **line,
            "cost": event.cost,
            "booked_at": event.booked_at.isoformat(),
            "settled_at": event.settled_at.isoformat(),
        },
    )
