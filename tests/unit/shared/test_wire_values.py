"""``shared.dynamo.wire``: values written in DynamoDB's wire format exactly as boto3's TypeSerializer writes them,
and the hot writers (contacts' transactions) using it instead of boto3's per-value type probes."""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import Binary, TypeSerializer
from hypothesis import given, settings
from hypothesis import strategies as st

from services.contacts import store
from services.contacts.cases import repository
from shared import dynamo
from tests.unit.shared.support import same

_boto3 = TypeSerializer().serialize


class Channel(enum.StrEnum):  # a str subclass: boto3 writes the member itself, so must we
    EMAIL = "email"


numbers = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: d == 0 or abs(d.adjusted()) < 120
)
scalars = st.one_of(
    st.text(max_size=20),
    numbers,
    st.integers(-(10**40), 10**40),  # past 38 digits boto3 refuses an int: so must we
    st.booleans(),
    st.none(),
    st.binary(max_size=8),
    st.binary(max_size=8).map(Binary),
    st.just(Channel.EMAIL),
    st.floats(allow_nan=False),  # refused by boto3 (TypeError): so must we
)
sets = st.one_of(
    st.frozensets(st.text(max_size=5), min_size=1, max_size=4).map(set),
    st.frozensets(st.integers(-1000, 1000), min_size=1, max_size=4).map(set),
    st.frozensets(st.binary(max_size=4), min_size=1, max_size=4).map(set),
)
values = st.recursive(
    st.one_of(scalars, sets),
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=5),
    ),
    max_leaves=30,
)


def _outcome(serialize: Any, value: Any) -> tuple[str, Any]:
    try:
        return "ok", serialize(value)
    except Exception as exc:  # the same refusal is part of "the same"
        return "refused", type(exc)


@settings(max_examples=600, deadline=None)
@given(values)
def test_every_value_is_written_as_boto3_writes_it(value: Any) -> None:
    ours, theirs = _outcome(dynamo.wire, value), _outcome(_boto3, value)
    assert ours[0] == theirs[0]
    assert same(ours[1], theirs[1]) if ours[0] == "ok" else ours[1] is theirs[1]


@pytest.mark.parametrize(
    "value", [10**38 - 1, -(10**38) + 1, 10**38, -(10**38), 0, -0, True, False, Decimal("1.10"), Decimal("-0")]
)
def test_the_edges_of_the_fast_cases(value: Any) -> None:
    assert _outcome(dynamo.wire, value) == _outcome(_boto3, value)


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every value boto3's TypeSerializer had to probe for its type."""
    probed: list[Any] = []
    original = TypeSerializer._get_dynamodb_type

    def probe(self: TypeSerializer, value: Any) -> str:
        probed.append(value)
        return str(original(self, value))

    monkeypatch.setattr(TypeSerializer, "_get_dynamodb_type", probe)
    monkeypatch.setattr(store, "table_name", lambda: "contacts")
    return probed


STORED = {
    "PK": "OWNER#o1",
    "SK": "CP#email#p1",
    "value": "a@example.com",
    "revision": 3,
    "validated": False,
    "history": [{"at": "2026-11-29", "by": "imports", "rows": [1, 2]}],
    "note": None,
}


def test_a_transactions_items_are_written_without_boto3s_probes(probes: list[Any]) -> None:
    tx = repository.Tx().put(STORED).update({"PK": "OWNER#o1", "SK": "PROFILE"}, {"language": "de", "revision": 4})
    assert probes == []
    assert tx.items[0]["Put"]["Item"] == {k: _boto3(v) for k, v in STORED.items() if v is not None}
