"""A bounded cache that stops changing once full, for values read again and again while a big file is imported.

``functools.lru_cache`` evicts its oldest entry for every new value once full. On an import of near-unique values
(phone numbers, streets with house numbers: one per debtor) that is every row: each eviction frees a few small
objects somewhere in the heap and the new entry is allocated among the current batch's short-lived objects, so the
long-lived entries spread over more and more of Python's arenas, which can then not be given back. The resident
set went on growing with the file although the live objects did not (bench/RESULTS.md: imports_memory, eighth
session). A cache kept as it is once full allocates nothing after it has filled; values seen later are worked out
each time. The values that repeat most (names, a client's frequent area codes) are the ones seen first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Protocol, TypeVar, cast

R = TypeVar("R")
_MISSING = object()


class KeptOnceFull(Protocol[R]):
    """What ``kept_once_full`` returns: the function, cached, and its cache's controls (tests)."""

    __wrapped__: Callable[..., R]

    def __call__(self, *args: Hashable) -> R: ...

    def cache_clear(self) -> None: ...

    def cache_size(self) -> int: ...


def kept_once_full(maxsize: int) -> Callable[[Callable[..., R]], KeptOnceFull[R]]:
    """Cache a function of positional, hashable arguments in a dict of at most ``maxsize`` results, kept as they are
    once it is full (no eviction). An exception is not cached (as with ``lru_cache``)."""

    def decorate(function: Callable[..., R]) -> KeptOnceFull[R]:
        cache: dict[tuple[Hashable, ...], R] = {}

        def cached(*args: Hashable) -> R:
            result = cache.get(args, _MISSING)
            if result is _MISSING:
                result = function(*args)
                if len(cache) < maxsize:
                    cache[args] = result
            return cast(R, result)

        functools.update_wrapper(cached, function)
        cached.cache_clear = cache.clear  # type: ignore[attr-defined]
        cached.cache_size = cache.__len__  # type: ignore[attr-defined]
        return cast(KeptOnceFull[R], cached)

    return decorate
