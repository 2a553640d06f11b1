"""The reminders bench counts DynamoDB's items per request as AWS bills them, apart from the calls, in all and by
part of the chain."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber

from bench.bench_reminders import _TALLIES, counting_calls


def test_items_are_counted_by_kind_and_not_as_calls() -> None:
    ddb = boto3.client("dynamodb", region_name="eu-west-1", aws_access_key_id="t", aws_secret_access_key="t")
    put = {"Put": {"TableName": "t", "Item": {"PK": {"S": "a"}, "SK": {"S": "b"}}}}
    keys = [{"PK": {"S": "a"}, "SK": {"S": str(i)}} for i in range(3)]
    with Stubber(ddb) as stub, counting_calls() as calls:
        stub.add_response("transact_write_items", {}, {"TransactItems": [put] * 4})
        stub.add_response("batch_get_item", {"Responses": {}}, {"RequestItems": {"t": {"Keys": keys}}})
        ddb.transact_write_items(TransactItems=[put] * 4)
        ddb.batch_get_item(RequestItems={"t": {"Keys": keys}})
    assert calls[("items", "transaction items written")] == 4
    assert calls[("items", "items read (by key)")] == 3
    # by part of the chain (the thread that asked: here the bench's own, which runs the schedule) and operation
    assert calls[("items by part", "contacts reminder schedule: TransactWriteItems, transaction items written")] == 4
    assert calls[("items by part", "contacts reminder schedule: BatchGetItem, items read (by key)")] == 3
    assert sum(count for (who, _), count in calls.items() if who not in _TALLIES) == 2  # items and units: no calls


def test_capacity_units_are_counted_as_aws_bills_them() -> None:
    """Writes: a started KB of the item a unit, twice in a transaction, once more for the GSI; an update or a delete
    of an item this run wrote is billed by that item's size. Reads: a started 4 KB a unit when strongly consistent,
    half otherwise, a missing item the minimum."""
    ddb = boto3.client("dynamodb", region_name="eu-west-1", aws_access_key_id="t", aws_secret_access_key="t")
    small = {"PK": {"S": "a"}, "SK": {"S": "1"}}
    indexed = {**small, "SK": {"S": "2"}, "GSI1PK": {"S": "x"}}
    big = {"PK": {"S": "a"}, "SK": {"S": "3"}, "body": {"S": "é" * 1300}}  # 2,600 bytes: 3 KB started
    found = {"PK": {"S": "a"}, "SK": {"S": "4"}, "body": {"S": "x" * 5000}}  # 2 × 4 KB started
    keys = [{"PK": {"S": "a"}, "SK": {"S": str(i)}} for i in (4, 5, 6)]
    with Stubber(ddb) as stub, counting_calls() as calls:
        stub.add_response("transact_write_items", {})
        stub.add_response("put_item", {})
        stub.add_response("batch_write_item", {})
        stub.add_response("delete_item", {})
        stub.add_response("batch_get_item", {"Responses": {"t": [found]}})
        stub.add_response("query", {"Items": [found, found]})
        ddb.transact_write_items(
            TransactItems=[{"Put": {"TableName": "t", "Item": small}}, {"Put": {"TableName": "t", "Item": indexed}}]
        )
        ddb.put_item(TableName="t", Item=big)
        ddb.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": small}}] * 3})
        ddb.delete_item(TableName="t", Key={"PK": {"S": "a"}, "SK": {"S": "3"}})
        ddb.batch_get_item(RequestItems={"t": {"Keys": keys, "ConsistentRead": True}})
        ddb.query(TableName="t", KeyConditionExpression="PK = :a", ExpressionAttributeValues={":a": {"S": "a"}})
    # 2 × 1 + 2 × (1 + 1 for the GSI); 3; 3 × 1; the delete of the 3 KB item 3
    assert calls[("units", "write units")] == 6 + 3 + 3 + 3
    # the 5 KB item 2, two missing keys 1 each, all strongly consistent; the query's 10 KB eventually: 3 × 0.5
    assert calls[("units", "read units")] == 2 + 2 + 1.5
    assert calls[("units by part", "contacts reminder schedule: TransactWriteItems, write units")] == 6
