"""The reminders bench counts DynamoDB's items per request as AWS bills them, apart from the calls, in all and by
part of the chain."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber

from bench.bench_reminders import counting_calls


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
    assert sum(count for (who, _), count in calls.items() if who not in ("items", "items by part")) == 2
