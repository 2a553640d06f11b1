"""Helpers of the tests of shared/."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (``Decimal("1.0") == 1`` would hide a changed type, a tuple
    where boto3 gives a list, a plain string where it keeps an enum member)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Decimal):
        return a.as_tuple() == b.as_tuple()  # same digits and exponent, not only the same value
    return bool(a == b)


def model_shapes(shape: Any, seen: set[str] | None = None) -> list[Any]:
    """A botocore shape and every shape under it, each once (by name)."""
    seen = set() if seen is None else seen
    if shape.name in seen:
        return []
    seen.add(shape.name)
    found = [shape]
    children = (
        list(shape.members.values())
        if shape.type_name == "structure"
        else [shape.member]
        if shape.type_name == "list"
        else [shape.key, shape.value]
        if shape.type_name == "map"
        else []
    )
    for child in children:
        found.extend(model_shapes(child, seen))
    return found
