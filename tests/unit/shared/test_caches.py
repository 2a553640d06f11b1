import pytest

from services.imports import normalise as norm
from shared import phones
from shared.caches import kept_once_full


def test_a_full_cache_keeps_its_entries_and_works_out_new_values_each_time() -> None:
    calls: list[tuple[str, int]] = []

    @kept_once_full(2)
    def shout(text: str, times: int) -> str:
        calls.append((text, times))
        return text.upper() * times

    assert [shout("a", 1), shout("b", 2), shout("a", 1), shout("b", 2)] == ["A", "BB", "A", "BB"]
    assert calls == [("a", 1), ("b", 2)]  # the first two are cached
    assert [shout("c", 1), shout("c", 1), shout("a", 1)] == ["C", "C", "A"]
    assert calls == [("a", 1), ("b", 2), ("c", 1), ("c", 1)]  # full: "c" is not cached, nothing was evicted
    assert shout.cache_size() == 2
    shout.cache_clear()
    assert shout.cache_size() == 0
    assert shout.__wrapped__("d", 1) == "D"


def test_a_refusal_is_not_cached() -> None:
    seen: list[str] = []

    @kept_once_full(10)
    def positive(value: str) -> str:
        seen.append(value)
        if value.startswith("-"):
            raise ValueError(value)
        return value

    for _ in range(2):
        with pytest.raises(ValueError):
            positive("-1")
    assert seen == ["-1", "-1"] and positive.cache_size() == 0


def test_fold_keeps_its_first_values_once_full() -> None:
    norm._folded.clear()
    streets = [f"Hauptstraße {n}" for n in range(norm._FOLD_CACHE_SIZE + 100)]
    for street in streets:
        assert norm.fold(street) == "hauptstrasse " + street.split()[1]
    assert len(norm._folded) == norm._FOLD_CACHE_SIZE
    assert streets[0] in norm._folded and streets[-1] not in norm._folded
    assert norm.fold(streets[-1]) == norm.fold_uncached(streets[-1]) == f"hauptstrasse {len(streets) - 1}"
    norm._folded.clear()


def test_phone_numbers_are_cached_up_to_the_bound() -> None:
    phones.normalise_phone.cache_clear()
    numbers = [f"030 {1000000 + n}" for n in range(300)]
    assert [phones.normalise_phone(n, "DE") for n in numbers] == [f"+4930{1000000 + n}" for n in range(300)]
    assert phones.normalise_phone.cache_size() == 300
    phones.normalise_phone.cache_clear()
