"""infra.local.fidelity.scalable_dynamodb: moto's transactions and queries at the cost of what they touch, with the
answers moto (and DynamoDB) give. Every query here runs twice, through the patch and through moto's own
whole-table code, and must come back identical, page by page."""

from __future__ import annotations

import itertools
import random
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import moto
import pytest
from botocore.exceptions import ClientError

from infra.local import fidelity

ACCOUNT, REGION = "123456789012", "eu-west-1"


def moto_table(name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[ACCOUNT][REGION].tables[name]


def item(pk: str, sk: str, **attrs: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}, **{k: {"S": v} for k, v in attrs.items()}}


def fill(ddb: Any, table: str, seed: int = 7) -> None:
    rng = random.Random(seed)
    for n in range(150):
        pk = f"OWNER#{n % 3}"
        sk = rng.choice(["CP#email#", "CP#phone#", "CASE#", "NOTE#", "ROW#"]) + f"{rng.randrange(10**6):06d}"
        attrs = {"n": str(n)}
        if n % 4:  # a quarter is not in the index at all; GSI1SK values repeat, as dates do
            attrs |= {"GSI1PK": f"CLIENT#{n % 2}#CASES", "GSI1SK": f"2026-0{rng.randrange(1, 4)}-01"}
        if n % 9 == 0:
            attrs.pop("GSI1SK", None)  # hash key without range key: not indexed either
        ddb.put_item(TableName=table, Item=item(pk, sk, **attrs))


def pages(ddb: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    while True:
        page = ddb.query(**kwargs)
        page.pop("ResponseMetadata")
        yield page
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def both_ways(ddb: Any, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> list[dict[str, Any]]:
    """All pages through the patch, asserting that moto's whole-table query gives exactly the same pages."""
    before = fidelity.stats["fast_queries"]
    fast = list(pages(ddb, **kwargs))
    assert fidelity.stats["fast_queries"] - before == len(fast), "the patch did not serve these pages"
    with monkeypatch.context() as m:
        m.setattr(fidelity, "_page_candidates", lambda *a, **k: None)
        slow = list(pages(ddb, **kwargs))
    assert fast == slow, kwargs
    return fast


def test_the_patches_are_pinned_to_the_installed_moto() -> None:
    # On a moto upgrade this fails: re-read the pinned functions in moto, re-check the patches, re-pin.
    assert moto.__version__ == fidelity.PINNED_MOTO
    assert fidelity.moto_sources() == fidelity.PINNED_SOURCES
    assert fidelity.scalable_dynamodb() is True


def test_a_table_description_waits_for_the_running_operation(ddb: Any, table: str) -> None:
    """DescribeTable counts a table's items by iterating them; run beside a write that adds a partition it failed
    with an HTTP 500 ("dictionary changed size during iteration"). It waits for the serialising lock like the
    operations that read and write items."""
    ddb.put_item(TableName=table, Item=item("OWNER#1", "CASE#1"))
    answers: list[int] = []
    asking = threading.Thread(
        target=lambda: answers.append(int(ddb.describe_table(TableName=table)["Table"]["ItemCount"]))
    )
    with fidelity._lock:  # as a running write holds it
        asking.start()
        asking.join(timeout=1.0)
        assert asking.is_alive() and not answers, "DescribeTable did not wait for the running operation"
    asking.join(timeout=30)
    assert answers == [1]


CONDITIONS: list[tuple[str, dict[str, Any]]] = [
    ("PK = :h", {}),
    ("PK = :h AND begins_with(SK, :p)", {":p": {"S": "CP#"}}),
    ("PK = :h AND SK BETWEEN :a AND :b", {":a": {"S": "CASE#3"}, ":b": {"S": "NOTE#6"}}),
    ("PK = :h AND SK < :a", {":a": {"S": "CP#phone#5"}}),
    ("PK = :h AND SK >= :a", {":a": {"S": "NOTE#"}}),
]


@pytest.mark.parametrize(("condition", "values"), CONDITIONS)
def test_base_table_queries_match_moto_in_order_and_pages(
    ddb: Any, table: str, monkeypatch: pytest.MonkeyPatch, condition: str, values: dict[str, Any]
) -> None:
    fill(ddb, table)
    for limit, forward in itertools.product((None, 4, 25), (True, False)):
        kwargs: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": {":h": {"S": "OWNER#1"}, **values},
            "ScanIndexForward": forward,
        }
        if limit:
            kwargs["Limit"] = limit
        got = [i for p in both_ways(ddb, monkeypatch, **kwargs) for i in p["Items"]]
        sks = [i["SK"]["S"] for i in got]
        assert sks == sorted(sks, reverse=not forward)
        assert all(i["PK"]["S"] == "OWNER#1" for i in got)
        assert len(sks) == len(set(sks))
    assert got, "the conditions must select something"


GSI_CONDITIONS: list[tuple[str, dict[str, Any]]] = [
    ("GSI1PK = :h", {}),
    ("GSI1PK = :h AND begins_with(GSI1SK, :p)", {":p": {"S": "2026-02"}}),
    ("GSI1PK = :h AND GSI1SK BETWEEN :a AND :b", {":a": {"S": "2026-01-01"}, ":b": {"S": "2026-02-01"}}),
    ("GSI1PK = :h AND GSI1SK <= :a", {":a": {"S": "2026-02-01"}}),
]


@pytest.mark.parametrize(("condition", "values"), GSI_CONDITIONS)
def test_gsi_queries_match_moto_in_order_and_pages(
    ddb: Any, table: str, monkeypatch: pytest.MonkeyPatch, condition: str, values: dict[str, Any]
) -> None:
    fill(ddb, table)
    for limit, forward in itertools.product((None, 3, 20), (True, False)):
        kwargs: dict[str, Any] = {
            "TableName": table,
            "IndexName": "GSI1",
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": {":h": {"S": "CLIENT#1#CASES"}, **values},
            "ScanIndexForward": forward,
        }
        if limit:
            kwargs["Limit"] = limit
        got = [i for p in both_ways(ddb, monkeypatch, **kwargs) for i in p["Items"]]
        keys = [(i["GSI1SK"]["S"], i["PK"]["S"], i["SK"]["S"]) for i in got]
        assert keys == sorted(keys, reverse=not forward)  # GSI sort key first; moto breaks ties by the base key
        assert all(i["GSI1PK"]["S"] == "CLIENT#1#CASES" for i in got)
    assert got


def test_gsi_follows_every_kind_of_write(ddb: Any, table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(ddb, table)
    query = {
        "TableName": table,
        "IndexName": "GSI1",
        "KeyConditionExpression": "GSI1PK = :h",
        "ExpressionAttributeValues": {":h": {"S": "CLIENT#9#CASES"}},
    }
    assert both_ways(ddb, monkeypatch, **query)[0]["Items"] == []
    ddb.put_item(TableName=table, Item=item("OWNER#9", "CASE#1", GSI1PK="CLIENT#9#CASES", GSI1SK="2026-05-01"))
    ddb.put_item(TableName=table, Item=item("OWNER#9", "CASE#2", GSI1PK="CLIENT#9#CASES", GSI1SK="2026-04-01"))
    ddb.update_item(  # moves into the index key and sorts first
        TableName=table,
        Key={"PK": {"S": "OWNER#0"}, "SK": {"S": "X"}},
        UpdateExpression="SET GSI1PK = :h, GSI1SK = :s",
        ExpressionAttributeValues={":h": {"S": "CLIENT#9#CASES"}, ":s": {"S": "2026-01-01"}},
    )
    ddb.update_item(  # changes its place in the order
        TableName=table,
        Key={"PK": {"S": "OWNER#9"}, "SK": {"S": "CASE#1"}},
        UpdateExpression="SET GSI1SK = :s",
        ExpressionAttributeValues={":s": {"S": "2026-03-01"}},
    )
    sks = [i["SK"]["S"] for i in both_ways(ddb, monkeypatch, **query)[0]["Items"]]
    assert sks == ["X", "CASE#1", "CASE#2"]
    ddb.delete_item(TableName=table, Key={"PK": {"S": "OWNER#0"}, "SK": {"S": "X"}})
    ddb.update_item(  # leaves the index key
        TableName=table,
        Key={"PK": {"S": "OWNER#9"}, "SK": {"S": "CASE#2"}},
        UpdateExpression="REMOVE GSI1SK",
    )
    ddb.put_item(TableName=table, Item=item("OWNER#9", "CASE#1", GSI1PK="CLIENT#9#CASES", GSI1SK="2026-12-01", v="2"))
    got = both_ways(ddb, monkeypatch, **query)[0]["Items"]
    assert [(i["SK"]["S"], i["v"]["S"]) for i in got] == [("CASE#1", "2")]


def test_pages_end_at_one_megabyte_as_in_moto(ddb: Any, table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(25):
        ddb.put_item(TableName=table, Item=item("BIG", f"ROW#{n:03d}", blob="x" * 100_000))
    result = both_ways(
        ddb,
        monkeypatch,
        TableName=table,
        KeyConditionExpression="PK = :h",
        ExpressionAttributeValues={":h": {"S": "BIG"}},
    )
    assert len(result) > 1
    assert sum(p["Count"] for p in result) == 25


def test_a_limited_query_reads_its_page_not_the_table(ddb: Any, table: str) -> None:
    requests = [{"PutRequest": {"Item": item("P", f"ROW#{n:05d}", GSI1PK="G", GSI1SK=f"{n:05d}")}} for n in range(2000)]
    for n in range(0, len(requests), 25):
        ddb.batch_write_item(RequestItems={table: requests[n : n + 25]})
    for index in ({}, {"IndexName": "GSI1"}):
        key = "GSI1PK" if index else "PK"
        value = "G" if index else "P"
        before = fidelity.stats["candidates"]
        page = ddb.query(
            TableName=table,
            **index,
            KeyConditionExpression=f"{key} = :h",
            ExpressionAttributeValues={":h": {"S": value}},
            Limit=10,
            ExclusiveStartKey={
                "PK": {"S": "P"},
                "SK": {"S": "ROW#01000"},
                **({"GSI1PK": {"S": "G"}, "GSI1SK": {"S": "01000"}} if index else {}),
            },
        )
        assert [i["SK"]["S"] for i in page["Items"]] == [f"ROW#{n:05d}" for n in range(1001, 1011)]
        assert fidelity.stats["candidates"] - before == 11  # the page and the one that says there is more


# ---- transactions ----------------------------------------------------------------------------------------------


def snapshot(ddb: Any, table: str) -> list[dict[str, Any]]:
    return sorted(ddb.scan(TableName=table, ConsistentRead=True)["Items"], key=lambda i: (i["PK"]["S"], i["SK"]["S"]))


def update(
    table: str, sk: str, expression: str, values: dict[str, Any], condition: str | None = None
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "TableName": table,
        "Key": {"PK": {"S": "T"}, "SK": {"S": sk}},
        "UpdateExpression": expression,
        "ExpressionAttributeValues": values,
    }
    if condition:
        op["ConditionExpression"] = condition
    return {"Update": op}


def test_a_cancelled_transaction_leaves_every_item_as_it_was(ddb: Any, table: str) -> None:
    ddb.put_item(TableName=table, Item=item("T", "A", v="1", GSI1PK="G", GSI1SK="a"))
    ddb.put_item(TableName=table, Item=item("T", "B", v="1"))
    ddb.put_item(TableName=table, Item=item("T", "D", v="1"))
    before = snapshot(ddb, table)
    the_table = moto_table(table)
    with pytest.raises(ClientError) as failed:
        ddb.transact_write_items(
            TransactItems=[
                update(table, "A", "SET v = :v, GSI1PK = :g", {":v": {"S": "2"}, ":g": {"S": "H"}}),
                {"Put": {"TableName": table, "Item": item("T", "C", v="new", GSI1PK="G", GSI1SK="c")}},
                {"Delete": {"TableName": table, "Key": {"PK": {"S": "T"}, "SK": {"S": "B"}}}},
                update(table, "D", "SET v = :v", {":v": {"S": "2"}, ":one": {"S": "1"}}, "v <> :one"),
            ]
        )
    assert failed.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [r["Code"] for r in failed.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    assert snapshot(ddb, table) == before
    assert moto_table(table) is the_table  # restored item by item, not replaced by a whole-table copy
    in_g = ddb.query(
        TableName=table,
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :g",
        ExpressionAttributeValues={":g": {"S": "G"}},
    )["Items"]
    assert [i["SK"]["S"] for i in in_g] == ["A"]
    assert (
        ddb.query(TableName=table, KeyConditionExpression="PK = :p", ExpressionAttributeValues={":p": {"S": "T"}})[
            "Count"
        ]
        == 3
    )


def test_two_operations_on_one_item_are_refused_and_undone(ddb: Any, table: str) -> None:
    ddb.put_item(TableName=table, Item=item("T", "A", v="1"))
    before = snapshot(ddb, table)
    with pytest.raises(ClientError) as failed:
        ddb.transact_write_items(
            TransactItems=[
                update(table, "A", "SET v = :v", {":v": {"S": "2"}}),
                {"Put": {"TableName": table, "Item": item("T", "N", v="new")}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"PK": {"S": "T"}, "SK": {"S": "A"}},
                        "ConditionExpression": "attribute_exists(v)",
                    }
                },
            ]
        )
    assert failed.value.response["Error"]["Code"] == "ValidationException"
    assert snapshot(ddb, table) == before


def test_conditions_see_the_state_before_the_transaction(ddb: Any, table: str) -> None:
    # the make-default shape: clear the old default, set the new one, each guarded by what was read before
    ddb.put_item(TableName=table, Item=item("T", "A", is_default="yes"))
    ddb.put_item(TableName=table, Item=item("T", "B", is_default="no"))
    yes, no = {":y": {"S": "yes"}}, {":n": {"S": "no"}}
    ddb.transact_write_items(
        TransactItems=[
            update(table, "A", "SET is_default = :n", {**no, **yes}, "is_default = :y"),
            update(table, "B", "SET is_default = :y", {**no, **yes}, "is_default = :n"),
        ]
    )
    assert [i["is_default"]["S"] for i in snapshot(ddb, table)] == ["no", "yes"]
    # the same transaction again: its conditions now fail against the stored state, and nothing changes
    with pytest.raises(ClientError):
        ddb.transact_write_items(
            TransactItems=[
                update(table, "A", "SET is_default = :n", {**no, **yes}, "is_default = :y"),
                update(table, "B", "SET is_default = :y", {**no, **yes}, "is_default = :n"),
            ]
        )
    assert [i["is_default"]["S"] for i in snapshot(ddb, table)] == ["no", "yes"]
    # a committed transaction: every item it wrote is there, the index follows
    ddb.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": table,
                    "Item": item("T", "C", GSI1PK="G", GSI1SK="c"),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            {"Delete": {"TableName": table, "Key": {"PK": {"S": "T"}, "SK": {"S": "A"}}}},
        ]
    )
    assert [i["SK"]["S"] for i in snapshot(ddb, table)] == ["B", "C"]
    assert (
        ddb.query(
            TableName=table,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :g",
            ExpressionAttributeValues={":g": {"S": "G"}},
        )["Count"]
        == 1
    )


def _counting_item_copies(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    from moto.dynamodb.models.dynamo_type import Item

    copied: list[Any] = []
    original = Item.__deepcopy__

    def counted(self: Any, memo: dict[int, Any]) -> Any:
        copied.append(self)
        return original(self, memo)

    monkeypatch.setattr(Item, "__deepcopy__", counted)
    return copied


def test_an_update_of_a_table_without_a_stream_copies_no_item(
    ddb: Any, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto's backend deep-copies the item before every update for the stream's old image; our tables have no
    stream, so it copies nothing (an update of an item, of one it creates, an Update of a transaction beyond the
    transaction's own undo log), and the update is the same. (The UpdateItem handler's own copy, for ReturnValues,
    is moto's and stays.)"""
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[ACCOUNT][REGION]
    ddb.put_item(TableName=table, Item=item("OWNER#1", "CASE#1", status="open", GSI1PK="G", GSI1SK="a"))
    copied = _counting_item_copies(monkeypatch)
    key = {"PK": {"S": "OWNER#1"}, "SK": {"S": "CASE#1"}}
    backend.update_item(
        table,
        key,
        update_expression="SET #s = :s, GSI1SK = :g",
        condition_expression="#s = :o",
        expression_attribute_names={"#s": "status"},
        expression_attribute_values={":s": {"S": "closed"}, ":o": {"S": "open"}, ":g": {"S": "b"}},
    )
    backend.update_item(  # an item the update creates
        table,
        {"PK": {"S": "OWNER#2"}, "SK": {"S": "CASE#1"}},
        update_expression="SET #s = :s",
        expression_attribute_names={"#s": "status"},
        expression_attribute_values={":s": {"S": "open"}},
    )
    assert copied == []
    update = {"TableName": table, "Key": key, "UpdateExpression": "SET n = :n"}
    ddb.transact_write_items(TransactItems=[{"Update": update | {"ExpressionAttributeValues": {":n": {"S": "1"}}}}])
    assert copied == []  # the transaction's undo log copies the item itself (_undo_copy), nothing for a stream
    assert ddb.get_item(TableName=table, Key=key)["Item"] == item(
        "OWNER#1", "CASE#1", status="closed", GSI1PK="G", GSI1SK="b", n="1"
    )
    gsi = ddb.query(
        TableName=table,
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :g",
        ExpressionAttributeValues={":g": {"S": "G"}},
    )["Items"]
    assert [i["GSI1SK"]["S"] for i in gsi] == ["b"]


def test_a_table_with_a_stream_still_gets_the_item_as_it_was(ddb: Any, moto_endpoint: str) -> None:
    """On a table with a stream moto's copy stays: the MODIFY record's old image is the item before the update."""
    name = f"fidelity-stream-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("PK", "SK")],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    key = {"PK": {"S": "OWNER#1"}, "SK": {"S": "CASE#1"}}
    ddb.put_item(TableName=name, Item=item("OWNER#1", "CASE#1", status="open"))
    ddb.update_item(
        TableName=name,
        Key=key,
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "closed"}},
    )
    streams = boto3.client("dynamodbstreams", endpoint_url=moto_endpoint, region_name=REGION)
    arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    modify = [r["dynamodb"] for r in records if r["eventName"] == "MODIFY"]
    assert len(modify) == 1
    assert modify[0]["OldImage"]["status"] == {"S": "open"}
    assert modify[0]["NewImage"]["status"] == {"S": "closed"}
    ddb.delete_table(TableName=name)
