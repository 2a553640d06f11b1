"""``shared.dynamo.plain``: DynamoDB's wire format read exactly as boto3's TypeDeserializer reads it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import dynamo
from tests.unit.shared.support import same

_boto3 = TypeDeserializer().deserialize
_wire = TypeSerializer().serialize

numbers = (
    st.decimals(allow_nan=False, allow_infinity=False, places=None)
    .filter(
        lambda d: d == 0 or abs(d.adjusted()) < 120  # DynamoDB's range
    )
    .map(lambda d: d if len(d.as_tuple().digits) <= 38 else Decimal(f"{d:.30e}"))
)
scalars = st.one_of(st.text(max_size=20), numbers, st.integers(-(10**20), 10**20), st.booleans(), st.none())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(values)
def test_every_value_reads_as_boto3_reads_it(value: Any) -> None:
    wire = _wire(value)
    assert same(dynamo.plain(wire), _boto3(wire))


def test_numbers_keep_dynamodbs_digits_and_exponent() -> None:
    for text in ("0", "-0", "1E+2", "0.10", "12345678901234567890123456789012345678", "1.250", "-3.5E-7"):
        wire = {"N": text}
        assert same(dynamo.plain(wire), _boto3(wire)), text


def test_sets_and_binaries_read_as_boto3_reads_them() -> None:
    for wire in (
        {"SS": ["a", "b"]},
        {"NS": ["1", "2.50"]},
        {"B": b"\x00\x01"},
        {"BS": [b"a", b"b"]},
        {"M": {"x": {"L": [{"B": b"z"}, {"SS": ["q"]}]}}},
    ):
        assert dynamo.plain(wire) == _boto3(wire)
    assert isinstance(dynamo.plain({"B": b"\x00"}), Binary)
