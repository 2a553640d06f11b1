"""``shared.aws``'s DynamoDB clients write the data operations' requests as ``json.dumps`` of the parameters: the
same bytes botocore's model walk gives, which the model of every such operation makes so (pinned below)."""

from __future__ import annotations

import zlib
from typing import Any

import boto3
import botocore.config
import botocore.session
import pytest
from botocore.serialize import JSONSerializer

from shared import aws


@pytest.fixture
def fresh(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder's ``fresh``, with an endpoint nobody listens on (the requests are caught before they are sent)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")


class _Sent(Exception):
    def __init__(self, request: Any) -> None:
        self.request = request


def _sent(dynamodb: Any, operation: str, params: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The body and headers the client would send (stopped where it would send them)."""

    def sending(request: Any, **_: Any) -> None:
        raise _Sent(request)

    dynamodb.meta.events.register("before-send.dynamodb.*", sending)
    with pytest.raises(_Sent) as sent:
        getattr(dynamodb, operation)(**params)
    request = sent.value.request
    headers = {k: v for k, v in request.headers.items() if k in ("X-Amz-Target", "Content-Type", "Content-Length")}
    return request.body, headers


def _av(value: str) -> dict[str, Any]:
    return {"S": value}


CP = {
    "PK": _av("OWNER#o-1"),
    "SK": _av("CP#phone#p-1"),
    "value": _av("+49 30 1234567"),
    "revision": {"N": "0"},
    "trusted": {"BOOL": True},
    "note": {"NULL": True},
    "name": _av("Jürgen Ößwald ✓"),  # not ASCII: escaped the same way
    "history": {"L": [{"M": {"at": _av("2026-11-29"), "rows": {"L": [{"N": "1"}, {"N": "2"}]}}}]},
    "tags": {"SS": ["a", "b"]},
    "amounts": {"NS": ["1.5", "2"]},
}
KEY = {"PK": CP["PK"], "SK": CP["SK"]}
REQUESTS: list[tuple[str, dict[str, Any]]] = [
    (
        "transact_write_items",
        {
            "TransactItems": [
                {"Put": {"TableName": "t", "Item": CP, "ConditionExpression": "attribute_not_exists(PK)"}},
                {
                    "Update": {
                        "TableName": "t",
                        "Key": KEY,
                        "UpdateExpression": "SET checks = :c",
                        "ConditionExpression": "attribute_exists(PK) AND #v = :v",
                        "ExpressionAttributeNames": {"#v": "value"},
                        "ExpressionAttributeValues": {":c": {"M": {"valid": {"BOOL": False}}}, ":v": CP["value"]},
                    }
                },
                {"ConditionCheck": {"TableName": "t", "Key": KEY, "ConditionExpression": "attribute_exists(PK)"}},
                {"Delete": {"TableName": "t", "Key": KEY, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            ],
            "ClientRequestToken": "token-1",
        },
    ),
    ("batch_write_item", {"RequestItems": {"t": [{"PutRequest": {"Item": CP}}, {"DeleteRequest": {"Key": KEY}}]}}),
    ("batch_get_item", {"RequestItems": {"t": {"Keys": [KEY], "ConsistentRead": True, "ProjectionExpression": "PK"}}}),
    (
        "query",
        {
            "TableName": "t",
            "IndexName": "GSI1",
            "KeyConditionExpression": "GSI1PK = :p AND begins_with(GSI1SK, :s)",
            "FilterExpression": "#s = :o",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":p": _av("CLIENT#c"), ":s": _av("2026"), ":o": _av("open")},
            "Limit": 100,
            "ScanIndexForward": False,
            "ExclusiveStartKey": KEY,
            "ReturnConsumedCapacity": "TOTAL",
        },
    ),
    ("get_item", {"TableName": "t", "Key": KEY, "ConsistentRead": True}),
    ("put_item", {"TableName": "t", "Item": CP, "ReturnValues": "NONE"}),
    ("update_item", {"TableName": "t", "Key": KEY, "UpdateExpression": "ADD n :one", "ReturnValues": "UPDATED_NEW"}),
    ("delete_item", {"TableName": "t", "Key": KEY}),
    ("scan", {"TableName": "t", "Segment": 0, "TotalSegments": 2}),
    ("transact_get_items", {"TransactItems": [{"Get": {"TableName": "t", "Key": KEY}}]}),
    ("put_item", {"TableName": "t", "Item": {**CP, "blob": {"B": b"\x00\xff"}, "blobs": {"BS": [b"a"]}}}),
    (
        "transact_write_items",  # contacts' transactions: an outbox row with its events compressed, binaries nested
        {
            "TransactItems": [
                {"Put": {"TableName": "t", "Item": CP, "ConditionExpression": "attribute_not_exists(PK)"}},
                {
                    "Put": {
                        "TableName": "t",
                        "Item": {
                            "PK": _av("OUTBOX#e-1"),
                            "SK": _av("OUTBOX"),
                            "events_z": {"B": zlib.compress(b'[["finview.contacts","CasesOpened.v2",{}]]')},
                            "events_n": {"N": "1"},
                            "nested": {"M": {"z": {"B": bytearray(b"\x01\x02")}, "l": {"L": [{"B": b""}]}}},
                            "blobs": {"BS": [b"\xfe", bytearray(b"+/=")]},
                        },
                    }
                },
            ],
            "ClientRequestToken": "token-2",
        },
    ),
]


def _botocore_client() -> Any:
    """botocore's own client, with its own check and serializer."""
    return botocore.session.get_session().create_client(
        "dynamodb", region_name="eu-west-1", endpoint_url="http://127.0.0.1:1"
    )


@pytest.mark.parametrize("validation", ["on", "off"])
@pytest.mark.parametrize(("operation", "params"), REQUESTS, ids=[f"{op}-{n}" for n, (op, _) in enumerate(REQUESTS)])
def test_a_request_is_sent_byte_for_byte_as_botocore_sends_it(
    fresh: None, monkeypatch: pytest.MonkeyPatch, validation: str, operation: str, params: dict[str, Any]
) -> None:
    monkeypatch.setenv(aws.CLIENT_VALIDATION, validation)
    ours = _sent(aws.client("dynamodb"), operation, params)
    assert ours == _sent(_botocore_client(), operation, params)
    # a resource's client first turns Python values into AttributeValues (these are read as maps): the same way
    resource = boto3.session.Session().resource("dynamodb", region_name="eu-west-1", endpoint_url="http://127.0.0.1:1")
    assert _sent(aws.resource("dynamodb").meta.client, operation, params) == _sent(
        resource.meta.client, operation, params
    )


def test_the_data_operations_skip_botocores_walk_binary_values_too(
    fresh: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    walked: list[str] = []
    original = JSONSerializer._serialize

    def counting(self: JSONSerializer, serialized: Any, value: Any, shape: Any, key: Any = None) -> None:
        walked.append(shape.name)
        original(self, serialized, value, shape, key)

    monkeypatch.setattr(JSONSerializer, "_serialize", counting)
    dynamodb = aws.client("dynamodb")
    _sent(dynamodb, *REQUESTS[0])
    assert walked == ["TransactWriteItemsInput"]  # the request's frame (of no parameters), no member walked
    walked.clear()
    _sent(dynamodb, *REQUESTS[-1])  # binary values (an outbox row's compressed events): base64'd without the walk
    assert walked == ["TransactWriteItemsInput"]
    walked.clear()
    _sent(dynamodb, "describe_table", {"TableName": "t"})  # not a data operation: botocore's walk
    assert walked
    walked.clear()
    _sent(aws.resource("dynamodb").meta.client, *REQUESTS[-1])
    assert walked == ["TransactWriteItemsInput"]


def test_what_json_dumps_refuses_takes_botocores_walk(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A set where the model has a list (botocore's check refuses it, so only with the check off): botocore's walk
    sends it as a list, ``json.dumps`` refuses it; the request goes out as botocore's."""
    monkeypatch.setenv(aws.CLIENT_VALIDATION, "off")
    params = {"TableName": "t", "Item": {**KEY, "tags": {"SS": {"a"}}, "blob": {"B": b"\x00"}}}
    ours = _sent(aws.client("dynamodb"), "put_item", params)
    assert b'"tags": {"SS": ["a"]}' in ours[0]
    theirs = botocore.session.get_session().create_client(
        "dynamodb",
        region_name="eu-west-1",
        endpoint_url="http://127.0.0.1:1",
        config=botocore.config.Config(parameter_validation=False),
    )
    assert ours == _sent(theirs, "put_item", params)


def _shapes(shape: Any, seen: set[str]) -> list[Any]:
    if shape.name in seen:
        return []
    seen.add(shape.name)
    found = [shape]
    for child in (
        list(shape.members.values())
        if shape.type_name == "structure"
        else [shape.member]
        if shape.type_name == "list"
        else [shape.key, shape.value]
        if shape.type_name == "map"
        else []
    ):
        found.extend(_shapes(child, seen))
    return found


@pytest.mark.parametrize("operation", sorted(aws.PLAIN_JSON_OPERATIONS))
def test_the_models_of_the_data_operations_make_json_dumps_exact(operation: str) -> None:
    """What makes botocore's walk give back the parameters as they are: a JSON protocol without host prefixes,
    members sent under their own names, no document, timestamp or float shapes; binary shapes only where an
    AttributeValue holds bytes (base64'd by botocore's walk, and by ``shared.aws._base64``)."""
    model = botocore.session.get_session().get_service_model("dynamodb").operation_model(operation)
    assert model.metadata["protocol"] == "json"
    assert "hostPrefix" not in (model.endpoint or {})
    assert not model.service_model.is_query_compatible
    for shape in _shapes(model.input_shape, set()):
        assert shape.type_name in ("structure", "map", "list", "string", "boolean", "integer", "long", "blob")
        assert not getattr(shape, "is_document_type", False)
        if shape.type_name == "blob":
            assert shape.name == "BinaryAttributeValue", shape.name
        if shape.type_name == "structure":
            for name, member in shape.members.items():
                assert member.serialization.get("name", name) == name
