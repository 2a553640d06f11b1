"""Imports stuck in processing: the quarter-hourly check counts them as the StuckImports metric the alarm watches."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from infra.local.lambda_runtime import LambdaContext
from infra.provision import Provisioned
from services.imports import handlers, repository
from shared.observability import metrics

pytestmark = pytest.mark.integration


def _job(import_id: str, status: str, last_progress: datetime) -> None:
    repository.create_job(import_id, {"client_id": "acme", "object_key": f"acme/{import_id}.csv"})
    repository.update_job(import_id, status=status, updated_at=last_progress.isoformat())


def test_only_imports_without_progress_for_half_an_hour_count_as_stuck(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    _job("stalled", "processing", now - timedelta(hours=2))
    _job("busy", "processing", now - timedelta(minutes=1))
    _job("done", "completed", now - timedelta(hours=2))
    assert sorted(repository.active_imports()) == ["busy", "stalled"]  # a final status leaves the active list

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    metrics("imports").clear_metrics()  # what earlier runs with metrics disabled left unflushed
    capsys.readouterr()
    result = handlers.check_stuck_imports({}, LambdaContext("finview-t-imports-check-stuck-imports", 60))
    assert result == {"stuck": ["stalled"]}
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    [metric] = [m for m in emitted if "StuckImports" in m]
    assert metric["StuckImports"] in (1.0, [1.0])  # one value; powertools writes it bare or in a list
    assert metric["service"] == "imports"
    assert metric["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "FinView"

    repository.update_job("stalled", status="failed")
    assert handlers.check_stuck_imports({}, LambdaContext("c", 60)) == {"stuck": []}
    assert list(repository.active_imports()) == ["busy"]
