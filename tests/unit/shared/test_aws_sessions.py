"""``shared.aws``'s sessions read botocore's JSON models once per process: the local stack runs every service, its
provisioning and its dispatcher in one process, and a loader per session held each model once per session."""

from __future__ import annotations

import argparse
import os
from typing import Any

import boto3
import pytest
from botocore.exceptions import ParamValidationError

from infra import cli
from shared import aws


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


class _Sent(Exception):
    """Raised where botocore would send the request: it got past every client-side check."""


def _outcome(dynamodb: Any) -> str:
    """What a malformed GetItem (a string where the model wants a boolean) meets: botocore's check, or the wire."""

    def sending(**_: Any) -> None:
        raise _Sent

    dynamodb.meta.events.register("before-send.dynamodb.GetItem", sending)
    try:
        dynamodb.get_item(TableName="t", Key={"PK": {"S": "x"}}, ConsistentRead="yes")
    except ParamValidationError:
        return "refused"
    except _Sent:
        return "sent"
    return "answered"


def test_clients_check_requests_against_the_model_unless_switched_off(
    fresh: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv(aws.CLIENT_VALIDATION, "on")
    monkeypatch.delenv(aws.CLIENT_VALIDATION)  # the suite's default: refused before it is sent
    assert _outcome(aws.client("dynamodb")) == "refused"
    assert _outcome(aws.resource("dynamodb").meta.client) == "refused"

    monkeypatch.setattr(aws, "_clients", {})
    monkeypatch.setenv(aws.CLIENT_VALIDATION, "off")
    assert _outcome(aws.client("dynamodb")) == "sent"
    assert _outcome(aws.resource("dynamodb").meta.client) == "sent"
    assert _outcome(aws.client("dynamodb", signature_version="v4")) == "sent"


def test_finview_up_switches_the_check_off_for_its_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(aws.CLIENT_VALIDATION, "on")
    monkeypatch.delenv(aws.CLIENT_VALIDATION)  # restored (absent) after the test
    monkeypatch.setattr(cli, "_ports_refused", lambda ports: "held")  # stop before anything starts
    args = argparse.Namespace(moto_port=0, api_port=0, dynamodb_port=0)
    assert cli.cmd_up(args) == 2
    assert os.environ[aws.CLIENT_VALIDATION] == "off"
