"""Unit tests of shared/: the event catalogue and the bus client.

Fixtures shared by the tests of this folder go here."""

from __future__ import annotations

import boto3
import pytest

from shared import aws


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """``shared.aws`` and boto3's default session as a new process finds them, with test credentials."""
    monkeypatch.setattr(aws, "_sessions", {})
    monkeypatch.setattr(aws, "_clients", {})
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
