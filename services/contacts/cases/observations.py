"""The configurable list of terms an observation must not contain.

The default list (German, French, English) ships beside this module; ``CONTACTS_OBSERVATION_TERMS`` may name
another file that replaces it (an agency's own wording, a longer list) without a code change.
"""

from __future__ import annotations

import functools
from pathlib import Path

from services.contacts import settings
from services.contacts.cases import domain

DEFAULT_TERMS = settings.DEFAULT_OBSERVATION_TERMS
ENV_VAR = settings.OBSERVATION_TERMS_VAR


@functools.cache
def _load(path: str) -> domain.objectivity.Terms:
    return domain.parse_terms(Path(path).read_text(encoding="utf-8").splitlines())


def terms() -> domain.objectivity.Terms:
    return _load(str(settings.rules().observation_terms))


def check(observation: str | None) -> None:
    domain.check_observation(observation, terms())


def check_note(text: str) -> None:
    """A note on the case's notepad is read by every collector: it stays objective like an observation."""
    domain.check_objective(text, terms(), "note", "text")
