"""The import's caches (folded names and streets, phone numbers, postcodes, e-mail domains): bounded, kept as they are
once full (no eviction), a phone's refusal kept as its reading is, emptied when a file's stage begins."""

from collections.abc import Mapping

import pytest

from services.imports import normalise as norm
from shared import phones


def test_fold_keeps_its_first_values_once_full() -> None:
    norm._folded.clear()
    streets = [f"Hauptstraße {n}" for n in range(norm._FOLD_CACHE_SIZE + 100)]
    for street in streets:
        assert norm.fold(street) == "hauptstrasse " + street.split()[1]
    assert len(norm._folded) == norm._FOLD_CACHE_SIZE
    assert streets[0] in norm._folded and streets[-1] not in norm._folded
    assert norm.fold(streets[-1]) == norm.fold_uncached(streets[-1]) == f"hauptstrasse {len(streets) - 1}"
    norm._folded.clear()


def _kept(country: str) -> Mapping[str, object]:
    return phones._read.by_country.get(country, {})


def test_phone_numbers_are_kept_up_to_the_bound_then_worked_out_each_time() -> None:
    phones.forget_read_numbers()
    numbers = [f"030 {1000000 + n}" for n in range(phones._READ_CACHE_SIZE + 100)]
    assert [phones.normalise_phone(n, "DE") for n in numbers] == [f"+4930{1000000 + n}" for n in range(len(numbers))]
    assert phones._read.size == len(_kept("DE")) == phones._READ_CACHE_SIZE
    assert numbers[0] in _kept("DE") and numbers[-1] not in _kept("DE")
    assert phones.normalise_phone(numbers[-1], "DE") == phones.read_phone(numbers[-1], "DE") == "+49301065635"
    phones.forget_read_numbers()


def test_a_number_is_kept_for_the_country_it_was_read_in() -> None:
    phones.forget_read_numbers()
    assert phones.normalise_phone("030 1234567", "DE") == "+49301234567"
    assert phones.normalise_phone("030 1234567", "NL") == "+31301234567"
    assert phones.normalise_phone("+49 30 1234567", None) == "+49301234567"
    assert set(phones._read.by_country) == {"DE", "NL", ""} and phones._read.size == 3
    phones.forget_read_numbers()


@pytest.mark.parametrize(
    ("text", "country"),
    [("06 90 60 59 32", "FR"), ("+44 7700 900123", None), ("030 12345678", "XX"), ("12", "DE"), ("call me", "DE")],
)
def test_a_refused_phone_number_is_kept_and_refused_alike_without_reading_it_again(
    monkeypatch: pytest.MonkeyPatch, text: str, country: str | None
) -> None:
    phones.forget_read_numbers()
    with pytest.raises(phones.PhoneRefused) as first:
        phones.normalise_phone(text, country)
    assert phones._read.size == 1
    monkeypatch.setattr(phones, "read_phone", None)  # would fail if called
    with pytest.raises(phones.PhoneRefused) as again:
        phones.normalise_phone(text, country)
    assert (again.value.code, str(again.value)) == (first.value.code, str(first.value))
    phones.forget_read_numbers()


def test_refusals_count_towards_the_bound() -> None:
    phones.forget_read_numbers()
    for n in range(phones._READ_CACHE_SIZE + 10):
        with pytest.raises(phones.PhoneRefused):
            phones.normalise_phone(f"0 {n}", "XX")
    assert phones._read.size == len(_kept("XX")) == phones._READ_CACHE_SIZE
    phones.forget_read_numbers()


def test_postcodes_are_kept_by_country_up_to_the_bound_then_worked_out_each_time() -> None:
    norm.forget_cached_values()
    codes = [f"{n:05d}" for n in range(norm._postcodes.bound + 100)]
    assert [norm.normalise_postcode(c, "DE") for c in codes] == codes
    assert norm.normalise_postcode("nw16xe", "GB") == "NW1 6XE"  # past the bound: read, not kept
    kept = norm._postcodes.by_country
    assert norm._postcodes.size == len(kept["DE"]) == norm._postcodes.bound and not kept.get("GB")
    assert codes[0] in kept["DE"] and codes[-1] not in kept["DE"]
    norm.forget_cached_values()
    assert norm.normalise_postcode("1067", "DE") == "01067" and norm.normalise_postcode("1067", "AT") == "1067"
    assert kept == {"DE": {"1067": "01067"}, "AT": {"1067": "1067"}}
    for _ in range(2):
        with pytest.raises(ValueError, match="not a postcode in DE"):
            norm.normalise_postcode("ABC", "DE")
    assert norm._postcodes.size == 2  # a refusal is worded each time, not kept
    norm.forget_cached_values()


def test_email_domains_are_kept_up_to_the_bound_their_refusals_too() -> None:
    norm.forget_cached_values()
    domains = [f"example{n}.de" for n in range(norm._DOMAINS_KEPT + 10)]
    assert [norm.normalise_email(f"anna@{d}") for d in domains] == [f"anna@{d}" for d in domains]
    assert len(norm._domains) == norm._DOMAINS_KEPT
    assert domains[0] in norm._domains and domains[-1] not in norm._domains
    norm.forget_cached_values()
    with pytest.raises(ValueError, match="not an e-mail address"):
        norm.normalise_email("anna@-x-.de")
    assert norm._domains == {"-x-.de": None}
    norm.forget_cached_values()


def test_a_new_file_starts_with_empty_caches() -> None:
    norm.fold("Hauptstraße 1")
    phones.normalise_phone("030 1234567", "DE")
    norm.normalise_postcode("10115", "DE")
    norm.normalise_email("anna@example.de")
    assert norm._folded and phones._read.size and norm._postcodes.size and norm._domains
    norm.forget_cached_values()
    assert not norm._folded and not phones._read.by_country and phones._read.size == 0
    assert not norm._postcodes.by_country and norm._postcodes.size == 0 and not norm._domains
