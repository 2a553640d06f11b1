"""The client rules without AWS: phone numbers, inheritance, workflow overrides, settings checks, identities."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.contacts import pagination
from services.contacts.clients import domain as client_rules
from services.contacts.clients.models import (
    BusinessUnit,
    BusinessUnitOverrides,
    Client,
    ClientChange,
    ClientSettings,
    EmailSettings,
    Portfolio,
    WorkflowOverride,
    WorkflowSettings,
)
from services.contacts.identity import from_request_context
from shared.api import ApiError, from_domain_error
from shared.errors import DomainError

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def unit() -> BusinessUnit:
    return BusinessUnit.model_validate(
        {
            "business_unit_id": "emea",
            "name": "EMEA",
            "company": {"legal_name": "Agency GmbH"},
            "email": {"sender_email": "billing@agency.example", "reply_to": "team@agency.example"},
            "email_footers": {"de": "DE footer", "fr": "FR footer"},
            "created_at": NOW,
            "updated_at": NOW,
        }
    )


def refused(call: Any, *args: Any) -> ApiError:
    """The refusal as the API answers it (status from the one mapping at the edge)."""
    with pytest.raises(DomainError) as info:
        call(*args)
    error = from_domain_error(info.value)
    assert error.status == 422
    return error


# ---- phone numbers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "country", "expected"),
    [
        ("030 1234567", "DE", "+49301234567"),
        ("+49 (30) 123-4567", None, "+49301234567"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("+33 6 12 34 56 78", "DE", "+33612345678"),  # an explicit + wins over the chosen country
    ],
)
def test_phone_numbers_become_e164(phone: str, country: str | None, expected: str) -> None:
    assert client_rules.e164(phone, country) == expected


@pytest.mark.parametrize(
    ("phone", "country", "field"),
    [
        ("12", "DE", "phone"),
        ("abc", "DE", "phone"),
        ("030 1234567", None, "phone"),
        ("+4930123", "ZZ", "phone_country"),
    ],
)
def test_invalid_phone_numbers_name_the_field(phone: str, country: str | None, field: str) -> None:
    assert refused(client_rules.e164, phone, country).field == field


# ---- business unit inheritance ----------------------------------------------------------------------------


def test_a_client_without_overrides_inherits_everything() -> None:
    effective = client_rules.effective_business_unit(unit(), BusinessUnitOverrides())
    assert effective.email == unit().email
    assert effective.email_footers == {"de": "DE footer", "fr": "FR footer"}
    assert effective.overridden == []


def test_overrides_replace_only_what_they_name() -> None:
    overrides = BusinessUnitOverrides.model_validate({"reply_to": "me@client.example", "email_footers": {"fr": "Mine"}})
    effective = client_rules.effective_business_unit(unit(), overrides)
    assert effective.email.sender_email == "billing@agency.example"  # the sender is never the client's
    assert effective.email.reply_to == "me@client.example"
    assert effective.email_footers == {"de": "DE footer", "fr": "Mine"}
    assert effective.overridden == ["email.reply_to", "email_footers.fr"]
    assert unit().email == EmailSettings.model_validate(
        {"sender_email": "billing@agency.example", "reply_to": "team@agency.example"}
    )


# ---- clients ----------------------------------------------------------------------------------------------


def client(**extra: Any) -> Client:
    return Client(client_id="c1", legal_name="A", business_unit_id="default", created_at=NOW, **extra)


def test_a_patch_changes_only_what_was_sent_and_null_clears() -> None:
    before = client(registration_number="HRB 1", portfolios=[Portfolio(portfolio_id="b2c", name="P")])
    after = client_rules.changed_client(before, ClientChange.model_validate({"registration_number": None}))
    assert after.registration_number is None
    assert after.portfolios == before.portfolios and after.legal_name == "A"
    assert refused(client_rules.changed_client, before, ClientChange.model_validate({"legal_name": None})).field == (
        "legal_name"
    )


def test_portfolio_ids_are_unique_and_users_only_join_existing_ones() -> None:
    twice = [Portfolio(portfolio_id="a", name="A"), Portfolio(portfolio_id="a", name="B")]
    assert refused(client_rules.check_portfolios, twice).field == "portfolios.1.portfolio_id"
    with_b2c = client(portfolios=[Portfolio(portfolio_id="b2c", name="P")])
    client_rules.check_user_portfolios(["b2c"], with_b2c)
    assert refused(client_rules.check_user_portfolios, ["b2b"], with_b2c).code == "unknown_portfolio"


# ---- settings ---------------------------------------------------------------------------------------------


def settings(**sections: Any) -> ClientSettings:
    return ClientSettings.model_validate(sections)


def test_breathing_space_needs_a_duration_only_when_enabled() -> None:
    client_rules.check_settings(settings(workflow={"breathing_space_enabled": True, "breathing_space_days": 7}), [])
    client_rules.check_settings(settings(), [])
    on_without = settings(workflow={"breathing_space_enabled": True})
    assert refused(client_rules.check_settings, on_without, []).field == "workflow.breathing_space_days"
    off_with = settings(workflow={"breathing_space_days": 7})
    assert refused(client_rules.check_settings, off_with, []).code == "not_allowed"


def test_portfolio_overrides_must_name_a_portfolio_and_keep_breathing_space_consistent() -> None:
    ghost = settings(workflow={"portfolio_overrides": {"ghost": {}}})
    assert refused(client_rules.check_settings, ghost, ["b2c"]).field == "workflow.portfolio_overrides.ghost"
    # Enabled for one portfolio only: that portfolio must say how long.
    enabled_here = settings(workflow={"portfolio_overrides": {"b2c": {"breathing_space_enabled": True}}})
    error = refused(client_rules.check_settings, enabled_here, ["b2c"])
    assert error.field == "workflow.portfolio_overrides.b2c.breathing_space_days"
    client_rules.check_settings(
        settings(
            workflow={"portfolio_overrides": {"b2c": {"breathing_space_enabled": True, "breathing_space_days": 5}}}
        ),
        ["b2c"],
    )
    # Enabled for the client with a duration: a portfolio may just shorten it.
    client_rules.check_settings(
        settings(
            workflow={
                "breathing_space_enabled": True,
                "breathing_space_days": 14,
                "portfolio_overrides": {"b2c": {"breathing_space_days": 3}},
            }
        ),
        ["b2c"],
    )


def test_column_mapping_names_our_fields_and_distinct_headers() -> None:
    client_rules.check_settings(settings(imports={"column_mapping": {"amount": "Betrag", "email": "Mail"}}), [])
    unknown = settings(imports={"column_mapping": {"size": "Größe"}})
    assert refused(client_rules.check_settings, unknown, []).field == "imports.column_mapping.size"
    same_header = settings(imports={"column_mapping": {"amount": "Betrag", "email": "BETRAG"}})
    assert refused(client_rules.check_settings, same_header, []).field == "imports.column_mapping.email"


def test_the_imports_defaults_are_what_the_imports_service_expects() -> None:
    imports = ClientSettings().model_dump(mode="json")["imports"]
    assert imports == {
        "new_file_per_invoice": False,
        "match_on_client_case_number": False,
        "column_mapping": {},
        "date_format": "auto",
        "default_country": "DE",
    }


def test_effective_workflow_falls_back_field_by_field() -> None:
    client_workflow = WorkflowSettings(
        breathing_space_enabled=True, breathing_space_days=14, payment_plan_reminder_days=5, max_phone_call_retries=3
    )
    only_retries = client_rules.effective_workflow(client_workflow, WorkflowOverride(max_phone_call_retries=8), "b2b")
    assert (only_retries.max_phone_call_retries, only_retries.breathing_space_days) == (8, 14)
    assert only_retries.payment_plan_reminder_days == 5 and only_retries.overridden == ["max_phone_call_retries"]

    switched_off = client_rules.effective_workflow(
        client_workflow, WorkflowOverride(breathing_space_enabled=False), "x"
    )
    assert (switched_off.breathing_space_enabled, switched_off.breathing_space_days) == (False, None)

    none = client_rules.effective_workflow(client_workflow, None, "y")
    assert none.overridden == [] and none.breathing_space_days == 14


def test_the_enrichment_grant_change_is_detected_both_ways() -> None:
    on, off = settings(enrichment={"granted": True}), settings()
    assert client_rules.enrichment_grant_changed(off, on) and client_rules.enrichment_grant_changed(on, off)
    assert not client_rules.enrichment_grant_changed(on, settings(enrichment={"granted": True, "attempts": 4}))


# ---- identities -------------------------------------------------------------------------------------------


def test_lambda_authorizer_context() -> None:
    who = from_request_context({"authorizer": {"principalId": "p", "role": "client_user", "client_id": "c1"}})
    assert (who.principal, who.role, who.client_id) == ("p", "client_user", "c1")


def test_cognito_claims_of_the_rest_api() -> None:
    rest = from_request_context({"authorizer": {"claims": {"sub": "s", "custom:role": "collector"}}})
    assert (rest.principal, rest.role) == ("s", "collector")
    by_email = from_request_context(
        {"authorizer": {"claims": {"email": "e@x", "custom:role": "client_user", "custom:client_id": "c9"}}}
    )
    assert (by_email.principal, by_email.client_id) == ("e@x", "c9")


@pytest.mark.parametrize(
    "authorizer",
    [
        None,
        {},
        {"principalId": "p"},
        {"principalId": "p", "role": "superuser"},
        {"principalId": "p", "role": "client_user"},
        {"claims": {"sub": "s"}},
        {"claims": {"custom:role": "agency_admin"}},
        {"jwt": {"claims": {"sub": "s", "custom:role": "agency_admin"}}},  # HTTP API shape: refused at the entry
    ],
)
def test_missing_or_unknown_identities_are_401(authorizer: dict[str, Any] | None) -> None:
    with pytest.raises(ApiError) as info:
        from_request_context({"authorizer": authorizer})
    assert info.value.status == 401 and info.value.code == "unauthenticated"


def test_a_client_users_reads_of_another_client_are_not_found_not_forbidden() -> None:
    who = from_request_context({"authorizer": {"principalId": "p", "role": "client_user", "client_id": "c1"}})
    who.require_client_read("c1")
    with pytest.raises(DomainError) as info:
        who.require_client_read("c2")
    assert from_domain_error(info.value).status == 404


# ---- pagination -------------------------------------------------------------------------------------------


def test_a_next_token_only_works_on_the_list_it_came_from() -> None:
    token = pagination.encode({"PK": "CLIENT#a", "SK": "USER#1"})
    assert pagination.decode(token, expect={"PK": "CLIENT#a"}) == {"PK": "CLIENT#a", "SK": "USER#1"}
    with pytest.raises(ApiError) as info:
        pagination.decode(token, expect={"PK": "CLIENT#b"})
    assert info.value.field == "next_token"
    with pytest.raises(ApiError):
        pagination.decode("not base64 json")
