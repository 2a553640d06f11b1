"""A business unit's own wording of a message (its editable ``communication_templates``): checked when it is saved
(contacts), rendered when the message is sent (notifications).

A template is a subject and a body, written in a deliberately small language: text, the kind's variables
(``{{ debtor_name }}``), ``{% if %}`` and a few text filters (``{{ creditor_name | upper }}``). Every variable is
text already formatted for the message's locale (``{{ open_amount }}`` is ``1.250,00 €`` in a German message),
so nothing in a template can reach an object, loop, import another template or run arithmetic. It replaces
only the subject and the body of our own layout: the greeting, the signature, the RDG §13a block, the footer and
the opt-out line stay ours, always. Jinja's sandbox with strict undefined renders it; a template that does not
parse, names a variable its kind does not offer, or renders empty is refused at save time (HTTP 422 naming the
template and what is wrong), and notifications checks it again before use and falls back to our own template.

Keys: ``<kind>`` (in the business unit's language, English when it has none) or ``<kind>.<language>``
(e.g. ``closing_fully_paid.fr``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment

from shared.errors import Invalid

_DEBTOR = {
    "debtor_name": "Jane Doe",
    "creditor_name": "City Utilities Ltd",
    "case_reference": "SW-2026-0815",
    "claim_amount": "€1,250.00",
    "open_amount": "€1,250.00",
    "sender_name": "FinView",
}
# Each kind a business unit may word itself → its variables, with the sample values a template is tried on.
VARIABLES: dict[str, dict[str, str]] = {
    "contact_request": _DEBTOR,
    "payment_plan_reminder": {
        **_DEBTOR,
        "instalment_number": "2",
        "instalment_amount": "€250.00",
        "instalment_due_on": "15 December 2026",
    },
    "closing_fully_paid": _DEBTOR,
    "closing_settlement_paid": _DEBTOR,
    "invitation": {
        "first_name": "Lena",
        "activation_url": "https://app.finview.example/activate?user=u-1",
        "sender_name": "FinView",
    },
    "import_report": {
        "object_key": "client-1/cases.csv",
        "rows_read": "12,500",
        "created": "11,980",
        "merged": "470",
        "rejected": "50",
        "sender_name": "FinView",
    },
    "import_failed": {
        "object_key": "client-1/empty.csv",
        "reason": "the file has no header row",
        "sender_name": "FinView",
    },
    "enrichment_budget_reached": {
        "month": "November 2026",
        "spent": "€498.75",
        "budget": "€500.00",
        "resumes_on": "1 December 2026",
        "sender_name": "FinView",
    },
}
# The three notices the law allows after "cease communication" (FDCPA 1692c(c)) say what the law lets them say.
FIXED = frozenset({"cease_efforts_ended", "cease_remedies_may_be_used", "cease_remedy_intended"})
FILTERS = frozenset({"upper", "lower", "title", "capitalize", "trim", "default", "d", "replace", "truncate"})
_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Const,
    nodes.Filter,
    nodes.If,
    nodes.CondExpr,
    nodes.Compare,
    nodes.Operand,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Concat,
)
_KEY = re.compile(r"^(?P<kind>[a-z0-9_]+)(?:\.(?P<language>[a-z]{2}))?$")
_DOLLAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
MAX_BYTES = 64 * 1024  # all of a unit's templates: they travel in every event that carries its sender


@dataclass(frozen=True)
class Key:
    kind: str
    language: str | None


class TemplateRefused(Invalid):
    """A template that cannot be used; ``field`` names it (``communication_templates.<key>.<part>``)."""


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters = {name: f for name, f in env.filters.items() if name in FILTERS}
    env.globals.clear()
    return env


_ENV = _environment()


def parse_key(key: str, field: str = "communication_templates") -> Key:
    match = _KEY.match(key)
    if match is None:
        raise TemplateRefused("unknown_template", f"{key!r} is not <kind> or <kind>.<language>", f"{field}.{key}")
    kind = match["kind"]
    if kind in FIXED:
        raise TemplateRefused(
            "fixed_template",
            f"{kind} says only what the law allows after a cease request; it is not editable",
            f"{field}.{key}",
        )
    if kind not in VARIABLES:
        raise TemplateRefused(
            "unknown_template",
            f"{kind!r} is no message kind; editable kinds: {', '.join(sorted(VARIABLES))}",
            f"{field}.{key}",
        )
    return Key(kind, match["language"])


def _check_part(kind: str, source: str, field: str) -> None:
    try:
        tree = _ENV.parse(source)
    except TemplateError as error:
        line = getattr(error, "lineno", None)
        where = f" (line {line})" if line else ""
        raise TemplateRefused("template_syntax", f"{error.message or error}{where}", field) from None
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, _NODES):
            raise TemplateRefused(
                "template_construct",
                f"{type(node).__name__.lower()} is not allowed: use the variables, {{% if %}} and text filters",
                field,
            )
        if isinstance(node, nodes.Filter) and node.name not in FILTERS:
            raise TemplateRefused(
                "template_filter", f"no filter {node.name!r}; allowed: {', '.join(sorted(FILTERS))}", field
            )
    offered = VARIABLES[kind]
    unknown = sorted({n.name for n in tree.find_all(nodes.Name)} - offered.keys())
    if unknown:
        raise TemplateRefused(
            "unknown_variable",
            f"{kind} has no variable {', '.join(unknown)}; it offers: {', '.join(sorted(offered))}",
            field,
        )
    dollar = sorted({m for m in _DOLLAR.findall(source) if m in offered})
    if dollar:
        raise TemplateRefused("template_syntax", f"write {{{{ {dollar[0]} }}}}, not ${dollar[0]}", field)


def render(kind: str, subject: str, body: str, values: Mapping[str, str], field: str = "template") -> tuple[str, str]:
    """(subject on one line, body) of a template of ``kind`` with ``values``; ``TemplateRefused`` if unusable."""
    parts = []
    for name, source in (("subject", subject), ("body", body)):
        _check_part(kind, source, f"{field}.{name}")
        try:
            text = _ENV.from_string(source).render(dict(values))
        except TemplateError as error:
            raise TemplateRefused("template_error", str(error), f"{field}.{name}") from None
        if not text.strip():
            raise TemplateRefused("template_empty", f"the {name} renders empty", f"{field}.{name}")
        parts.append(text)
    return " ".join(parts[0].split()), parts[1].strip("\n")


def check_all(templates: Mapping[str, tuple[str, str]], field: str = "communication_templates") -> None:
    """Every (subject, body) of a business unit, tried on its kind's sample values: raises for the first bad one."""
    size = sum(len(s.encode()) + len(b.encode()) for s, b in templates.values())
    if size > MAX_BYTES:
        raise TemplateRefused(
            "templates_too_large", f"the templates hold {size} bytes; at most {MAX_BYTES} in all", field
        )
    for key, (subject, body) in sorted(templates.items()):
        parsed = parse_key(key, field)
        render(parsed.kind, subject, body, VARIABLES[parsed.kind], f"{field}.{key}")


def chosen(
    templates: Mapping[str, tuple[str, str]], kind: str, language: str, unit_language: str | None
) -> tuple[str, tuple[str, str]] | None:
    """(key, template) a business unit wrote for ``kind`` in ``language``: ``<kind>.<language>``, else ``<kind>``
    when the message is in the unit's own language (English for a unit without one); None: our own template."""
    for key in (f"{kind}.{language}", kind if language == (unit_language or "en") else None):
        if key is not None and key in templates:
            return key, templates[key]
    return None
