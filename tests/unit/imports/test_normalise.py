"""Normalising cells: amounts, dates, e-mails, phones, addresses, name folding."""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.imports import normalise as norm


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("120,50", "120.50"),
        ("1.250,00", "1250.00"),
        ("1,250.00", "1250.00"),
        ("€ 45.99", "45.99"),
        ("45,99 EUR", "45.99"),
        ("1 250", "1250"),
        ("1.250", "1250"),
        ("0,5", "0.5"),
        ("1'234.50", "1234.50"),
    ],
)
def test_amounts_with_comma_or_point(text: str, expected: str) -> None:
    assert norm.parse_amount(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["abc", "", "-12,00", "0", "12.345.6,7", "1,2,3.456"])
def test_bad_amounts_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        norm.parse_amount(text)


def amount_or_refusal(read: object, text: str) -> str:
    try:
        return repr(read(text))  # type: ignore[operator]  # repr: Decimal('1.50') and Decimal('1.5') are equal
    except ValueError as exc:
        return f"refused: {exc}"


amount_cells = st.one_of(
    st.from_regex(r"[0-9]{1,12}([.,][0-9]{0,4})?", fullmatch=True),
    st.text(st.sampled_from("0123456789.,-+() €'\u00a0١"), max_size=14),
    st.text(max_size=8),
)


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(amount_cells)
def test_the_shortcut_for_ordinary_amounts_reads_as_the_rules(text: str) -> None:
    """The same Decimal (its digits and exponent, not only its value) or the same refusal."""
    assert amount_or_refusal(norm.parse_amount, text) == amount_or_refusal(norm.amount_by_rules, text)


@pytest.mark.parametrize("text", ["120,50", "45.99", "1250", "0,5", "007", "9999999999,99"])
def test_ordinary_amounts_take_the_shortcut(text: str) -> None:
    assert norm._ORDINARY_AMOUNT.fullmatch(text)
    assert amount_or_refusal(norm.parse_amount, text) == amount_or_refusal(norm.amount_by_rules, text)


def test_dates_in_several_formats_and_the_client_format_for_ambiguous_ones() -> None:
    assert norm.parse_date("2026-05-02") == date(2026, 5, 2)
    assert norm.parse_date("02.05.2026") == date(2026, 5, 2)
    assert norm.parse_date("02/05/2026") == date(2026, 5, 2)  # auto: day first
    assert norm.parse_date("02/05/2026", "MDY") == date(2026, 2, 5)
    assert norm.parse_date("2026-05-02 00:00:00") == date(2026, 5, 2)
    assert norm.parse_date("02.05.26") == date(2026, 5, 2)
    with pytest.raises(ValueError, match="MDY"):
        norm.parse_date("05/25/2026")  # only month-first makes sense: not guessed
    with pytest.raises(ValueError, match="valid date"):
        norm.parse_date("31.02.2026")
    with pytest.raises(ValueError):
        norm.parse_date("next tuesday")


def date_or_refusal(text: str, date_format: norm.DateFormat) -> tuple[str, str]:
    def read(how: object) -> str:
        try:
            return repr(how())  # type: ignore[operator]
        except ValueError as exc:
            return f"refused: {exc}"

    return read(lambda: norm.parse_date(text, date_format)), read(lambda: norm.date_by_rules(text, date_format))


iso_like = st.one_of(
    st.from_regex(r"\s?[0-9]{4}-[0-9]{2}-[0-9]{2}\s?", fullmatch=True),
    st.from_regex(r"[0-9+ .a٣-]{4}-[0-9+ T٣-]{2}-[0-9 +:٣-]{2}", fullmatch=True),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:]{0,8}", fullmatch=True),
    st.text(st.sampled_from("0123456789-./ T"), max_size=12),
)


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(iso_like, st.sampled_from(["auto", "DMY", "MDY", "YMD", "EXCEL"]))
def test_the_shortcut_for_iso_days_reads_as_the_rules(text: str, date_format: norm.DateFormat) -> None:
    fast, rules = date_or_refusal(text, date_format)
    assert fast == rules


@pytest.mark.parametrize("text", ["1980-04-01", " 2026-12-31 ", "0001-01-01", "9999-12-31"])
def test_iso_days_are_read_alike(text: str) -> None:
    fast, rules = date_or_refusal(text, "auto")
    assert fast == rules == repr(date.fromisoformat(text.strip()))


def test_emails_are_checked_without_lookups_and_normalised() -> None:
    assert norm.normalise_email(" Anna.Schmidt@Example.DE ") == "Anna.Schmidt@example.de"
    assert norm.email_key("Anna.Schmidt@example.de") == "anna.schmidt@example.de"
    with pytest.raises(ValueError):
        norm.normalise_email("not-an-email")


def _email_outcome(check: object, value: str) -> tuple[str, str]:
    try:
        return "ok", check(value)  # type: ignore[operator]
    except ValueError as exc:
        return "refused", str(exc)


# Addresses the plain way must judge exactly as email_validator does: odd local parts, display names, quotes, IDNA
# and special-use domains, case-insensitive mailbox names, the 64/254 limits, international characters.
EMAIL_CASES = [
    "Anna.Schmidt@Example.DE", "a@b.de", "POSTMASTER@example.de", "Abuse@Example.com", "a..b@example.de",
    ".a@example.de", "a.@example.de", '"a b"@example.de', "Anna <anna@example.de>", "anna@localhost",
    "anna@example.test", "anna@example.local", "anna@xn--mller-kva.de", "anna@müller.de", "jürgen@example.de",
    "anna@-example.de", "anna@example-.de", "anna@example..de", "anna@example.de.", "anna@123.456", "anna@[1.2.3.4]",
    "anna@example", "a+tag@example.de", "o'brien@example.co.uk", "a{b}|c~@example.de", "a@b@example.de",
    "x" * 64 + "@example.de", "x" * 65 + "@example.de", "a@" + "b" * 63 + ".de", "a@" + "b" * 64 + ".de",
    "x" * 200 + "@" + "d" * 40 + ".example.de", "x" * 64 + "@" + ".".join(["d" * 60] * 3) + ".de", "@example.de",
    "anna@", "anna", " anna@example.de ", "anna@EXAMPLE.DE", "anna@example.de\u200b", "anna@exa_mple.de",
]  # fmt: skip


@pytest.mark.parametrize("value", EMAIL_CASES)
def test_the_plain_email_path_judges_as_email_validator(value: str) -> None:
    assert _email_outcome(norm.normalise_email, value) == _email_outcome(norm._email_by_library, value)


_EMAIL_PARTS = st.text(alphabet="aZ09._-+'\"<> @üé[]()xn", min_size=0, max_size=12)


@settings(max_examples=600, deadline=None)
@given(local=_EMAIL_PARTS, domain=st.lists(_EMAIL_PARTS, min_size=1, max_size=4).map(".".join))
def test_the_plain_email_path_judges_arbitrary_addresses_as_email_validator(local: str, domain: str) -> None:
    value = f"{local}@{domain}"
    assert _email_outcome(norm.normalise_email, value) == _email_outcome(norm._email_by_library, value)


def test_ordinary_addresses_do_not_go_through_the_whole_library() -> None:
    norm._email_by_library.cache_clear()
    for n in range(50):
        norm.normalise_email(f"debtor.{n}@Example-{n % 3}.de")
    assert norm._email_by_library.cache_info().misses == 0


@pytest.mark.parametrize(
    ("text", "country", "expected"),
    [
        ("030 1234567", "DE", "+49301234567"),
        ("+49 (0)30 1234567", "DE", "+49301234567"),
        ("0049 30 1234567", "FR", "+49301234567"),
        ("01 42 68 53 00", "FR", "+33142685300"),
        ("020 7946 0958", "GB", "+442079460958"),
    ],
)
def test_phones_become_e164_with_the_default_country(text: str, country: str, expected: str) -> None:
    assert norm.normalise_phone(text, country) == expected


def test_invalid_phone_is_refused() -> None:
    with pytest.raises(ValueError):
        norm.normalise_phone("12", "DE")


def test_postcodes_per_country() -> None:
    assert norm.normalise_postcode("1067", "DE") == "01067"
    assert norm.normalise_postcode("D-10115", "DE") == "10115"
    assert norm.normalise_postcode("nw16xe", "GB") == "NW1 6XE"
    assert norm.normalise_postcode("1012ab", "NL") == "1012 AB"
    assert norm.normalise_postcode("8001", "CH") == "8001"
    for bad, country in (("123456", "DE"), ("ABC", "FR"), ("12345", "AT"), ("XYZ", "GB")):
        with pytest.raises(ValueError):
            norm.normalise_postcode(bad, country)


def test_countries_by_code_or_name() -> None:
    assert norm.normalise_country("de", "FR") == "DE"
    assert norm.normalise_country("Deutschland", "FR") == "DE"
    assert norm.normalise_country("Royaume-Uni", "DE") == "GB"
    assert norm.normalise_country("", "AT") == "AT"
    with pytest.raises(ValueError):
        norm.normalise_country("Atlantis", "DE")


def test_name_folding_for_keys_only() -> None:
    assert norm.fold("  Müller-Lüdenscheidt ") == norm.fold("MUELLER lüdenscheidt")
    assert norm.fold("Françoise  Gérard") == "francoise gerard"
    assert norm.name_tokens("Anna", "Schmidt") == norm.name_tokens("SCHMIDT", "anna")


def test_formula_detection() -> None:
    assert norm.looks_like_formula('=HYPERLINK("x")')
    assert norm.looks_like_formula("@SUM(A1)")
    assert norm.looks_like_formula("-cmd|' /C calc'!A0")
    # leading + and - are formulas too: Excel evaluates -2+3 and +1+cmd|…
    assert norm.looks_like_formula("-2+3+cmd|' /C calc'!A0")
    assert norm.looks_like_formula("+1+cmd|' /C calc'!A0")
    assert norm.looks_like_formula("-1+1")
    assert not norm.looks_like_formula("-")  # a placeholder for "none"
    assert not norm.looks_like_formula("Anna")
    assert not norm.looks_like_formula("D-10115")


def test_control_and_invisible_characters_are_removed() -> None:
    for invisible in ("\u200b", "\ufeff", "\u180e", "\u200b\ufeff\u180e", " \u2060 "):
        assert norm.clean_text(invisible) == ""
    assert norm.clean_text("\x1b[31mSchmidt\x1b[0m") == "Schmidt"  # terminal colour codes
    assert norm.clean_text("\x1b]0;pwned\x07Weber") == "Weber"  # a terminal title escape
    assert norm.clean_text("Mül\x08ler\x07") == "Müller"  # backspace and bell
    assert norm.clean_text("Sch\x00midt") == "Schmidt"  # a NUL byte
    assert norm.clean_text("\u202eredli\u202c") == "redli"  # a bidi override
    assert norm.clean_text("क्\u200dष") == "क्\u200dष"  # a zero-width joiner is part of the spelling
    assert norm.had_hidden_characters("A\x07") and not norm.had_hidden_characters("Anna Müller")


def _clean_text_in_one_way(value: str) -> str:
    """clean_text as it was before its shortcut for ordinary cells: the oracle for the test below."""
    text = norm._SPACES.sub(" ", norm._INVISIBLE.sub("", norm._ESCAPES.sub("", value))).strip()
    if text and not text[0].isalnum() and not any(ch.isalnum() for ch in text):
        return ""
    return text


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=30))
def test_ascii_names_fold_as_any_other(value: str) -> None:
    """fold's shortcut for ASCII text gives what the full way (umlauts, NFKD, casefold) gives."""
    full = unicodedata.normalize("NFKD", value.translate(norm._GERMAN))
    full = "".join(ch for ch in full if not unicodedata.combining(ch)).casefold()
    assert norm.fold_uncached(value) == norm._NON_ALNUM.sub(" ", full).strip()
    ascii_only = value.encode("ascii", "ignore").decode()
    assert norm.fold_uncached(ascii_only) == norm._NON_ALNUM.sub(" ", ascii_only.casefold()).strip()


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.sampled_from("aZ9 -.\t\n\r\x0b\x0c\x1b[m\x07\x00\xa0\u2003\u3000\u200b\ufeff\u202e\u2028é")))
def test_the_shortcut_for_ordinary_cells_cleans_as_the_full_way(value: str) -> None:
    assert norm.clean_text(value) == _clean_text_in_one_way(value)


@pytest.mark.parametrize(
    ("value", "code"),
    [("de", "de"), ("FR", "fr"), ("fr-CH", "fr"), ("de_AT", "de"), ("German", "de"), ("Deutsch", "de"),
     ("allemand", "de"), ("Französisch", "fr"), ("français", "fr"), ("anglais", "en"), (" Englisch ", "en"),
     ("Italienisch", "it"), ("polonais", "pl")],
)  # fmt: skip
def test_languages_are_read_from_codes_locales_and_names(value: str, code: str) -> None:
    assert norm.normalise_language(value) == code


@pytest.mark.parametrize("value", ["xx", "Klingon", "123", "d"])
def test_what_is_no_language_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="is not a language"):
        norm.normalise_language(value)
