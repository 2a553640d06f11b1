"""``shared.aws``'s sessions read botocore's JSON models once per process: the local stack runs every service, its
provisioning and its dispatcher in one process, and a loader per session held each model once per session."""

from __future__ import annotations

import boto3
import pytest

from shared import aws


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aws, "_sessions", {})
    monkeypatch.setattr(aws, "_clients", {})
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")


def test_a_model_read_for_the_default_session_is_not_read_again_for_ours(
    fresh: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    infra_side = boto3.client("sqs", region_name="eu-west-1")  # what the local stack's provisioning does
    ours = aws.client("sqs")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:2")  # another endpoint: another session of ours
    other = aws.client("sqs")
    assert other is not ours
    # one loader, so one copy of the service model's JSON for all three clients
    models = {id(c.meta.service_model._service_description) for c in (infra_side, ours, other)}
    assert len(models) == 1


def test_the_shared_loader_keeps_one_entry_per_search_folder(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for port in (1, 2, 3):
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
        aws.client("dynamodb")
    assert boto3.DEFAULT_SESSION is not None
    paths = boto3.DEFAULT_SESSION._session.get_component("data_loader").search_paths
    assert len(paths) == len(set(paths))
