"""The debtor messages on the local stack (issue 12), run after the walking skeleton by ``finview demo``.

A German and a French debtor of a German agency: the business unit gets its RDG §13a details, the client asks for
the closing e-mail on full payment; the German debtor agrees a payment plan and the daily schedule (fired now,
twice) sends one reminder in German; the French debtor pays in full and the case is closed, which sends the closing
e-mail in French; a third debtor's address bounces (SES's mailbox simulator), SES's notification comes back through
SNS → SQS and notifications publishes MessageBounced. ``GET /cases/{id}/messages`` shows each message.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.demo import ADMIN, call
from infra.local.ses_feedback import BOUNCE
from infra.local.stack import LocalStack

COLLECTOR = "local-collector"
TODAY = datetime.now(UTC).date()


def _wait(predicate: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise TimeoutError("the local stack did not get there in time")


def _default_email(stack: LocalStack, case_id: str, value: str | None = None) -> tuple[str, str]:
    """Make the case owner's e-mail (or a new one, ``value``) the validated default; (owner id, e-mail)."""
    _, case_file = call(stack, "GET", f"/cases/{case_id}")
    owner_id = case_file["case_owner"]["case_owner_id"]
    path = f"/case-owners/{owner_id}/contact-points"
    if value is not None:
        status, added = call(stack, "POST", path, {"type": "email", "value": value}, token=COLLECTOR)
        assert status == 201, added
        point = added
    else:
        point = next(cp for cp in case_file["contact_points"] if cp["type"] == "email")
    evidence = {"evidence": {"kind": "reason", "note": "the debtor wrote from this address"}}
    call(stack, "POST", f"{path}/{point['contact_point_id']}/validate", evidence, token=COLLECTOR)
    status, _ = call(stack, "POST", f"{path}/{point['contact_point_id']}/make-default", {}, token=COLLECTOR)
    assert status == 200
    return owner_id, str(point["value"])


def _messages(stack: LocalStack, case_id: str) -> list[dict[str, Any]]:
    return list(call(stack, "GET", f"/cases/{case_id}/messages")[1]["items"])


def _emails_to(stack: LocalStack, address: str) -> list[dict[str, Any]]:
    return [m for m in stack.sent_emails() if address in m["destinations"]["ToAddresses"]]


def run(stack: LocalStack, client_id: str, cases: list[dict[str, Any]], out: Any = print) -> dict[str, Any]:
    out("\n7) debtor messages: templates in the debtor's language, the case lifecycle that triggers them")
    unit = call(stack, "GET", "/business-units/default", token=ADMIN)[1]
    unit_body = {
        k: unit[k] for k in ("name", "company", "email", "invoice", "email_footers", "communication_templates")
    }
    unit_body["company"] = {
        **unit["company"],
        "legal_name": "FinView Inkasso GmbH",
        "address": {"street": "Hafenstraße 12", "postcode": "20457", "city": "Hamburg", "country": "DE"},
        "supervisory_authority": "Präsident des Hanseatischen Oberlandesgerichts, Sievekingplatz 2, 20355 Hamburg",
    }
    unit_body["email_footers"] = {
        "de": "FinView Inkasso GmbH · registriert nach § 10 RDG",
        "fr": "FinView Inkasso GmbH · société de recouvrement",
        "en": "FinView Inkasso GmbH · debt collection",
    }
    unit_body["language"] = "de"
    status, _ = call(stack, "PUT", "/business-units/default", unit_body, token=ADMIN)
    assert status == 200
    settings = call(stack, "GET", f"/clients/{client_id}/settings", token=ADMIN)[1]
    settings["debtor_communication"] = {**settings["debtor_communication"], "closing_email_on_full_payment": True}
    settings["workflow"] = {**settings["workflow"], "payment_plan_reminder_days": 7}
    status, body = call(stack, "PUT", f"/clients/{client_id}/settings", settings, token=ADMIN)
    assert status == 200, body
    out("   business unit: RDG §13a details and footers per language; client: closing e-mail on full payment")

    by_number = {c.get("client_case_number"): c for c in cases}
    german, french, third = by_number["K-1001"], by_number["K-1002"], by_number["K-1003"]
    _, german_email = _default_email(stack, german["case_id"])
    _, french_email = _default_email(stack, french["case_id"])
    _, bounce_email = _default_email(stack, third["case_id"], BOUNCE)

    out(f"\n   a) {german_email}: payment plan, then the daily reminder schedule fires (twice)")
    open_amount = german["amount"]
    half = f"{float(open_amount) / 2:.2f}"
    rest = f"{float(open_amount) - float(half):.2f}"
    plan = {
        "instalments": [
            {"due_on": (TODAY + timedelta(days=5)).isoformat(), "amount": half},
            {"due_on": (TODAY + timedelta(days=35)).isoformat(), "amount": rest},
        ]
    }
    status, agreed = call(stack, "PUT", f"/cases/{german['case_id']}/payment-plan", plan, token=COLLECTOR)
    assert status == 200, agreed
    for i in agreed["instalments"]:
        out(f"      instalment {i['number']}: {i['amount']} {agreed['currency']} due {i['due_on']}")
    assert stack.dispatcher is not None
    schedule = stack.function("contacts", "on_reminder_schedule")
    first = stack.dispatcher.fire(schedule)
    second = stack.dispatcher.fire(schedule)
    out(f"      schedule: {first['requested']} reminder requested; fired again: {second['requested']} more")
    reminder = _wait(lambda: _emails_to(stack, german_email))
    out(f"      → SES: {reminder[0]['subject']!r}")

    out(f"\n   b) {french_email}: pays in full, the case is closed as fully paid")
    before = len(_emails_to(stack, french_email))  # the walking skeleton already wrote to this debtor
    payment = {"amount": french["amount"], "paid_on": TODAY.isoformat(), "reference": "virement 2026-11"}
    status, paid = call(stack, "POST", f"/cases/{french['case_id']}/payments", payment, token=COLLECTOR)
    assert status == 201, paid
    status, closed = call(stack, "POST", f"/cases/{french['case_id']}/close", {"reason": "fully_paid"}, token=COLLECTOR)
    assert status == 200, closed
    out(f"      case {closed['case']['status']}; closing e-mail {closed['closing_message_status']}")
    closing = _wait(lambda: _emails_to(stack, french_email)[before:])
    out(f"      → SES: {closing[0]['subject']!r}")

    out(f"\n   c) {bounce_email}: a reminder to an address that bounces")
    third_plan = {"instalments": [{"due_on": (TODAY + timedelta(days=2)).isoformat(), "amount": third["amount"]}]}
    status, _ = call(stack, "PUT", f"/cases/{third['case_id']}/payment-plan", third_plan, token=COLLECTOR)
    assert status == 200
    stack.dispatcher.fire(schedule)
    bounced = _wait(lambda: [m for m in _messages(stack, third["case_id"]) if m.get("status") == "bounced"], 45)
    out(f"      SES → SNS → SQS → notifications: {bounced[0]['outcome']}; MessageBounced on the bus")

    def bounced_point() -> dict[str, Any] | None:
        _, owner_file = call(stack, "GET", f"/cases/{third['case_id']}?include_invalid=true")
        return next((cp for cp in owner_file["contact_points"] if cp["value"] == bounce_email), None)

    try:  # the contact policy consumes the same MessageBounced, right after the case's messages do
        point = _wait(lambda: (p := bounced_point()) is not None and not p["valid"] and p, 20)
    except TimeoutError:
        point = bounced_point()
    if point is not None and not point["valid"]:
        out("      contacts marked the e-mail invalid (the contact policy's bounce consumer)")
    else:
        out("      the e-mail is still valid: the bounce → invalid consumer (issue 11) is not on main yet")

    stack.wait_idle()
    out("\n   the cases' messages (GET /cases/{id}/messages):")
    shown: dict[str, list[dict[str, Any]]] = {}
    for case in (german, french, third):
        shown[case["case_id"]] = messages = _messages(stack, case["case_id"])
        for m in messages:
            out(
                f"   - {case['client_case_number']}: {m['kind']:<22} {m['channel']:<6} {m['template']:<30}"
                f" {m['status']:<9} {m.get('recipient')}"
            )
    german_mail, french_mail = reminder[0], closing[0]
    out("\n   the German reminder (HTML part as SES recorded it), first lines:")
    for line in german_mail["body"].splitlines()[4:9]:
        out(f"       | {line}")
    return {
        "german_reminders": reminder,
        "french_closing": closing,
        "schedule_runs": (first, second),
        "bounced": bounced,
        "messages": shown,
        "german_body": german_mail["body"],
        "french_body": french_mail["body"],
        "bounce_point": point,
    }
