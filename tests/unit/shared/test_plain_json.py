"""``shared.aws``'s DynamoDB clients write the data operations' requests as ``json.dumps`` of the parameters: the
same bytes botocore's model walk gives, which the model of every such operation makes so (pinned below)."""

from __future__ import annotations

import os
import zlib
from typing import Any
from unittest.mock import MagicMock

import boto3
import botocore.config
import botocore.regions
import botocore.session
import jmespath
import pytest
from botocore.serialize import JSONSerializer, RestJSONSerializer

from shared import aws
from tests.unit.shared.support import model_shapes


@pytest.fixture
def fresh(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder's ``fresh``, with an endpoint nobody listens on (the requests are caught before they are sent)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")]:  # a per-service one wins
        monkeypatch.delenv(name)


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


@pytest.mark.parametrize("operation", sorted(aws.PLAIN_JSON_OPERATIONS))
def test_the_models_of_the_data_operations_make_json_dumps_exact(operation: str) -> None:
    """What makes botocore's walk give back the parameters as they are: a JSON protocol without host prefixes,
    members sent under their own names, no document, timestamp or float shapes; binary shapes only where an
    AttributeValue holds bytes (base64'd by botocore's walk, and by ``shared.aws._base64``)."""
    model = botocore.session.get_session().get_service_model("dynamodb").operation_model(operation)
    assert model.metadata["protocol"] == "json"
    assert "hostPrefix" not in (model.endpoint or {})
    assert not model.service_model.is_query_compatible
    for shape in model_shapes(model.input_shape, set()):
        assert shape.type_name in ("structure", "map", "list", "string", "boolean", "integer", "long", "blob")
        assert not getattr(shape, "is_document_type", False)
        if shape.type_name == "blob":
            assert shape.name == "BinaryAttributeValue", shape.name
        if shape.type_name == "structure":
            for name, member in shape.members.items():
                assert member.serialization.get("name", name) == name


# The endpoint's operation context read without jmespath: the same tables, the same endpoint, no search.
CONTEXT_REQUESTS: list[dict[str, Any]] = [
    REQUESTS[0][1],
    REQUESTS[1][1],
    REQUESTS[2][1],
    REQUESTS[-1][1],
    {"TransactItems": []},
    {"TransactItems": [{"Get": {"TableName": "a", "Key": KEY}}, {"Get": {"Key": KEY}}, {"Get": {"TableName": "b"}}]},
    {"TransactItems": [{"Put": {"TableName": "a"}, "Update": {"TableName": "b"}}, {"Delete": {}}, {}, "x", None, 3]},
    {"TransactItems": [{"Put": ["TableName"]}, {"Update": {"TableName": ["x", "y"]}}, {"Delete": {"TableName": 7}}]},
    {"TransactItems": [{"ConditionCheck": {"TableName": None}}, {"Put": {"TableName": ""}}]},
    {"TransactItems": {"Put": {"TableName": "a"}}},
    {"TransactItems": "a"},
    {"RequestItems": {}},
    {"RequestItems": {"a": [], "b": {"Keys": []}, "c": None}},
    {},
]


@pytest.mark.parametrize("path", sorted(aws.OPERATION_CONTEXT_PATHS))
@pytest.mark.parametrize("request_", CONTEXT_REQUESTS, ids=[f"request-{n}" for n in range(len(CONTEXT_REQUESTS))])
def test_the_endpoints_tables_are_what_jmespath_finds(path: str, request_: dict[str, Any]) -> None:
    try:
        expected: Any = jmespath.search(path, request_)
    except jmespath.exceptions.JMESPathError:
        expected = "refused"
    resolver = _botocore_client()._ruleset_resolver
    aws._read_context_params(resolver)
    model = MagicMock(operation_context_parameters={"ResourceArnList": {"path": path}})
    try:
        found: Any = resolver._resolve_param_as_operation_context_param("ResourceArnList", model, request_)
    except jmespath.exceptions.JMESPathError:
        found = "refused"
    assert found == expected


def test_the_paths_read_without_jmespath_are_the_models() -> None:
    """Every operation context path of DynamoDB's data operations has its reader (another path, as ImportTable's or
    a newer model's, is searched with jmespath)."""
    model = botocore.session.get_session().get_service_model("dynamodb")
    paths = {
        param["path"]
        for name in aws.PLAIN_JSON_OPERATIONS
        for param in (model.operation_model(name).operation_context_parameters or {}).values()
    }
    assert paths == set(aws.OPERATION_CONTEXT_PATHS)


def test_a_transaction_resolves_its_endpoint_without_a_jmespath_search(
    fresh: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    searched: list[str] = []
    original = jmespath.search

    def counting(expression: str, data: Any, *args: Any, **kwargs: Any) -> Any:
        searched.append(expression)
        return original(expression, data, *args, **kwargs)

    monkeypatch.setattr(botocore.regions.jmespath, "search", counting)
    entries = [{"Put": {"TableName": "t", "Item": {**KEY, "n": {"N": str(n)}}}} for n in range(60)]
    params = {"TransactItems": entries, "ClientRequestToken": "token-3"}
    ours = _sent_to(aws.client("dynamodb"), "transact_write_items", params)
    assert searched == []
    theirs = _sent_to(_botocore_client(), "transact_write_items", params)
    assert searched  # botocore's own client searches
    assert ours == theirs  # the same URL, body and headers


def _sent_to(client: Any, operation: str, params: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
    """The URL, body and headers the client would send (without the signature's time-dependent parts)."""

    def sending(request: Any, **_: Any) -> None:
        raise _Sent(request)

    client.meta.events.register_first(f"before-send.{client.meta.service_model.endpoint_prefix}.*", sending)
    client.meta.events.register_first("before-send.*.*", sending)
    with pytest.raises(_Sent) as sent:
        getattr(client, operation)(**params)
    request = sent.value.request
    skip = ("Authorization", "X-Amz-Date", "amz-sdk-invocation-id", "User-Agent", "amz-sdk-request")
    return request.url, request.body, {k: v for k, v in request.headers.items() if k not in skip}


def _sesv2_botocore() -> Any:
    return botocore.session.get_session().create_client(
        "sesv2", region_name="eu-west-1", endpoint_url="http://127.0.0.1:1"
    )


SEND_EMAILS: list[dict[str, Any]] = [
    {
        "FromEmailAddress": '"Stadtwerke Musterstadt GmbH" <no-reply@finview.example>',
        "Destination": {"ToAddresses": ["jürgen@example.de"]},
        "Content": {
            "Simple": {
                "Subject": {"Data": "Zahlungserinnerung: 1.250,00 € am 01.12.2026", "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": 'Guten Tag,\n"Rate" \\ fällig ✓', "Charset": "UTF-8"},
                    "Html": {"Data": "<p>Guten Tag,</p><p>&amp; f&auml;llig</p>", "Charset": "UTF-8"},
                },
                "Headers": [
                    {"Name": "List-Unsubscribe", "Value": "<https://u.example/?m=1>, <mailto:a@b.example>"},
                    {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"},
                ],
            }
        },
        "EmailTags": [{"Name": "message_id", "Value": "m-1"}, {"Name": "kind", "Value": "payment_plan_reminder"}],
        "ReplyToAddresses": ["inkasso@stadtwerke.example"],
        "ConfigurationSetName": "finview-events",
    },
    {
        "FromEmailAddress": "no-reply@finview.example",
        "Destination": {"ToAddresses": ["a@example.fr"], "CcAddresses": [], "BccAddresses": ["b@example.fr"]},
        "Content": {"Simple": {"Subject": {"Data": "x"}, "Body": {"Text": {"Data": ""}}, "Headers": []}},
        "EmailTags": [],
    },
    {"Content": {"Raw": {"Data": b"From: a@example.de\r\n\r\nhi"}}},  # a blob: botocore's walk
    {"FromEmailAddress": "a@example.de", "Content": {"Template": {"TemplateName": "t", "TemplateData": "{}"}}},
]


@pytest.mark.parametrize("validation", ["on", "off"])
@pytest.mark.parametrize("params", SEND_EMAILS, ids=[f"send-{n}" for n in range(len(SEND_EMAILS))])
def test_send_email_is_sent_byte_for_byte_as_botocore_sends_it(
    fresh: None, monkeypatch: pytest.MonkeyPatch, validation: str, params: dict[str, Any]
) -> None:
    monkeypatch.setenv(aws.CLIENT_VALIDATION, validation)
    assert _sent_to(aws.client("sesv2"), "send_email", params) == _sent_to(_sesv2_botocore(), "send_email", params)


def test_send_email_skips_botocores_walk(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    walked: list[str] = []
    original = RestJSONSerializer._serialize

    def counting(self: RestJSONSerializer, serialized: Any, value: Any, shape: Any, key: Any = None) -> None:
        walked.append(shape.name)
        original(self, serialized, value, shape, key)

    monkeypatch.setattr(RestJSONSerializer, "_serialize", counting)
    _sent_to(aws.client("sesv2"), "send_email", SEND_EMAILS[0])
    assert walked == []
    _sent_to(aws.client("sesv2"), "send_email", SEND_EMAILS[2])  # a blob: the walk
    assert walked


def test_send_emails_model_makes_json_dumps_exact() -> None:
    """A REST-JSON operation whose members all go to the body under their own names; no timestamp, float or
    document; its only blobs (raw message, attachments) refused by ``shared.aws._plain``."""
    model = botocore.session.get_session().get_service_model("sesv2").operation_model("SendEmail")
    assert model.metadata["protocol"] == "rest-json"
    assert "hostPrefix" not in (model.endpoint or {})
    assert "{" not in model.http["requestUri"]
    for shape in model_shapes(model.input_shape, set()):
        assert shape.type_name in ("structure", "map", "list", "string", "boolean", "integer", "long", "blob")
        assert not getattr(shape, "is_document_type", False)
        assert "location" not in shape.serialization
        if shape.type_name == "structure":
            for name, member in shape.members.items():
                assert member.serialization.get("name", name) == name
                assert "location" not in member.serialization
