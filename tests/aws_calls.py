"""Record every AWS call each Lambda function makes on the local stack, and check it against the function's grants.

The local stack runs the real handlers in this process. While recording, each handler runs with its function's
name in a context variable (carried into the thread pools the handlers use), and every botocore call and every
presigned URL is recorded under that name. ``refused`` then says which calls the function's IAM grants
(``infra.permissions``) would not allow in AWS: the policy is derived from the code paths a run exercises.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock
from urllib.parse import unquote, urlparse

from botocore.client import BaseClient
from botocore.signers import RequestSigner

from infra import permissions
from infra.definition import STACK, Function, Names, Stack
from infra.local import apigw, dispatcher

_running: contextvars.ContextVar[Function | None] = contextvars.ContextVar("finview_function", default=None)


@dataclass(frozen=True)
class Call:
    function: Function
    service: str
    operation: str
    params: dict[str, Any] = field(hash=False, compare=False)


@contextmanager
def recording() -> Iterator[list[Call]]:
    calls: list[Call] = []
    make_api_call = BaseClient._make_api_call
    presign = RequestSigner.generate_presigned_url
    submit = ThreadPoolExecutor.submit
    resolve = dispatcher.resolve
    invoke = apigw.LocalApiGateway.invoke

    def record(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if (fn := _running.get()) is not None:
            calls.append(Call(fn, self.meta.service_model.service_name, operation, dict(params)))
        return make_api_call(self, operation, params)

    def record_presign(self: RequestSigner, request_dict: dict[str, Any], operation_name: str, **kw: Any) -> Any:
        if (fn := _running.get()) is not None:
            path = unquote(urlparse(request_dict["url"]).path).lstrip("/")
            bucket, _, key = path.partition("/")
            calls.append(Call(fn, "s3", operation_name, {"Bucket": bucket, "Key": key, "presigned": True}))
        return presign(self, request_dict, operation_name, **kw)

    def submit_in_context(self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return submit(self, contextvars.copy_context().run, fn, *args, **kwargs)

    def resolve_as(function: Function) -> Callable[[dict[str, Any], Any], Any]:
        handler = resolve(function)

        def run(event: dict[str, Any], context: Any) -> Any:
            token = _running.set(function)
            try:
                return handler(event, context)
            finally:
                _running.reset(token)

        return run

    def invoke_as(self: apigw.LocalApiGateway, *args: Any, **kwargs: Any) -> Any:
        token = _running.set(self.function)
        try:
            return invoke(self, *args, **kwargs)
        finally:
            _running.reset(token)

    with (
        mock.patch.object(BaseClient, "_make_api_call", record),
        mock.patch.object(RequestSigner, "generate_presigned_url", record_presign),
        mock.patch.object(ThreadPoolExecutor, "submit", submit_in_context),
        mock.patch.object(dispatcher, "resolve", resolve_as),
        mock.patch.object(apigw.LocalApiGateway, "invoke", invoke_as),
    ):
        yield calls


# Calls the code makes only off AWS: imports asks moto for a queue's URL, which in AWS follows from its ARN.
LOCAL_ONLY = {("sqs", "GetQueueUrl")}
TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


def _actions(call: Call) -> list[str]:
    """The IAM actions AWS checks for ``call``."""
    p, op = call.params, call.operation
    if call.service == "dynamodb":
        if op == "TransactWriteItems":
            return [f"dynamodb:{TRANSACT[kind]}" for item in p["TransactItems"] for kind in item]
        return ["dynamodb:GetItem"] if op == "TransactGetItems" else [f"dynamodb:{op}"]
    if call.service == "s3":
        versioned = "Version" if p.get("VersionId") else ""
        if op in ("GetObject", "HeadObject", "DeleteObject"):
            return [f"s3:{op.replace('Head', 'Get')}{versioned}"]
        if op == "ListObjectVersions":  # listing a bucket is authorised on the bucket, not on its objects
            return ["s3:ListBucketVersions"]
        if op in ("CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "PutObject"):
            return ["s3:PutObject", *(["s3:PutObjectTagging"] if p.get("Tagging") else [])]
        return [f"s3:{op}"]
    if call.service == "sesv2":  # SES v2's API is authorised with the "ses" actions
        return [f"ses:{op}"]
    return [f"{call.service}:{op}"]


def _resource(call: Call, stack: Stack, names: Names) -> tuple[str, str]:
    """(kind, logical name) of what ``call`` acts on, as ``infra.permissions.Grant`` names it."""
    p = call.params
    if call.service == "dynamodb":
        tables = {names.table(t.logical): t.owner for t in stack.tables}
        if call.operation in ("BatchWriteItem", "BatchGetItem"):
            (table,) = p["RequestItems"]
        elif call.operation == "TransactWriteItems":
            (table,) = {next(iter(i.values()))["TableName"] for i in p["TransactItems"]}
        else:
            table = p["TableName"]
        return ("index" if p.get("IndexName") else "table", tables[table])
    if call.service == "events":
        return ("bus", "")
    if call.service == "s3":
        buckets = {names.bucket(b.logical): b.logical for b in stack.buckets}
        return ("bucket" if call.operation.startswith("List") else "objects", buckets[p["Bucket"]])
    if call.service == "sqs":
        queues = {names.queue(q.logical): q.logical for q in stack.queues}
        return ("queue", queues[p["QueueUrl"].rsplit("/", 1)[-1]])
    if call.service in ("ses", "sesv2") and call.operation.startswith("Send"):
        return ("sender", "")
    if call.service == "sns" and p.get("PhoneNumber"):
        return ("sms", "")
    return ("any", "")


def refused(calls: list[Call], names: Names, stack: Stack = STACK) -> list[str]:
    """Each call that ``infra.permissions`` does not grant to the function that made it, described."""
    out = []
    for call in calls:
        if (call.service, call.operation) in LOCAL_ONLY:
            continue
        grants = permissions.grants(call.function)
        targets = [_resource(call, stack, names)]
        if call.params.get("ConfigurationSetName"):  # IAM checks a send on the configuration set too
            targets.append(("configuration_set", ""))
        for kind, name in targets:
            for action in _actions(call):
                if not any(action in g.actions and g.kind == kind and g.name == name for g in grants):
                    out.append(f"{call.function.logical}: {action} on {kind} {name}".rstrip())
    return sorted(set(out))
