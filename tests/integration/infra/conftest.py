"""Integration tests of infra/: the local stack's fidelity to AWS and the CLI.

Fixtures shared by the tests of this folder go here."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest

from tests.integration.support import create_pk_sk_gsi1_table

REGION = "eu-west-1"


@pytest.fixture
def ddb(moto_endpoint: str) -> Any:
    """A DynamoDB client of the test session's moto server."""
    return boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)


@pytest.fixture
def table(ddb: Any) -> str:
    """A fresh table with PK, SK and GSI1 (its own name, so tests never share items)."""
    name = f"fidelity-{uuid.uuid4().hex[:8]}"
    create_pk_sk_gsi1_table(ddb, name)
    return name
