"""infra.local.fidelity: a query page copied at the cost of what a write can change in place. moto deep-copies
every page it answers, so that the response (serialised after the lock is released) reads the items as they were
and nothing done to the page reaches the store; the page is now a new Item and dict per item with its maps, lists
and sets copied and its scalar values shared. Both guarantees still hold, whatever a later write does."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from infra.local import fidelity
from tests.integration.infra.test_local_fidelity_transactions import RICH, UPDATES, key
from tests.integration.support import create_pk_sk_gsi1_table

ACCOUNT, REGION = "123456789012", "eu-west-1"


@pytest.fixture
def table(ddb: Any) -> str:
    name = f"fidelity-page-{uuid.uuid4().hex[:8]}"
    create_pk_sk_gsi1_table(ddb, name)
    ddb.put_item(TableName=name, Item=RICH)
    # a map shared by two attributes, as moto's SET of a path leaves it (what UPDATES' "copied.city" changes)
    ddb.update_item(TableName=name, Key=key("RICH"), UpdateExpression="SET copied = address")
    for n in range(3):
        ddb.put_item(TableName=name, Item={**key(f"ROW{n}"), "GSI1PK": {"S": "G"}, "GSI1SK": {"S": f"r{n}"}})
    return name


def backend() -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[ACCOUNT][REGION]


def page(table: str, index: bool = False) -> list[Any]:
    """The Items moto's backend hands the Query handler (what it serialises after the lock is released)."""
    hash_key, conditions = (None, [("GSI1PK", {"S": "G"})]) if index else ({"S": "T"}, None)
    index_name = "GSI1" if index else None
    answered: list[Any] = backend().query(
        table, hash_key, None, [], None, None, True, None, index_name, hash_key_conditions=conditions
    )[0]
    return answered


def stored_json(table: str) -> list[Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    partition = backend().tables[table].items[DynamoType({"S": "T"})]
    return [copy.deepcopy(partition[k].to_json()) for k in sorted(partition)]


def _counting_copies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    copied: list[str] = []
    for cls in (Item, DynamoType):
        original = cls.__deepcopy__

        def counted(self: Any, memo: dict[int, Any], original: Any = original, name: str = cls.__name__) -> Any:
            copied.append(name)
            return original(self, memo)

        monkeypatch.setattr(cls, "__deepcopy__", counted)
    return copied


def test_a_query_page_is_answered_without_deep_copying_its_items_or_values(
    ddb: Any, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On moto's own copy a page of 4 items deep-copies 4 Items and every value in them (~60 objects)."""
    copied = _counting_copies(monkeypatch)
    answered = ddb.query(
        TableName=table, KeyConditionExpression="PK = :p", ExpressionAttributeValues={":p": {"S": "T"}}
    )["Items"]
    by_index = ddb.query(
        TableName=table,
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :g",
        ExpressionAttributeValues={":g": {"S": "G"}},
    )["Items"]
    assert (len(answered), len(by_index)) == (4, 4)
    assert copied == []


@pytest.mark.parametrize("index", [False, True], ids=["table", "GSI"])
def test_a_query_page_answers_as_moto_own_deep_copy_does(ddb: Any, table: str, index: bool) -> None:
    ask: dict[str, Any] = {"TableName": table, "KeyConditionExpression": "PK = :p"}
    ask["ExpressionAttributeValues"] = {":p": {"S": "T"}}
    if index:
        ask = {"TableName": table, "IndexName": "GSI1", "KeyConditionExpression": "GSI1PK = :g"}
        ask["ExpressionAttributeValues"] = {":g": {"S": "G"}}
    for extra in ({}, {"Limit": 2}, {"ScanIndexForward": False}, {"ProjectionExpression": "address.city, steps"}):
        lean = ddb.query(**ask, **extra)
        with fidelity.moto_own_path():
            own = ddb.query(**ask, **extra)
        lean.pop("ResponseMetadata"), own.pop("ResponseMetadata")
        assert lean == own, extra


@pytest.mark.parametrize("index", [False, True], ids=["table", "GSI"])
def test_nothing_done_to_a_query_page_reaches_the_store(table: str, index: bool) -> None:
    before = stored_json(table)
    answered = page(table, index)
    assert any(len(item.attrs) > 5 for item in answered)
    for item in answered:
        for value in list(item.attrs.values()):
            if value.type == "M":
                value.value["added"] = type(value)({"S": "page"})
                value.value.pop(next(iter(value.value)))
            elif value.type == "L":
                value.value.append(type(value)({"S": "page"}))
            elif value.type in ("SS", "NS"):
                value.value.append("9")
        dict.__setitem__(item.attrs, "added", type(next(iter(item.attrs.values())))({"S": "page"}))
        dict.pop(item.attrs, "PK")
    assert stored_json(table) == before


@pytest.mark.parametrize(("expression", "names", "values"), UPDATES)
def test_a_query_page_keeps_the_items_as_they_were_whatever_a_later_write_changes_in_place(
    ddb: Any, table: str, expression: str, names: dict[str, str], values: dict[str, Any]
) -> None:
    """The page is serialised after the lock is released: a write meanwhile must not show in it."""
    answered = page(table)
    as_taken = [copy.deepcopy(item.to_json()) for item in answered]
    body: dict[str, Any] = {"TableName": table, "Key": key("RICH"), "UpdateExpression": expression}
    if names:
        body["ExpressionAttributeNames"] = names
    if values:
        body["ExpressionAttributeValues"] = values
    ddb.update_item(**body)
    assert stored_json(table) != as_taken  # the write did change the stored item
    assert [item.to_json() for item in answered] == as_taken


def _counting_item_sizes(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every item sized by moto's own ``Item.size`` (the patch's memo calls it; moto's query loop did directly)."""
    from moto.dynamodb.models.dynamo_type import Item

    sized: list[Any] = []
    original = fidelity._ORIGINALS.get("Item.size") or Item.size

    def counted(self: Any) -> int:
        sized.append(self)
        return original(self)  # type: ignore[no-any-return]

    if "Item.size" in fidelity._ORIGINALS:
        monkeypatch.setitem(fidelity._ORIGINALS, "Item.size", counted)
    else:
        monkeypatch.setattr(Item, "size", counted)
    return sized


@pytest.mark.parametrize("index", [False, True], ids=["table", "GSI"])
def test_each_item_of_a_query_page_is_sized_once(
    ddb: Any, table: str, index: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On moto's own loop each item is sized twice more after the patch sized it to find the page's end."""
    sized = _counting_item_sizes(monkeypatch)
    answered = page(table, index)
    assert len(answered) == 4
    assert len(sized) == 4 and len({id(i) for i in sized}) == 4
    sized.clear()
    page(table, index)  # the next query sizes them again: nothing is kept after one
    assert len(sized) == 4


def test_a_page_ends_where_moto_ends_it_by_size(ddb: Any, table: str) -> None:
    """The sizes decide where a page ends (1 MB): items of ~300 KB end each page after three, with or without the
    memo, and every item is read once."""
    big = "x" * 300_000
    for n in range(7):
        ddb.put_item(TableName=table, Item={"PK": {"S": "BIG"}, "SK": {"S": f"B{n}"}, "blob": {"S": big}})
    ask = {"TableName": table, "KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "BIG"}}}

    def pages() -> list[list[str]]:
        found, start = [], None
        while True:
            answer = ddb.query(**ask, **({"ExclusiveStartKey": start} if start else {}))
            found.append([i["SK"]["S"] for i in answer["Items"]])
            start = answer.get("LastEvaluatedKey")
            if not start:
                return found

    lean = pages()
    with fidelity.moto_own_path():
        own = pages()
    assert lean == own == [["B0", "B1", "B2"], ["B3", "B4", "B5"], ["B6"]]


def test_a_result_is_made_plain_as_moto_makes_it(ddb: Any, table: str) -> None:
    """``_dynamo_to_dict`` against moto's own ``dynamo_to_dict``: every kind of value, binaries, nested, stored
    items (moto's dict subclass), numbers, None, and a model with ``to_json``."""
    import datetime

    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import dynamo_to_dict

    stored = [item.attrs for item in page(table)]
    binary = {"b": DynamoType({"B": "AAE="}), "bs": DynamoType({"BS": ["AAE=", b"\x02"]})}
    nested = DynamoType({"M": {"l": {"L": [{"B": "AAE="}, {"N": "1"}, {"NULL": True}]}, "s": {"SS": ["a"]}}})
    table_model = backend().tables[table]
    when = datetime.datetime(2026, 11, 29, tzinfo=datetime.UTC)
    results: list[Any] = [
        {"Count": 4, "ScannedCount": 4, "Items": stored, "LastEvaluatedKey": {"PK": {"S": "T"}}},
        {"Item": binary, "nested": nested, "numbers": [1, 2.5, None, True], "when": when},
        {"Table": table_model},
    ]
    for result in results:
        assert fidelity._dynamo_to_dict(result) == dynamo_to_dict(result)
    assert fidelity._dynamo_to_dict(results[0])["Items"] and type(fidelity._dynamo_to_dict(stored[0])) is dict


def test_a_query_result_is_made_plain_without_moto_s_checks_at_every_value(
    ddb: Any, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto's ``dynamo_to_dict`` ran its isinstance/hasattr ladder for every value of every item of a page."""
    import moto.dynamodb.models.utilities as utilities

    calls: list[Any] = []
    original = utilities.dynamo_to_dict

    def counted(obj: Any) -> Any:
        calls.append(obj)
        return original(obj)

    monkeypatch.setattr(utilities, "dynamo_to_dict", counted)  # what moto's recursion calls
    answer = ddb.query(TableName=table, KeyConditionExpression="PK = :p", ExpressionAttributeValues={":p": {"S": "T"}})
    assert answer["Count"] == 4 and answer["Items"][0]["address"]["M"]["city"] == {"S": "Köln"}
    assert calls == []
