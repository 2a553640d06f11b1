"""When a case is due for skip tracing: only when granted, after the interval, within the paid attempts."""

from __future__ import annotations

from datetime import date

from services.enrichment.domain import EnrichmentSettings, SandboxProvider, TrackedCase, next_attempt_due

CASE = TrackedCase(client_id="c", case_owner_id="o", case_id="k", opened_on=date(2026, 1, 1))


def test_nothing_is_due_unless_an_administrator_granted_enrichment() -> None:
    assert next_attempt_due(CASE, EnrichmentSettings(granted=False, interval_days=30, attempts=3)) is None


def test_first_attempt_is_due_interval_days_after_opening() -> None:
    assert next_attempt_due(CASE, EnrichmentSettings(granted=True, interval_days=30, attempts=1)) == date(2026, 1, 31)


def test_further_attempts_wait_an_interval_after_the_previous_one() -> None:
    settings = EnrichmentSettings(granted=True, interval_days=30, attempts=3)
    after_one = TrackedCase("c", "o", "k", date(2026, 1, 1), attempts_made=1, last_attempt_on=date(2026, 5, 1))
    assert next_attempt_due(after_one, settings) == date(2026, 5, 31)


def test_no_attempt_beyond_the_paid_number() -> None:
    settings = EnrichmentSettings(granted=True, interval_days=30, attempts=2)
    done = TrackedCase("c", "o", "k", date(2026, 1, 1), attempts_made=2, last_attempt_on=date(2026, 3, 1))
    assert next_attempt_due(done, settings) is None


def test_settings_are_read_from_the_client_settings_event_with_defaults() -> None:
    assert EnrichmentSettings.from_client_settings({}) == EnrichmentSettings(False, 30, 1)
    parsed = EnrichmentSettings.from_client_settings(
        {"enrichment": {"granted": True, "interval_days": 10, "attempts": 4}}
    )
    assert parsed == EnrichmentSettings(True, 10, 4)


def test_sandbox_provider_is_deterministic_per_attempt() -> None:
    provider = SandboxProvider()
    first, again, second = provider.search(CASE, 1), provider.search(CASE, 1), provider.search(CASE, 2)
    assert first == again and first.contact_points != second.contact_points
    assert first.contact_points[0].type == "phone" and first.contact_points[0].value.startswith("+49")
