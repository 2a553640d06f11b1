"""At least once, exactly once in effect: crashes in the middle resume to the same end state as a clean run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from infra.local.lambda_runtime import LambdaContext
from infra.provision import Provisioned
from services.imports import pipeline, repository
from shared import bus
from tests.integration.imports.support import (
    bus_events,
    context,
    drop,
    drops_event,
    handlers,
    job_for,
    pending_drops,
    people_csv,
    register_client,
    run_drops,
)
from tests.integration.support import case_files

pytestmark = pytest.mark.integration
DATA = people_csv(40)


@pytest.fixture(autouse=True)
def _small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "BATCH_ROWS", 6)
    monkeypatch.setattr(pipeline, "EVENTS_PER_FLUSH", 4)
    monkeypatch.setattr(pipeline, "MAX_CASE_FILES_PER_EVENT", 5)  # 27 case owners: six chunks, two flushes
    monkeypatch.setattr(pipeline, "RETRY_AFTER_PROGRESS_S", 0)  # a delayed continuation would be out of sight


def outcome(p: Provisioned, client_id: str) -> dict[str, Any]:
    """The end state with this client's ids taken out: what contacts will have been told, and the job's counts."""
    events = bus_events(p)
    chunks = {e["detail"]["event_id"]: e["detail"] for e in events if e["detail-type"] == "CaseFileImported.v2"}
    chunked = [f for chunk in chunks.values() for f in chunk["case_files"]]
    assert len(chunked) == len({f["case_file_id"] for f in chunked}), "a chunk was re-published under another id"
    imported = {e["event_id"]: e for e in case_files(events)}
    owners = [e["case_owner"]["case_owner_id"] for e in imported.values()]
    assert len(owners) == len(set(owners)), "a case owner was announced under two event ids"
    files = sorted(
        (
            tuple(e["row_numbers"]),
            e["matched_by"],
            tuple(sorted((tuple(c["invoice_numbers"]), c["amount"]) for c in e["cases"])),
            tuple(sorted(cp["value"] for cp in e["contact_points"])),
        )
        for e in imported.values()
    )
    completed = [e["detail"] for e in events if e["detail-type"] == "ImportCompleted.v1"]
    assert len({c["event_id"] for c in completed}) == 1
    job = job_for(p, f"{client_id}/file.csv")
    counts = {k: job[k] for k in ("status", "rows_read", "rows_imported", "rows_rejected", "case_owners_created",
                                  "case_owners_merged", "cases")}  # fmt: skip
    return {"files": files, "counts": counts, "completed": {k: completed[0][k] for k in ("rows_read", "rows_rejected")}}


def clean_run(p: Provisioned) -> dict[str, Any]:
    register_client("clean")
    drop(p, "clean/file.csv", DATA)
    run_drops(p)
    return outcome(p, "clean")


def crash_once(monkeypatch: pytest.MonkeyPatch, target: Any, name: str, when: Callable[[int], bool]) -> None:
    original = getattr(target, name)
    calls = {"n": 0, "crashed": False}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if not calls["crashed"] and when(calls["n"]):
            calls["crashed"] = True
            raise RuntimeError("simulated crash")
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, flaky)


@pytest.mark.parametrize(
    ("target", "name", "when"),
    [
        (pipeline, "after_batch", lambda n: n == 3),  # after a checkpoint
        (repository, "update_job", lambda n: n == 5),  # a batch written, its checkpoint not
        (repository, "batch_put", lambda n: n == 4),  # half of a batch's writes
        (bus, "publish", lambda n: n == 2),  # in the middle of publishing
    ],
    ids=["after-checkpoint", "before-checkpoint", "mid-batch-write", "mid-publish"],
)
def test_crash_then_redelivery_equals_a_clean_run(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch, target: Any, name: str, when: Callable[[int], bool]
) -> None:
    expected = clean_run(aws)
    register_client("crashy")
    drop(aws, "crashy/file.csv", DATA)
    crash_once(monkeypatch, target, name, when)
    run_drops(aws)
    # The crash failed the delivery: SQS redelivers it, or (when the run had moved the job on) a fresh continuation
    # carries on from the last checkpoint.
    assert job_for(aws, "crashy/file.csv")["last_error"] == "RuntimeError: simulated crash"
    assert outcome(aws, "crashy") == expected
    assert expected["counts"]["case_owners_created"] == 27 and expected["counts"]["cases"] == 27


def test_same_object_twice_and_same_content_under_another_name(aws: Provisioned) -> None:
    register_client("dup")
    drop(aws, "dup/file.csv", DATA)
    (message,) = [m for m in pending_drops(aws) if '"Records"' in m["Body"]]  # not S3's test event
    for _ in range(2):  # S3 delivers the same notification twice
        assert handlers.on_file_dropped(drops_event(aws, [message]), context(aws)) == {"batchItemFailures": []}
    first = bus_events(aws)
    assert len(case_files(first)) == 27
    assert sum(e["detail-type"] == "ImportCompleted.v1" for e in first) == 1
    # the client drops the same content again under another name
    drop(aws, "dup/file-again.csv", DATA)
    run_drops(aws)
    again = bus_events(aws)
    assert [e["detail-type"] for e in again] == ["ImportFailed.v1"]
    assert again[0]["detail"]["reason_code"] == "duplicate_file"
    assert "dup/file.csv" in again[0]["detail"]["reason"]
    assert job_for(aws, "dup/file-again.csv")["status"] == "failed"


def test_out_of_time_checkpoints_and_continues_in_a_new_invocation(aws: Provisioned) -> None:
    class ShortContext(LambdaContext):
        """Each invocation has time for about one batch."""

        calls = 0

        def get_remaining_time_in_millis(self) -> int:
            self.calls += 1
            return 900_000 if self.calls % 3 else 1_000

    base = context(aws)

    expected = clean_run(aws)
    register_client("slow")
    data_key = "slow/file.csv"
    drop(aws, data_key, DATA)
    invocations = 0
    for _ in range(40):
        results = run_drops(aws, ShortContext(base.function_name, base.timeout_seconds), rounds=1)
        if not results:
            break
        invocations += len(results)
    assert invocations > 3, "the import should have needed several invocations"
    assert outcome(aws, "slow") == expected


def test_a_job_that_keeps_failing_ends_failed_with_a_reason_not_in_a_loop(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_client("bad")
    drop(aws, "bad/file.csv", DATA)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("DynamoDB is down")

    monkeypatch.setattr(repository, "batch_put", broken)  # no delivery gets to a checkpoint
    results = run_drops(aws)
    assert [bool(r.get("batchItemFailures")) for r in results][-3:] == [True, True, False]  # then no redelivery
    job = job_for(aws, "bad/file.csv")
    assert (job["status"], job["reason_code"], job["errors"]) == ("failed", "import_error", 3)
    failed = [e["detail"] for e in bus_events(aws) if e["detail-type"] == "ImportFailed.v1"]
    assert [f["reason_code"] for f in failed] == ["import_error"]


# Invoice numbers repeated across batches (of 6 rows): row 9 repeats row 2's, row 14 row 3's, row 17 row 9's (itself
# rejected: the first row still names row 2).
REPEATS = people_csv(20)
for _later, _first in ((b";INV-9;", b";INV-2;"), (b";INV-14;", b";INV-3;"), (b";INV-17;", b";INV-2;")):
    REPEATS = REPEATS.replace(_later, _first)


def repeats_outcome(p: Provisioned, client_id: str) -> dict[str, Any]:
    job = job_for(p, f"{client_id}/file.csv")
    rejected = [(r["row"], r["code"], r["reason"]) for r in job["rejections"]]
    return {"rejected": rejected, "counts": (job["rows_read"], job["rows_imported"], job["rows_rejected"])}


@pytest.mark.parametrize(
    ("target", "name", "when"),
    [
        (pipeline, "after_batch", lambda n: n == 2),  # after the second batch's checkpoint
        (repository, "update_job", lambda n: n == 4),  # the second batch written, its checkpoint not
    ],
    ids=["after-checkpoint", "before-checkpoint"],
)
def test_a_resumed_stage_knows_the_invoice_numbers_staged_before_it(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch, target: Any, name: str, when: Callable[[int], bool]
) -> None:
    register_client("clean")
    drop(aws, "clean/file.csv", REPEATS)
    run_drops(aws)
    expected = repeats_outcome(aws, "clean")
    assert [r[:2] for r in expected["rejected"]] == [(9, "repeated_invoice"), (14, "repeated_invoice"),
                                                     (17, "repeated_invoice")]  # fmt: skip
    assert "row 2 (line 3)" in expected["rejected"][2][2] and "row 3 (line 4)" in expected["rejected"][1][2]
    register_client("crashy")
    drop(aws, "crashy/file.csv", REPEATS)
    crash_once(monkeypatch, target, name, when)
    run_drops(aws)
    assert job_for(aws, "crashy/file.csv")["last_error"] == "RuntimeError: simulated crash"
    assert repeats_outcome(aws, "crashy") == expected
