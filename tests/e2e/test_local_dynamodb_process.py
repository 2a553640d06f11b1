"""The local stack serves DynamoDB from a moto process of its own (as AWS runs it apart from SQS, EventBridge, SES):
the functions write their tables there, the other moto process holds none of them, and
``FINVIEW_LOCAL_DYNAMODB_PROCESS=0`` puts them back in the one process."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest

from infra.demo import ADMIN, call
from infra.local.stack import LocalStack

pytestmark = pytest.mark.e2e


def _client_items(stack: LocalStack, client_id: str) -> list[dict[str, object]]:
    assert stack.provisioned
    table = stack.provisioned.names.table("contacts")
    scanned = stack.client("dynamodb").scan(TableName=table)["Items"]
    return [item for item in scanned if client_id in item["PK"]["S"]]


def test_dynamodb_runs_in_a_moto_process_of_its_own(tmp_path: Path) -> None:
    with LocalStack(stage="tables", log_file=str(tmp_path / "l.log")) as stack:
        assert stack.provisioned
        assert len(stack.moto_pids) == 2 and len(set(stack.moto_pids)) == 2
        assert stack.dynamodb_url != stack.endpoint_url
        assert os.environ["AWS_ENDPOINT_URL_DYNAMODB"] == stack.dynamodb_url  # what the functions' boto3 reads
        status, client = call(stack, "POST", "/clients", {"legal_name": "Tabellen GmbH"}, token=ADMIN)
        assert status == 201, client
        assert _client_items(stack, client["client_id"])  # the API's write is in DynamoDB's process
        tables = stack.client("dynamodb").list_tables()["TableNames"]
        assert stack.provisioned.names.table("contacts") in tables
        # the other process serves SQS, EventBridge, SES, … and holds no table
        assert stack.client("sqs").meta.endpoint_url == stack.endpoint_url
        elsewhere = boto3.client(
            "dynamodb",
            endpoint_url=stack.endpoint_url,
            region_name=stack.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        assert elsewhere.list_tables()["TableNames"] == []


def test_dynamodb_can_share_the_one_moto_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINVIEW_LOCAL_DYNAMODB_PROCESS", "0")
    with LocalStack(stage="onemoto", log_file=str(tmp_path / "l.log")) as stack:
        assert len(stack.moto_pids) == 1
        assert stack.dynamodb_url == stack.endpoint_url
        assert os.environ["AWS_ENDPOINT_URL_DYNAMODB"] == stack.endpoint_url
        status, client = call(stack, "POST", "/clients", {"legal_name": "Eine GmbH"}, token=ADMIN)
        assert status == 201, client
        assert _client_items(stack, client["client_id"])
