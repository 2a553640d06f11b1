"""The rules of a case's life: payments, a payment plan, closing, and which debtor messages they call for.

Status: open → in_settlement (a payment plan is agreed) → paid (fully paid / paid in settlement) or closed
(recalled by the client / uncollectable). Amounts are Decimal in the case currency with the currency's minor
units; a float never gets here. No AWS here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from babel.numbers import get_currency_precision

from shared.errors import Conflict, Invalid
from shared.events import CloseReason, Instalment, MessageKind

Status = Literal["open", "in_settlement", "paid", "closed"]
ACTIVE: frozenset[str] = frozenset({"open", "in_settlement"})
CLOSED_STATUS: dict[str, Status] = {
    "fully_paid": "paid",
    "paid_in_settlement": "paid",
    "recalled_by_client": "closed",
    "uncollectable": "closed",
}


def check_amount(amount: Decimal, currency: str, field: str) -> Decimal:
    if not amount.is_finite() or amount <= 0:
        raise Invalid("invalid_amount", f"the amount must be positive, not {amount}", field)
    places = get_currency_precision(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        raise Invalid("invalid_amount", f"{currency} has {places} decimal places; {amount} has more", field)
    return amount


def check_currency(given: str | None, case_currency: str, field: str = "currency") -> None:
    if given is not None and given.upper() != case_currency.upper():
        raise Invalid("currency_mismatch", f"the case is in {case_currency}, not {given}", field)


def check_active(status: str) -> None:
    if status not in ACTIVE:
        raise Conflict("case_not_active", f"the case is {status}; nothing may be recorded on it any more")


@dataclass(frozen=True)
class PaymentOutcome:
    open_amount: Decimal
    overpaid: Decimal  # what the payment brought beyond the open amount (kept, reported, never negative open)


def apply_payment(open_amount: Decimal, amount: Decimal, currency: str, paid_on: date, today: date) -> PaymentOutcome:
    check_amount(amount, currency, "amount")
    if paid_on > today:
        raise Invalid("payment_in_future", f"a payment cannot be dated {paid_on}, after today", "paid_on")
    remaining = open_amount - amount
    return PaymentOutcome(max(remaining, Decimal(0)), max(-remaining, Decimal(0)))


def check_plan(instalments: Sequence[Instalment], open_amount: Decimal, currency: str, today: date) -> None:
    """Positive amounts, strictly increasing due dates from today on, numbered 1..n, total not above the open amount."""
    if not instalments:
        raise Invalid("empty_plan", "a payment plan needs at least one instalment", "instalments")
    previous: date | None = None
    for i, instalment in enumerate(instalments):
        field = f"instalments.{i}"
        check_amount(instalment.amount, currency, f"{field}.amount")
        if instalment.number != i + 1:
            raise Invalid("invalid_instalment_number", f"instalment {i + 1} is numbered {instalment.number}", field)
        if instalment.due_on < today:
            raise Invalid("instalment_in_past", f"instalment {i + 1} is due {instalment.due_on}, before today", field)
        if previous is not None and instalment.due_on <= previous:
            raise Invalid(
                "instalment_dates_not_increasing", f"instalment {i + 1} is not due after instalment {i}", field
            )
        previous = instalment.due_on
    total = sum((i.amount for i in instalments), Decimal(0))
    if total > open_amount:
        raise Invalid(
            "plan_above_open_amount", f"the plan totals {total} {currency}; only {open_amount} are open", "instalments"
        )


def check_close(
    reason: CloseReason, status: str, open_amount: Decimal, paid: Decimal, plan_total: Decimal | None
) -> Status:
    """The status a close leads to; a 'paid' reason must be true of the payments recorded."""
    check_active(status)
    if reason == "fully_paid" and open_amount > 0:
        raise Conflict("case_not_fully_paid", f"{open_amount} are still open; record the payment first")
    if reason == "paid_in_settlement":
        if status != "in_settlement" or plan_total is None:
            raise Conflict("case_not_in_settlement", "only a case with an agreed payment plan is paid in settlement")
        if paid < plan_total:
            raise Conflict("settlement_not_paid", f"{plan_total - paid} of the settlement are still to be paid")
    return CLOSED_STATUS[reason]


def closing_message(reason: CloseReason, on_full_payment: bool, on_settlement_paid: bool) -> MessageKind | None:
    """Seed 001: the debtor gets a closing e-mail only when the client's settings ask for that closing kind."""
    if reason == "fully_paid" and on_full_payment:
        return "closing_fully_paid"
    if reason == "paid_in_settlement" and on_settlement_paid:
        return "closing_settlement_paid"
    return None


def instalments_to_remind(
    instalments: Sequence[Instalment], paid: Decimal, reminder_days: int, today: date
) -> list[Instalment]:
    """The instalments whose reminder is due today: inside the window of ``reminder_days`` before the due date
    (a day the schedule missed is caught up while the instalment is not yet due) and not already covered by
    the payments recorded."""
    due: list[Instalment] = []
    covered = Decimal(0)
    for instalment in instalments:
        covered += instalment.amount
        if paid >= covered:
            continue  # paid already: no reminder
        if instalment.due_on - timedelta(days=reminder_days) <= today <= instalment.due_on:
            due.append(instalment)
    return due
