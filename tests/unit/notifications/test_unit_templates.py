"""A business unit's own wording of a message: the variables it is checked against are exactly the ones sent,
it replaces only subject and body (the legal block, footer and opt-out stay), and an unusable one is never sent."""

from __future__ import annotations

import logging
import re

import pytest

from services.notifications import messages, rendering
from shared import message_templates
from shared.events import MessageTemplate
from tests.unit.notifications.samples import SENDER, debtor_message, template_data

EDITABLE = sorted(message_templates.VARIABLES)


def _spaces(text: str) -> str:
    return re.sub(r"[\u00a0\u202f]", " ", text)


@pytest.mark.parametrize("language", rendering.LANGUAGES)
@pytest.mark.parametrize("kind", EDITABLE)
def test_a_template_checked_at_save_time_has_every_variable_at_send_time(kind: str, language: str) -> None:
    # Checked against VARIABLES when saved; rendered with unit_values when sent: they must name the same things,
    # or a template accepted at save time would fail on a real message.
    used, data = template_data(kind, language)
    assert set(messages.unit_values(kind, data, used)) == set(message_templates.VARIABLES[kind])


def test_every_kind_is_editable_or_fixed_by_law() -> None:
    assert set(message_templates.VARIABLES) | message_templates.FIXED == {
        *messages.DEBTOR_KINDS,
        *messages.CLIENT_KINDS,
    }


REMINDER = MessageTemplate(
    subject="Rate {{ instalment_number }} über {{ instalment_amount }} am {{ instalment_due_on }}",
    body="{{ debtor_name | upper }}, bitte denken Sie an Ihre Rate.\n\nOffen: {{ open_amount }}"
    "{% if case_reference %} (Vorgang {{ case_reference }}){% endif %}.",
)


def test_a_german_debtor_gets_the_units_words_with_our_legal_block_footer_and_opt_out() -> None:
    message = debtor_message("payment_plan_reminder", "de", debtor_name="<b>Jürgen</b> & Co")
    sender = message.sender.model_copy(update={"templates": {"payment_plan_reminder": REMINDER}})  # unit: German
    language, data = messages.debtor_data(message.model_copy(update={"sender": sender}))
    rendered = messages.email("payment_plan_reminder", language, data, sender)
    assert rendered.template == "business_unit:payment_plan_reminder" and rendered.language == "de"
    assert _spaces(rendered.subject) == "Rate 2 über 250,00 € am 15. Dezember 2026"
    assert "<B>JÜRGEN</B> & CO, bitte denken Sie an Ihre Rate." in rendered.text
    assert "Offen: 1.250,00 € (Vorgang SW-2026-0815)." in _spaces(rendered.text)
    assert "&lt;B&gt;JÜRGEN&lt;/B&gt; &amp; CO" in rendered.html and "<B>" not in rendered.html
    for part in (rendered.text, rendered.html):
        assert "Guten Tag" in part  # our greeting
        assert "§ 13a" in part and "Präsident des Hanseatischen Oberlandesgerichts" in part  # the RDG block
        assert "Adressermittlung" in part  # the address came from enrichment
        assert SENDER.footers["de"] in part and "STOP" in part
    assert 'href="https://app.finview.example/unsubscribe?m=msg-1"' in rendered.html


def test_a_template_without_a_language_is_used_only_in_the_units_language() -> None:
    sender = SENDER.model_copy(update={"templates": {"payment_plan_reminder": REMINDER}})  # SENDER writes German
    for language in ("fr", "en"):
        _, data = messages.debtor_data(debtor_message("payment_plan_reminder", language, sender=sender))
        rendered = messages.email("payment_plan_reminder", language, data, sender)
        assert rendered.template == f"{language}/payment_plan_reminder"  # ours, in the debtor's language
    french = MessageTemplate(subject="Échéance {{ instalment_number }}", body="Merci, {{ debtor_name }}.")
    sender = sender.model_copy(
        update={"templates": {"payment_plan_reminder": REMINDER, "payment_plan_reminder.fr": french}}
    )
    _, data = messages.debtor_data(debtor_message("payment_plan_reminder", "fr", sender=sender))
    rendered = messages.email("payment_plan_reminder", "fr", data, sender)
    assert (rendered.template, rendered.subject) == ("business_unit:payment_plan_reminder.fr", "Échéance 2")
    assert "Merci, Amélie Lefèvre." in rendered.text and "STOP" in rendered.text


def test_an_unusable_stored_template_is_logged_and_ours_is_sent(caplog: pytest.LogCaptureFixture) -> None:
    # Saved before templates were checked (the old built-in default used $first_name): never sent as it is.
    legacy = MessageTemplate(subject="Your access", body="Hello $first_name, activate: $activation_url")
    sender = SENDER.model_copy(update={"language": "en", "templates": {"invitation": legacy}})
    values = messages.invitation_values("u-1", "Lena", "https://app.finview.example")
    with caplog.at_level(logging.ERROR):
        rendered = messages.email("invitation", "en", messages.client_data(sender, **values), sender)
    assert rendered.template == "en/invitation" and "Hello Lena," in rendered.text and "$" not in rendered.text
    assert any("template unusable" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{% for x in debtor_name %}{{ x }}{% endfor %}", "template_construct"),
        ("{{ debtor_name * 100000000 }}", "template_construct"),
        ("{{ range(10) }}", "template_construct"),
        ("{% set x = 1 %}{{ x }}", "template_construct"),
        ("{{ debtor_name | format('%s') }}", "template_filter"),
        ("{{ lipsum }}", "unknown_variable"),
        ("{% if %}", "template_syntax"),
    ],
)
def test_the_template_language_is_small(body: str, code: str) -> None:
    with pytest.raises(message_templates.TemplateRefused) as refused:
        message_templates.check_all({"contact_request": ("Betreff", body)})
    assert (refused.value.code, refused.value.field) == (code, "communication_templates.contact_request.body")


def test_a_syntax_error_names_its_line_and_all_templates_together_are_bounded() -> None:
    with pytest.raises(message_templates.TemplateRefused, match=r"line 3"):
        message_templates.check_all({"contact_request": ("Betreff", "a\nb\n{{ debtor_name }")})
    big = {f"contact_request.{a}{b}": ("S", "x" * 9000) for a in "ab" for b in "abcd"}
    with pytest.raises(message_templates.TemplateRefused) as refused:
        message_templates.check_all(big)
    assert refused.value.code == "templates_too_large"
    message_templates.check_all(dict(list(big.items())[:7]))  # 63 KB: fine
