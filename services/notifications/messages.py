"""What a message says: the template data of each kind, built from the events that cause it. No AWS here."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.notifications import rendering
from services.notifications.rendering import choose_language
from shared import message_templates
from shared.events import (
    ClientUserCreated,
    DebtorMessage,
    EnrichmentBudgetReached,
    ImportCompleted,
    ImportFailed,
    Sender,
)
from shared.observability import logger

# Kinds written to debtors (contacts decided them; every one carries an opt-out) and to client users.
DEBTOR_KINDS = (
    "contact_request",
    "payment_plan_reminder",
    "closing_fully_paid",
    "closing_settlement_paid",
    "cease_efforts_ended",
    "cease_remedies_may_be_used",
    "cease_remedy_intended",
)
CLIENT_KINDS = ("invitation", "import_report", "import_failed", "enrichment_budget_reached")


def language_of(message: DebtorMessage) -> str:
    """The case owner's language, else the business unit's, else English."""
    return choose_language(message.language, message.sender.language)


def is_german_debtor(message: DebtorMessage, language: str) -> bool:
    """RDG §13a applies to a debtor in Germany; without a postal address, a German-speaking one is assumed there."""
    if message.address is not None:
        return message.address.country.upper() == "DE"
    return language == "de"


def footer(sender: Sender, language: str) -> str:
    return sender.footers.get(language) or sender.footers.get("en") or ""


def sender_data(sender: Sender) -> dict[str, Any]:
    return sender.model_dump(mode="python")


def debtor_data(
    message: DebtorMessage,
    *,
    custom_text: str | None = None,
    subject: str | None = None,
    remedy: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """(language, template data) of a debtor message; every name a template may use is present (strict)."""
    language = language_of(message)
    case = None
    if message.case is not None:
        case = message.case.model_dump(mode="python")
        case["reference"] = message.case.client_case_number or message.case.case_id
    data = {
        "debtor_name": message.debtor_name,
        "address": message.address.model_dump(mode="python") if message.address else None,
        "address_from_enrichment": message.address_from_enrichment,
        "sender": sender_data(message.sender),
        "footer": footer(message.sender, language),
        "creditor": message.creditor.model_dump(mode="python"),
        "case": case,
        "instalment": message.instalment.model_dump(mode="python") if message.instalment else None,
        "rdg": is_german_debtor(message, language),
        "unsubscribe_url": message.unsubscribe_url,
        "custom_text": custom_text,
        "subject": subject,
        "remedy": remedy or message.remedy or "",
    }
    return language, data


def client_language(user_language: str | None, sender: Sender) -> str:
    """A client user's e-mails: in the user's language, else the business unit's, else English."""
    return choose_language(user_language, sender.language)


def client_data(sender: Sender, *, language: str | None = None, **values: Any) -> dict[str, Any]:
    """Template data of a message to a client user: the business unit's sender, its footer in the message's
    language (``language``, else the business unit's), and the kind's values."""
    chosen = choose_language(language, sender.language)
    return {"sender": sender_data(sender), "footer": footer(sender, chosen), **values}


def wants_invitation(event: ClientUserCreated) -> bool:
    """Only a user with platform access is invited; a linked existing user already has an account."""
    return event.platform_access and not event.linked_existing


def invitation_values(user_id: str, first_name: str, activation_base_url: str) -> dict[str, Any]:
    return {"first_name": first_name, "activation_url": f"{activation_base_url}/activate?user={user_id}"}


def import_values(event: ImportCompleted | ImportFailed) -> tuple[str, dict[str, Any]]:
    """(kind, values) of the report on one import: its counts, or why it failed."""
    if isinstance(event, ImportFailed):
        return "import_failed", {"object_key": event.object_key, "reason": event.reason}
    return "import_report", {
        "object_key": event.object_key,
        "rows_read": event.rows_read,
        "created": event.case_owners_created,
        "merged": event.case_owners_merged,
        "rejected": event.rows_rejected,
    }


def budget_values(event: EnrichmentBudgetReached) -> dict[str, Any]:
    """The budget notice: the month (``YYYY-MM``) as its first day, what was spent of what, and when it resumes."""
    month = date.fromisoformat(f"{event.month}-01")
    resumes_on = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return {
        "month": month,
        "resumes_on": resumes_on,
        "spent": event.spent,
        "budget": event.budget,
        "currency": event.currency,
    }


# ---- a business unit's own wording ------------------------------------------------------------------------

log = logger("notifications")


def unit_values(kind: str, data: dict[str, Any], language: str) -> dict[str, str]:
    """The variables a business unit's template of ``kind`` may use (``message_templates.VARIABLES``), as text
    formatted for the message's language, from the data our own template gets."""
    values = {"sender_name": str(data["sender"]["name"])}
    if kind in DEBTOR_KINDS:
        case = data.get("case") or {}
        currency = str(case.get("currency", "EUR"))
        values |= {
            "debtor_name": str(data["debtor_name"]),
            "creditor_name": str(data["creditor"]["legal_name"]),
            "case_reference": str(case.get("reference", "")),
            "claim_amount": rendering.money(case["claim_amount"], currency, language) if case else "",
            "open_amount": rendering.money(case["open_amount"], currency, language) if case else "",
        }
        instalment = data.get("instalment")
        if kind == "payment_plan_reminder" and instalment:
            values |= {
                "instalment_number": str(instalment["number"]),
                "instalment_amount": rendering.money(instalment["amount"], currency, language),
                "instalment_due_on": rendering.day(instalment["due_on"], language),
            }
    elif kind == "invitation":
        values |= {"first_name": str(data["first_name"]), "activation_url": str(data["activation_url"])}
    elif kind == "import_report":
        counts = ("rows_read", "created", "merged", "rejected")
        values |= {"object_key": str(data["object_key"])} | {n: rendering.number(data[n], language) for n in counts}
    elif kind == "import_failed":
        values |= {"object_key": str(data["object_key"]), "reason": str(data["reason"])}
    elif kind == "enrichment_budget_reached":
        currency = str(data["currency"])
        values |= {
            "month": rendering.day(data["month"], language, "LLLL y"),
            "spent": rendering.money(data["spent"], currency, language),
            "budget": rendering.money(data["budget"], currency, language),
            "resumes_on": rendering.day(data["resumes_on"], language),
        }
    return values


def email(kind: str, language: str, data: dict[str, Any], sender: Sender) -> rendering.Rendered:
    """The e-mail of ``kind``: in the business unit's own words when it wrote some for this kind and language
    (checked when saved, and again here: an unusable one is logged and our own template is sent instead)."""
    templates = {key: (t.subject, t.body) for key, t in sender.templates.items()}
    found = message_templates.chosen(templates, kind, language, sender.language) if templates else None
    if found is not None:
        key, template = found
        try:
            values = unit_values(kind, data, language)
            debtor = kind in DEBTOR_KINDS
            return rendering.render_unit_template(kind, language, data, key, template, values, debtor=debtor)
        except message_templates.TemplateRefused as refused:
            log.error(
                "business unit template unusable; our own template is sent",
                extra={"template": key, "code": refused.code, "reason": refused.message},
            )
    return rendering.render(kind, language, data)
