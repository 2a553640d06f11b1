"""``shared.aws``'s DynamoDB clients read the items of Query, Scan, GetItem and BatchGetItem responses as
``json.loads`` gives them: the same result botocore's model walk gives, key for key and in its order, which the
model of those members makes so (pinned below); a body with a binary value, an error, any other operation: the
walk."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParser

from shared import aws
from tests.unit.shared.support import model_shapes


@pytest.fixture
def fresh(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder's ``fresh``, with an endpoint nobody listens on (every response is given before sending)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")]:  # a per-service one wins
        monkeypatch.delenv(name)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def _answered(client: Any, operation: str, params: dict[str, Any], body: bytes, status: int = 200) -> Any:
    """What the client returns for this response body (given where it would send the request)."""

    def answer(request: Any, **_: Any) -> AWSResponse:
        headers = {"x-amzn-RequestId": "r-1", "Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, status, headers, _Raw(body))

    client.meta.events.register_first("before-send.dynamodb.*", answer)
    try:
        return getattr(client, operation)(**params)
    except ClientError as error:
        return ("error", error.response)
    finally:
        client.meta.events.unregister("before-send.dynamodb.*", answer)


@functools.cache
def _botocore_client() -> Any:
    """botocore's own client and parser (one for the module: a session reads the models anew)."""
    return botocore.session.get_session().create_client(
        "dynamodb",
        region_name="eu-west-1",
        endpoint_url="http://127.0.0.1:1",
        config=aws._CONFIG,  # the same retries
    )


@functools.cache
def _boto3_resource() -> Any:
    return boto3.session.Session().resource(
        "dynamodb", region_name="eu-west-1", endpoint_url="http://127.0.0.1:1", config=aws._CONFIG
    )


def _ordered(value: Any) -> Any:
    """The value with every dict's keys in their order (``==`` on dicts ignores it)."""
    if isinstance(value, dict):
        return [(k, _ordered(v)) for k, v in value.items()]
    if isinstance(value, list | tuple):
        return [_ordered(v) for v in value]
    return value


ITEM = {
    "PK": {"S": "OWNER#o-1"},
    "SK": {"S": "CASE#c-1"},
    "name": {"S": 'Jürgen Ößwald ✓ "quoted" \\ back'},
    "open_amount": {"N": "1250.00"},
    "revision": {"N": "3"},
    "trusted": {"BOOL": False},
    "note": {"NULL": True},
    "tags": {"SS": ["a", "b"]},
    "amounts": {"NS": ["1.5", "2"]},
    "plan": {"M": {"instalments": {"L": [{"M": {"due": {"S": "2026-12-01"}, "amount": {"N": "10"}}}, {"N": "1"}]}}},
    "empty": {"M": {}},
    "nothing": {"L": []},
}
KEY = {"PK": ITEM["PK"], "SK": ITEM["SK"]}
CAPACITY = {"TableName": "t", "CapacityUnits": 1.5, "Table": {"CapacityUnits": 1.5}}
QUERY = {"TableName": "t", "KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": ITEM["PK"]}}
BATCH = {"RequestItems": {"t": {"Keys": [KEY], "ConsistentRead": True}}}
RESPONSES: list[tuple[str, dict[str, Any], Any]] = [
    ("query", QUERY, {"Items": [ITEM, KEY], "Count": 2, "ScannedCount": 2}),
    (
        "query",
        QUERY,
        {"Count": 0, "Items": [], "ScannedCount": 0, "LastEvaluatedKey": KEY, "ConsumedCapacity": CAPACITY},
    ),
    ("query", QUERY, {"Items": [ITEM], "Count": 1, "ScannedCount": 5, "Unmodelled": {"x": 1}}),
    ("scan", {"TableName": "t"}, {"Items": [ITEM], "Count": 1, "ScannedCount": 1, "LastEvaluatedKey": KEY}),
    ("get_item", {"TableName": "t", "Key": KEY}, {"Item": ITEM}),
    ("get_item", {"TableName": "t", "Key": KEY}, {}),
    ("get_item", {"TableName": "t", "Key": KEY}, {"Item": ITEM, "ConsumedCapacity": CAPACITY}),
    ("batch_get_item", BATCH, {"Responses": {"t": [ITEM, KEY], "u": []}, "UnprocessedKeys": {}}),
    (
        "batch_get_item",
        BATCH,
        {
            "Responses": {"t": [ITEM]},
            "UnprocessedKeys": {"t": {"Keys": [KEY], "ConsistentRead": True, "ExpressionAttributeNames": {"#a": "a"}}},
            "ConsumedCapacity": [CAPACITY],
        },
    ),
    # binary values: botocore decodes them from base64, so the body takes its walk
    ("query", QUERY, {"Items": [{**ITEM, "z": {"B": "AP8="}}], "Count": 1, "ScannedCount": 1}),
    ("batch_get_item", BATCH, {"Responses": {"t": [{**KEY, "zs": {"BS": ["AP8=", ""]}}]}}),
    ("get_item", {"TableName": "t", "Key": KEY}, {"Item": {**KEY, "nested": {"M": {"z": {"B": "AQI="}}}}}),
    # not a reading output: the walk
    ("put_item", {"TableName": "t", "Item": ITEM, "ReturnValues": "ALL_OLD"}, {"Attributes": ITEM}),
    (
        "transact_get_items",
        {"TransactItems": [{"Get": {"TableName": "t", "Key": KEY}}]},
        {"Responses": [{"Item": ITEM}, {}]},
    ),
]


@pytest.mark.parametrize(
    ("operation", "params", "body"), RESPONSES, ids=[f"{op}-{n}" for n, (op, _, _) in enumerate(RESPONSES)]
)
@pytest.mark.parametrize("separators", [(", ", ": "), (",", ":")])
def test_a_response_is_read_as_botocore_reads_it(
    fresh: None, operation: str, params: dict[str, Any], body: Any, separators: tuple[str, str]
) -> None:
    raw = json.dumps(body, separators=separators).encode()
    ours = _answered(aws.client("dynamodb"), operation, params, raw)
    theirs = _answered(_botocore_client(), operation, params, raw)
    assert _ordered(ours) == _ordered(theirs)
    # a resource's client then turns the AttributeValues into Python values: the same ones
    assert _ordered(_answered(aws.resource("dynamodb").meta.client, operation, params, raw)) == _ordered(
        _answered(_boto3_resource().meta.client, operation, params, raw)
    )


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", "message": "no table"}),
        (400, {"__type": "com.amazonaws.dynamodb.v20120810#ValidationException", "Message": "bad"}),
        (
            400,
            {
                "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                "message": "no",
                "Item": ITEM,
            },
        ),
    ],
)
def test_an_error_is_read_as_botocore_reads_it(fresh: None, status: int, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    ours = _answered(aws.client("dynamodb"), "query", QUERY, raw, status)
    theirs = _answered(_botocore_client(), "query", QUERY, raw, status)
    assert ours[0] == "error"
    assert _ordered(ours) == _ordered(theirs)


def test_a_query_of_an_owners_partition_walks_no_item(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cost: botocore's walk visits every AttributeValue of every item (a structure of ten members each); the
    plain read visits none of them, and only a member outside the items (ConsumedCapacity) is walked."""
    walked: list[str] = []
    original = ResponseParser._parse_shape

    def counting(self: ResponseParser, shape: Any, node: Any) -> Any:
        walked.append(shape.name)
        return original(self, shape, node)

    monkeypatch.setattr(ResponseParser, "_parse_shape", counting)
    items = [{**ITEM, "SK": {"S": f"CP#{n}"}} for n in range(20)]
    raw = json.dumps({"Items": items, "Count": 20, "ScannedCount": 20}).encode()
    page = _answered(aws.client("dynamodb"), "query", QUERY, raw)
    assert page["Items"] == items
    assert walked == []
    _answered(_botocore_client(), "query", QUERY, raw)
    assert len(walked) > 20 * len(ITEM)  # botocore's own walk, for scale: every value of every item
    walked.clear()
    raw = json.dumps({"Items": items, "Count": 20, "ScannedCount": 20, "ConsumedCapacity": CAPACITY}).encode()
    _answered(aws.client("dynamodb"), "query", QUERY, raw)
    assert walked[0] == "ConsumedCapacity" and "AttributeValue" not in walked


@pytest.mark.parametrize("output", sorted(aws.PLAIN_JSON_MEMBERS))
def test_the_models_of_the_plain_members_make_json_loads_exact(output: str) -> None:
    """What makes botocore's walk of these members give back the JSON as it is: they hold maps, lists and
    AttributeValues of strings, booleans and integers, each member under its own name, no document, timestamp,
    float or event stream; the only binaries are an AttributeValue's ``B`` and ``BS`` (named in ``_BLOB_MARKS``)."""
    model = botocore.session.get_session().get_service_model("dynamodb")
    assert model.metadata["protocol"] == "json" and not model.is_query_compatible
    shape = model.shape_for(output)
    assert not shape.event_stream_name
    for name in aws.PLAIN_JSON_MEMBERS[output]:
        assert shape.members[name].serialization.get("name", name) == name
        for inner in model_shapes(shape.members[name], set()):
            assert inner.type_name in ("structure", "map", "list", "string", "boolean", "integer", "blob")
            assert not getattr(inner, "is_document_type", False)
            if inner.type_name == "blob":
                assert inner.name == "BinaryAttributeValue"
            if inner.type_name == "structure":
                assert inner.name == "AttributeValue"
                for member_name, member in inner.members.items():
                    assert member.serialization.get("name", member_name) == member_name
                assert {
                    n
                    for n, m in inner.members.items()
                    if "BinaryAttributeValue" in (m.name, getattr(getattr(m, "member", None), "name", None))
                } == {"B", "BS"}
