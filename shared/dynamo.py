"""DynamoDB idioms every repository uses: put-if-absent, a query read to its last page, and many entities'
conditional writes sharing TransactWriteItems requests."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

_number = DYNAMODB_CONTEXT.create_decimal  # what boto3's TypeDeserializer makes of an "N"
_deserialize = TypeDeserializer().deserialize
_serialize = TypeSerializer().serialize
_EXACT_INT = 10**38  # an int below this in size is a number DynamoDB holds exactly: boto3 writes it as str() does


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


def plain(value: dict[str, Any]) -> Any:
    """One attribute value from DynamoDB's wire format, exactly as boto3's ``TypeDeserializer`` gives it (numbers
    as ``Decimal`` in DynamoDB's context, maps and lists walked), without its per-value dispatch: the common tags
    here, sets and binaries by boto3's own."""
    ((tag, inner),) = value.items()
    if tag == "S":
        return inner
    if tag == "N":
        return _number(inner)
    if tag == "M":
        return {k: plain(v) for k, v in inner.items()}
    if tag == "L":
        return [plain(v) for v in inner]
    if tag == "BOOL":
        return inner
    if tag == "NULL":
        return None
    return _deserialize(value)


def wire(value: Any) -> dict[str, Any]:
    """One attribute value in DynamoDB's wire format, exactly as boto3's ``TypeSerializer`` writes it, without its
    dozen type probes per value (a tenth of `finview up`'s CPU in an import): strings, maps, lists, booleans, None
    and plain ints here, every other type (Decimals, sets, binaries, tuples, subclasses, floats it refuses) by
    boto3's own."""
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is dict:
        return {"M": {k: wire(v) for k, v in value.items()}}
    if kind is list:
        return {"L": [wire(v) for v in value]}
    if kind is bool:
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    if kind is int and -_EXACT_INT < value < _EXACT_INT:
        return {"N": str(value)}
    return _serialize(value)


def query_items(client: Any, **request: Any) -> list[dict[str, Any]]:
    """Every item of a Query made with the low-level client (``request`` in its wire format), as the Table
    resource's ``query`` returns them. The resource walks each response through the operation's model to
    deserialise it, and builds the key condition with a placeholder counter per call; for a hot read (the reminder
    schedule's one per case) that was a third of its client-side cost."""
    items: list[dict[str, Any]] = []
    while True:
        page = client.query(**request)
        items.extend({k: plain(v) for k, v in item.items()} for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}


MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit per TransactWriteItems


class TransactionCancelled(Exception):
    """A TransactWriteItems was cancelled; ``reasons``: one code per item, in order ("None" for an item that was
    fine, "ConditionalCheckFailed", "TransactionConflict", …)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons


def _item_key(entry: dict[str, Any]) -> tuple[str, ...]:
    """The table and key one TransactWriteItems entry (client format) touches."""
    ((kind, op),) = entry.items()
    key = op["Item"] if kind == "Put" else op["Key"]
    return (str(op["TableName"]), *(json.dumps(key[name], sort_keys=True) for name in ("PK", "SK") if name in key))


def write_groups(
    groups: Sequence[Sequence[dict[str, Any]]], commit: Callable[[list[dict[str, Any]]], None]
) -> list[list[str] | None]:
    """Write each group of TransactWriteItems entries (one entity's conditional writes) all or nothing, as few
    requests as fit, in order: whole groups, at most 100 items a request, no item twice in one request (a group
    touching an item the request holds already starts the next one). ``commit`` writes one request's entries and
    raises ``TransactionCancelled`` with the reasons when it is cancelled.

    Returns, per group, None when it was written, else the reason codes of its items: a group whose items carry a
    reason (its condition failed, or it conflicted with another writer) is left out and the rest written again,
    for the caller to take that entity on its own path. A cancellation that names no item raises."""
    outcome: list[list[str] | None] = [None] * len(groups)
    chunks: list[list[int]] = []
    size = 0
    keys: set[tuple[str, ...]] = set()
    for g, group in enumerate(groups):
        if not group:
            continue  # nothing to write: written
        touched = {_item_key(entry) for entry in group}
        # in order; a new request when this one is full or already touches one of the group's items
        if not chunks or size + len(group) > MAX_TRANSACTION_ITEMS or touched & keys:
            chunks.append([])
            size, keys = 0, set()
        chunks[-1].append(g)
        size += len(group)
        keys |= touched
    for remaining in chunks:
        while remaining:
            items: list[dict[str, Any]] = []
            owner: list[int] = []
            for g in remaining:
                items.extend(groups[g])
                owner.extend([g] * len(groups[g]))
            try:
                commit(items)
            except TransactionCancelled as cancelled:
                codes = cancelled.reasons[: len(owner)]
                failed = {owner[i] for i, code in enumerate(codes) if code not in ("None", "")}
                if not failed:
                    raise
                for g in failed:
                    start = owner.index(g)
                    outcome[g] = cancelled.reasons[start : start + len(groups[g])]
                remaining = [g for g in remaining if g not in failed]
                continue
            remaining = []
    return outcome


def batch_get(client: Any, table_name: str, keys: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items of ``keys`` (client format, e.g. ``{"PK": {"S": …}, "SK": {"S": …}}``) that exist, strongly
    consistent, in client format: one BatchGetItem per 100 keys, and again for what DynamoDB left unprocessed."""
    found: list[dict[str, Any]] = []
    for n in range(0, len(keys), 100):
        request: dict[str, Any] = {table_name: {"Keys": list(keys[n : n + 100]), "ConsistentRead": True}}
        while request:
            response = client.batch_get_item(RequestItems=request)
            found.extend(response.get("Responses", {}).get(table_name, []))
            request = response.get("UnprocessedKeys") or {}
    return found


_SINGLE = {"Put": "put_item", "Update": "update_item", "Delete": "delete_item"}


def transact(client: Any) -> Callable[[list[dict[str, Any]]], None]:
    """A ``commit`` for ``write_groups`` with a DynamoDB client: TransactWriteItems, its cancellation reasons raised
    as ``TransactionCancelled``. A request of one write is a plain conditional write instead (half the write units
    of a transaction of one item)."""

    def commit(items: list[dict[str, Any]]) -> None:
        ((verb, body),) = items[0].items() if len(items) == 1 else (("", {}),)
        try:
            if verb in _SINGLE:
                getattr(client, _SINGLE[verb])(**body)
            else:
                client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code == "ConditionalCheckFailedException":
                raise TransactionCancelled(["ConditionalCheckFailed"]) from exc
            if code != "TransactionCanceledException":
                raise
            reasons = [str(r.get("Code", "None")) for r in exc.response.get("CancellationReasons", [])]
            raise TransactionCancelled(reasons) from exc

    return commit


def write_unless_condition_fails(client: Any, groups: Sequence[Sequence[dict[str, Any]]]) -> list[bool]:
    """``write_groups`` for entities whose failed condition means "nothing to do" (put-if-new, keep-the-newest, the
    value changed meanwhile): False for those, True for the groups written. Any other reason (a conflicting
    transaction) raises after the rest is written: the caller runs the entities again one by one."""
    outcome = write_groups(groups, transact(client))
    if any(r is not None and any(c not in ("None", "", "ConditionalCheckFailed") for c in r) for r in outcome):
        raise TransactionCancelled([c for r in outcome if r for c in r])
    return [r is None for r in outcome]
