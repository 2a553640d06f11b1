"""Case lifecycle rules: payments, plan validation, closing, closing e-mail choice, reminders due."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.contacts.cases import lifecycle as life
from shared.api import from_domain_error
from shared.errors import DomainError
from shared.events import Instalment

TODAY = date(2026, 11, 28)


def _plan(*rows: tuple[str, str]) -> list[Instalment]:
    return [Instalment(number=i + 1, due_on=date.fromisoformat(d), amount=Decimal(a)) for i, (d, a) in enumerate(rows)]


def test_a_payment_lowers_the_open_amount_and_an_overpayment_is_reported() -> None:
    assert life.apply_payment(Decimal("1250.00"), Decimal("250.00"), "EUR", TODAY, TODAY) == life.PaymentOutcome(
        Decimal("1000.00"), Decimal(0)
    )
    assert life.apply_payment(Decimal("10.00"), Decimal("12.50"), "EUR", TODAY, TODAY).overpaid == Decimal("2.50")


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [
        ("0", "EUR", "invalid_amount"),
        ("-5", "EUR", "invalid_amount"),
        ("1.005", "EUR", "invalid_amount"),
        ("10.5", "JPY", "invalid_amount"),
        ("NaN", "EUR", "invalid_amount"),
        ("Infinity", "EUR", "invalid_amount"),
    ],
)
def test_bad_amounts_are_refused_with_a_code(amount: str, currency: str, code: str) -> None:
    with pytest.raises(DomainError) as refused:
        life.apply_payment(Decimal("100"), Decimal(amount), currency, TODAY, TODAY)
    assert (refused.value.code, from_domain_error(refused.value).status, refused.value.field) == (code, 422, "amount")


def test_a_payment_dated_tomorrow_is_refused() -> None:
    with pytest.raises(DomainError, match="after today"):
        life.apply_payment(Decimal("100"), Decimal("1"), "EUR", date(2026, 11, 29), TODAY)


def test_a_valid_plan_passes_and_each_rule_is_named_when_broken() -> None:
    life.check_plan(_plan(("2026-12-15", "250.00"), ("2027-01-15", "1000.00")), Decimal("1250.00"), "EUR", TODAY)
    cases = {
        "empty_plan": [],
        "invalid_amount": _plan(("2026-12-15", "0")),
        "instalment_in_past": _plan(("2026-11-27", "10")),
        "instalment_dates_not_increasing": _plan(("2026-12-15", "10"), ("2026-12-15", "10")),
        "plan_above_open_amount": _plan(("2026-12-15", "1000"), ("2027-01-15", "250.01")),
    }
    for code, plan in cases.items():
        with pytest.raises(DomainError) as refused:
            life.check_plan(plan, Decimal("1250.00"), "EUR", TODAY)
        assert refused.value.code == code


def test_closing_rules() -> None:
    assert life.check_close("fully_paid", "open", Decimal(0), Decimal("100"), None) == "paid"
    assert life.check_close("uncollectable", "in_settlement", Decimal("5"), Decimal(0), Decimal("5")) == "closed"
    assert (
        life.check_close("paid_in_settlement", "in_settlement", Decimal("50"), Decimal("200"), Decimal("200")) == "paid"
    )
    for reason, status, open_amount, paid, plan, code in [
        ("fully_paid", "open", Decimal("1"), Decimal(0), None, "case_not_fully_paid"),
        ("paid_in_settlement", "open", Decimal("1"), Decimal(0), None, "case_not_in_settlement"),
        ("paid_in_settlement", "in_settlement", Decimal("50"), Decimal("150"), Decimal("200"), "settlement_not_paid"),
        ("recalled_by_client", "closed", Decimal("1"), Decimal(0), None, "case_not_active"),
    ]:
        with pytest.raises(DomainError) as refused:
            life.check_close(reason, status, open_amount, paid, plan)  # type: ignore[arg-type]
        assert (refused.value.code, from_domain_error(refused.value).status) == (code, 409)


def test_the_closing_email_is_sent_only_for_the_kind_the_client_chose() -> None:
    assert life.closing_message("fully_paid", True, False) == "closing_fully_paid"
    assert life.closing_message("fully_paid", False, True) is None
    assert life.closing_message("paid_in_settlement", False, True) == "closing_settlement_paid"
    assert life.closing_message("paid_in_settlement", True, False) is None
    assert life.closing_message("uncollectable", True, True) is None


def test_reminders_fall_in_the_window_before_each_unpaid_instalment() -> None:
    plan = _plan(("2026-12-05", "100"), ("2027-01-05", "100"))
    assert life.instalments_to_remind(plan, Decimal(0), 7, TODAY) == [plan[0]]  # window opens today
    assert life.instalments_to_remind(plan, Decimal(0), 7, date(2026, 11, 27)) == []  # not yet
    assert life.instalments_to_remind(plan, Decimal(0), 7, date(2026, 12, 3)) == [plan[0]]  # a missed day caught up
    assert life.instalments_to_remind(plan, Decimal(0), 7, date(2026, 12, 6)) == []  # past due: no reminder
    assert life.instalments_to_remind(plan, Decimal("100"), 7, TODAY) == []  # paid already
    assert life.instalments_to_remind(plan, Decimal("100"), 40, TODAY) == [plan[1]]
