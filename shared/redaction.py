"""No personal data in logs: every log line's message, extra fields and exception text pass through ``redact``.

Three nets, because a debtor's data reaches a log line in three ways:
- by key: an extra field (at any depth) named like personal data (``email``, ``recipient``, ``first_name``,
  ``value`` of a contact point, ``subject`` of a trace, …) is replaced whatever it holds;
- by shape: e-mail addresses and phone numbers (international ``+49 30 1234567``, national ``030 1234567``)
  anywhere in any string, and the ``input_value=…`` that pydantic quotes in validation errors;
- by echo: a value removed by key is removed wherever else the same line repeats it (a message that names the
  recipient it also carries as a field).
Names in free text that no field carries cannot be told from other words: code logs names only in fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

REDACTED = "[redacted]"
PERSONAL_KEYS = frozenset(
    {
        "first_name",
        "last_name",
        "given",
        "family",
        "company_name",
        "birth_date",
        "email",
        "phone",
        "recipient",
        "recipients",
        "to",
        "value",
        "contact_point_value",
        "street",
        "address",
        "last_known_address",
        "subject",
        "text",
        "note",
        "cells",
        "destination",
        "destinations",
        "phone_number",
    }
)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?<![\w+])\+\d[\d ()/.-]{6,20}\d|(?<![\w.:/#-])0\d{1,5}(?:[ /-]?\d{2,}){2,}(?![\w.:])")
PYDANTIC_INPUT = re.compile(r"(input_value=)('[^']*'|\"[^\"]*\"|\S+)")


def _scrub(text: str, echoes: set[str]) -> str:
    for value in sorted(echoes, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    text = PYDANTIC_INPUT.sub(rf"\1{REDACTED}", text)
    text = EMAIL.sub("[email]", text)
    return PHONE.sub("[phone]", text)


def personal_data_in(text: str) -> list[str]:
    """The kinds of personal data ``text`` holds by shape: agency-typed text that outlives the person (an
    erasure's reason stays in the audit after the erasure) must hold none. Names cannot be told from other words."""
    found = [("an e-mail address", EMAIL), ("a phone number", PHONE)]
    return [kind for kind, shape in found if shape.search(text)]


def _collect(value: Any, echoes: set[str]) -> None:
    if isinstance(value, str):
        if len(value) >= 3:
            echoes.add(value)
    elif isinstance(value, Mapping):
        for v in value.values():
            _collect(v, echoes)
    elif isinstance(value, list | tuple | set):
        for v in value:
            _collect(v, echoes)


def _walk(value: Any, echoes: set[str], collect: bool) -> Any:
    if isinstance(value, Mapping):
        out = {}
        for key, v in value.items():
            if str(key).lower() in PERSONAL_KEYS and v is not None:
                if collect:
                    _collect(v, echoes)
                out[key] = REDACTED
            else:
                out[key] = _walk(v, echoes, collect)
        return out
    if isinstance(value, list | tuple):
        return [_walk(v, echoes, collect) for v in value]
    if isinstance(value, str) and not collect:
        return _scrub(value, echoes)
    return value


def redact(log: Mapping[str, Any]) -> dict[str, Any]:
    """The log record without personal data (see the module's three nets)."""
    echoes: set[str] = set()
    _walk(log, echoes, collect=True)
    return dict(_walk(log, echoes, collect=False))


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, every record redacted before it is written."""

    def serialize(self, log: Any) -> str:
        return super().serialize(redact(log))
