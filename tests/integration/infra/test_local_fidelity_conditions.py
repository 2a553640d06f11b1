"""moto's condition expressions parsed once per (expression, names): each request's values put into the kept
tree (``infra.local.fidelity._parse_condition``). Conditions must decide exactly as moto's own parser decides, for
every value, and raise as it raises."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.models.dynamo_type import DynamoType, Item

from infra.local import fidelity
from tests.integration.support import create_pk_sk_gsi1_table

EXPRESSIONS: list[tuple[str, dict[str, str] | None]] = [
    ("attribute_exists(PK) AND #v = :v", {"#v": "value"}),
    ("attribute_not_exists(PK)", None),
    ("attribute_exists(PK) AND (attribute_not_exists(#rev) OR #rev = :expected_rev)", {"#rev": "revision"}),
    ("#rev = :expected_rev", {"#rev": "revision"}),
    ("#s IN (:a, :b) AND NOT begins_with(#v, :p)", {"#s": "status", "#v": "value"}),
    ("#n BETWEEN :low AND :high OR size(#v) > :len", {"#n": "n", "#v": "value"}),
    ("attribute_type(#v, :t) AND contains(tags, :a)", {"#v": "value"}),
    ("#h[0].#at = :a AND #ad.city <> :b", {"#h": "history", "#at": "at", "#ad": "address"}),
]
VALUES = [
    {":v": {"S": "+4930123"}, ":expected_rev": {"N": "3"}, ":a": {"S": "open"}, ":b": {"S": "closed"}},
    {":v": {"S": "+4930999"}, ":expected_rev": {"N": "0"}, ":a": {"S": "x"}, ":b": {"S": "open"}},
    {":v": {"N": "7"}, ":expected_rev": {"N": "4"}, ":a": {"S": "2026"}, ":b": {"S": "Köln"}},
]
for values in VALUES:
    values.update({":p": {"S": "+49"}, ":low": {"N": "1"}, ":high": {"N": "5"}, ":len": {"N": "6"}, ":t": {"S": "S"}})


def _item(value: dict[str, Any], revision: str | None, status: str, n: str) -> Item:
    attrs: dict[str, Any] = {
        "PK": {"S": "OWNER#1"},
        "SK": {"S": "CP#1"},
        "value": value,
        "status": {"S": status},
        "n": {"N": n},
        "tags": {"SS": ["open", "x"]},
        "history": {"L": [{"M": {"at": {"S": "2026"}}}]},
        "address": {"M": {"city": {"S": "Köln"}}},
    }
    if revision is not None:
        attrs["revision"] = {"N": revision}
    return Item(DynamoType({"S": "OWNER#1"}), DynamoType({"S": "CP#1"}), attrs)


ITEMS = [
    None,
    _item({"S": "+4930123"}, "3", "open", "2"),
    _item({"S": "+4930999"}, None, "closed", "9"),
    _item({"N": "7"}, "4", "x", "5"),
]


def _decide(expression: str, names: dict[str, str] | None, values: dict[str, Any] | None) -> Any:
    """What a parse of the condition gives: per item its decision, and the names and values it found; or the
    error it raised."""
    parser = ConditionExpressionParser(expression, names, values)
    try:
        op = parser.parse()
    except Exception as exc:
        return ("raised", type(exc).__name__)
    return ([_expr(op, item) for item in ITEMS], parser.expr_attr_names_found, parser.expr_attr_values_found)


def _expr(op: Any, item: Item | None) -> Any:
    try:
        return op.expr(item)
    except Exception as exc:  # e.g. size() of an attribute the item lacks
        return ("raised", type(exc).__name__)


@pytest.fixture(autouse=True)
def lean() -> None:
    assert fidelity.lean_requests() is True


@pytest.mark.parametrize(("expression", "names"), EXPRESSIONS)
def test_a_kept_condition_decides_as_moto_decides_for_every_requests_values(
    expression: str, names: dict[str, str] | None
) -> None:
    fidelity._conditions.clear()
    for values in [*VALUES, *reversed(VALUES)]:  # the first parse keeps the tree; the others take it
        with fidelity.moto_own_path():
            expected = _decide(expression, names, values)
        assert _decide(expression, names, values) == expected
    assert fidelity._conditions  # kept


@pytest.mark.parametrize(
    ("expression", "names", "values"),
    [
        ("#v = :v", {"#v": "value"}, {}),  # a value the request does not give
        ("#v = :v", {"#v": "value"}, None),
        ("#v = :v", {}, {":v": {"S": "x"}}),  # a name it does not give
        ("#v = :v AND", {"#v": "value"}, {":v": {"S": "x"}}),  # not an expression
        ("((#v = :v))", {"#v": "value"}, {":v": {"S": "x"}}),  # redundant parentheses
    ],
)
def test_a_condition_moto_refuses_is_refused_alike_before_and_after_it_was_kept(
    expression: str, names: dict[str, str] | None, values: dict[str, Any] | None
) -> None:
    with fidelity.moto_own_path():
        refused = _decide(expression, names, values)
    assert refused[0] == "raised"
    assert _decide(expression, names, values) == refused
    _decide(expression, names, {":v": {"S": "kept"}})  # kept, where the names make it parse
    assert _decide(expression, names, values) == refused


def test_each_items_own_value_does_not_parse_the_expression_again(monkeypatch: pytest.MonkeyPatch) -> None:
    fidelity._conditions.clear()
    lexed: list[str] = []
    original = ConditionExpressionParser._lex_condition_expression

    def counting(self: ConditionExpressionParser) -> Any:
        lexed.append(str(self.condition_expression))
        return original(self)

    monkeypatch.setattr(ConditionExpressionParser, "_lex_condition_expression", counting)
    for n in range(50):
        ConditionExpressionParser("attribute_exists(PK) AND #v = :v", {"#v": "value"}, {":v": {"S": f"+49{n}"}}).parse()
    assert lexed == ["attribute_exists(PK) AND #v = :v"]


def test_a_transaction_of_conditional_updates_with_their_own_values_is_cancelled_by_the_one_that_fails(
    moto_endpoint: str,
) -> None:
    """Through moto's server: each point's checks kept only while it has the value checked (as contacts writes
    them); the one whose value changed cancels the whole transaction, naming itself."""
    ddb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="eu-west-1")
    table = f"cond-{uuid.uuid4().hex[:8]}"
    create_pk_sk_gsi1_table(ddb, table)
    keys = [{"PK": {"S": "OWNER#1"}, "SK": {"S": f"CP#{n}"}} for n in range(5)]
    for n, key in enumerate(keys):
        ddb.put_item(TableName=table, Item={**key, "value": {"S": f"+49{n}"}})

    def update(n: int, value: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": table,
                "Key": keys[n],
                "UpdateExpression": "SET checks = :c",
                "ConditionExpression": "attribute_exists(PK) AND #v = :v",
                "ExpressionAttributeNames": {"#v": "value"},
                "ExpressionAttributeValues": {":c": {"S": f"checked {n}"}, ":v": {"S": value}},
            }
        }

    with pytest.raises(ClientError) as cancelled:
        ddb.transact_write_items(TransactItems=[update(n, f"+49{n}" if n != 3 else "+49 changed") for n in range(5)])
    reasons = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed", "None"]
    assert all("checks" not in ddb.get_item(TableName=table, Key=key)["Item"] for key in keys)
    ddb.transact_write_items(TransactItems=[update(n, f"+49{n}") for n in range(5)])
    assert [ddb.get_item(TableName=table, Key=key)["Item"]["checks"]["S"] for key in keys] == [
        f"checked {n}" for n in range(5)
    ]


def _replaced(parser: ConditionExpressionParser, node: Any) -> Any:
    """The tree with the request's values as moto's ``_replace`` would build it, every node new."""
    if node.kind == "EXPRESSION_ATTRIBUTE_VALUE":
        return node._replace(value=parser._lookup_expression_attribute_value(node.text))
    if not node.children:
        return node
    return node._replace(children=[_replaced(parser, child) for child in node.children])


def _nodes(node: Any) -> list[Any]:
    return [node, *[n for child in node.children or [] for n in _nodes(child)]]


@pytest.mark.parametrize(("expression", "names"), EXPRESSIONS)
def test_a_requests_values_go_into_new_nodes_above_them_and_the_rest_is_the_kept_tree(
    expression: str, names: dict[str, str] | None
) -> None:
    """Only the nodes on the way to a ``:value`` are built for a request (as ``_replace`` builds them); a subtree
    without a value is the kept tree's own, and the kept tree keeps no request's value."""
    for values in VALUES:
        parser = ConditionExpressionParser(expression, names, values)
        kept = fidelity._condition_tree(parser)
        before = repr(kept)
        got = fidelity._with_values(parser, kept)
        assert got == _replaced(parser, kept) and repr(got) == repr(_replaced(parser, kept))
        assert type(got) is type(kept)
        kept_ids = {id(n) for n in _nodes(kept)}
        for node in _nodes(got):
            below = _nodes(node)
            has_value = any(n.kind == "EXPRESSION_ATTRIBUTE_VALUE" for n in below)
            assert (id(node) in kept_ids) is (not has_value), node.kind
        assert repr(kept) == before  # nothing of this request's values left in the kept tree
