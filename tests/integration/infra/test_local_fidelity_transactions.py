"""infra.local.fidelity: a transaction's undo log at the cost of what its entries can change, and each condition
checked once in moto's backend. A Put or a Delete keeps the Item it replaces as its own undo, an Update keeps a
copy of what it can change in place (maps, lists, sets); a cancelled transaction still leaves every item as it was,
whatever its updates did to them."""

from __future__ import annotations

import copy
from typing import Any

import moto
import pytest
from botocore.exceptions import ClientError

from infra.local import fidelity

ACCOUNT, REGION = "123456789012", "eu-west-1"


def backend() -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[ACCOUNT][REGION]


def stored(table: str, sk: str) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    return backend().tables[table].get_item(DynamoType({"S": "T"}), DynamoType({"S": sk}))


def key(sk: str) -> dict[str, Any]:
    return {"PK": {"S": "T"}, "SK": {"S": sk}}


# an item with every kind of value, nested: what an update can change in place
RICH = {
    **key("RICH"),
    "label": {"S": "x"},
    "amount": {"N": "10"},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
    "blob": {"B": b"\x00\x01"},
    "tags": {"SS": ["a", "b"]},
    "scores": {"NS": ["1", "2"]},
    "steps": {"L": [{"S": "one"}, {"M": {"at": {"S": "2026"}, "rows": {"L": [{"N": "1"}]}}}]},
    "address": {"M": {"city": {"S": "Köln"}, "zip": {"N": "50667"}, "rooms": {"L": [{"N": "1"}]}}},
    "GSI1PK": {"S": "G"},
    "GSI1SK": {"S": "a"},
}

# (update expression, names, values): each changes the item, most of them in place
UPDATES: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    ("SET label = :v, amount = amount + :one", {}, {":v": {"S": "y"}, ":one": {"N": "1"}}),
    ("SET address.city = :c, address.rooms[0] = :r", {}, {":c": {"S": "Bonn"}, ":r": {"N": "2"}}),
    ("SET steps[1].#r[0] = :r, steps[1].#a = :a", {"#r": "rows", "#a": "at"}, {":r": {"N": "9"}, ":a": {"S": "2"}}),
    ("SET steps = list_append(steps, :l)", {}, {":l": {"L": [{"S": "three"}]}}),
    ("SET #n = if_not_exists(#n, :d), flag = :f", {"#n": "nick"}, {":d": {"S": "d"}, ":f": {"BOOL": False}}),
    ("REMOVE nothing, steps[0], address.zip", {}, {}),
    ("ADD tags :t, scores :s, visits :one", {}, {":t": {"SS": ["c"]}, ":s": {"NS": ["3"]}, ":one": {"N": "1"}}),
    ("DELETE tags :t", {}, {":t": {"SS": ["a"]}}),
    ("SET copied.city = :c", {}, {":c": {"S": "Bonn"}}),  # copied shares its map with address (below)
    ("SET GSI1PK = :p, GSI1SK = :s", {}, {":p": {"S": "H"}, ":s": {"S": "b"}}),
]


def _update(expression: str, names: dict[str, str], values: dict[str, Any], table: str) -> dict[str, Any]:
    body: dict[str, Any] = {"TableName": table, "Key": key("RICH"), "UpdateExpression": expression}
    if names:
        body["ExpressionAttributeNames"] = names
    if values:
        body["ExpressionAttributeValues"] = values
    return {"Update": body}


def _fails(table: str) -> dict[str, Any]:
    check = {"TableName": table, "Key": key("CHECK"), "ConditionExpression": "attribute_not_exists(PK)"}
    return {"ConditionCheck": check}


def _read(ddb: Any, table: str) -> list[Any]:
    items = sorted(ddb.scan(TableName=table, ConsistentRead=True)["Items"], key=lambda i: i["SK"]["S"])
    index = ddb.query(
        TableName=table,
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :g",
        ExpressionAttributeValues={":g": {"S": "G"}},
    )["Items"]
    return [items, index]


@pytest.mark.parametrize(("expression", "names", "values"), UPDATES)
def test_a_cancelled_update_leaves_its_item_as_it_was_whatever_it_changed_in_place(
    ddb: Any, table: str, expression: str, names: dict[str, str], values: dict[str, Any]
) -> None:
    def fresh() -> list[Any]:
        ddb.put_item(TableName=table, Item=RICH)
        # an update that leaves the item sharing a map between two attributes, as moto's SET of a path does
        ddb.update_item(TableName=table, Key=key("RICH"), UpdateExpression="SET copied = address")
        return _read(ddb, table)

    ddb.put_item(TableName=table, Item={**key("CHECK"), "v": {"S": "1"}})
    before = fresh()
    # the update alone does change the item: the undo below has something to undo
    ddb.transact_write_items(TransactItems=[_update(expression, names, values, table)])
    assert _read(ddb, table) != before
    assert fresh() == before
    # the same update in a transaction its last entry cancels: the item is what it was
    with pytest.raises(ClientError) as failed:
        ddb.transact_write_items(TransactItems=[_update(expression, names, values, table), _fails(table)])
    assert [r["Code"] for r in failed.value.response["CancellationReasons"]] == ["None", "ConditionalCheckFailed"]
    assert _read(ddb, table) == before
    # and a nested change after the rollback reaches the restored item only (nothing it shares with the undone one)
    ddb.update_item(
        TableName=table,
        Key=key("RICH"),
        UpdateExpression="SET address.city = :c",
        ExpressionAttributeValues={":c": {"S": "Aachen"}},
    )
    after = ddb.get_item(TableName=table, Key=key("RICH"), ConsistentRead=True)["Item"]
    assert after["address"]["M"]["city"] == {"S": "Aachen"}


def test_a_cancelled_transaction_puts_back_the_very_items_it_replaced_or_deleted(ddb: Any, table: str) -> None:
    """A Put stores a new Item and a Delete drops the stored one; neither changes the Item it replaces, so that Item
    is its own undo: no copy is made, and the cancelled transaction puts the very object back."""
    for sk in ("PUT", "DELETE", "UPDATE", "CHECK"):
        ddb.put_item(TableName=table, Item={**key(sk), "v": {"S": "1"}, "nested": {"M": {"n": {"N": "1"}}}})
    before = _read(ddb, table)
    replaced, deleted, updated = stored(table, "PUT"), stored(table, "DELETE"), stored(table, "UPDATE")
    with pytest.raises(ClientError):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {**key("PUT"), "v": {"S": "2"}}}},
                {"Delete": {"TableName": table, "Key": key("DELETE")}},
                _update_of("UPDATE", table),
                _fails(table),
            ]
        )
    assert _read(ddb, table) == before
    assert stored(table, "PUT") is replaced
    assert stored(table, "DELETE") is deleted
    assert stored(table, "UPDATE") is not updated  # changed in place, then replaced by its undo copy


def _update_of(sk: str, table: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": table,
            "Key": key(sk),
            "UpdateExpression": "SET nested.n = :n",
            "ExpressionAttributeValues": {":n": {"N": "2"}},
        }
    }


def test_an_undo_copy_is_a_deep_copy_sharing_only_scalars() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    item = Item(DynamoType(RICH["PK"]), DynamoType(RICH["SK"]), RICH)
    mine, theirs = fidelity._undo_copy(item), copy.deepcopy(item)
    assert type(mine) is type(theirs) is Item
    assert mine.to_json() == theirs.to_json() == item.to_json()
    assert (mine.hash_key, mine.range_key) == (item.hash_key, item.range_key)

    def parts(value: Any) -> list[Any]:
        inner = value.value
        kids = inner.values() if isinstance(inner, dict) else inner if value.type == "L" else []
        return [value, *[p for kid in kids for p in parts(kid)]]

    for name, value in item.attrs.items():
        for original, copied in zip(parts(value), parts(mine.attrs[name]), strict=True):
            if original.type in ("S", "N", "B", "BOOL", "NULL"):
                assert copied is original  # never changed in place: shared
            else:
                assert copied is not original and copied.value is not original.value
                assert copied.type == original.type and copied == original
    assert fidelity._undo_copy(None) is None


def test_a_transactions_conditions_are_parsed_once_each_in_the_backend(
    ddb: Any, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto's transaction checks each entry's condition, then its update_item parsed and checked it again on the
    same item; the second one is dropped. A failing condition still cancels the transaction at its entry."""
    from moto.dynamodb.comparisons import ConditionExpressionParser

    for sk in ("A", "B", "C"):
        ddb.put_item(TableName=table, Item={**key(sk), "v": {"S": sk}})
    parsed: list[str] = []
    original = ConditionExpressionParser.parse

    def counted(self: Any) -> Any:
        parsed.append(self.condition_expression)
        return original(self)

    monkeypatch.setattr(ConditionExpressionParser, "parse", counted)

    def guarded(sk: str, expected: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": table,
                "Key": key(sk),
                "UpdateExpression": "SET w = :w",
                "ConditionExpression": "attribute_exists(PK) AND #v = :v",
                "ExpressionAttributeNames": {"#v": "v"},
                "ExpressionAttributeValues": {":w": {"S": "new"}, ":v": {"S": expected}},
            }
        }

    backend().transact_write_items([guarded(sk, sk) for sk in ("A", "B", "C")])
    assert len([p for p in parsed if p]) == 3  # moto's own: 6
    assert [ddb.get_item(TableName=table, Key=key(sk))["Item"]["w"]["S"] for sk in ("A", "B", "C")] == ["new"] * 3
    with pytest.raises(ClientError) as failed:
        ddb.transact_write_items(TransactItems=[guarded("A", "A"), guarded("B", "not B"), guarded("C", "C")])
    assert [r["Code"] for r in failed.value.response["CancellationReasons"]] == [
        "None",
        "ConditionalCheckFailed",
        "None",
    ]
    # a plain UpdateItem still checks its condition
    with pytest.raises(ClientError) as refused:
        ddb.update_item(
            TableName=table,
            Key=key("A"),
            UpdateExpression="SET w = :w",
            ConditionExpression="#v = :v",
            ExpressionAttributeNames={"#v": "v"},
            ExpressionAttributeValues={":w": {"S": "newer"}, ":v": {"S": "not A"}},
        )
    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"


def test_the_transaction_patches_are_pinned_to_the_installed_moto() -> None:
    # executors.py and dynamo_type.py say where moto changes a stored value in place: _undo_copy relies on it
    assert moto.__version__ == fidelity.PINNED_MOTO
    assert fidelity.moto_sources() == fidelity.PINNED_SOURCES
