"""A TransactWriteItems retried with its ClientRequestToken is applied once, as DynamoDB does for 10 minutes.

botocore sends the same token when it retries a transaction (after a 5xx, a reset connection, a read timeout);
moto 5.2 ignored it, so a retry of a transaction it had applied failed its own conditions.
"""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from infra.local import fidelity
from tests.integration.support import REGION, create_pk_sk_gsi1_table


def _note(table: str, note: str) -> list[dict[str, Any]]:
    """A note added to a case with the case's note count, as contacts writes it: the note must be new."""
    return [
        {
            "Put": {
                "TableName": table,
                "Item": {"PK": {"S": "CASE#1"}, "SK": {"S": f"NOTE#{note}"}, "text": {"S": "called, no answer"}},
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        },
        {
            "Update": {
                "TableName": table,
                "Key": {"PK": {"S": "CASE#1"}, "SK": {"S": "CASE"}},
                "UpdateExpression": "ADD notes :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
    ]


def _notes(ddb: Any, table: str) -> str:
    return str(ddb.get_item(TableName=table, Key={"PK": {"S": "CASE#1"}, "SK": {"S": "CASE"}})["Item"]["notes"]["N"])


def test_a_transaction_retried_with_its_token_is_applied_once(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "transactions-once-per-token" in fidelity.installed()
    ddb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)
    table = f"tokens-{uuid.uuid4().hex[:8]}"
    create_pk_sk_gsi1_table(ddb, table)
    token = uuid.uuid4().hex

    ddb.transact_write_items(TransactItems=_note(table, "a"), ClientRequestToken=token)
    # the retry botocore would send: answered as the first, nothing written again
    ddb.transact_write_items(TransactItems=_note(table, "a"), ClientRequestToken=token)
    assert _notes(ddb, table) == "1"

    # the same token with other parameters is refused, and writes nothing
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=_note(table, "b"), ClientRequestToken=token)
    assert caught.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Item" not in ddb.get_item(TableName=table, Key={"PK": {"S": "CASE#1"}, "SK": {"S": "NOTE#b"}})

    # another token is another request: its conditions are checked against what the first one wrote
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=_note(table, "a"), ClientRequestToken=uuid.uuid4().hex)
    assert caught.value.response["Error"]["Code"] == "TransactionCanceledException"

    # after the window the token is forgotten, as in DynamoDB: the same request is a new one
    monkeypatch.setattr(fidelity, "TOKEN_WINDOW_S", -1.0)
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=_note(table, "a"), ClientRequestToken=token)
    assert caught.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _notes(ddb, table) == "1"
    ddb.delete_table(TableName=table)
