"""The one phone normaliser, against phonenumbers' own example and invalid example numbers for every region it
knows (material we did not write), and against the numbers the API used to accept wrongly (issue 10, item 3)."""

from __future__ import annotations

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType

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
