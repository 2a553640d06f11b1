"""The old reminder claims are looked up for as long as any client's reminder window can reach."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.contacts.cases import reminders
from services.contacts.clients.models import WorkflowOverride, WorkflowSettings


@pytest.mark.parametrize("model", [WorkflowSettings, WorkflowOverride])
def test_the_longest_window_is_the_longest_reminder_days_the_settings_accept_and_a_day(model: type) -> None:
    longest = reminders.LONGEST_WINDOW.days - 1
    assert model(payment_plan_reminder_days=longest).payment_plan_reminder_days == longest
    with pytest.raises(ValidationError):
        model(payment_plan_reminder_days=longest + 1)
