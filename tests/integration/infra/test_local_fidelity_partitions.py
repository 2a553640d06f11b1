"""infra.local.fidelity._Partition: a partition of a table with a range key holds a lone item in two slots instead
of a dict. It must answer every way moto and the fidelity patches use a partition exactly as the dict would."""

from __future__ import annotations

import copy
import gc
import random
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType

from infra.local import fidelity
from tests.integration.support import create_pk_sk_gsi1_table, traced_bytes_per_item

ACCOUNT, REGION = "123456789012", "eu-west-1"


def _key(n: int, numbers: bool) -> Any:
    # numbers spelled two ways are one key to DynamoDB and to moto's dict ("1" and "1.0")
    return DynamoType({"N": random.choice([str(n), f"{n}.0"])}) if numbers else DynamoType({"S": f"SK#{n}"})


def test_a_partition_answers_as_moto_s_dict_through_random_operations() -> None:
    random.seed(8)
    for run in range(300):
        numbers = run % 2 == 0  # a table's range key has one type
        mine, theirs = fidelity._Partition(), {}
        for _ in range(random.randint(1, 12)):
            op, key, item = random.choice("sssgpdcl"), _key(random.randint(0, 3), numbers), f"item {random.random()}"
            if op == "s":
                mine[key] = theirs[key] = item
            elif op == "g":
                assert mine.get(key) is theirs.get(key)
                assert mine.get(key, "none") is theirs.get(key, "none")
            elif op == "p":
                assert mine.pop(key, None) is theirs.pop(key, None)
            elif op == "d":
                if key in theirs:
                    del theirs[key]
                    del mine[key]
                else:
                    with pytest.raises(KeyError):
                        del mine[key]
            elif op == "c":
                assert (key in mine) is (key in theirs)
            assert len(mine) == len(theirs) and bool(mine) is bool(theirs)
            assert list(mine.items()) == list(theirs.items())
            assert all(a is b for a, b in zip(mine.keys(), theirs.keys(), strict=True))  # the key objects kept
            assert all(a is b for a, b in zip(mine.values(), theirs.values(), strict=True))
            assert list(mine) == list(theirs) and sorted(mine) == sorted(theirs)
            for k in theirs:
                assert mine[k] is theirs[k]
        missing = DynamoType({"S": "never"})
        with pytest.raises(KeyError):
            mine[missing]
        with pytest.raises(KeyError):
            mine.pop(missing)
        assert mine == theirs and copy.deepcopy(mine) == copy.deepcopy(theirs)


def test_a_replaced_item_keeps_the_key_object_the_partition_holds() -> None:
    first, same = DynamoType({"N": "1"}), DynamoType({"N": "1.0"})
    partition = fidelity._Partition()
    partition[first] = "a"
    partition[same] = "b"
    assert len(partition) == 1 and next(iter(partition)) is first and partition[first] == "b"
    partition[DynamoType({"S": "other"})] = "c"  # now a dict: the same rule, as Python's own
    partition[same] = "d"
    assert next(iter(partition)) is first and partition[first] == "d" and len(partition) == 2


@pytest.fixture
def table(moto_endpoint: str) -> Iterator[tuple[Any, str]]:
    ddb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)
    name = f"parts-{uuid.uuid4().hex[:8]}"
    create_pk_sk_gsi1_table(ddb, name)
    yield ddb, name
    ddb.delete_table(TableName=name)


def _partitions(name: str) -> Any:
    return dynamodb_backends[ACCOUNT][REGION].tables[name].items


def test_a_lone_item_s_partition_grows_and_shrinks_through_moto_s_operations(table: tuple[Any, str]) -> None:
    ddb, name = table
    key = {"PK": {"S": "KEY#dob#1970-01-01"}, "SK": {"S": "OWNER#1"}}
    ddb.put_item(TableName=name, Item={**key, "v": {"N": "1"}})
    partition = _partitions(name)[DynamoType(key["PK"])]
    assert type(partition) is fidelity._Partition and partition._more is None  # no dict for a lone item
    ddb.update_item(
        TableName=name, Key=key, UpdateExpression="SET v = v + :one", ExpressionAttributeValues={":one": {"N": "1"}}
    )
    ddb.put_item(TableName=name, Item={"PK": key["PK"], "SK": {"S": "OWNER#0"}, "v": {"N": "0"}})
    query = {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": key["PK"]}}
    got = ddb.query(TableName=name, **query)["Items"]
    assert [(i["SK"]["S"], i["v"]["N"]) for i in got] == [("OWNER#0", "0"), ("OWNER#1", "2")]
    with pytest.raises(ClientError) as cancelled:
        ddb.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": name, "Key": key}},
                {"Put": {"TableName": name, "Item": {"PK": key["PK"], "SK": {"S": "OWNER#2"}}}},
                {
                    "ConditionCheck": {
                        "TableName": name,
                        "Key": {"PK": key["PK"], "SK": {"S": "OWNER#0"}},
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
            ]
        )
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert ddb.query(TableName=name, **query)["Items"] == got  # the cancelled transaction left both as they were
    ddb.delete_item(TableName=name, Key={"PK": key["PK"], "SK": {"S": "OWNER#0"}})
    ddb.delete_item(TableName=name, Key=key)
    assert ddb.query(TableName=name, **query)["Items"] == []
    assert ddb.get_item(TableName=name, Key=key).get("Item") is None
    assert ddb.scan(TableName=name)["Items"] == [] and ddb.describe_table(TableName=name)["Table"]["ItemCount"] == 0


def test_scans_and_counts_see_lone_and_shared_partitions_alike(table: tuple[Any, str]) -> None:
    ddb, name = table
    for n in range(30):
        ddb.put_item(TableName=name, Item={"PK": {"S": f"P#{n % 10 if n < 15 else n}"}, "SK": {"S": f"S#{n:02d}"}})
    pages, start = [], None
    while True:
        page = ddb.scan(TableName=name, Limit=7, **({"ExclusiveStartKey": start} if start else {}))
        pages += [(i["PK"]["S"], i["SK"]["S"]) for i in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    assert sorted(pages) == sorted((f"P#{n % 10 if n < 15 else n}", f"S#{n:02d}") for n in range(30))
    assert len(set(pages)) == 30
    assert ddb.describe_table(TableName=name)["Table"]["ItemCount"] == 30


def test_lone_items_cost_moto_less_than_a_dict_each(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ddb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)
    per_item = {}
    for mode, install in (("a dict each", lambda table: None), ("two slots", fidelity._partitions_by_one)):
        monkeypatch.setattr(fidelity, "_partitions_by_one", install)
        name = f"lone-{uuid.uuid4().hex[:8]}"
        lone = [{"PK": {"S": f"KEY#{n:08d}"}, "SK": {"S": "OWNER#1"}} for n in range(2_000)]
        per_item[mode] = traced_bytes_per_item(ddb, name, lone)
        ddb.delete_table(TableName=name)
        gc.collect()
    assert per_item["two slots"] < per_item["a dict each"] - 100, per_item


def test_lone_items_share_one_object_for_a_short_range_key_of_the_same_spelling(moto_endpoint: str) -> None:
    ddb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)
    name = f"common-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "n", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "n", "KeyType": "RANGE"}],
    )
    spellings = ["7", "7.0", "7", "7.0", "1" * 30, "1" * 30]
    for p, n in enumerate(spellings):
        ddb.put_item(TableName=name, Item={"PK": {"S": f"KEY#{p}"}, "n": {"N": n}, "was": {"S": n}})
    stored = _partitions(name)
    keys = [stored[DynamoType({"S": f"KEY#{p}"})]._key for p in range(len(spellings))]
    items = [stored[DynamoType({"S": f"KEY#{p}"})][k] for p, k in enumerate(keys)]
    assert keys[0] is keys[2] and keys[1] is keys[3] and keys[0] is not keys[1]  # one object per spelling
    assert keys[4] is not keys[5]  # long keys (an entity's own id) are not worth a shared entry
    assert all(item.range_key is key for item, key in zip(items, keys, strict=True))
    for p, n in enumerate(spellings):
        got = ddb.get_item(TableName=name, Key={"PK": {"S": f"KEY#{p}"}, "n": {"N": n}}, ConsistentRead=True)
        assert got["Item"] == {"PK": {"S": f"KEY#{p}"}, "n": {"N": n}, "was": {"S": n}}
    ddb.delete_table(TableName=name)
