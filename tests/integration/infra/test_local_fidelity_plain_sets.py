"""infra.local.fidelity: a plain SET update (every action ``SET <attribute> = :value``) is validated in one pass
over its actions, not by moto's seven tree walks. Its answers are moto's own: every response of the scenario below
(results, items, errors with their messages, cancellation reasons) is the same through moto's own path; the
validated tree is the one moto's processors make, node by node; and the pass walks no tree."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from infra.local import fidelity
from tests.integration.infra.test_local_fidelity_requests import differential_run
from tests.integration.support import create_pk_sk_gsi1_table

ACCOUNT, REGION = "123456789012", "eu-west-1"
CHECKS = {
    "M": {
        "checked_at": {"S": "2026-11-29T20:00:00+00:00"},
        "phone": {
            "M": {"valid": {"BOOL": True}, "line_type": {"S": "mobile"}, "zones": {"L": [{"S": "Europe/Berlin"}]}}
        },
        "email": {"NULL": True},
    }
}

# (update expression, names, values): each one valid and plain, run on a stored item and on a missing one
PLAIN: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    ("SET checks = :c", {}, {":c": CHECKS}),
    (
        "SET #f0 = :v0, #f1 = :v1, #f2 = :v2",
        {"#f0": "status", "#f1": "provider_message_id", "#f2": "delivered_at"},
        {":v0": {"S": "delivered"}, ":v1": {"S": "ses-1"}, ":v2": {"S": "2026-11-29T20:00:00Z"}},
    ),
    ("SET label = :v, amount = :n, tags = :t", {}, {":v": {"S": "y"}, ":n": {"N": "7"}, ":t": {"SS": ["z"]}}),
    ("SET #a = :a, steps = :l", {"#a": "address"}, {":a": {"M": {}}, ":l": {"L": []}}),
    ("SET gone = :b, flag = :f", {}, {":b": {"B": "AAE="}, ":f": {"BOOL": False}}),
    ("SET GSI1PK = :p, GSI1SK = :s", {}, {":p": {"S": "CLIENT#2"}, ":s": {"S": "2026-11-29"}}),
    ("SET #k = :e", {"#k": "GSI1SK"}, {":e": {"S": ""}}),  # moto checks an index key's value by its spelling
    ("  SET label=:v,amount =:n  ", {}, {":v": {"S": "w"}, ":n": {"N": "-1.50"}}),
]

# (update expression, names, values, what moto's error says): each one plain and refused, in moto's order
REFUSED: list[tuple[str, dict[str, str], dict[str, Any], str]] = [
    ("SET label = :v, other = :nowhere", {}, {":v": {"S": "y"}}, "value: :nowhere"),
    ("SET #n = :v, size = :v", {"#n": "label"}, {":v": {"S": "y"}}, "reserved keyword"),
    ("SET label = :v, other = :nowhere, size = :v", {}, {":v": {"S": "y"}}, "value: :nowhere"),  # values first
    ("SET GSI1SK = :e, GSI1PK = :n", {}, {":e": {"S": ""}, ":n": {"N": "1"}}, "Type mismatch for key GSI1PK"),
    ("SET GSI1PK = :e", {}, {":e": {"S": ""}}, "empty string value"),
    ("SET #k = :v", {"#k": "PK"}, {":v": {"S": "OWNER#99"}}, "Cannot update attribute PK"),
    ("SET label = :v, big = :b", {}, {":v": {"S": "half"}, ":b": {"S": "x" * 410_000}}, "Item size to update"),
]


def _item(n: int) -> dict[str, Any]:
    return {
        "PK": {"S": f"OWNER#{n}"},
        "SK": {"S": "CP#phone"},
        "value": {"S": f"+49151{n:07d}"},
        "label": {"S": "x"},
        "amount": {"N": "10"},
        "GSI1PK": {"S": "CLIENT#1"},
        "GSI1SK": {"S": f"OWNER#{n}"},
    }


def _key(n: int) -> dict[str, Any]:
    return {"PK": {"S": f"OWNER#{n}"}, "SK": {"S": "CP#phone"}}


def _error(fn: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        fn()
    return dict(caught.value.response)


def _extra(names: dict[str, str], values: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {"ExpressionAttributeValues": values}
    if names:
        extra["ExpressionAttributeNames"] = names
    return extra


def plain_sets_scenario(ddb: Any, table: str) -> None:
    create_pk_sk_gsi1_table(ddb, table)
    for n in range(1, 40):
        ddb.put_item(TableName=table, Item=_item(n))
    returns = ("ALL_NEW", "UPDATED_OLD", "ALL_OLD", "UPDATED_NEW", "NONE")
    for i, (expression, names, values) in enumerate(PLAIN):
        for n in (1, 2, 100 + i):  # two stored items (the second takes the checks kept), one the update creates
            ddb.update_item(
                TableName=table,
                Key=_key(n),
                UpdateExpression=expression,
                ReturnValues=returns[(i + n) % len(returns)],
                **_extra(names, values),
            )
    for expression, names, values, _ in REFUSED:
        for n in (3, 3, 200):  # twice on a stored item, once on a missing one: nothing refused is created
            _error(
                lambda: ddb.update_item(
                    TableName=table,
                    Key=_key(n),  # noqa: B023
                    UpdateExpression=expression,  # noqa: B023
                    **_extra(names, values),  # noqa: B023
                )
            )
    # conditions: the checks written back's shape, held and failed (with the item as it stood)
    condition = "attribute_exists(PK) AND #v = :v"
    ddb.update_item(
        TableName=table,
        Key=_key(4),
        UpdateExpression="SET checks = :c",
        ConditionExpression=condition,
        ExpressionAttributeNames={"#v": "value"},
        ExpressionAttributeValues={":c": CHECKS, ":v": _item(4)["value"]},
        ReturnValues="ALL_NEW",
    )
    _error(
        lambda: ddb.update_item(
            TableName=table,
            Key=_key(5),
            UpdateExpression="SET checks = :c",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#v": "value"},
            ExpressionAttributeValues={":c": CHECKS, ":v": {"S": "changed"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    )

    def checks(n: int, value: dict[str, Any], expression: str = "SET checks = :c") -> dict[str, Any]:
        return {
            "Update": {
                "TableName": table,
                "Key": _key(n),
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#v": "value"},
                "ExpressionAttributeValues": {":c": CHECKS, ":v": value},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    ddb.transact_write_items(TransactItems=[checks(n, _item(n)["value"]) for n in range(10, 30)])
    _error(  # one changed point cancels the transaction: nothing of it written
        lambda: ddb.transact_write_items(
            TransactItems=[checks(n, _item(n)["value"] if n != 35 else {"S": "changed"}) for n in range(30, 40)]
        )
    )
    _error(  # a refused plain SET in a transaction: moto's reason, nothing written
        lambda: ddb.transact_write_items(
            TransactItems=[checks(30, _item(30)["value"]), checks(31, _item(31)["value"], "SET checks = :nowhere")]
        )
    )
    for n in [*range(1, 40), *(100 + i for i in range(len(PLAIN))), 200]:
        ddb.get_item(TableName=table, Key=_key(n), ConsistentRead=True)
    for client in ("CLIENT#1", "CLIENT#2"):
        ddb.query(
            TableName=table,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :p",
            ExpressionAttributeValues={":p": {"S": client}},
        )
    ddb.delete_table(TableName=table)


def test_plain_sets_answer_as_moto_does(moto_endpoint: str) -> None:
    assert fidelity.cached_update_expressions() is True
    name = f"plain-{uuid.uuid4().hex[:8]}"

    def run(patched: bool) -> tuple[list[Any], int]:
        return differential_run(
            moto_endpoint, lambda clients: plain_sets_scenario(clients["dynamodb"], name), patched, "plain_sets"
        )

    fast, plain_fast = run(patched=True)
    own, plain_own = run(patched=False)
    assert plain_own == 0
    # every plain update validated in one pass: 3 a valid text, 1 an update creating its item validates twice
    assert plain_fast >= 4 * len(PLAIN) + 2 + 20
    assert [r[0] for r in fast] == [r[0] for r in own]
    for got, expected in zip(fast, own, strict=True):
        assert got == expected, got[0]
    refused = [body["message"] for op, status, _, body in fast if op == "UpdateItem" and status == 400]
    for *_, message in REFUSED:
        assert sum(message in m for m in refused) >= 3, message  # each refusal met, with moto's words


def _shape(node: Any, parent: Any = None, linked: bool = True) -> Any:
    """A validated tree as data: each node's class, ``type`` and children, its parent link checked on the way
    (``normalize`` moves the actions up to the root without linking them to it)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if isinstance(node, DynamoType):
        return ("DynamoType", node.type, node.to_json())
    if not isinstance(node, fidelity._moto.AstNode):
        return node
    assert node.parent is parent or not linked, type(node).__name__
    return (type(node).__name__, node.type, [_shape(c, node, linked) for c in node.children or ()])


@pytest.mark.parametrize(("expression", "names", "values"), PLAIN)
def test_the_validated_tree_is_the_one_moto_makes(
    moto_endpoint: str, expression: str, names: dict[str, str], values: dict[str, Any]
) -> None:
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
    from moto.dynamodb.parsing.validators import UpdateExpressionValidator

    assert fidelity.cached_update_expressions()
    ddb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)
    name = f"plain-tree-{uuid.uuid4().hex[:8]}"
    create_pk_sk_gsi1_table(ddb, name)
    ddb.put_item(TableName=name, Item=_item(1))
    backend = dynamodb_backends[ACCOUNT][REGION]
    table = backend.tables[name]
    item = backend.get_item(name, _key(1))

    def validated() -> Any:
        tree = UpdateExpressionParser.make(expression)
        validator = UpdateExpressionValidator(tree, names or None, values, item, table)  # type: ignore[arg-type]
        return validator.validate()

    before = fidelity.stats["plain_sets"]
    ours = validated()
    assert fidelity.stats["plain_sets"] == before + 1
    with fidelity.moto_own_path():
        theirs = validated()
    assert _shape(ours) == _shape(theirs)
    ours.normalize()
    theirs.normalize()
    assert _shape(ours, linked=False) == _shape(theirs, linked=False)
    ddb.delete_table(TableName=name)


def test_a_plain_set_walks_no_tree_after_its_first_checks(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto walked a plain SET's tree seven times after the three checks of the expression alone (which are kept
    per text): the values, the names, functions, missing paths, operations, key types, empty key values. Nor are
    its ten processors built for it any more."""
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser  # type: ignore[attr-defined]
    from moto.dynamodb.parsing.validators import UpdateExpressionValidator

    ddb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)
    table = f"plain-walk-{uuid.uuid4().hex[:8]}"
    create_pk_sk_gsi1_table(ddb, table)

    def update(n: int) -> None:
        ddb.update_item(
            TableName=table,
            Key=_key(n),
            UpdateExpression="SET checks = :c, #s = :s",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":c": CHECKS, ":s": {"S": "checked"}},
        )

    for n in (1, 2):
        ddb.put_item(TableName=table, Item=_item(n))
    update(1)  # the text's first three checks, once
    walks: list[str] = []
    original = DepthFirstTraverser.traverse
    built = 0
    build = UpdateExpressionValidator.get_ast_processors

    def counted(self: Any, node: Any) -> Any:
        walks.append(type(self).__name__)
        return original(self, node)

    def counted_build(self: Any) -> Any:
        nonlocal built
        built += 1
        return build(self)

    monkeypatch.setattr(DepthFirstTraverser, "traverse", counted)
    monkeypatch.setattr(UpdateExpressionValidator, "get_ast_processors", counted_build)
    update(2)
    monkeypatch.undo()
    assert walks == []
    assert built == 0
    stored = ddb.get_item(TableName=table, Key=_key(2), ConsistentRead=True)["Item"]
    assert (stored["checks"], stored["status"], stored["label"]) == (CHECKS, {"S": "checked"}, {"S": "x"})
    ddb.delete_table(TableName=table)
