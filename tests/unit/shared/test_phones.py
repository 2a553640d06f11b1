"""The one phone normaliser, against phonenumbers' own example and invalid example numbers for every region it
knows (material we did not write), and against the numbers the API used to accept wrongly (issue 10, item 3)."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from phonenumbers import phonenumberutil as pnu

from services.contacts.cases import domain as cases_domain
from services.contacts.clients import domain as clients_domain
from services.imports import normalise as imports_normalise
from shared import phones
from shared.errors import Invalid

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
TYPES = (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE, PhoneNumberType.VOIP)


def test_every_region_is_exercised() -> None:
    assert len(REGIONS) > 200  # phonenumbers ships ~245 regions; a shrunken list would hollow the tests below


@pytest.mark.parametrize("region", REGIONS)
def test_each_regions_example_numbers_are_read_in_national_and_international_form(region: str) -> None:
    examples = [n for t in TYPES if (n := phonenumbers.example_number_for_type(region, t)) is not None]
    assert examples, f"phonenumbers has no example number for {region}"
    for number in examples:
        e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
        international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
        assert phones.normalise_phone(national, region) == e164
        assert phones.normalise_phone(international, None) == e164
        assert phones.normalise_phone(international, "DE") == e164  # an explicit country code wins


@pytest.mark.parametrize("region", REGIONS)
def test_each_regions_invalid_example_number_is_refused(region: str) -> None:
    number = phonenumbers.invalid_example_number(region)
    if number is None:
        pytest.skip(f"phonenumbers has no invalid example for {region}")
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    for text, country in ((national, region), (international, None)):
        with pytest.raises(phones.PhoneRefused) as refused:
            phones.normalise_phone(text, country)
        assert refused.value.code == "invalid_phone"


# The numbers the API accepted although the import refused them (possible length, not an assigned range).
ISSUE_NUMBERS = ["+44 7700 900123", "+49 3012", "+44 121234567", "+43 1 234"]


@pytest.mark.parametrize("text", ISSUE_NUMBERS)
def test_numbers_of_no_assigned_range_are_refused_by_the_api_and_the_import_alike(text: str) -> None:
    with pytest.raises(Invalid) as api:
        cases_domain.check_value("phone", text, "DE")
    assert (api.value.code, api.value.field) == ("invalid_phone", "value")
    with pytest.raises(Invalid):
        clients_domain.e164(text, None)
    with pytest.raises(ValueError):
        imports_normalise.normalise_phone(text, "DE")


@pytest.mark.parametrize(
    ("text", "country", "expected"),
    [
        ("030/1234567", "DE", "+49301234567"),
        ("030 1234567", "de", "+49301234567"),
        ("0049 30 1234567", "FR", "+49301234567"),
        ("01 42 68 53 00", "FR", "+33142685300"),
        ("044 668 18 00", "CH", "+41446681800"),
    ],
)
def test_national_forms_are_read_in_the_given_country_by_every_door(text: str, country: str, expected: str) -> None:
    assert cases_domain.check_value("phone", text, country) == expected
    assert clients_domain.e164(text, country) == expected
    assert imports_normalise.normalise_phone(text, country) == expected


def test_a_national_form_without_a_country_and_an_unknown_country_are_told_apart() -> None:
    with pytest.raises(phones.PhoneRefused) as no_country:
        phones.normalise_phone("030 1234567", None)
    assert no_country.value.code == "not_a_phone_number"
    with pytest.raises(Invalid) as unknown:
        cases_domain.check_value("phone", "030 1234567", "ZZ")
    assert (unknown.value.code, unknown.value.field) == ("invalid_country", "country")


# ---- the ordinary spelling read without phonenumbers.parse: the same result as through it, always ----------------

ALL_TYPES = tuple(
    getattr(PhoneNumberType, name)
    for name in ("FIXED_LINE", "MOBILE", "TOLL_FREE", "PREMIUM_RATE", "SHARED_COST", "VOIP", "PERSONAL_NUMBER",
                 "PAGER", "UAN", "VOICEMAIL")
)  # fmt: skip


def _outcome(normalise: object, text: str, country: str | None) -> tuple[str, str]:
    try:
        return "ok", normalise(text, country)  # type: ignore[operator]
    except phones.PhoneRefused as exc:
        return exc.code, str(exc)


def _spellings(number: phonenumbers.PhoneNumber, region: str) -> list[tuple[str, tuple[str | None, ...]]]:
    """How clients write a number (national and international forms with the usual separators, squeezed, with 00
    for +, the country code without +, one digit missing or one too many), each with the countries to read it in."""
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    squeezed = "".join(ch for ch in national if ch.isdigit())
    spelled_nationally = [national, squeezed, e164[1:], national.replace(" ", "/", 1), national.replace(" ", "-"),
                          f"({squeezed[:3]}) {squeezed[3:]}", national[:-1], squeezed + "7", "0" + squeezed]
    spelled_internationally = [international, e164, "00" + e164[1:], international.replace(" ", "."),
                               phonenumbers.format_number(number, PhoneNumberFormat.RFC3966), e164[:-1], e164 + "7",
                               "+0" + e164[1:]]  # fmt: skip
    return [(t, (region,)) for t in spelled_nationally] + [(t, (None, "DE")) for t in spelled_internationally]


@pytest.mark.parametrize("region", REGIONS)
def test_the_plain_reading_agrees_with_phonenumbers_parse_on_every_regions_examples(region: str) -> None:
    numbers = [n for t in ALL_TYPES if (n := phonenumbers.example_number_for_type(region, t)) is not None]
    if (invalid := phonenumbers.invalid_example_number(region)) is not None:
        numbers.append(invalid)
    for number in numbers:
        for text, countries in _spellings(number, region):
            for country in countries:
                assert _outcome(phones.normalise_phone, text, country) == _outcome(
                    phones.normalise_by_library, text, country
                ), (text, country)


@settings(max_examples=400, deadline=None)
@given(
    text=st.text(alphabet="0123456789 +()./-", min_size=1, max_size=20),
    country=st.sampled_from(["DE", "FR", "GB", "AT", "CH", "IT", "US", "BR", "AR", "RU", "AU", "MX", None]),
)
def test_the_plain_reading_agrees_with_phonenumbers_parse_on_arbitrary_digits(text: str, country: str | None) -> None:
    phones.forget_read_numbers()
    assert _outcome(phones.normalise_phone, text, country) == _outcome(phones.normalise_by_library, text, country)


def test_ordinary_numbers_are_read_without_phonenumbers_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    phones.forget_read_numbers()
    # phonenumbers itself, not our wrapper: the compiled reader calls the wrapper natively, so patching it would test
    # nothing there; a lookup on the library module is made at call time on both cores.
    monkeypatch.setattr(phonenumbers, "parse", None)  # would fail if called
    assert phones.normalise_phone("030 / 1234 5678", "DE") == "+493012345678"
    assert phones.normalise_phone("0049 (0)30 12345678", "FR") == "+493012345678"
    assert phones.normalise_phone("01 23 45 67 89", "FR") == "+33123456789"
    assert phones.normalise_phone("020 7946 0018", "GB") == "+442079460018"
    phones.forget_read_numbers()


@pytest.mark.parametrize(
    ("text", "country", "where"),
    [("06 90 60 59 32", "FR", " (read in FR)"), ("+44 7700 900123", None, ""), ("0049 30 12", "FR", ""),
     ("030 12", "DE", " (read in DE)")],
)  # fmt: skip
def test_ordinary_numbers_in_no_valid_range_are_refused_without_phonenumbers_parse(
    monkeypatch: pytest.MonkeyPatch, text: str, country: str | None, where: str
) -> None:
    monkeypatch.setattr(phonenumbers, "parse", None)  # would fail if called
    with pytest.raises(phones.PhoneRefused) as refused:
        phones.read_phone(text, country)
    assert (refused.value.code, str(refused.value)) == ("invalid_phone", f"{text!r} is not a valid phone number{where}")


@pytest.mark.parametrize("country_code", sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS))
def test_the_plain_reading_agrees_with_phonenumbers_parse_on_non_geographic_numbers(country_code: int) -> None:
    example = phonenumbers.example_number_for_non_geo_entity(country_code)
    assert example is not None
    for text, countries in _spellings(example, "001"):
        for country in countries:
            if country == "001":
                continue  # not a country: the national spellings have none to be read in
            assert _outcome(phones.read_phone, text, country) == _outcome(
                phones.normalise_by_library, text, country
            ), (text, country)


def test_a_country_without_dialling_code_is_refused_however_the_number_is_written() -> None:
    for text in ("+49 30 12345678", "030 12345678", "0049 30 12345678"):
        with pytest.raises(phones.PhoneRefused) as refused:
            phones.normalise_phone(text, "XX")
        assert refused.value.code == "phone_country"


# ---- each country's table of valid ranges, held to is_valid_number digit by digit ----------------------------------


def _neighbours(nsn: str) -> set[str]:
    """Every number one edit away from ``nsn``: each digit replaced by each other digit, one digit dropped, one
    added at the end or in front: these cross the ranges' and the lengths' edges near a real number."""
    out = {nsn[:i] + d + nsn[i + 1 :] for i in range(len(nsn)) for d in "0123456789"}
    out |= {nsn[:i] + nsn[i + 1 :] for i in range(len(nsn))}
    out |= {nsn + d for d in "0123456789"} | {d + nsn for d in "0123456789"}
    return {n for n in out if len(n) >= 2}


@pytest.mark.parametrize("region", REGIONS)
def test_the_valid_ranges_decide_as_is_valid_number_around_every_regions_examples(region: str) -> None:
    numbers = [n for t in ALL_TYPES if (n := phonenumbers.example_number_for_type(region, t)) is not None]
    if (invalid := phonenumbers.invalid_example_number(region)) is not None:
        numbers.append(invalid)
    checked = 0
    for example in numbers:
        country_code = example.country_code or 0
        for nsn in _neighbours(phonenumbers.national_significant_number(example)):
            number = _parsed_nsn(country_code, nsn)
            assert phonenumbers.national_significant_number(number) == nsn
            assert phones._valid(country_code, nsn) == phonenumbers.is_valid_number(number), (region, nsn)
            checked += 1
    assert checked > 100


def _parsed_nsn(country_code: int, nsn: str) -> phonenumbers.PhoneNumber:
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(nsn))
    pnu._set_italian_leading_zeros_for_phone_number(nsn, number)  # as parse does
    return number


@settings(max_examples=400, deadline=None)
@given(
    region=st.sampled_from(["DE", "AT", "CH", "FR", "GB", "IT", "NL", "BE", "LU", "ES", "PL", "US", "JE", "VA", "KZ"]),
    head=st.integers(min_value=0, max_value=4),
    tail=st.text(alphabet="0123456789", min_size=0, max_size=10),
)
def test_the_valid_ranges_decide_as_is_valid_number_on_arbitrary_digits(region: str, head: int, tail: str) -> None:
    """Numbers that begin like one of the region's examples (``head`` digits of it) and go on at random."""
    example = phonenumbers.example_number_for_type(region, ALL_TYPES[head % 2])
    assert example is not None
    nsn = phonenumbers.national_significant_number(example)[:head] + tail
    if len(nsn) < 2:
        return
    country_code = example.country_code or 0
    assert phones._valid(country_code, nsn) == phonenumbers.is_valid_number(_parsed_nsn(country_code, nsn))
