"""DynamoDB idioms the repositories share: put-if-absent, a query read to its last page, and many entities' conditional
writes in as few transactions as fit."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError


def is_condition_failure(exc: ClientError) -> bool:
    """A failed condition, of a single write or of a transaction (a write with its outbox rows)."""
    code = exc.response["Error"]["Code"]
    if code == "TransactionCanceledException":
        reasons = exc.response.get("CancellationReasons") or []
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons) or "ConditionalCheckFailed" in str(exc)
    return code == "ConditionalCheckFailedException"


def put_new(table: Any, item: dict[str, Any]) -> bool:
    """Put unless an item with this key exists; False when it did (a re-delivery or a duplicate)."""
    try:
        table.put_item(Item=item, ConditionExpression="attribute_not_exists(PK)")
        return True
    except ClientError as exc:
        if is_condition_failure(exc):
            return False
        raise


def query_all(table: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a query, following LastEvaluatedKey."""
    items: list[dict[str, Any]] = []
    while True:
        page = table.query(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}


MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit per TransactWriteItems
_PASSED = ("None", "")  # a cancelled transaction's reason for an item whose own condition held


def _target(op: dict[str, Any]) -> tuple[str, str]:
    """The table and key an entry of TransactItems writes (every table here is keyed PK/SK)."""
    ((_, body),) = op.items()
    key = body.get("Key") or {k: body["Item"][k] for k in ("PK", "SK") if k in body["Item"]}
    return str(body["TableName"]), json.dumps(key, sort_keys=True)


_SINGLE = {"Put": "put_item", "Update": "update_item", "Delete": "delete_item"}


def _write_one(client: Any, op: dict[str, Any]) -> bool | None:
    """A lone write as a plain conditional write (half the write units of a transaction of one); None when ``op`` is
    a ConditionCheck, which only a transaction does."""
    ((verb, body),) = op.items()
    if verb not in _SINGLE:
        return None
    try:
        getattr(client, _SINGLE[verb])(**body)
        return True
    except ClientError as exc:
        if is_condition_failure(exc):
            return False
        raise


def write_groups(client: Any, groups: Sequence[Sequence[dict[str, Any]]]) -> list[bool]:
    """Write each group (one entity's TransactItems entries, in the low-level format) all or nothing, as few
    TransactWriteItems as fit: whole groups, at most 100 items and no item twice in one request (a later group
    writing an item an earlier one wrote goes in a later request, so the order between them holds). A group whose
    condition fails is left out (False) and the rest of its request written again; any other cancellation (a
    conflicting transaction, throttling) raises. One request for up to 100 entities instead of one each."""
    written = [False] * len(groups)
    chunks: list[list[int]] = []
    size, seen = 0, set[tuple[str, str]]()
    for g, group in enumerate(groups):
        targets = [_target(op) for op in group]
        if not group:
            written[g] = True
            continue
        if not chunks or size + len(group) > MAX_TRANSACTION_ITEMS or seen.intersection(targets):
            chunks.append([])
            size, seen = 0, set()
        chunks[-1].append(g)
        size += len(group)
        seen.update(targets)
    for remaining in chunks:
        while remaining:
            items = [op for g in remaining for op in groups[g]]
            owner = [g for g in remaining for _ in groups[g]]
            if len(items) == 1 and (alone := _write_one(client, items[0])) is not None:
                written[remaining[0]], remaining = alone, []
                continue
            try:
                client.transact_write_items(TransactItems=items)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = [str(r.get("Code", "None")) for r in exc.response.get("CancellationReasons", [])]
                failed = {owner[i] for i, code in enumerate(reasons) if code == "ConditionalCheckFailed"}
                if not failed or any(code not in (*_PASSED, "ConditionalCheckFailed") for code in reasons):
                    raise
                remaining = [g for g in remaining if g not in failed]
                continue
            for g in remaining:
                written[g] = True
            remaining = []
    return written
