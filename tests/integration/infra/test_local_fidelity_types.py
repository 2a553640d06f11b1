"""infra.local.fidelity.cheaper_dynamo_types: moto's DynamoType built and sized as moto builds and sizes it, without
the copies and the detours. Each value is built and sized twice, through the patch and through moto's own code
(``moto_own_path``); the objects, their attributes (in order), their sizes and the errors must be the same."""

from __future__ import annotations

import random
from typing import Any

import moto
import pytest

from infra.local import fidelity


def _tree(value: Any) -> Any:
    """A DynamoType as nested plain data: its class, its attributes in order, its values."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if isinstance(value, DynamoType):
        return (type(value).__name__, [(k, _tree(v)) for k, v in vars(value).items()])
    if isinstance(value, dict):
        return {k: _tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tree(v) for v in value]
    return (type(value).__name__, value)


def _both(build: Any) -> tuple[Any, Any]:
    def outcome() -> Any:
        try:
            return build()
        except Exception as exc:  # the same error either way
            return ("raised", type(exc).__name__, str(exc))

    with fidelity.moto_own_path():
        expected = outcome()
    return outcome(), expected


def _random_value(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    kinds = ["S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS"] + (["M", "L"] * 2 if depth < 4 else [])
    kind = rng.choice(kinds)
    text = "".join(rng.choice("aZ9ë✓ #") for _ in range(rng.randrange(0, 12)))
    if kind == "S":
        return {"S": text}
    if kind == "N":
        return {"N": rng.choice(["0", "-1.50", "12345678901234567890", "1e3"])}
    if kind == "B":
        return {"B": rng.choice([text, text.encode()])}
    if kind in ("BOOL", "NULL"):
        return {kind: rng.random() < 0.5}
    if kind in ("SS", "NS", "BS"):
        return {kind: [text + str(n) for n in range(rng.randrange(1, 4))]}
    if kind == "M":
        return {"M": {f"k{n}{text}": _random_value(rng, depth + 1) for n in range(rng.randrange(0, 4))}}
    return {"L": [_random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]}


def test_the_type_patches_are_pinned_to_the_installed_moto() -> None:
    assert moto.__version__ == fidelity.PINNED_MOTO
    assert fidelity.cheaper_dynamo_types() is True
    assert fidelity.type_sources() == fidelity.PINNED_TYPE_SOURCES
    assert "cheaper-dynamo-types" in fidelity.installed()


def test_random_values_are_built_and_sized_as_moto_builds_and_sizes_them() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    assert fidelity.cheaper_dynamo_types() is True
    rng = random.Random(8)
    for _ in range(3_000):
        raw = _random_value(rng)
        got, expected = _both(lambda raw=raw: _tree(DynamoType(raw)))
        assert got == expected, raw
        got, expected = _both(lambda raw=raw: DynamoType(raw).size())
        assert got == expected, raw
        copied, expected = _both(lambda raw=raw: _tree(DynamoType(DynamoType(raw))))
        assert copied == expected, raw


ODD: list[Any] = [
    {},
    None,
    {"S": True},  # a JSON type other than the attribute type's: sized as moto sizes it
    {"N": 5},
    {"M": {"a": {"S": "x"}}, "S": "second member ignored"},
    {"L": "not a list"},
    {"M": []},
    {"SS": [True, "x"]},
    {"S": 5},
    {"B": None},
]


@pytest.mark.parametrize("raw", ODD, ids=[repr(v)[:40] for v in ODD])
def test_odd_input_is_built_sized_or_refused_as_moto_does(raw: Any) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    assert fidelity.cheaper_dynamo_types() is True
    got, expected = _both(lambda: _tree(DynamoType(raw)))
    assert got == expected
    got, expected = _both(lambda: DynamoType(raw).size())
    assert got == expected


def test_sizing_a_nested_map_makes_no_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto sizes each value of a map by sizing a fresh copy of it, copies of copies down the nesting."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    assert fidelity.cheaper_dynamo_types() is True
    value = DynamoType({"M": {"a": {"M": {"b": {"M": {"c": {"L": [{"S": "x"}, {"M": {"d": {"N": "1"}}}]}}}}}}})
    built: list[Any] = []
    init = DynamoType.__init__

    def counting(self: Any, raw: Any) -> None:
        built.append(raw)
        init(self, raw)

    monkeypatch.setattr(DynamoType, "__init__", counting)
    assert value.size() == 6  # the keys "a", "b", "c", "d", the string "x" and the number "1": a byte each
    assert built == []


def test_values_hash_and_compare_as_moto_hashes_and_compares_them() -> None:
    """The same hash (a dict keyed by values built one way finds them built the other way) and the same answer of
    ``==`` for every pair, types mixed, and the same error for what is not a value."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    assert fidelity.cheaper_dynamo_types() is True
    rng = random.Random(12)
    raws = [_random_value(rng) for _ in range(400)] + [{"S": "1"}, {"N": "1"}, {"N": "1.0"}, {"B": "1"}, {"S": ""}]
    raws += [{"BOOL": True}, {"N": "1"}, {"S": "x"}, {"S": "x"}, {"B": b"x"}, {"B": "x"}]
    values = [DynamoType(raw) for raw in raws]
    for value in values:
        got, expected = _both(lambda value=value: hash(value))
        assert got == expected, value
    for a in values:
        for b in [*rng.sample(values, 40), DynamoType(a.to_json()), DynamoType({"S": str(a.value)})]:
            got, expected = _both(lambda a=a, b=b: a == b)
            assert got == expected and type(got) is type(expected), (a, b)
        got, expected = _both(lambda a=a: a == "not a value")
        assert got == expected
    hashed = {DynamoType({"S": "k"}): 1, DynamoType({"N": "2"}): 2, DynamoType({"B": "k"}): 3}
    with fidelity.moto_own_path():
        assert [hashed.get(DynamoType(raw)) for raw in ({"S": "k"}, {"N": "2.0"}, {"B": "k"}, {"S": "2"})] == [
            1,
            2,
            3,
            None,
        ]
    assert [hashed.get(DynamoType(raw)) for raw in ({"S": "k"}, {"N": "2.0"}, {"B": "k"}, {"S": "2"})] == [
        1,
        2,
        3,
        None,
    ]


def test_a_string_key_is_hashed_and_compared_without_its_cast_value(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    assert fidelity.cheaper_dynamo_types() is True
    cast: list[Any] = []
    original = DynamoType.__dict__["cast_value"].fget

    def counted(self: Any) -> Any:
        cast.append(self)
        return original(self)

    monkeypatch.setattr(DynamoType, "cast_value", property(counted))
    partition = {DynamoType({"S": f"CP#{n}"}): n for n in range(10)}
    assert partition[DynamoType({"S": "CP#7"})] == 7 and DynamoType({"BOOL": True}) == DynamoType({"BOOL": True})
    assert cast == []
    assert DynamoType({"N": "7"}) == DynamoType({"N": "7.0"}) and len(cast) == 2  # numbers keep moto's own
