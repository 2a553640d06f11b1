"""Client rules (pure, no AWS): settings validation, inheritance from the business unit, portfolio overrides,
phone numbers, user rights. Every refusal is an ``Invalid`` naming the field path the caller has to fix.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.contacts.clients.models import (
    BusinessUnit,
    BusinessUnitOverrides,
    Client,
    ClientChange,
    ClientSettings,
    EffectiveBusinessUnit,
    EffectiveWorkflow,
    Portfolio,
    WorkflowOverride,
    WorkflowSettings,
)
from shared import phones
from shared.errors import Invalid

# The fields the imports service maps a client's columns onto (its DEFAULT_MAPPING keys). A mapping for any
# other name would be silently ignored by the import, so it is refused here.
IMPORT_FIELDS: frozenset[str] = frozenset(
    {
        "client_case_number",
        "first_name",
        "last_name",
        "company_name",
        "email",
        "phone",
        "street",
        "postcode",
        "city",
        "country",
        "invoice_number",
        "amount",
        "opened_on",
    }
)
WORKFLOW_FIELDS = (
    "breathing_space_enabled",
    "breathing_space_days",
    "payment_plan_reminder_days",
    "max_phone_call_retries",
)


def invalid(field: str, message: str, code: str = "invalid_value") -> Invalid:
    return Invalid(code, message, field)


# ---- phone numbers ----------------------------------------------------------------------------------------


def e164(phone: str, country: str | None) -> str:
    """The phone number in E.164, read with the dialling code of ``country`` unless it starts with +."""
    try:
        return phones.normalise_phone(phone, country)
    except phones.PhoneRefused as exc:
        field = "phone_country" if exc.code == "phone_country" else "phone"
        raise invalid(field, str(exc), "invalid_country" if exc.code == "phone_country" else "invalid_phone") from exc


# ---- business unit inheritance ----------------------------------------------------------------------------


def effective_business_unit(unit: BusinessUnit, overrides: BusinessUnitOverrides) -> EffectiveBusinessUnit:
    """The business unit's settings with the client's overrides on top (reply-to, footers per language)."""
    overridden: list[str] = []
    email = unit.email
    if overrides.reply_to is not None:
        email = email.model_copy(update={"reply_to": overrides.reply_to})
        overridden.append("email.reply_to")
    footers = dict(unit.email_footers)
    for language, footer in sorted(overrides.email_footers.items()):
        footers[language] = footer
        overridden.append(f"email_footers.{language}")
    return EffectiveBusinessUnit(
        business_unit_id=unit.business_unit_id,
        name=unit.name,
        company=unit.company,
        email=email,
        invoice=unit.invoice,
        email_footers=footers,
        communication_templates=dict(unit.communication_templates),
        language=unit.language,
        overridden=overridden,
    )


# ---- clients ----------------------------------------------------------------------------------------------


def check_portfolios(portfolios: list[Portfolio], field: str = "portfolios") -> None:
    seen: set[str] = set()
    for i, portfolio in enumerate(portfolios):
        if portfolio.portfolio_id in seen:
            raise invalid(f"{field}.{i}.portfolio_id", f"portfolio {portfolio.portfolio_id!r} is listed twice")
        seen.add(portfolio.portfolio_id)


def check_user_portfolios(wanted: Iterable[str], client: Client, field: str = "portfolios") -> None:
    known = {p.portfolio_id for p in client.portfolios}
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise invalid(field, f"client {client.client_id!r} has no portfolio {', '.join(unknown)}", "unknown_portfolio")


def changed_client(client: Client, change: ClientChange) -> Client:
    """The client after a PATCH: only the fields sent change; legal name and business unit cannot be cleared."""
    sent = change.model_fields_set
    for required in ("legal_name", "business_unit_id"):
        if required in sent and getattr(change, required) is None:
            raise invalid(required, f"{required} cannot be removed", "required")
    if change.portfolios is not None:
        check_portfolios(change.portfolios)
    update = {name: getattr(change, name) for name in sent}
    if "business_unit_overrides" in sent and change.business_unit_overrides is None:
        update["business_unit_overrides"] = BusinessUnitOverrides()
    return client.model_copy(update=update)


def portfolios_in_use(client: Client, settings: ClientSettings) -> list[str]:
    """Portfolio ids that the settings still override but the client no longer has."""
    known = {p.portfolio_id for p in client.portfolios}
    return sorted(set(settings.workflow.portfolio_overrides) - known)


# ---- settings ---------------------------------------------------------------------------------------------


def _check_breathing_space(enabled: bool, days: int | None, field: str) -> None:
    if enabled and days is None:
        raise invalid(
            f"{field}.breathing_space_days", "give the breathing space duration when it is enabled", "required"
        )
    if not enabled and days is not None:
        raise invalid(
            f"{field}.breathing_space_days",
            "breathing space is not enabled, so it has no duration (enable it or leave the days out)",
            "not_allowed",
        )


def check_settings(settings: ClientSettings, portfolio_ids: Iterable[str]) -> None:
    """The rules a pydantic field cannot express alone; raises ``Invalid`` naming the first field at fault."""
    headers: dict[str, str] = {}
    for ours, theirs in settings.imports.column_mapping.items():
        field = f"imports.column_mapping.{ours}"
        if ours not in IMPORT_FIELDS:
            raise invalid(field, f"{ours!r} is not an import field; one of {', '.join(sorted(IMPORT_FIELDS))}")
        key = theirs.casefold()
        if key in headers:
            raise invalid(field, f"the column {theirs!r} is already mapped to {headers[key]!r}")
        headers[key] = ours
    if not phones.known_country(settings.imports.default_country):
        raise invalid("imports.default_country", f"{settings.imports.default_country!r} is not a country code")

    workflow = settings.workflow
    _check_breathing_space(workflow.breathing_space_enabled, workflow.breathing_space_days, "workflow")
    known = set(portfolio_ids)
    for portfolio_id, override in workflow.portfolio_overrides.items():
        field = f"workflow.portfolio_overrides.{portfolio_id}"
        if portfolio_id not in known:
            raise invalid(field, f"the client has no portfolio {portfolio_id!r}", "unknown_portfolio")
        enabled = (
            override.breathing_space_enabled
            if override.breathing_space_enabled is not None
            else workflow.breathing_space_enabled
        )
        if not enabled and override.breathing_space_days is not None:
            _check_breathing_space(enabled, override.breathing_space_days, field)
        if enabled and override.breathing_space_days is None and workflow.breathing_space_days is None:
            _check_breathing_space(enabled, None, field)


def effective_workflow(
    workflow: WorkflowSettings, override: WorkflowOverride | None, portfolio_id: str
) -> EffectiveWorkflow:
    """A portfolio's workflow settings: the override's fields where set, the client's otherwise."""
    values = {name: getattr(workflow, name) for name in WORKFLOW_FIELDS}
    overridden: list[str] = []
    for name in WORKFLOW_FIELDS:
        value = getattr(override, name) if override is not None else None
        if value is not None:
            values[name] = value
            overridden.append(name)
    if not values["breathing_space_enabled"]:
        values["breathing_space_days"] = None  # a duration only means something while breathing space is on
    return EffectiveWorkflow(portfolio_id=portfolio_id, overridden=overridden, **values)


def enrichment_grant_changed(current: ClientSettings, new: ClientSettings) -> bool:
    """The grant or the monthly budget changes: both decide how much money enrichment may spend."""
    return (current.enrichment.granted, current.enrichment.monthly_budget) != (
        new.enrichment.granted,
        new.enrichment.monthly_budget,
    )
