"""infra.local.fidelity.cached_update_expressions: moto parses each update expression once per text and copies its
tree without deepcopy, and answers every UpdateItem and transactional Update exactly as its own code does. The
scenario runs twice on the session's server, once with the patches and once through moto's own path; every response
(results, items, errors with their messages and cancellation reasons) must be the same."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import moto
import pytest
from botocore.exceptions import ClientError

from infra.local import fidelity
from tests.integration.infra.test_local_fidelity_requests import differential_run
from tests.integration.support import create_pk_sk_gsi1_table


def _item(n: int) -> dict[str, Any]:
    return {
        "PK": {"S": f"OWNER#{n}"},
        "SK": {"S": "PROFILE"},
        "amount": {"N": "10"},
        "label": {"S": "x"},
        "tags": {"SS": ["a", "b"]},
        "scores": {"NS": ["1", "2"]},
        "steps": {"L": [{"S": "one"}, {"S": "two"}, {"S": "three"}]},
        "address": {"M": {"city": {"S": "Köln"}, "zip": {"N": "50667"}, "rooms": {"L": [{"N": "1"}]}}},
        "gone": {"NULL": True},
    }


def _key(n: int) -> dict[str, Any]:
    return {"PK": {"S": f"OWNER#{n}"}, "SK": {"S": "PROFILE"}}


# (update expression, names, values): each one valid, run on two items so the second takes the kept tree
VALID: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    ("SET label = :v", {}, {":v": {"S": "y"}}),
    ("SET address.city = :c, address.rooms[0] = :r", {}, {":c": {"S": "Bonn"}, ":r": {"N": "2"}}),
    ("SET #n = if_not_exists(#n, :d), #m = if_not_exists(label, :d)", {"#n": "nick", "#m": "kept"}, {":d": {"S": "d"}}),
    ("SET steps = list_append(steps, :l)", {}, {":l": {"L": [{"S": "four"}]}}),
    ("SET steps = list_append(:l, steps)", {}, {":l": {"L": [{"S": "zero"}]}}),
    ("SET amount = amount + :one, rest = :ten - amount", {}, {":one": {"N": "1"}, ":ten": {"N": "10"}}),
    ("REMOVE gone, steps[0], steps[2], address.zip", {}, {}),
    ("ADD tags :t, visits :n", {}, {":t": {"SS": ["c"]}, ":n": {"N": "5"}}),
    ("DELETE tags :t", {}, {":t": {"SS": ["a"]}}),
    (
        "SET #a.#b = :v REMOVE label ADD scores :s",
        {"#a": "address", "#b": "street"},
        {":v": {"S": "Ring"}, ":s": {"NS": ["3"]}},
    ),
    ("SET steps[9] = :v", {}, {":v": {"S": "appended"}}),
    ("SET GSI1PK = :p, GSI1SK = :s", {}, {":p": {"S": "CLIENT#1"}, ":s": {"S": "2026-11-28"}}),
    ("   SET  amount=amount-:one  ", {}, {":one": {"N": "1"}}),
]

# (update expression, names, values, what moto's error says): each one refused
REFUSED: list[tuple[str, dict[str, str], dict[str, Any], str]] = [
    ("SET label.deeper.way = :v", {}, {":v": {"S": "y"}}, "document path provided in the update expression is invalid"),
    ("SET absent.inner = :v", {}, {":v": {"S": "y"}}, "document path provided in the update expression is invalid"),
    ("SET label = :nowhere, other = :v", {}, {":v": {"S": "y"}}, "value: :nowhere"),
    ("SET address.#nobody = :v, #n = :v", {"#n": "label"}, {":v": {"S": "y"}}, "#nobody"),
    ("SET amount = amount + :s", {}, {":s": {"S": "text"}}, "Incorrect operand type for operator or function"),
    ("SET label = list_append(label, :l)", {}, {":l": {"L": []}}, "Incorrect operand type for operator or function"),
    ("SET nothing = list_append(nothing, :l)", {}, {":l": {"L": []}}, "attribute that does not exist"),
    ("SET rest = nothing + :one", {}, {":one": {"N": "1"}}, "attribute that does not exist"),
    ("SET PK = :v", {}, {":v": {"S": "OWNER#99"}}, "Cannot update attribute PK"),
    ("SET label = :v, label = :v", {}, {":v": {"S": "y"}}, "Two document paths overlap"),
    ("SET address.city = :v, address = :v", {}, {":v": {"S": "y"}}, "Two document paths overlap"),
    ("SET label = :v SET amount = :v", {}, {":v": {"S": "y"}}, "SET"),
    ("SET name = :v", {}, {":v": {"S": "y"}}, "reserved keyword"),
    ("SET label = = :v", {}, {":v": {"S": "y"}}, "Invalid UpdateExpression: Syntax error"),
    ("SET GSI1PK = :n", {}, {":n": {"N": "1"}}, "Type mismatch for key GSI1PK"),
    ("SET GSI1PK = :e", {}, {":e": {"S": ""}}, "empty string value"),
    ("ADD label :n", {}, {":n": {"N": "1"}}, "incorrect data type"),
]


def _error(fn: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        fn()
    return dict(caught.value.response)


def updates_scenario(ddb: Any, table: str) -> None:
    create_pk_sk_gsi1_table(ddb, table)
    for n in range(1, 5):
        ddb.put_item(TableName=table, Item=_item(n))
    for expression, names, values in VALID:
        for n in (1, 2):
            extra: dict[str, Any] = {"ExpressionAttributeNames": names} if names else {}
            if values:
                extra["ExpressionAttributeValues"] = values
            ddb.update_item(TableName=table, Key=_key(n), UpdateExpression=expression, ReturnValues="ALL_NEW", **extra)
    for expression, names, values, _ in REFUSED:
        for n in (3, 3):  # the same error twice: nothing of a refused expression is kept
            extra = {"ExpressionAttributeNames": names} if names else {}
            _error(
                lambda: ddb.update_item(
                    TableName=table,
                    Key=_key(n),  # noqa: B023
                    UpdateExpression=expression,  # noqa: B023
                    ExpressionAttributeValues=values,  # noqa: B023
                    **extra,  # noqa: B023
                )
            )
    # an update that creates its item, one with a condition that holds, one whose condition fails
    for n in (7, 8):
        ddb.update_item(
            TableName=table,
            Key=_key(n),
            UpdateExpression="SET amount = if_not_exists(amount, :zero) + :one ADD seen :one",
            ExpressionAttributeValues={":zero": {"N": "0"}, ":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
    ddb.update_item(
        TableName=table,
        Key=_key(4),
        UpdateExpression="SET label = :v",
        ConditionExpression="label = :old",
        ExpressionAttributeValues={":v": {"S": "z"}, ":old": {"S": "x"}},
        ReturnValues="UPDATED_OLD",
    )
    _error(
        lambda: ddb.update_item(
            TableName=table,
            Key=_key(4),
            UpdateExpression="SET label = :v",
            ConditionExpression="label = :old",
            ExpressionAttributeValues={":v": {"S": "w"}, ":old": {"S": "x"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    )

    # transactions: Updates with the same texts; one whose condition fails cancels all; one with a bad path
    def update(n: int, expression: str, values: dict[str, Any], condition: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "TableName": table,
            "Key": _key(n),
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
        }
        if condition:
            body["ConditionExpression"] = condition
            body["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return {"Update": body}

    ddb.transact_write_items(
        TransactItems=[
            update(n, "SET label = :v ADD visits :one", {":v": {"S": "t"}, ":one": {"N": "1"}}) for n in (1, 2, 3)
        ]
    )
    _error(
        lambda: ddb.transact_write_items(
            TransactItems=[
                update(1, "SET label = :v", {":v": {"S": "never"}}),
                update(2, "SET label = :v", {":v": {"S": "never"}}, condition="attribute_not_exists(PK)"),
            ]
        )
    )
    _error(
        lambda: ddb.transact_write_items(
            TransactItems=[
                update(1, "SET label = :v", {":v": {"S": "never"}}),
                update(2, "SET label.deeper.way = :v", {":v": {"S": "never"}}),
            ]
        )
    )
    for n in (1, 2, 3, 4, 7, 8):
        ddb.get_item(TableName=table, Key=_key(n), ConsistentRead=True)
    ddb.query(
        TableName=table,
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :p",
        ExpressionAttributeValues={":p": {"S": "CLIENT#1"}},
    )
    ddb.delete_table(TableName=table)


def _run(moto_endpoint: str, name: str, patched: bool) -> tuple[list[Any], int]:
    return differential_run(
        moto_endpoint, lambda clients: updates_scenario(clients["dynamodb"], name), patched, "update_expressions_reused"
    )


def test_updates_answer_as_moto_does_with_each_expression_parsed_once(moto_endpoint: str) -> None:
    assert fidelity.cached_update_expressions() is True
    name = f"updates-{uuid.uuid4().hex[:8]}"
    fidelity._updates.clear()
    fast, reused_fast = _run(moto_endpoint, name, patched=True)
    own, reused_own = _run(moto_endpoint, name, patched=False)
    assert reused_own == 0
    # each valid text parsed once, then kept: by the handler and the backend, for both items
    assert reused_fast >= 3 * len(VALID)
    assert [r[0] for r in fast] == [r[0] for r in own]
    for got, expected in zip(fast, own, strict=True):
        assert got == expected, got[0]
    # the scenario met what it means to compare: every refusal with its own message, twice
    refused = [body["message"] for op, status, _, body in fast if op == "UpdateItem" and status == 400]
    assert len(refused) == 2 * len(REFUSED) + 1  # + the failed condition
    for i, (expression, _, _, says) in enumerate(REFUSED):
        assert says in refused[2 * i] and refused[2 * i] == refused[2 * i + 1], (expression, refused[2 * i])
    cancelled = [body for op, status, _, body in fast if op == "TransactWriteItems" and status == 400]
    assert [r["Code"] for r in cancelled[0]["CancellationReasons"]] == ["None", "ConditionalCheckFailed"]
    assert "document path provided in the update expression is invalid" in cancelled[1]["message"]
    # and the updates did what they say: the second item after every valid expression
    item = next(body["Attributes"] for op, status, _, body in fast if op == "UpdateItem" and status == 200
                and body.get("Attributes", {}).get("steps", {}).get("L", [{}])[-1] == {"S": "appended"}
                and body["Attributes"]["PK"] == {"S": "OWNER#2"})  # fmt: skip
    assert item["address"]["M"]["street"] == {"S": "Ring"} and "zip" not in item["address"]["M"]
    assert item["tags"] == {"SS": ["b", "c"]} and item["visits"] == {"N": "5"} and "label" not in item


def _nodes(node: Any) -> list[Any]:
    from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]

    out = [node]
    for child in node.children or []:
        if isinstance(child, Node):
            out += _nodes(child)
    return out


def _shape(node: Any, parent: Any) -> Any:
    """Classes, attributes and leaves of a tree, each node checked to be linked to its parent."""
    from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]

    assert node.parent is parent and set(vars(node)) == {"type", "children", "parent"}
    kids = [_shape(c, node) if isinstance(c, Node) else (type(c), c) for c in node.children or []]
    return (type(node), node.type, kids)


def test_an_update_tree_is_copied_as_deepcopy_copies_it() -> None:
    import copy

    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    for expression, *_ in VALID + REFUSED[:13]:  # the ones that parse
        tree = UpdateExpressionParser.make(expression)
        mine, theirs = fidelity._clone(tree, None), copy.deepcopy(tree)
        assert _shape(mine, None) == _shape(theirs, None) == _shape(tree, None)
        copied, kept = _nodes(mine), _nodes(tree)
        assert not {id(n) for n in copied} & {id(n) for n in kept}  # nothing shared with the kept tree
        assert all(c.children is not k.children for c, k in zip(copied, kept, strict=True) if c.children)


def test_the_update_patches_are_pinned_to_the_installed_moto() -> None:
    assert moto.__version__ == fidelity.PINNED_MOTO
    assert fidelity.update_sources() == fidelity.PINNED_UPDATE_SOURCES
    assert "cached-update-expressions" in fidelity.installed()
