"""Every message kind in every language, against golden files reviewed once (plain, HTML, SMS).

Regenerate after a deliberate template change with ``FINVIEW_UPDATE_GOLDEN=1 pytest <this file>`` and review
the diff like code.
"""

from __future__ import annotations

import logging
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError

from services.notifications import messages, rendering
from tests.unit.notifications.samples import SENDER, debtor_message, template_data

GOLDEN = Path(__file__).parent / "golden"
KINDS = sorted(rendering.kinds())
SMS_KINDS = sorted(k for k, parts in rendering.kinds().items() if "sms" in parts)


def _check_golden(path: Path, actual: str) -> None:
    if os.environ.get("FINVIEW_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; create it with FINVIEW_UPDATE_GOLDEN=1 and review it"
    assert actual == path.read_text(encoding="utf-8"), f"{path.name} differs from its golden file"


def test_every_kind_has_every_part_in_every_language() -> None:
    reference = rendering.kinds()
    assert set(reference) == {*messages.DEBTOR_KINDS, *messages.CLIENT_KINDS}
    for language in rendering.LANGUAGES:
        for kind, parts in reference.items():
            assert {"txt", "html"} <= parts
            for part in parts:
                assert (rendering.TEMPLATES / language / f"{kind}.{part}").is_file(), f"{language}/{kind}.{part}"


@pytest.mark.parametrize("language", rendering.LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_email_matches_its_golden_files(kind: str, language: str) -> None:
    used, data = template_data(kind, language)
    rendered = rendering.render(kind, used, data)
    assert rendered.language == language and rendered.template == f"{language}/{kind}"
    _check_golden(GOLDEN / language / f"{kind}.txt", f"Subject: {rendered.subject}\n\n{rendered.text}")
    _check_golden(GOLDEN / language / f"{kind}.html", rendered.html)


@pytest.mark.parametrize("language", rendering.LANGUAGES)
@pytest.mark.parametrize("kind", SMS_KINDS)
def test_sms_matches_its_golden_file(kind: str, language: str) -> None:
    used, data = template_data(kind, language)
    rendered = rendering.render_sms(kind, used, data)
    _check_golden(GOLDEN / language / f"{kind}.sms", rendered.text + "\n")


@pytest.mark.parametrize("kind", messages.DEBTOR_KINDS)
@pytest.mark.parametrize("language", rendering.LANGUAGES)
def test_every_debtor_email_carries_an_opt_out_in_both_parts(kind: str, language: str) -> None:
    used, data = template_data(kind, language)
    rendered = rendering.render(kind, used, data)
    assert "STOP" in rendered.text and "STOP" in rendered.html
    assert 'href="https://app.finview.example/unsubscribe?m=msg-1"' in rendered.html


def _render(kind: str, language: str) -> rendering.Rendered:
    return rendering.render(kind, *template_data(kind, language))


def _spaces(text: str) -> str:
    return re.sub(r"[\u00a0\u202f]", " ", text)


def test_amounts_and_dates_are_formatted_for_the_locale() -> None:
    de, fr, en = (_render("contact_request", language) for language in ("de", "fr", "en"))
    assert "1.250,00 €" in _spaces(de.text) and "1 250,00 €" in _spaces(fr.text) and "€1,250.00" in en.text
    de, fr, en = (_render("payment_plan_reminder", language) for language in ("de", "fr", "en"))
    assert "15. Dezember 2026" in de.subject and "250,00 €" in _spaces(de.text)
    assert "15 décembre 2026" in fr.subject and "250,00 €" in _spaces(fr.text)
    assert "15 December 2026" in en.subject and "€250.00" in en.text


def test_german_debtor_gets_the_rdg_details_and_the_enrichment_notice() -> None:
    rendered = _render("contact_request", "de")
    for needed in (
        "§ 13a",
        "Stadtwerke Musterstadt GmbH, Am Markt 1, 12345 Musterstadt",
        "Energieliefervertrag Nr. 998877",
        "Gebühren nach RVG",
        "Umsatzsteuer",
        "Präsident des Hanseatischen Oberlandesgerichts",
        "Adressermittlung",
    ):
        assert needed in rendered.text and needed in rendered.html, needed


def test_french_debtor_in_france_gets_no_rdg_block() -> None:
    rendered = _render("contact_request", "fr")
    assert "13a" not in rendered.text and "13a" not in rendered.html


def test_language_comes_from_the_case_owner_then_the_business_unit_then_english() -> None:
    message = debtor_message("contact_request", "fr")
    assert messages.language_of(message) == "fr"
    assert messages.language_of(message.model_copy(update={"language": None})) == "de"  # the business unit's
    no_language = message.model_copy(
        update={"language": "es-ES", "sender": message.sender.model_copy(update={"language": None})}
    )
    assert messages.language_of(no_language) == "en"
    assert rendering.choose_language("de-AT") == "de" and rendering.choose_language(None, "FR") == "fr"


def test_a_name_with_markup_is_escaped_in_html_and_kept_literal_in_text() -> None:
    naughty = "<script>alert('x')</script> Müller & Söhne"
    _, data = messages.debtor_data(debtor_message("contact_request", "de", debtor_name=naughty))
    rendered = rendering.render("contact_request", "de", data)
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Müller &amp; Söhne" in rendered.html
    assert naughty in rendered.text


def test_a_missing_variable_fails_the_render() -> None:
    _, data = template_data("payment_plan_reminder", "de")
    del data["creditor"]
    with pytest.raises(UndefinedError):
        rendering.render("payment_plan_reminder", "de", data)


def test_a_kind_missing_in_a_language_falls_back_to_english_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "de").mkdir()
    (tmp_path / "en" / "notice.txt").write_text("{% block subject %}Notice{% endblock %}Hello {{ name }}")
    (tmp_path / "en" / "notice.html").write_text("<p>Hello {{ name }}</p>")
    monkeypatch.setattr(rendering, "environment", lambda: rendering.make_environment(tmp_path))
    with caplog.at_level(logging.WARNING, logger="finview.notifications.rendering"):
        rendered = rendering.render("notice", "de", {"name": "<Jo>"})
    assert (rendered.language, rendered.subject) == ("en", "Notice")
    assert rendered.html == "<p>Hello &lt;Jo&gt;</p>" and rendered.text.endswith("Hello <Jo>")
    assert any("falling back to English" in r.getMessage() for r in caplog.records)


def test_a_template_that_renders_empty_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "en").mkdir()
    subject_only = "{% if false %}{% block subject %}Hi{% endblock %}{% endif %}"
    (tmp_path / "en" / "blank.txt").write_text(subject_only + "{{ nothing }}")
    (tmp_path / "en" / "blank.html").write_text("<p>x</p>")
    monkeypatch.setattr(rendering, "environment", lambda: rendering.make_environment(tmp_path))
    with pytest.raises(rendering.RenderError, match="empty"):
        rendering.render("blank", "en", {"nothing": "  "})
    with pytest.raises(rendering.RenderError, match="no template"):
        rendering.render("absent", "fr", {})


def test_a_float_amount_is_refused() -> None:
    _, data = template_data("payment_plan_reminder", "en")
    data["instalment"] = {**data["instalment"], "amount": 250.0}
    with pytest.raises(rendering.RenderError, match="never float"):
        rendering.render("payment_plan_reminder", "en", data)


def test_a_float_amount_is_refused_even_once_the_same_amount_was_formatted() -> None:
    """Amounts are remembered once formatted; the float check comes before, so 250.0 is refused however often
    Decimal("250.0") was formatted."""
    assert rendering.money(Decimal("250.0"), "EUR", "en") == "€250.00"
    with pytest.raises(rendering.RenderError, match="never float"):
        rendering.money(250.0, "EUR", "en")  # type: ignore[arg-type]


def test_a_german_reminder_formats_each_amount_and_date_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its subject, plain part and HTML part (with the RDG block) show the same amounts and date: Babel formats
    each once (before: 8 amounts and 3 dates a message), and the text is the same as formatted each time."""
    language, data = template_data("payment_plan_reminder", "de")
    expected = rendering.render("payment_plan_reminder", language, data)
    rendering._money_text.cache_clear()
    rendering._day.cache_clear()
    formatted: list[str] = []

    def counting(name: str) -> Any:
        real = getattr(rendering, name)

        def count(*args: Any, **kwargs: Any) -> Any:
            formatted.append(name)
            return real(*args, **kwargs)

        return count

    for name in ("format_currency", "format_date"):
        monkeypatch.setattr(rendering, name, counting(name))
    assert rendering.render("payment_plan_reminder", language, data) == expected
    amounts = {
        str(data["instalment"]["amount"]),
        *(str(data["case"][k]) for k in ("claim_amount", "interest", "costs")),
    }
    assert sorted(formatted) == ["format_currency"] * len(amounts) + ["format_date"], formatted
    assert rendering.money(data["case"]["costs"], "EUR", "de") in expected.text


def test_the_budget_notice_names_the_month_and_when_searches_resume() -> None:
    from datetime import date
    from decimal import Decimal

    from shared.events import EnrichmentBudgetReached

    december = EnrichmentBudgetReached(
        correlation_id="c", client_id="cl", month="2026-12", budget=Decimal("500"), spent=Decimal("498.75")
    )
    values = messages.budget_values(december)
    assert (values["month"], values["resumes_on"]) == (date(2026, 12, 1), date(2027, 1, 1))
    rendered = rendering.render("enrichment_budget_reached", "de", messages.client_data(SENDER, **values))
    assert rendered.subject == "Budget der Adressermittlung für Dezember 2026 erreicht"
    assert "am 1. Januar 2027 fortgesetzt" in rendered.text
