"""boto3 clients and resources, one per (service, endpoint, region).

The endpoint comes from the standard ``AWS_ENDPOINT_URL`` variable (and ``AWS_ENDPOINT_URL_DYNAMODB``, which botocore
prefers for DynamoDB): unset in AWS, pointing at moto's servers on loopback in the local stack and in integration
tests. Nothing else in the code knows where AWS is.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.parsers import JSONParser

_lock = threading.Lock()
_clients: dict[tuple[str, str, str, str], Any] = {}
_sessions: dict[tuple[str, str], boto3.session.Session] = {}
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32)
# botocore checks every request against the service model before it sends it: a sixth of `finview up`'s CPU in
# an import. AWS checks every request on its side as well, moto not always, so the test suite keeps botocore's
# check and `finview up`, whose code the suite has checked, turns it off (infra.cli, FINVIEW_CLIENT_VALIDATION).
CLIENT_VALIDATION = "FINVIEW_CLIENT_VALIDATION"


def _key(kind: str, service: str) -> tuple[str, str, str, str]:
    return (
        kind,
        service,
        # the local stack serves DynamoDB from a server of its own (botocore reads AWS_ENDPOINT_URL_<SERVICE>)
        os.environ.get("AWS_ENDPOINT_URL", "") + " " + os.environ.get("AWS_ENDPOINT_URL_DYNAMODB", ""),
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "eu-west-1"),
    )


def _session(key: tuple[str, str, str, str]) -> boto3.session.Session:
    """The process's one session per (endpoint, region), held under ``_lock``: a fresh session reads botocore's
    JSON models again (endpoints, service and resource models: ~85 ms of CPU per client or resource built), one
    shared session reads them once (~3 ms a build). Clients and resources are only ever built from it under the
    lock, so the session itself is never used by two threads at once (boto3's rule for sessions)."""
    session = _sessions.get(key[2:])
    if session is None:
        core = botocore.session.get_session()
        loader = _shared_loader()
        core.register_component("data_loader", loader)
        session = _sessions[key[2:]] = boto3.session.Session(botocore_session=core)
        paths = loader.search_paths
        paths[:] = list(dict.fromkeys(paths))  # boto3 appends its own data folder for every session it makes
    return session


def _shared_loader() -> Any:
    """The data loader of boto3's default session, which our sessions use too: it keeps every JSON model it read
    (~18 MB of objects for the local stack's seven services), so the local stack, whose provisioning and
    dispatcher use the default session, holds them once, not once per session."""
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    return boto3.DEFAULT_SESSION._session.get_component("data_loader")


def _config() -> Config:
    """The clients' and resources' settings; without botocore's request check when ``CLIENT_VALIDATION`` is off."""
    if os.environ.get(CLIENT_VALIDATION, "on") == "off":
        return _CONFIG.merge(Config(parameter_validation=False))
    return _CONFIG


# DynamoDB's data operations: their requests, in DynamoDB's wire format, are JSON as they are (see _PlainJson)
PLAIN_JSON_OPERATIONS = frozenset(
    {
        "BatchGetItem",
        "BatchWriteItem",
        "DeleteItem",
        "GetItem",
        "PutItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "TransactWriteItems",
        "UpdateItem",
    }
)


class _PlainJson:
    """botocore's JSON serializer, with DynamoDB's data operations written by ``json.dumps`` of the parameters.

    botocore walks every request member by member through the service model before it dumps the result: a tenth
    of `finview up`'s CPU in an import. For these operations the walk gives back the parameters as they are
    (their inputs hold structures, maps, lists, strings, integers and booleans, no renamed member, no timestamp,
    no float, no host prefix: pinned by tests/unit/shared/test_plain_json.py), except a binary value (``B``,
    ``BS``: their only blob members), which it base64s; ``_base64`` does the same for the bytes ``json.dumps``
    meets (the outbox's compressed rows are in every transaction of contacts'). Anything else it cannot dump
    takes botocore's walk."""

    def __init__(self, serializer: Any) -> None:
        self._serializer = serializer

    def serialize_to_request(self, parameters: Any, operation_model: Any) -> Any:
        if operation_model.name in PLAIN_JSON_OPERATIONS:
            try:
                body = json.dumps(parameters, default=_base64).encode("utf-8")
            except (TypeError, ValueError):
                pass
            else:
                request = self._serializer.serialize_to_request({}, operation_model)
                request["body"] = body
                return request
        return self._serializer.serialize_to_request(parameters, operation_model)


def _base64(value: object) -> str:
    """Bytes as botocore writes a blob member (base64, ASCII); anything else ``json.dumps`` refuses as before."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# The members of DynamoDB's reading outputs that hold items (maps and lists of AttributeValues, keys) or counts:
# botocore's parse of them gives back the JSON as it is, but a binary (see _PlainJsonParser)
PLAIN_JSON_MEMBERS: dict[str, frozenset[str]] = {
    "QueryOutput": frozenset({"Items", "Count", "ScannedCount", "LastEvaluatedKey"}),
    "ScanOutput": frozenset({"Items", "Count", "ScannedCount", "LastEvaluatedKey"}),
    "GetItemOutput": frozenset({"Item"}),
    "BatchGetItemOutput": frozenset({"Responses"}),
}
# how a binary AttributeValue (``B``, ``BS``: the only blobs in those members) is named in a response's JSON
_BLOB_MARKS = (b'"B"', b'"BS"', b"\\u0042", b"\\u0053")


class _PlainJsonParser(JSONParser):
    """botocore's JSON parser, with the items of DynamoDB's reads taken as ``json.loads`` gives them.

    botocore walks every member of a response through the model: each AttributeValue is a structure of ten
    members, looked up one by one (a Query of an owner's partition, a BatchGetItem of message records: a twentieth
    of the reminder chain's CPU in our process). For the members in ``PLAIN_JSON_MEMBERS`` the walk gives back the
    JSON as it is (maps, lists, strings, numbers as strings, booleans; pinned by
    tests/unit/shared/test_plain_json.py), except a binary, which it decodes from base64: a body that names one
    takes botocore's walk whole. The outputs' other members (ConsumedCapacity, UnprocessedKeys) take the walk
    too, in the model's order, so the result is botocore's, key for key."""

    def _handle_json_body(self, raw_body: bytes, shape: Any) -> Any:
        plain = PLAIN_JSON_MEMBERS.get(shape.name) if shape is not None else None
        if plain is None or any(mark in raw_body for mark in _BLOB_MARKS):
            return super()._handle_json_body(raw_body, shape)
        parsed = self._parse_body_as_json(raw_body)
        if not isinstance(parsed, dict):
            return self._parse_shape(shape, parsed)
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            value = parsed.get(name)
            if value is not None:
                out[name] = value if name in plain else self._parse_shape(member, value)
        return out


class _PlainJsonParsers:
    """The endpoint's parser factory, making ``_PlainJsonParser`` for DynamoDB's JSON protocol (botocore makes a
    parser per response, with the factory's settings)."""

    def __init__(self, factory: Any) -> None:
        self._factory = factory

    def create_parser(self, protocol_name: str) -> Any:
        if protocol_name == "json":
            return _PlainJsonParser(**self._factory._defaults)
        return self._factory.create_parser(protocol_name)


def _plain_json(dynamodb: Any) -> Any:
    """The client with ``_PlainJson`` in front of its serializer (behind botocore's check when that is on) and
    ``_PlainJsonParser`` reading its responses."""
    outer = dynamodb._serializer
    if hasattr(outer, "_param_validator"):  # ParamValidationDecorator: check, then serialize
        outer._serializer = _PlainJson(outer._serializer)
    else:
        dynamodb._serializer = _PlainJson(outer)
    endpoint = dynamodb._endpoint
    endpoint._response_parser_factory = _PlainJsonParsers(endpoint._response_parser_factory)
    return dynamodb


def client(service: str, *, signature_version: str | None = None) -> Any:
    """The shared client; ``signature_version="s3v4"`` for presigned S3 URLs that sign Content-Type and -Length."""
    key = _key(f"client:{signature_version or ''}", service)
    with _lock:
        if key not in _clients:
            config = _config()
            if signature_version is not None:
                config = config.merge(Config(signature_version=signature_version))
            made = _session(key).client(service, region_name=key[3], config=config)
            _clients[key] = _plain_json(made) if service == "dynamodb" else made
        return _clients[key]


def resource(service: str) -> Any:
    """The thread's resource: boto3 builds a resource's condition expressions with one placeholder counter per
    client, reset at each call, so two threads querying through one client can swap each other's names and send
    "Query condition missed key schema element" (seen under the reminder schedule's 8 threads)."""
    key = _key(f"resource:{threading.get_ident()}", service)
    with _lock:
        if key not in _clients:
            made = _session(key).resource(service, region_name=key[3], config=_config())
            if service == "dynamodb":
                _plain_json(made.meta.client)
            _clients[key] = made
        return _clients[key]


def table(name: str) -> Any:
    """A Table handle, built once per table, endpoint and thread (boto3's resource factory costs ~1 ms a build;
    a resource is not safe to share between threads, see ``resource``)."""
    key = _key(f"table:{name}:{threading.get_ident()}", "dynamodb")
    handle = _clients.get(key)
    if handle is None:
        made = resource("dynamodb").Table(name)
        with _lock:
            handle = _clients.setdefault(key, made)
    return handle


def dynamodb_endpoint() -> str:
    """Where this process's DynamoDB calls go ("" in AWS): for caches of things that hold a DynamoDB client."""
    return os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL", "")


def env(name: str) -> str:
    """A required setting from the function's environment (set by infra, locally and in AWS)."""
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is not set")
    return value
