"""Messages from template files: Jinja2 (HTML autoescaped, strict undefined) with Babel's locale formatting.

Templates live in ``templates/<language>/<kind>.<part>``: ``txt`` (plain part; its ``subject`` block is the
subject), ``html`` (HTML part) and ``sms`` (SMS text). A kind missing in a language falls back to English with a
warning; a variable missing from the data fails the render (``StrictUndefined``) instead of sending a hole, and
an empty result is refused. No AWS here.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, TemplateNotFound, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from shared import message_templates

TEMPLATES = Path(__file__).parent / "templates"
LANGUAGES = ("de", "fr", "en")
FALLBACK = "en"
# The locale each supported language is formatted in (dates, amounts, currencies).
LOCALES = {"de": "de_DE", "fr": "fr_FR", "en": "en_GB"}

log = logging.getLogger("finview.notifications.rendering")


class RenderError(ValueError):
    """A message that cannot be rendered: it is never sent half-made."""


@dataclass(frozen=True)
class Rendered:
    kind: str
    language: str
    template: str  # e.g. "de/payment_plan_reminder": the template actually used (after any fallback)
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class RenderedSms:
    kind: str
    language: str
    template: str
    text: str


def choose_language(*candidates: str | None) -> str:
    """The first supported language among the candidates (case owner, then business unit), else English."""
    for candidate in candidates:
        if candidate:
            code = candidate.replace("-", "_").split("_")[0].lower()
            if code in LANGUAGES:
                return code
    return FALLBACK


def _locale(ctx: Context) -> str:
    return LOCALES[str(ctx["language"])]


def money(amount: Decimal | int | str, currency: str, language: str) -> str:
    """An amount in the language's locale: ``1.250,00 €`` (de), ``1 250,00 €`` (fr), ``€1,250.00`` (en)."""
    if isinstance(amount, float):
        raise RenderError("amounts are Decimal, never float")
    return _money_text(str(amount), currency, language)


# Babel formats an amount or a date in ~40 µs; a German e-mail formats the same four amounts and date in its plain
# part, its HTML part and its subject, and a reminder run the same few amounts and dates for many debtors. Pure
# functions of their text, so they are remembered (exact text: "1250.0" and "1250.00" are formatted alike anyway).
@functools.lru_cache(maxsize=4096)
def _money_text(amount: str, currency: str, language: str) -> str:
    return str(format_currency(Decimal(amount), currency, locale=LOCALES[language]))


def number(value: Decimal | int, language: str) -> str:
    return str(format_decimal(value, locale=LOCALES[language]))


def day(value: date | datetime | str, language: str, fmt: str = "long") -> str:
    when = date.fromisoformat(value) if isinstance(value, str) else value
    return _day(when, language, fmt)


@functools.lru_cache(maxsize=4096)
def _day(when: date, language: str, fmt: str) -> str:
    return str(format_date(when, fmt, locale=LOCALES[language]))


@pass_context
def _money(ctx: Context, amount: Decimal | int | str, currency: str) -> str:
    return money(amount, currency, str(ctx["language"]))


@pass_context
def _number(ctx: Context, value: Decimal | int) -> str:
    return number(value, str(ctx["language"]))


@pass_context
def _date(ctx: Context, value: date | datetime | str, fmt: str = "long") -> str:
    return day(value, str(ctx["language"]), fmt)


@pass_context
def _address_lines(ctx: Context, address: Mapping[str, Any] | None) -> list[str]:
    """A postal address as the lines of an address block: street, postcode and city, the country's name."""
    if not address:
        return []
    city = " ".join(p for p in (address.get("postcode"), address.get("city")) if p)
    code = str(address.get("country") or "").upper()
    country = Locale.parse(_locale(ctx)).territories.get(code, code)
    return [line for line in (address.get("street"), city, country) if line]


@functools.cache
def environment() -> Environment:
    return make_environment(TEMPLATES)


def make_environment(root: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(root),
        # Only the HTML part is escaped: a debtor's name "<b>Bob" stays literal text in HTML, plain in text.
        autoescape=lambda name: bool(name and name.endswith(".html")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # The templates ship with the function and never change while it runs: no stat() of each file per render.
        auto_reload=False,
    )
    env.filters.update(money=_money, number=_number, date=_date, address_lines=_address_lines)
    return env


def _template(kind: str, language: str, part: str) -> tuple[Template, str]:
    env = environment()
    try:
        return env.get_template(f"{language}/{kind}.{part}"), language
    except TemplateNotFound:
        if language == FALLBACK:
            raise RenderError(f"no template for {kind!r} ({part})") from None
    log.warning("template missing, falling back to English", extra={"kind": kind, "language": language, "part": part})
    try:
        return env.get_template(f"{FALLBACK}/{kind}.{part}"), FALLBACK
    except TemplateNotFound:
        raise RenderError(f"no template for {kind!r} ({part}) in {language!r} nor in English") from None


def _render(template: Template, data: Mapping[str, Any], language: str, block: str | None = None) -> str:
    values = {**data, "language": language}
    if block is None:
        return template.render(values)
    context = template.new_context(values)
    return "".join(template.blocks[block](context))


def _non_empty(text: str, what: str) -> str:
    if not text.strip():
        raise RenderError(f"{what} rendered empty")
    return text


def render(kind: str, language: str, data: Mapping[str, Any]) -> Rendered:
    """The e-mail of ``kind``: subject, plain part and HTML part, all in one language."""
    language = choose_language(language)
    text_template, used = _template(kind, language, "txt")
    html_template, html_used = _template(kind, used, "html")
    if html_used != used:
        # Both parts in one language: a German plain part beside an English HTML part would be worse than English.
        text_template, used = _template(kind, FALLBACK, "txt")
    subject = " ".join(_render(text_template, data, used, "subject").split())
    return Rendered(
        kind=kind,
        language=used,
        template=f"{used}/{kind}",
        subject=_non_empty(subject, f"{used}/{kind} subject"),
        text=_non_empty(_render(text_template, data, used), f"{used}/{kind}.txt"),
        html=_non_empty(_render(html_template, data, used), f"{used}/{kind}.html"),
    )


def render_unit_template(
    kind: str,
    language: str,
    data: Mapping[str, Any],
    key: str,
    template: tuple[str, str],
    values: Mapping[str, str],
    *,
    debtor: bool,
) -> Rendered:
    """The e-mail of ``kind`` in a business unit's own words (template ``key``: subject, body), inside our layout
    for its audience (a ``debtor`` or a client user): the greeting, signature, RDG §13a block, footer and opt-out
    stay ours. Raises ``message_templates.TemplateRefused`` for a template that cannot be used."""
    layout = "_unit_debtor" if debtor else "_unit_client"
    subject, text = message_templates.render(kind, *template, values, f"communication_templates.{key}")
    paragraphs = [p.strip("\n") for p in re.split(r"\n\s*\n", text) if p.strip()]
    html = Markup("\n").join(Markup("<p>{}</p>").format(Markup("<br>\n").join(p.split("\n"))) for p in paragraphs)
    unit = {"subject": subject, "body": text, "body_html": html}
    env = environment()
    values_ = {**data, "unit_template": unit}
    return Rendered(
        kind=kind,
        language=language,
        template=f"business_unit:{key}",
        subject=subject,
        text=_non_empty(_render(env.get_template(f"{language}/{layout}.txt"), values_, language), key),
        html=_non_empty(_render(env.get_template(f"{language}/{layout}.html"), values_, language), key),
    )


@dataclass(frozen=True)
class LetterText:
    kind: str
    language: str
    template: str
    subject: str
    greeting: str
    body: str
    legal: str  # the RDG §13a block, empty when it does not apply


def render_letter(kind: str, language: str, data: Mapping[str, Any]) -> LetterText:
    """The plain blocks of a kind laid out as a letter (no e-mail salutation, footer or opt-out)."""
    template, used = _template(kind, choose_language(language), "txt")
    legal = ""
    if data.get("rdg"):
        legal = _render(environment().get_template(f"{used}/_legal.txt"), data, used).strip()
    return LetterText(
        kind=kind,
        language=used,
        template=f"{used}/{kind}",
        subject=" ".join(_render(template, data, used, "subject").split()),
        # The greeting lives in the debtor layout the kind extends (``blocks`` holds only the kind's own).
        greeting=_render(environment().get_template(f"{used}/_debtor.txt"), data, used, "greeting").strip(),
        body=_non_empty(_render(template, data, used, "body"), f"{used}/{kind} body").strip(),
        legal=legal,
    )


def render_sms(kind: str, language: str, data: Mapping[str, Any]) -> RenderedSms:
    template, used = _template(kind, choose_language(language), "sms")
    text = " ".join(_render(template, data, used).split())
    return RenderedSms(kind=kind, language=used, template=f"{used}/{kind}", text=_non_empty(text, f"{used}/{kind}.sms"))


def kinds() -> dict[str, set[str]]:
    """Every template kind and the parts it has in English (the reference language)."""
    found: dict[str, set[str]] = {}
    for path in (TEMPLATES / FALLBACK).iterdir():
        if not path.name.startswith("_"):
            kind, _, part = path.name.partition(".")
            found.setdefault(kind, set()).add(part)
    return found
