"""The stage tells the matcher when nothing of the import can be in the index yet (its first run), and never
otherwise: a crash, a transient failure retried in the same run, a continuation all re-run with the filter."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from infra.provision import Provisioned
from services.imports import matching, pipeline, repository
from tests.integration.imports.support import drop, job_for, people_csv, register_client, run_drops

pytestmark = pytest.mark.integration
DATA = people_csv(40)


@pytest.fixture(autouse=True)
def _small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "BATCH_ROWS", 6)
    monkeypatch.setattr(pipeline, "RETRY_AFTER_PROGRESS_S", 0)
    monkeypatch.setattr(pipeline, "BACKOFF_BASE_S", 0.01)


@pytest.fixture
def reruns(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """``rerun`` of each matcher the stage makes (one per stage run)."""
    made: list[bool] = []
    real = pipeline.Matcher

    def recorded(
        index: matching.MatchIndex, client_id: str, import_id: str, settings: Any, rerun: bool = True
    ) -> matching.Matcher:
        made.append(rerun)
        return real(index, client_id, import_id, settings, rerun=rerun)

    monkeypatch.setattr(pipeline, "Matcher", recorded)
    return made


def failing_once(monkeypatch: pytest.MonkeyPatch, calls_before: int, exc: Exception) -> dict[str, int]:
    original = repository.batch_put
    n = {"calls": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        n["calls"] += 1
        if n["calls"] == calls_before + 1:
            raise exc
        return original(*args, **kwargs)

    monkeypatch.setattr(repository, "batch_put", flaky)
    return n


def test_a_first_run_skips_the_filter(aws: Provisioned, reruns: list[bool]) -> None:
    register_client("first")
    drop(aws, "first/file.csv", DATA)
    run_drops(aws)
    assert reruns == [False]
    assert job_for(aws, "first/file.csv")["status"] == "completed"


@pytest.mark.parametrize("writes_before", [2, 9], ids=["in-the-first-batch", "after-checkpoints"])
def test_a_crash_after_writing_the_index_is_re_run_with_the_filter(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch, reruns: list[bool], writes_before: int
) -> None:
    """In the first batch nothing is checkpointed yet: only the job's record of the stage's start tells."""
    register_client("crash")
    drop(aws, "crash/file.csv", DATA)
    failing_once(monkeypatch, writes_before, RuntimeError("simulated crash"))  # writes landed, then a failed delivery
    run_drops(aws)
    assert job_for(aws, "crash/file.csv")["last_error"] == "RuntimeError: simulated crash"
    assert reruns == [False, True]
    assert job_for(aws, "crash/file.csv")["status"] == "completed"


def test_a_transient_failure_retried_in_the_same_run_re_runs_with_the_filter(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch, reruns: list[bool]
) -> None:
    """The retry may not even see the job's new state (the endpoint is down): the run itself remembers."""
    register_client("throttled")
    drop(aws, "throttled/file.csv", DATA)
    throttled = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "BatchWriteItem")
    writes = failing_once(monkeypatch, 9, throttled)
    stored, unreadable = repository.get_job, {"once": True}

    def get_job(import_id: str) -> Any:
        if writes["calls"] > 9 and unreadable.pop("once", False):
            raise throttled
        return stored(import_id)

    monkeypatch.setattr(repository, "get_job", get_job)
    run_drops(aws)
    assert not unreadable, "the retry should have met the unreadable job"
    assert reruns == [False, True]
    assert job_for(aws, "throttled/file.csv")["status"] == "completed"
