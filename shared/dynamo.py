"""Two DynamoDB idioms every repository uses: put-if-absent and a query read to its last page."""

from __future__ import annotations

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
