"""Normalising one cell at a time: amounts, dates, e-mails, phones, postal addresses and name folding.

Pure functions, no AWS. Each raises ``ValueError`` with a message meant for the client's import report.
Names are stored as the client sent them (trimmed); ``fold`` only builds matching keys.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Final, Literal

from babel import Locale
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES, DOT_ATOM_TEXT, EMAIL_MAX_LENGTH

from shared import phones
from shared.text import INVISIBLE

DateFormat = Literal["auto", "DMY", "MDY", "YMD", "EXCEL"]

_SPACES = re.compile(r"\s+")
_AMOUNT_NOISE = re.compile(r"[\s\u00a0\u202f'€$£]|EUR|CHF|GBP|USD", re.IGNORECASE)
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"})
# A cell starting like this would be evaluated by a spreadsheet (CSV/formula injection): = @ tab CR, and + or -
# too (-2+3+cmd|' /C calc'!A0 is a live formula); names, streets, invoice numbers never start with them.
_FORMULA_START = re.compile(r"^[=@\t\r+\-]")
_FORMULA_FIRST = frozenset("=@\t\r+-")
_PLACEHOLDER = re.compile(r"^[\s\-+]*$")  # "-" or "--" for "none"
# Terminal escape sequences (CSI, OSC, two-character ESC sequences), removed whole.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
# Control characters and invisible format characters (zero-width spaces, BOM, bidi overrides; the zero-width
# joiners U+200C/U+200D are kept: they belong to some scripts' spelling): the API's list.
_INVISIBLE = INVISIBLE


def clean_text(value: str) -> str:
    """Trim and collapse inner whitespace, drop control and invisible characters; otherwise kept as sent.

    A value without a single letter or digit (only invisible characters, a lone dash) is empty.
    """
    if value.isprintable():  # the ordinary cell: no whitespace but the ASCII space
        text = (_SPACES.sub(" ", value) if "  " in value else value).strip()
    else:
        text = _SPACES.sub(" ", _INVISIBLE.sub("", _ESCAPES.sub("", value))).strip()
    if text and not text[0].isalnum() and not any(ch.isalnum() for ch in text):
        return ""
    return text


def had_hidden_characters(value: str) -> bool:
    """The cell held control characters, terminal escapes or invisible characters (removed by clean_text)."""
    return not value.isprintable() and bool(_ESCAPES.search(value) or _INVISIBLE.search(value))


def looks_like_formula(value: str) -> bool:
    """Checked on the cleaned value: an invisible character in front does not hide a formula."""
    if not value or value[0] not in _FORMULA_FIRST:  # the ordinary cell, without a regular expression
        return False
    return bool(_FORMULA_START.match(value)) and not _PLACEHOLDER.match(value)


# Folded names and streets, kept as they are once full, as the phone reader keeps its numbers (shared/phones.py says
# why: streets with their house numbers are near-unique, and an LRU cache of them churned all through a big file).
_FOLD_CACHE_SIZE: Final = 1 << 16
_folded: dict[str, str] = {}


def fold(value: str) -> str:
    """Matching form of a name or street: case, whitespace, punctuation and diacritics folded.

    German umlauts become their two-letter spelling first so that Müller and Mueller fold alike.
    """
    folded = _folded.get(value)
    if folded is None:
        folded = fold_uncached(value)
        if len(_folded) < _FOLD_CACHE_SIZE:
            _folded[value] = folded
    return folded


def forget_cached_values() -> None:
    """Empty the caches kept once full (``fold``'s, the postcodes', the e-mail domains', the phone reader's) when a
    file's stage begins: its own values fill them, not those of a file a warm Lambda imported before (which would hold
    them for good)."""
    _folded.clear()
    _postcodes.clear()
    _domains.clear()
    phones.forget_read_numbers()


class _ByCountry:
    """Cells read in a country: country → the cell as sent → what it reads as. Kept as they are once ``bound`` cells
    are held (no eviction, as ``fold``'s cache); plain dicts, a native lookup in the compiled core."""

    def __init__(self, bound: int) -> None:
        self.by_country: dict[str, dict[str, str]] = {}
        self.size = 0
        self.bound = bound

    def cells(self, country: str) -> dict[str, str]:
        cells = self.by_country.get(country)
        if cells is None:
            cells = self.by_country[country] = {}
        return cells

    def keep(self, cells: dict[str, str], cell: str, read: str) -> None:
        if self.size < self.bound:
            cells[cell] = read
            self.size += 1

    def clear(self) -> None:
        self.by_country.clear()
        self.size = 0


def fold_uncached(value: str) -> str:
    """``fold`` without its cache."""
    if value.isascii():  # nothing to translate or decompose, and casefold is lower
        return _NON_ALNUM.sub(" ", value.lower()).strip()
    text = value.translate(_GERMAN)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return _NON_ALNUM.sub(" ", text).strip()


def name_tokens(*parts: str | None) -> tuple[str, ...]:
    """Sorted folded tokens of a person's name: the same whichever column the first/last name landed in."""
    tokens: list[str] = []
    for part in parts:
        if part:
            tokens += fold(part).split()
    tokens.sort()
    return tuple(tokens)


# ---- amounts ----------------------------------------------------------------------------------------------


# Thousands-grouped digits ("1.250", "1,250,000") for either separator, compiled once (not looked up per cell).
_GROUPED_WHOLE = {sep: re.compile(rf"\d{{1,3}}(\{sep}\d{{3}})*") for sep in ",."}
_GROUPED = {sep: re.compile(rf"\d{{1,3}}(\{sep}\d{{3}})+") for sep in ",."}
_PLAIN_AMOUNT = re.compile(r"\d+(\.\d{1,2})?")
# The ordinary amount cell: ASCII digits and at most one separator before one or two decimals ("120,50", "45.99",
# "1250"), no sign, no currency, no spaces. The rules below read it as its digits with the separator as the decimal
# point, so it is read so at once; under 1e10 by its length. A property test holds it to the rules.
_ORDINARY_AMOUNT = re.compile(r"[0-9]{1,10}(?:[.,][0-9]{1,2})?")
_ZERO = Decimal(0)
_TOO_LARGE = Decimal("1e10")


def parse_amount(value: str) -> Decimal:
    """'1.250,00', '1,250.00', '120,50', '€ 45.99', '1 250' → Decimal. Must be positive, two decimals at most."""
    if _ORDINARY_AMOUNT.fullmatch(value) is not None:
        ordinary = Decimal(value.replace(",", "."))
        if ordinary > _ZERO:
            return ordinary
    return amount_by_rules(value)


def amount_by_rules(value: str) -> Decimal:
    """``parse_amount`` for any cell: noise removed, the decimal separator judged, every refusal worded."""
    text = _AMOUNT_NOISE.sub("", value)
    if not text:
        raise ValueError("the amount is empty")
    negative = text.startswith("-") or (text.startswith("(") and text.endswith(")"))
    text = text.strip("-()+")
    if "," in text and "." in text:
        decimal_sep = "," if text.rfind(",") > text.rfind(".") else "."
        thousands = "." if decimal_sep == "," else ","
        whole, _, cents = text.rpartition(decimal_sep)
        if not _GROUPED_WHOLE[thousands].fullmatch(whole):
            raise ValueError(f"{value!r} is not an amount")
        text = whole.replace(thousands, "") + "." + cents
    elif "," in text or "." in text:
        sep = "," if "," in text else "."
        tail = text.rpartition(sep)[2]
        grouped = _GROUPED[sep].fullmatch(text) is not None and not text.startswith("0")
        if text.count(sep) > 1 or (grouped and len(tail) == 3):
            # '1.250' or '1,250,000': thousands separators (money never has three decimals)
            if not grouped:
                raise ValueError(f"{value!r} is not an amount")
            text = text.replace(sep, "")
        else:
            text = text.replace(sep, ".")
    if not _PLAIN_AMOUNT.fullmatch(text):
        raise ValueError(f"{value!r} is not an amount")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount") from None
    if negative or amount <= _ZERO:
        raise ValueError(f"the amount {value!r} must be greater than zero")
    if amount >= _TOO_LARGE:
        raise ValueError(f"the amount {value!r} is implausibly large")
    return amount


# ---- dates ------------------------------------------------------------------------------------------------

_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ].*)?")
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})")
_SLASHED = re.compile(r"(\d{1,2})[/-](\d{1,2})[/-](\d{2}|\d{4})")


def _year(text: str) -> int:
    if len(text) == 4:
        return int(text)
    two = int(text)
    return 2000 + two if two <= (date.today().year % 100) + 1 else 1900 + two


_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_SERIAL = re.compile(r"\d{1,5}(?:\.0+)?")
EXCEL_EPOCH = date(1899, 12, 30)  # Excel's day 0 (it counts 1900 as a leap year: serials from 61 on are right)


def parse_date(value: str, date_format: DateFormat = "auto") -> date:
    """ISO (YYYY-MM-DD) and YYYYMMDD always; DD.MM.YYYY always (dots are day-first everywhere we work);
    DD/MM/YYYY vs MM/DD/YYYY by ``date_format`` (the column's detected format or the client's setting; "auto"
    reads day first, the European convention, and rejects a date that only makes sense month-first rather than
    guessing); Excel serial numbers (45123) only in a column detected as ``EXCEL``.

    The ordinary ISO day (ten ASCII characters, dashes at 4 and 7) is read by ``date.fromisoformat``, as the rules
    read it (a property test holds the two ways together); anything else, and every refusal, by the rules."""
    text = value.strip()
    if len(text) == 10 and text[4] == "-" and text[7] == "-" and text.isascii():
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    return date_by_rules(value, date_format)


def date_by_rules(value: str, date_format: DateFormat = "auto") -> date:
    """``parse_date`` for any cell, every refusal worded."""
    text = value.strip()
    ymd: tuple[int, int, int] | None = None
    if (m := _ISO.fullmatch(text)) or (m := _COMPACT.fullmatch(text)):
        ymd = (int(m[1]), int(m[2]), int(m[3]))
    elif date_format == "EXCEL" and _SERIAL.fullmatch(text):
        serial = int(float(text))
        if not 61 <= serial <= 2958465:
            raise ValueError(f"{value!r} is not a date (an Excel serial number out of range)")
        return date.fromordinal(EXCEL_EPOCH.toordinal() + serial)
    elif m := _DOTTED.fullmatch(text):
        ymd = (_year(m[3]), int(m[2]), int(m[1]))
    elif m := _SLASHED.fullmatch(text):
        first, second, year = int(m[1]), int(m[2]), _year(m[3])
        if date_format == "MDY":
            ymd = (year, first, second)
        elif date_format == "YMD":
            raise ValueError(f"{value!r} is not a YYYY/MM/DD date (the client's date format)")
        elif date_format == "auto" and second > 12 and first <= 12:
            raise ValueError(f"{value!r} is not a day-first date; set the client's date format to MDY if meant")
        else:
            ymd = (year, second, first)
    if ymd is None:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD, YYYYMMDD, DD.MM.YYYY or DD/MM/YYYY)")
    try:
        return date(*ymd)
    except ValueError:
        raise ValueError(f"{value!r} is not a valid date") from None


def detect_date_format(values: Iterable[str], setting: DateFormat = "auto") -> DateFormat:
    """The format of a whole date column, judged from its cells (the client's setting wins when it has one).

    Month-first only when the column says so unambiguously: some cell reads only month-first (05/25/2026) and
    none only day-first (25/05/2026). Excel serial numbers when most cells are one.
    """
    if setting != "auto":
        return setting
    cells = [v.strip() for v in values if v and v.strip()]
    if not cells:
        return "auto"
    serials = sum(1 for c in cells if _SERIAL.fullmatch(c) and 61 <= float(c) <= 2958465)
    if serials * 2 > len(cells):
        return "EXCEL"
    day_first = month_first = False
    for c in cells:
        if m := _SLASHED.fullmatch(c):
            first, second = int(m[1]), int(m[2])
            day_first |= first > 12 and second <= 12
            month_first |= second > 12 and first <= 12
    return "MDY" if month_first and not day_first else "auto"


# ---- e-mail and phone -------------------------------------------------------------------------------------


def normalise_email(value: str) -> str:
    """Syntax check only (no DNS lookups); returns the normalised address with a lower-cased domain.

    Nearly every address is ``<ASCII dot-atom>@<a domain seen before>``: its local part is checked with
    email_validator's own dot-atom expression (such a local part comes back unchanged) and its domain with the
    library's verdict on that domain, cached per distinct domain. Everything else (quotes, display names,
    international local parts, anything too long, an invalid domain) goes to ``validate_email`` whole, which
    alone words the problems. A property test holds both ways to the same result."""
    local, at, domain = value.strip().rpartition("@")
    plain = domain in _domains or _PLAIN_DOMAIN.fullmatch(domain) is not None  # only plain domains are kept
    if at and plain and local.isascii() and DOT_ATOM_TEXT.match(local):
        known = _domain(domain)
        fits = known is not None and len(local) + 1 + known[1] <= EMAIL_MAX_LENGTH
        if known is not None and fits and local.lower() not in _CASE_INSENSITIVE:
            return f"{local}@{known[0]}"
    return _email_by_library(value)


@lru_cache(maxsize=65536)
def _email_by_library(value: str) -> str:
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"{value!r} is not an e-mail address: {exc}") from None
    return str(result.normalized)


_PLAIN_DOMAIN = re.compile(r"[A-Za-z0-9.-]+")
_CASE_INSENSITIVE = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)  # the library's list, looked up per address


# The domains judged (a file has few: each debtor's address is new, its domain is not), kept as they are once full:
# an LRU cache's wrapper cost a Python-level call per address.
_DOMAINS_KEPT: Final = 4096
_domains: dict[str, tuple[str, int] | None] = {}


def _domain(domain: str) -> tuple[str, int] | None:
    """``domain_by_library``, remembered (``_domains``), its refusal too."""
    if domain in _domains:
        return _domains[domain]
    known = domain_by_library(domain)
    if len(_domains) < _DOMAINS_KEPT:
        _domains[domain] = known
    return known


def domain_by_library(domain: str) -> tuple[str, int] | None:
    """email_validator's normalised form of a domain and the longest of its spellings (as sent, normalised,
    IDNA ASCII) in UTF-8 bytes, for the length limit; None when the library refuses it."""
    try:
        result = validate_email(f"a@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return None
    forms = (domain, result.domain, result.ascii_domain or result.domain)
    return str(result.domain), max(len(f.encode()) for f in forms)


def email_key(email: str) -> str:
    return email.casefold()


def normalise_phone(value: str, default_country: str) -> str:
    """Any common national or international spelling → E.164, the client's default country for national ones
    (the one normaliser the API uses too)."""
    return phones.normalise_phone(value, default_country)


# ---- postal addresses -------------------------------------------------------------------------------------

COUNTRY_NAMES: dict[str, str] = {
    "germany": "DE", "deutschland": "DE", "allemagne": "DE", "ger": "DE", "deu": "DE",
    "france": "FR", "frankreich": "FR", "fra": "FR",
    "united kingdom": "GB", "uk": "GB", "great britain": "GB", "england": "GB", "royaume uni": "GB",
    "grossbritannien": "GB", "gbr": "GB",
    "austria": "AT", "oesterreich": "AT", "osterreich": "AT", "autriche": "AT", "aut": "AT",
    "switzerland": "CH", "schweiz": "CH", "suisse": "CH", "che": "CH",
    "netherlands": "NL", "niederlande": "NL", "pays bas": "NL", "nederland": "NL", "nld": "NL",
    "belgium": "BE", "belgien": "BE", "belgique": "BE", "bel": "BE",
    "luxembourg": "LU", "luxemburg": "LU", "italy": "IT", "italien": "IT", "italie": "IT",
    "spain": "ES", "spanien": "ES", "espagne": "ES", "poland": "PL", "polen": "PL", "pologne": "PL",
}  # fmt: skip

POSTCODE_PATTERNS: dict[str, re.Pattern[str]] = {
    "DE": re.compile(r"\d{5}"),
    "FR": re.compile(r"\d{5}"),
    "IT": re.compile(r"\d{5}"),
    "ES": re.compile(r"\d{5}"),
    "AT": re.compile(r"\d{4}"),
    "CH": re.compile(r"\d{4}"),
    "BE": re.compile(r"\d{4}"),
    "LU": re.compile(r"\d{4}"),
    "NL": re.compile(r"\d{4} [A-Z]{2}"),
    "PL": re.compile(r"\d{2}-\d{3}"),
    "GB": re.compile(r"(GIR 0AA|[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2})"),
}


@lru_cache(maxsize=4096)
def normalise_country(value: str | None, default_country: str) -> str:
    if not value or not value.strip():
        return default_country.upper()
    text = value.strip()
    if len(text) == 2 and text.isalpha():
        code = text.upper()
        return "GB" if code == "UK" else code
    named = COUNTRY_NAMES.get(fold(text))
    if named is None:
        raise ValueError(f"{value!r} is not a country (use the ISO code, e.g. DE, FR, GB)")
    return named


@lru_cache(maxsize=1)
def _language_names() -> dict[str, str]:
    """Folded language name (English, German, French: "German", "Deutsch", "allemand") → ISO 639-1 code, from
    Babel's CLDR data. Only two-letter codes: the language debtor messages are written in."""
    names: dict[str, str] = {}
    for locale in ("en", "de", "fr"):
        for code, name in Locale(locale).languages.items():
            if len(code) == 2 and code.isalpha():
                names.setdefault(fold(name), code)
    for code in list(names.values()):
        names.setdefault(code, code)
    return names


def normalise_language(value: str) -> str:
    """A language as ISO 639-1 from a code ("de", "DE"), a locale ("fr-CH", "de_AT") or a name in English,
    German or French ("German", "Französisch", "anglais")."""
    text = clean_text(value)
    primary = re.split(r"[-_]", text, maxsplit=1)[0].lower()
    names = _language_names()
    if len(primary) == 2 and primary in names:
        return primary
    named = names.get(fold(text))
    if named is None:
        raise ValueError(f"{value!r} is not a language (use the ISO 639-1 code, e.g. de, fr, en)")
    return named


# The postcodes read, by country (a file repeats its towns' postcodes): an LRU cache of 4,096 churned on a file with
# more, and its wrapper cost a Python-level call per row.
_postcodes = _ByCountry(1 << 14)


def normalise_postcode(value: str, country: str) -> str:
    """``postcode_by_rules``, remembered (``_postcodes``; a refusal is worked out each time)."""
    cells = _postcodes.cells(country)
    postcode = cells.get(value)
    if postcode is None:
        postcode = postcode_by_rules(value, country)
        _postcodes.keep(cells, value, postcode)
    return postcode


def postcode_by_rules(value: str, country: str) -> str:
    """Upper-case, spacing normalised, checked against the country's format where we know it."""
    text = clean_text(value).upper()
    # Old European style: D-10115, F-75001, A-1010, CH-8001, L-1234, B-1000.
    for code in {"DE": ("DE", "D"), "FR": ("FR", "F"), "AT": ("AT", "A"), "CH": ("CH",), "LU": ("LU", "L"),
                 "BE": ("BE", "B")}.get(country, ()):  # fmt: skip
        for prefix in (f"{code}-", f"{code} "):
            if text.startswith(prefix):
                text = text[len(prefix) :]
    if country in ("DE", "FR", "IT", "ES") and text.isdigit() and len(text) == 4:
        text = "0" + text  # a spreadsheet ate the leading zero (01067 Dresden)
    if country == "GB":
        compact = text.replace(" ", "")
        if 5 <= len(compact) <= 7:
            text = f"{compact[:-3]} {compact[-3:]}"
    if country == "NL":
        compact = text.replace(" ", "")
        if len(compact) == 6:
            text = f"{compact[:4]} {compact[4:]}"
    pattern = POSTCODE_PATTERNS.get(country)
    if pattern is not None and not pattern.fullmatch(text):
        raise ValueError(f"{value!r} is not a postcode in {country}")
    return text


def contact_by_country(
    fields: dict[str, object], phone: str | None, postcode: str | None, country: str, warnings: list[str]
) -> None:
    """A row's phone and postcode, checked once its country is known, set in ``fields`` (the plain path of
    services/imports/rows.py and the model's path in domain.py both call this): a phone that is not one is left out
    with a warning; a postcode that does not fit the country leaves the whole postal address out."""
    if phone:
        try:
            fields["phone"] = normalise_phone(phone, country)
        except ValueError as exc:
            warnings.append(f"phone: {exc}")
            fields["phone"] = None
    if postcode:
        try:
            fields["postcode"] = normalise_postcode(postcode, country)
        except ValueError as exc:
            warnings.append(f"postcode: {exc}; the postal address is left out")
            fields["postcode"] = fields["street"] = fields["city"] = None


_FIRST_BIRTH = date(1900, 1, 1)


def parse_birth_date(value: str, date_format: DateFormat = "auto") -> date:
    born = parse_date(value, date_format)
    if not _FIRST_BIRTH <= born <= datetime.now().date():
        raise ValueError(f"{value!r} is not a plausible birth date")
    return born
