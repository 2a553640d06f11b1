"""The import's caches of near-unique values (folded names and streets, phone numbers): bounded, kept as they are once
full (no eviction), refusals never kept, emptied when a file's stage begins."""

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


def test_phone_numbers_are_kept_up_to_the_bound_then_worked_out_each_time() -> None:
    phones.forget_read_numbers()
    numbers = [f"030 {1000000 + n}" for n in range(phones._READ_CACHE_SIZE + 100)]
    assert [phones.normalise_phone(n, "DE") for n in numbers] == [f"+4930{1000000 + n}" for n in range(len(numbers))]
    assert len(phones._read) == phones._READ_CACHE_SIZE
    assert (numbers[0], "DE") in phones._read and (numbers[-1], "DE") not in phones._read
    assert phones.normalise_phone(numbers[-1], "DE") == phones.read_phone(numbers[-1], "DE") == "+49301065635"
    phones.forget_read_numbers()


def test_a_refused_phone_number_is_not_kept() -> None:
    phones.forget_read_numbers()
    for _ in range(2):
        with pytest.raises(phones.PhoneRefused):
            phones.normalise_phone("030 12345678", "XX")
    assert phones._read == {}


def test_a_new_file_starts_with_empty_caches() -> None:
    norm.fold("Hauptstraße 1")
    phones.normalise_phone("030 1234567", "DE")
    assert norm._folded and phones._read
    norm.forget_cached_values()
    assert not norm._folded and not phones._read
