"""Observations stay objective: the configurable list of insulting/subjective terms (de/fr/en)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.contacts.cases import domain, observations
from shared.api import from_domain_error
from shared.errors import DomainError


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("Comptable, vraiment un escroc", "escroc"),
        ("Buchhalter, ein BETRÜGER", "BETRÜGER"),
        ("CFO; known liar", "liar"),
        ("Directeur financier, mauvais payeur", "mauvais payeur"),
        ("Sachbearbeiterin, faul und frech", "faul"),
        ("un imbecile au téléphone", "imbecile"),  # accents do not hide a word
    ],
)
def test_the_default_list_rejects_insults_in_three_languages(text: str, word: str) -> None:
    with pytest.raises(DomainError) as info:
        observations.check(text)
    err = from_domain_error(info.value)
    assert (err.status, err.code, err.field) == (422, "observation_not_objective", "observation")
    assert repr(word) in err.message


@pytest.mark.parametrize(
    "text",
    [
        "Accountant, handles the invoices",
        "Buchhaltung, erreichbar Mo-Fr 8-12 Uhr",
        "Directeur administratif et financier (DAF)",
        "Confidential: call only after 18:00",  # 'con' inside a word is not the word
        None,
    ],
)
def test_objective_observations_pass(text: str | None) -> None:
    observations.check(text)


def test_whole_words_and_phrases_only() -> None:
    terms = domain.parse_terms(["# comment", "bad payer", "liar  # trailing comment", ""])
    assert terms.listed == frozenset({"bad payer", "liar"})
    assert domain.offending_term("a familiar face", terms) is None
    assert domain.offending_term("a bad   Payer indeed", terms) == "bad   Payer"  # as written
    assert domain.offending_term("payer, bad", terms) is None


def test_an_env_var_path_replaces_the_default_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    custom = tmp_path / "terms.txt"
    custom.write_text("grumpy\n", encoding="utf-8")
    monkeypatch.setenv(observations.ENV_VAR, str(custom))
    observations.check("a liar")  # not in the replacement list
    with pytest.raises(DomainError):
        observations.check("Grumpy accountant")
