"""The configurable list of terms an observation must not contain.

The default list (German, French, English) ships beside this module; ``CONTACTS_OBSERVATION_TERMS`` may name
another file that replaces it (an agency's own wording, a longer list) without a code change.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from services.contacts.cases import domain

DEFAULT_TERMS = Path(__file__).with_name("observation_terms.txt")
ENV_VAR = "CONTACTS_OBSERVATION_TERMS"


@functools.cache
def _load(path: str) -> frozenset[str]:
    return domain.parse_terms(Path(path).read_text(encoding="utf-8").splitlines())


def terms() -> frozenset[str]:
    return _load(os.environ.get(ENV_VAR) or str(DEFAULT_TERMS))


def check(observation: str | None) -> None:
    domain.check_observation(observation, terms())
