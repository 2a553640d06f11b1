"""The import's caches of near-unique values (folded names and streets, phone numbers): bounded, kept as they are once
full (no eviction), a phone's refusal kept as its reading is, emptied when a file's stage begins."""

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


def test_a_new_file_starts_with_empty_caches() -> None:
    norm.fold("Hauptstraße 1")
    phones.normalise_phone("030 1234567", "DE")
    assert norm._folded and phones._read.size
    norm.forget_cached_values()
    assert not norm._folded and not phones._read.by_country and phones._read.size == 0
