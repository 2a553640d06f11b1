"""infra.local.fidelity.lean_requests: moto's server answers DynamoDB, SQS and EventBridge exactly as by its own
path, at a fraction of the cost. Each scenario runs twice on the session's server from the same random seed, once
through the fast path and once through moto's own (Flask, full serializer); every response (status, headers,
body, errors with their reasons) must be the same."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import moto
import pytest
from botocore.exceptions import ClientError
from moto.moto_api._internal import mock_random

from infra.local import fidelity
from tests.integration.support import create_pk_sk_gsi1_table

REGION = "eu-west-1"
# values moto takes from the clock, not from its seeded random
CLOCK_KEYS = {"CreationDateTime", "SentTimestamp", "ApproximateFirstReceiveTimestamp", "CreatedTimestamp"}
CLOCK_KEYS |= {"LastModifiedTimestamp", "LastUpdateToPayPerRequestDateTime", "LastDecreaseDateTime"}
COMPARED_HEADERS = ("content-type", "content-length", "x-amz-crc32", "x-amzn-requestid", "x-amzn-query-error")


def _masked(value: Any) -> Any:
    if isinstance(value, dict) and str(value.get("Body", "")).startswith("{"):  # an event: its "time" is the clock's
        event = json.loads(value["Body"])
        value = {**value, "Body": {**event, "time": "<clock>"}, "MD5OfBody": "<clock>"}
    if isinstance(value, dict):
        return {k: "<clock>" if k in CLOCK_KEYS else _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


class Recorder:
    """Every response the clients get: operation, status, the headers that matter, the body (clock masked)."""

    def __init__(self) -> None:
        self.responses: list[tuple[str, int, dict[str, str], Any]] = []

    def __call__(self, http_response: Any, model: Any, **_: Any) -> None:
        raw = http_response.content
        body = json.loads(raw) if raw else None
        headers = {k.lower(): v for k, v in http_response.headers.items()}
        kept = {name: headers[name] for name in COMPARED_HEADERS if name in headers}
        if body is not None and any(k in json.dumps(body) for k in CLOCK_KEYS):
            kept.pop("content-length", None)  # the clock's digits
            kept.pop("x-amz-crc32", None)
        self.responses.append((model.name, http_response.status_code, kept, _masked(body)))


def _clients(endpoint: str, recorder: Recorder) -> dict[str, Any]:
    out = {}
    for service in ("dynamodb", "sqs", "events", "sesv2"):
        c = boto3.client(service, endpoint_url=endpoint, region_name=REGION)
        c.meta.events.register("after-call.*.*", recorder)
        out[service] = c
    return out


def _error(fn: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        fn()
    return dict(caught.value.response)


def _every_type(n: int) -> dict[str, Any]:
    return {
        "PK": {"S": f"OWNER#{n}"},
        "SK": {"S": "PROFILE"},
        "GSI1PK": {"S": "CLIENT#1"},
        "GSI1SK": {"S": f"2026-11-{n:02d}"},
        "name": {"S": 'Zoë O\'Brien \u2603 "quoted"'},
        "amount": {"N": "1234.50"},
        "blob": {"B": base64.b64decode(base64.b64encode(b"\x00\xffbinary"))},
        "tags": {"SS": ["a", "b"]},
        "scores": {"NS": ["1", "2.5"]},
        "blobs": {"BS": [b"\x01", b"\x02"]},
        "address": {"M": {"city": {"S": "Köln"}, "zip": {"N": "50667"}, "lines": {"L": [{"S": "x"}, {"NULL": True}]}}},
        "history": {"L": [{"BOOL": True}, {"N": "3"}, {"M": {}}]},
        "gone": {"NULL": True},
        "active": {"BOOL": False},
    }


def dynamodb_scenario(ddb: Any, table: str) -> None:
    create_pk_sk_gsi1_table(ddb, table)
    for n in range(1, 8):
        ddb.put_item(TableName=table, Item=_every_type(n), ReturnConsumedCapacity="TOTAL")
    ddb.put_item(TableName=table, Item=_every_type(1), ReturnValues="ALL_OLD")
    near_limit = {f"a{i:03d}": {"S": "x" * 3990} for i in range(100)}  # 100 attributes, ~399,000 bytes
    ddb.put_item(TableName=table, Item={"PK": {"S": "BIG#1"}, "SK": {"S": "A"}, **near_limit})
    over = {**near_limit, "a100": {"S": "x" * 6000}}
    _error(lambda: ddb.put_item(TableName=table, Item={"PK": {"S": "BIG#2"}, "SK": {"S": "A"}, **over}))
    key = {"PK": {"S": "OWNER#1"}, "SK": {"S": "PROFILE"}}
    _error(
        lambda: ddb.put_item(
            TableName=table,
            Item=_every_type(1),
            ConditionExpression="attribute_not_exists(PK)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    )
    ddb.get_item(TableName=table, Key=key)
    ddb.get_item(TableName=table, Key={"PK": {"S": "nobody"}, "SK": {"S": "PROFILE"}})
    ddb.get_item(
        TableName=table, Key=key, ProjectionExpression="#n, address.city", ExpressionAttributeNames={"#n": "name"}
    )
    ddb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET amount = amount + :one, tags = :t REMOVE gone",
        ExpressionAttributeValues={":one": {"N": "1"}, ":t": {"SS": ["c"]}},
        ReturnValues="ALL_NEW",
    )
    _error(lambda: ddb.update_item(TableName=table, Key=key, UpdateExpression="SET amount = :x"))  # no value
    ddb.query(TableName=table, KeyConditionExpression="PK = :p", ExpressionAttributeValues={":p": {"S": "OWNER#2"}})
    page = ddb.query(
        TableName=table,
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :c AND GSI1SK > :d",
        ExpressionAttributeValues={":c": {"S": "CLIENT#1"}, ":d": {"S": "2026-11-02"}},
        Limit=2,
        ScanIndexForward=False,
    )
    ddb.query(
        TableName=table,
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :c",
        ExpressionAttributeValues={":c": {"S": "CLIENT#1"}},
        ExclusiveStartKey=page["LastEvaluatedKey"],
        Select="COUNT",
    )
    ddb.scan(TableName=table, FilterExpression="active = :f", ExpressionAttributeValues={":f": {"BOOL": False}})
    ddb.batch_write_item(
        RequestItems={
            table: [{"PutRequest": {"Item": _every_type(n)}} for n in range(10, 14)]
            + [{"DeleteRequest": {"Key": {"PK": {"S": "OWNER#7"}, "SK": {"S": "PROFILE"}}}}]
        }
    )
    ddb.batch_get_item(
        RequestItems={table: {"Keys": [{"PK": {"S": f"OWNER#{n}"}, "SK": {"S": "PROFILE"}} for n in (1, 7, 10)]}}
    )
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {"PK": {"S": "NEW#1"}, "SK": {"S": s}}}} for s in ("A", "B")
        ]
        + [{"ConditionCheck": {"TableName": table, "Key": key, "ConditionExpression": "attribute_exists(PK)"}}]
    )
    _error(
        lambda: ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"PK": {"S": "NEW#2"}, "SK": {"S": "A"}}}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"PK": {"S": "NEW#1"}, "SK": {"S": "A"}},
                        "ConditionExpression": "attribute_not_exists(PK)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )
    )
    ddb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": key}}])
    ddb.delete_item(TableName=table, Key=key, ReturnValues="ALL_OLD")
    _error(lambda: ddb.get_item(TableName=table + "-missing", Key=key))
    _error(lambda: ddb.get_item(TableName=table, Key={"PK": {"S": "x"}}))  # half a key
    ddb.describe_table(TableName=table)
    ddb.delete_table(TableName=table)


def sqs_and_events_scenario(sqs: Any, events: Any, name: str) -> None:
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody="héllo",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
    )
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(3)])
    got = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[1]["ReceiptHandle"])
    sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "ok", "ReceiptHandle": got[2]["ReceiptHandle"]}, {"Id": "bad", "ReceiptHandle": "nonsense"}],
    )
    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "QueueArn"])
    _error(lambda: sqs.get_queue_url(QueueName=name + "-missing"))
    _error(lambda: sqs.send_message(QueueUrl=url + "-missing", MessageBody="x"))

    bus = events.create_event_bus(Name=name)["EventBusArn"]
    events.put_rule(Name=name, EventBusName=name, EventPattern=json.dumps({"source": ["finview.test"]}))
    events.put_targets(Rule=name, EventBusName=name, Targets=[{"Id": "q", "Arn": arn}])
    events.put_events(
        Entries=[
            {"Source": "finview.test", "DetailType": "Tested", "Detail": json.dumps({"n": 1}), "EventBusName": bus},
            {"Source": "finview.other", "DetailType": "Ignored", "Detail": "{}", "EventBusName": bus},
        ]
    )
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    events.describe_rule(Name=name, EventBusName=name)
    _error(lambda: events.describe_rule(Name=name + "-missing", EventBusName=name))
    events.remove_targets(Rule=name, EventBusName=name, Ids=["q"])
    events.delete_rule(Name=name, EventBusName=name)
    events.delete_event_bus(Name=name)
    sqs.delete_queue(QueueUrl=url)


def differential_run(
    moto_endpoint: str, scenario: Callable[[dict[str, Any]], None], patched: bool, stat: str
) -> tuple[list[Any], int]:
    """Every response of `scenario` through the patches (or moto's own path), ids seeded, and how often `stat` grew."""
    recorder = Recorder()
    clients = _clients(moto_endpoint, recorder)
    before = fidelity.stats[stat]
    mock_random.seed(20261128)
    try:
        if patched:
            scenario(clients)
        else:
            with fidelity.moto_own_path():
                scenario(clients)
    finally:
        mock_random.seed()  # the session's later ids random again
    return recorder.responses, fidelity.stats[stat] - before


def _run(moto_endpoint: str, name: str, fast: bool) -> tuple[list[Any], int]:
    def scenario(clients: dict[str, Any]) -> None:
        dynamodb_scenario(clients["dynamodb"], name)
        sqs_and_events_scenario(clients["sqs"], clients["events"], name)

    return differential_run(moto_endpoint, scenario, fast, "fast_requests")


def test_the_fast_path_answers_every_operation_as_moto_does(moto_endpoint: str) -> None:
    assert fidelity.lean_requests() is True
    name = f"lean-{uuid.uuid4().hex[:8]}"
    fast, served_fast = _run(moto_endpoint, name, fast=True)
    own, served_own = _run(moto_endpoint, name, fast=False)
    assert served_own == 0 and served_fast == len(fast) > 40  # each path was the one taken
    assert [r[0] for r in fast] == [r[0] for r in own]
    for got, expected in zip(fast, own, strict=True):
        assert got == expected, got[0]
    # the scenario met the errors it means to compare, with their reasons
    statuses = {(op, status) for op, status, _, _ in fast}
    assert {("PutItem", 400), ("TransactWriteItems", 400), ("GetQueueUrl", 400), ("DescribeRule", 400)} <= statuses
    too_big = [body for op, status, _, body in fast if op == "PutItem" and status == 400]
    assert any("Item size has exceeded the maximum allowed size" in b["message"] for b in too_big), too_big
    cancelled = next(body for op, status, _, body in fast if op == "TransactWriteItems" and status == 400)
    assert [r["Code"] for r in cancelled["CancellationReasons"]] == ["None", "ConditionalCheckFailed"]
    assert cancelled["CancellationReasons"][1]["Item"] == {"PK": {"S": "NEW#1"}, "SK": {"S": "A"}}


def test_ses_v2_send_email_answers_as_moto_does(moto_endpoint: str) -> None:
    """SES v2's SendEmail (REST-JSON, every e-mail notifications sends) skips Flask as the JSON services do."""
    sender = f"lean-{uuid.uuid4().hex[:8]}@finview.example"
    boto3.client("sesv2", endpoint_url=moto_endpoint, region_name=REGION).create_email_identity(EmailIdentity=sender)
    content = {
        "Simple": {
            "Subject": {"Data": "Zahlungserinnerung für Zoë"},
            "Body": {"Text": {"Data": "Hallo\n1.250,00 €"}, "Html": {"Data": "<p>Hallo</p>"}},
            "Headers": [{"Name": "List-Unsubscribe", "Value": "<mailto:optout@finview.example>"}],
        }
    }

    def scenario(clients: dict[str, Any]) -> None:
        sesv2 = clients["sesv2"]
        for to in ("a@example.de", "b@example.fr"):
            sesv2.send_email(
                FromEmailAddress=sender,
                Destination={"ToAddresses": [to]},
                Content=content,
                EmailTags=[{"Name": "message_id", "Value": to}],
                ConfigurationSetName="finview",
            )
        _error(
            lambda: sesv2.send_email(
                FromEmailAddress="nobody@unverified.example", Destination={"ToAddresses": ["c@x.de"]}, Content=content
            )
        )

    fast, served_fast = differential_run(moto_endpoint, scenario, True, "fast_requests")
    own, served_own = differential_run(moto_endpoint, scenario, False, "fast_requests")
    assert served_own == 0 and served_fast == len(fast) == 3  # each path was the one taken
    assert fast == own
    assert [status for _, status, _, _ in fast] == [200, 200, 400]
    assert "MessageId" in fast[0][3]


def test_the_request_patches_are_pinned_to_the_installed_moto() -> None:
    assert moto.__version__ == fidelity.PINNED_MOTO
    assert fidelity.request_sources() == fidelity.PINNED_REQUEST_SOURCES
    assert "lean-requests" in fidelity.installed()


def test_requests_the_fast_path_does_not_take(moto_endpoint: str) -> None:
    """Unsigned, CORS and non-JSON requests keep moto's whole path (and still work)."""
    import requests

    before = fidelity.stats["fast_requests"]
    target = {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"}
    signed = {"Authorization": "AWS4-HMAC-SHA256 Credential=k/20261128/eu-west-1/dynamodb/aws4_request, S=0"}
    cors = requests.post(moto_endpoint + "/", data="{}", headers={**target, **signed, "Origin": "http://x"}, timeout=10)
    assert cors.status_code == 200 and cors.headers["Access-Control-Allow-Origin"] == "http://x"
    wrong_scope = {"Authorization": signed["Authorization"].replace("/dynamodb/", "/sqs/")}
    requests.post(moto_endpoint + "/", data="{}", headers={**target, **wrong_scope}, timeout=10)
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION)
    bucket = f"lean-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    assert fidelity.stats["fast_requests"] == before
    plain = requests.post(moto_endpoint + "/", data="{}", headers={**target, **signed}, timeout=10)
    assert plain.status_code == 200 and "Access-Control-Allow-Origin" not in plain.headers
    assert fidelity.stats["fast_requests"] == before + 1


def _dynamodb_parser(operation: str) -> Any:
    from moto.core.parse import JSONParser
    from moto.core.utils import get_service_model

    return JSONParser(get_service_model("dynamodb").operation_model(operation), map_type=dict)


def _parsed(operation: str, body: dict[str, Any]) -> Any:
    request = {"method": "POST", "values": {}, "headers": {}, "body": json.dumps(body).encode()}
    return _dynamodb_parser(operation).parse({**request, "url_path": "/", "url_params": {}})  # type: ignore[typeddict-item]


ODD_VALUES: list[Any] = [
    {"S": "Zoë"},
    {"N": "-1.50"},
    {"B": base64.b64encode(b"\x00\xff").decode()},
    {"BS": [base64.b64encode(b"x").decode()]},
    {"SS": ["a", "b"]},
    {"NS": ["1", "2"]},
    {"NULL": True},
    {"BOOL": False},
    {"M": {"a": {"S": "x"}, "deep": {"M": {"b": {"L": [{"N": "1"}, {"B": base64.b64encode(b"y").decode()}]}}}}},
    {"L": [{"S": "x"}, {"M": {}}, {"L": []}]},
    {"S": None},  # moto drops a null member
    {"S": "x", "N": "1"},  # two members, kept in the shape's order
    {"S": "x", "Unknown": "y"},  # an unknown member is dropped
    {},
    {"S": 5},  # a wrong JSON type is kept as it came
    {"SS": ["a", None]},
    {"M": {"a": {"S": None}}},
    {"L": [{"S": "x", "N": "2"}]},
    {"BOOL": "yes"},
]


@pytest.mark.parametrize("value", ODD_VALUES, ids=[json.dumps(v)[:40] for v in ODD_VALUES])
def test_an_attribute_value_parses_as_moto_parses_it(value: Any) -> None:
    assert fidelity.lean_requests() is True
    body = {
        "TableName": "t",
        "Item": {"PK": {"S": "p"}, "v": value},
        "ExpressionAttributeValues": {":v": value},
    }
    with fidelity.moto_own_path():
        expected = _parsed("PutItem", body)
    got = _parsed("PutItem", body)
    assert got == expected
    assert json.dumps(got, default=repr) == json.dumps(expected, default=repr)  # the same order, the same types


def test_plain_attribute_values_are_not_walked_member_by_member(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's parser visits each of an AttributeValue's ten members; a value it would return unchanged is taken
    as it came, and only what holds a binary value is walked."""
    from moto.core.parse import BaseJSONParser

    assert fidelity.lean_requests() is True
    walked: list[str] = []
    original = BaseJSONParser._parse_structure

    def counting(self: Any, shape: Any, value: Any) -> Any:
        walked.append(shape.name)
        return original(self, shape, value)

    monkeypatch.setattr(BaseJSONParser, "_parse_structure", counting)
    monkeypatch.setattr(fidelity, "_type_methods", {})  # the methods are looked up again: the counting one
    items = [{"PK": {"S": f"p{n}"}, "m": {"M": {"l": {"L": [{"N": "1"}, {"SS": ["a"]}]}}}} for n in range(25)]
    items.append({"PK": {"S": "bin"}, "b": {"B": base64.b64encode(b"z").decode()}})
    parsed = _parsed("BatchWriteItem", {"RequestItems": {"t": [{"PutRequest": {"Item": i}} for i in items]}})
    assert [r["PutRequest"]["Item"] for r in parsed["RequestItems"]["t"]][:25] == items[:25]
    assert parsed["RequestItems"]["t"][25]["PutRequest"]["Item"]["b"] == {"B": b"z"}
    assert walked.count("AttributeValue") == 1  # the binary value alone


def _serialized(operation: str, result: dict[str, Any]) -> str:
    from moto.core.serialize import JSONSerializer
    from moto.core.utils import get_service_model

    serializer = JSONSerializer(get_service_model("dynamodb").operation_model(operation))
    return str(serializer.serialize(result)["body"])


# as moto's DynamoDB backend hands them to its serializer (``to_json``: binary values as bytes), and odd ones
OUTPUT_VALUES: list[Any] = [
    {"S": "Zoë"},
    {"N": "-1.50"},
    {"B": b"\x00\xff"},
    {"BS": [b"x", b"y"]},
    {"SS": ["a", "b"]},
    {"NS": ["1", "2"]},
    {"SS": []},
    {"NULL": True},
    {"BOOL": False},
    {"M": {"a": {"S": "x"}, "deep": {"M": {"b": {"L": [{"N": "1"}, {"B": b"y"}]}}}}},
    {"L": [{"S": "x"}, {"M": {}}, {"L": []}, {"NULL": True}]},
    {"M": {}},
    {"S": ""},
    {"S": None},
    {"S": "x", "N": "1"},
    {"S": "x", "Unknown": "y"},
    {},
    {"S": 5},
    {"N": 1.5},
    {"BOOL": "yes"},
    {"NULL": 1},
    {"SS": ["a", 1]},
    {"NS": [1, 2]},
    {"M": {"a": {"S": 5}}},
    {"L": [{"S": "x", "N": "2"}]},
    {"L": ({"S": "x"},)},
]


@pytest.mark.parametrize("value", OUTPUT_VALUES, ids=[repr(v)[:40] for v in OUTPUT_VALUES])
def test_an_attribute_value_serialises_as_moto_serialises_it(value: Any) -> None:
    assert fidelity.lean_requests() is True
    results: dict[str, dict[str, Any]] = {
        "GetItem": {"Item": {"PK": {"S": "p"}, "v": value}},
        "Query": {"Items": [{"PK": {"S": "p"}, "v": value}, {"v": {"L": [value]}}], "Count": 2, "ScannedCount": 2},
    }
    for operation, result in results.items():
        with fidelity.moto_own_path():
            try:
                expected: Any = _serialized(operation, result)
            except Exception as exc:  # the same failure is expected of both paths
                expected = type(exc)
        try:
            got: Any = _serialized(operation, result)
        except Exception as exc:
            got = type(exc)
        assert got == expected, operation


def test_plain_attribute_values_are_not_serialised_member_by_member(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.core.serialize import BaseJSONSerializer

    assert fidelity.lean_requests() is True
    walked: list[str] = []
    original = BaseJSONSerializer._serialize_type_structure

    def counting(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        walked.append(shape.name)
        original(self, serialized, value, shape, key)

    monkeypatch.setattr(BaseJSONSerializer, "_serialize_type_structure", counting)
    monkeypatch.setattr(fidelity, "_type_methods", {})  # the methods are looked up again: the counting one
    items = [{"PK": {"S": f"p{n}"}, "m": {"M": {"l": {"L": [{"N": "1"}, {"SS": ["a"]}]}}}} for n in range(25)]
    items.append({"PK": {"S": "bin"}, "b": {"B": b"z"}})
    body = json.loads(_serialized("Query", {"Items": items, "Count": 26, "ScannedCount": 26}))
    assert body["Items"][:25] == items[:25] and body["Items"][25]["b"] == {"B": base64.b64encode(b"z").decode()}
    assert walked.count("AttributeValue") == 1  # the binary value alone
