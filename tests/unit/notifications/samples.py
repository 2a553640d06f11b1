"""Sample messages for the notifications tests and benches: a German, a French and an English-speaking debtor."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from services.notifications import messages
from shared.events import CaseSummary, Creditor, DebtorMessage, Instalment, MessageKind, PostalAddress, Sender

SENDER = Sender(
    name="Inkasso Nord",
    email="service@inkasso-nord.example",
    reply_to="fragen@inkasso-nord.example",
    company_name="Inkasso Nord GmbH",
    address=PostalAddress(street="Hafenstraße 12", postcode="20457", city="Hamburg", country="DE"),
    registration_number="HRB 123456",
    supervisory_authority="Präsident des Hanseatischen Oberlandesgerichts, Sievekingplatz 2, 20355 Hamburg",
    footers={
        "de": "Inkasso Nord GmbH · Geschäftsführerin: Anna Weber · Registriert nach § 10 RDG",
        "fr": "Inkasso Nord GmbH · Gérante : Anna Weber",
        "en": "Inkasso Nord GmbH · Managing director: Anna Weber",
    },
    language="de",
)
CREDITOR = Creditor(
    legal_name="Stadtwerke Musterstadt GmbH",
    address=PostalAddress(street="Am Markt 1", postcode="12345", city="Musterstadt", country="DE"),
)

DEBTORS: dict[str, dict[str, Any]] = {
    "de": {
        "debtor_name": "Jürgen Weiß",
        "address": PostalAddress(street="Lindenstraße 5", postcode="10969", city="Berlin", country="DE"),
        "address_from_enrichment": True,
    },
    "fr": {
        "debtor_name": "Amélie Lefèvre",
        "address": PostalAddress(street="12 rue de la République", postcode="69002", city="Lyon", country="FR"),
        "address_from_enrichment": False,
    },
    # An English-speaking debtor living in Germany: the RDG block applies, in English.
    "en": {
        "debtor_name": "Sean O'Brien",
        "address": PostalAddress(street="Schillerstraße 9", postcode="60313", city="Frankfurt am Main", country="DE"),
        "address_from_enrichment": False,
    },
}

CASE = CaseSummary(
    case_id="case-4711",
    client_case_number="SW-2026-0815",
    invoice_numbers=["R-1001", "R-1002"],
    currency="EUR",
    claim_amount=Decimal("1250.00"),
    open_amount=Decimal("1250.00"),
    interest=Decimal("12.40"),
    costs=Decimal("54.00"),
    claim_basis="Energieliefervertrag Nr. 998877, Rechnungen R-1001 und R-1002",
    cost_basis="Gebühren nach RVG, Nr. 2300 VV RVG, Gegenstandswert 1.250,00 €",
    opened_on=date(2026, 10, 1),
)
INSTALMENT = Instalment(number=2, due_on=date(2026, 12, 15), amount=Decimal("250.00"))


def debtor_message(kind: MessageKind, language: str, **changes: Any) -> DebtorMessage:
    values: dict[str, Any] = {
        "kind": kind,
        "language": language,
        "sender": SENDER,
        "creditor": CREDITOR,
        "case": CASE,
        "instalment": INSTALMENT if kind == "payment_plan_reminder" else None,
        "unsubscribe_url": "https://app.finview.example/unsubscribe?m=msg-1",
        **DEBTORS[language],
        **changes,
    }
    return DebtorMessage(**values)


def template_data(kind: str, language: str) -> tuple[str, dict[str, Any]]:
    """(language, data) for any kind, client or debtor."""
    if kind in messages.DEBTOR_KINDS:
        remedy = {"de": "Klage zu erheben", "fr": "engager une action en justice", "en": "file a lawsuit"}[language]
        return messages.debtor_data(debtor_message(kind, language), remedy=remedy)  # type: ignore[arg-type]
    sender = SENDER.model_copy(update={"language": language})
    by_kind: dict[str, dict[str, Any]] = {
        "invitation": {"first_name": "Lena", "activation_url": "https://app.finview.example/activate?user=u-1"},
        "import_report": {
            "object_key": "client-1/2026-11-28-faelle.csv",
            "rows_read": 12500,
            "created": 11980,
            "merged": 470,
            "rejected": 50,
        },
        "import_failed": {"object_key": "client-1/leer.csv", "reason": "the file has no header row"},
        "enrichment_budget_reached": {
            "month": date(2026, 12, 1),
            "resumes_on": date(2027, 1, 1),
            "spent": Decimal("498.75"),
            "budget": Decimal("500.00"),
            "currency": "EUR",
        },
    }
    return language, messages.client_data(sender, **by_kind[kind])
