"""Fault suite of issue 10, items 13-15: import jobs under concurrent drops, throttling, outages and dead workers.

Real S3 drops and their notifications through the drops queue (moto's server), the imports handlers as Lambda
runs them; faults are injected at the seams a real fault hits (the match index read, batch writes, checkpoints).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from infra.definition import STACK
from infra.local.lambda_runtime import context_for
from infra.provision import Provisioned
from services.imports import pipeline, repository, use_cases
from tests.integration.imports.support import (
    HEADER,
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
DATA = people_csv(40)  # 27 debtors, 40 invoices


@pytest.fixture(autouse=True)
def _small_batches_and_no_waiting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Small batches (many checkpoints), and the backoff's sleeps recorded instead of slept."""
    monkeypatch.setattr(pipeline, "BATCH_ROWS", 6)
    monkeypatch.setattr(pipeline, "EVENTS_PER_FLUSH", 4)
    monkeypatch.setattr(pipeline, "TURN_WAIT_S", 0)
    monkeypatch.setattr(pipeline, "RETRY_AFTER_PROGRESS_S", 0)
    slept: list[float] = []
    monkeypatch.setattr(pipeline, "sleep", slept.append)
    return slept


def _notifications(p: Provisioned) -> list[dict[str, Any]]:
    return [m for m in pending_drops(p) if '"Records"' in m["Body"]]  # not S3's test event


def _imported_owners(p: Provisioned) -> dict[str, set[str]]:
    """Debtor (the client's case number) → the case owners the imports announced for it."""
    owners: dict[str, set[str]] = defaultdict(set)
    for case_file in case_files(bus_events(p, "CaseFileImported")):
        owner = case_file["case_owner"]
        owners[str(owner["client_reference"])].add(str(owner["case_owner_id"]))
    return owners


def _clean_counts(p: Provisioned) -> dict[str, Any]:
    register_client("clean")
    drop(p, "clean/file.csv", DATA)
    run_drops(p)
    job = job_for(p, "clean/file.csv")
    bus_events(p)  # drained: later assertions read only the faulty import's events
    return {k: job[k] for k in ("status", "rows_read", "rows_imported", "case_owners_created", "cases")}


def _counts(p: Provisioned, key: str) -> dict[str, Any]:
    job = job_for(p, key)
    return {k: job.get(k) for k in ("status", "rows_read", "rows_imported", "case_owners_created", "cases")}


# ---- 13: two drops of one client at the same moment ---------------------------------------------------------


def _people(numbers: list[int], invoice_prefix: str) -> bytes:
    rows = [HEADER]
    for n in numbers:
        given = ["Anna", "Peter", "Lena", "Otto", "Maria", "Jonas"][n % 6]
        rows.append(
            f"K-{n};{given};Nachname{n};{given.lower()}.{n}@example.de;+49 30 {5550000 + n};Weg {n};10115;Berlin;DE;"
            f"{invoice_prefix}-{n};{n},50;2026-01-{1 + n % 28:02d}\n"
        )
    return "".join(rows).encode()


def test_two_files_of_one_client_dropped_at_once_never_split_a_debtor(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The two runs are held in step at every read of the match index (until one of them waits 3 s in vain):
    without serialising, each batch reads the index before the other's batch wrote it, and the 18 debtors in both
    files (in the same batches of each) get two case owners each."""
    register_client("acme")
    drop(aws, "acme/january.csv", _people([*range(1, 31)], "JAN"))
    drop(aws, "acme/february.csv", _people([*range(1, 19), *range(31, 43)], "FEB"))
    notifications = _notifications(aws)
    assert len(notifications) == 2

    in_step = threading.Barrier(2, timeout=3)
    real_get_keys = repository.DynamoMatchIndex.get_keys

    def racing_get_keys(index: repository.DynamoMatchIndex, keys: Any) -> Any:
        try:
            in_step.wait()
        except threading.BrokenBarrierError:
            pass  # the other run is not matching (it waits for its turn, or it is done): go on alone
        return real_get_keys(index, keys)

    monkeypatch.setattr(repository.DynamoMatchIndex, "get_keys", racing_get_keys)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda m: handlers.on_file_dropped(drops_event(aws, [m]), context(aws)), notifications))
    assert results == [{"batchItemFailures": []}] * 2
    run_drops(aws)  # the one that waited for its turn continues

    owners = _imported_owners(aws)
    assert len(owners) == 42
    split = {debtor: ids for debtor, ids in owners.items() if len(ids) > 1}
    assert split == {}, f"{len(split)} debtors got two case owners"
    assert {job_for(aws, f"acme/{m}.csv")["status"] for m in ("january", "february")} == {"completed"}
    merged = (
        job_for(aws, "acme/january.csv")["case_owners_merged"] + job_for(aws, "acme/february.csv")["case_owners_merged"]
    )
    assert merged == 18  # the debtors in both files were found by whichever file came second


def test_a_run_waiting_for_its_clients_turn_continues_later_without_counting_an_error(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_client("acme")
    assert repository.take_matching_turn("acme", "another-import", 60)
    drop(aws, "acme/file.csv", DATA)
    (notification,) = _notifications(aws)
    assert handlers.on_file_dropped(drops_event(aws, [notification]), context(aws)) == {"batchItemFailures": []}
    job = job_for(aws, "acme/file.csv")
    assert (job["status"], job.get("errors", 0), job.get("checkpoint")) == ("processing", 0, None)
    (continuation,) = pending_drops(aws)
    assert '"import-continue"' in continuation["Body"]

    repository.end_matching_turn("acme", "another-import")
    assert handlers.on_file_dropped(drops_event(aws, [continuation]), context(aws)) == {"batchItemFailures": []}
    assert job_for(aws, "acme/file.csv")["status"] == "completed"


# ---- 14: progress resets the failure count; throttling backs off inside the run -----------------------------


def _throttled(operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}}, operation
    )


def test_throttling_that_makes_progress_is_ridden_out_in_one_delivery_with_growing_backoff(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch, _small_batches_and_no_waiting: list[float]
) -> None:
    expected = _clean_counts(aws)
    slept = _small_batches_and_no_waiting
    throttles: dict[int, int] = defaultdict(int)
    real = repository.batch_put

    def throttled_batch_put(items: Any) -> int:
        items = list(items)
        rows = [int(str(i["SK"]).rsplit("#", 1)[1]) for i in items if str(i["SK"]).startswith("ROW#")]
        if rows and throttles[min(rows)] < 3:  # each batch's staged rows: throttled three times, then written
            throttles[min(rows)] += 1
            raise _throttled("BatchWriteItem")
        return real(items)

    register_client("busy")
    drop(aws, "busy/file.csv", DATA)
    monkeypatch.setattr(repository, "batch_put", throttled_batch_put)
    results = run_drops(aws)
    assert results == [{"batchItemFailures": []}], "one delivery, no redelivery"
    assert _counts(aws, "busy/file.csv") == expected
    assert len(slept) == 3 * len(throttles) and len(throttles) == 7
    assert slept[0] < slept[1] < slept[2]  # three in a row: 0.25-0.5 s, then 0.5-1 s, then 1-2 s
    assert max(slept) <= 2.0, "progress in between resets the backoff"


def test_failed_deliveries_that_each_moved_the_job_on_never_exhaust_the_retries(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case: each attempt advanced, each then failed; 5 failures, more than the queue's 3 receives."""
    expected = _clean_counts(aws)
    failures = {"left": 5}
    real_after_batch = pipeline.after_batch

    def crash_after_progress(run: pipeline.Run, last_row: int) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise RuntimeError("the worker crashed after its checkpoint")
        real_after_batch(run, last_row)

    register_client("flaky")
    drop(aws, "flaky/file.csv", DATA)
    monkeypatch.setattr(pipeline, "after_batch", crash_after_progress)
    results = run_drops(aws)
    assert failures["left"] == 0
    assert all(r == {"batchItemFailures": []} for r in results), "each failure continued in a fresh message"
    assert _counts(aws, "flaky/file.csv") == expected
    job = job_for(aws, "flaky/file.csv")
    assert job["errors"] == 0 and "crashed" in job["last_error"]


def test_an_outage_of_the_endpoint_is_waited_out_inside_the_run_not_the_lease(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch, _small_batches_and_no_waiting: list[float]
) -> None:
    """Six connection failures in a row (what botocore raises while the endpoint is down): the run backs off
    15-30 s in all and carries on; no delivery fails, nobody waits for a lease to expire."""
    expected = _clean_counts(aws)
    slept = _small_batches_and_no_waiting
    calls = {"n": 0}
    real = repository.batch_put

    def unreachable(items: Any) -> int:
        calls["n"] += 1
        if 3 <= calls["n"] <= 8:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        return real(items)

    register_client("outage")
    drop(aws, "outage/file.csv", DATA)
    monkeypatch.setattr(repository, "batch_put", unreachable)
    assert run_drops(aws) == [{"batchItemFailures": []}]
    assert _counts(aws, "outage/file.csv") == expected
    assert len(slept) == 6 and 15.75 <= sum(slept) <= 31.5


# ---- 15: leases and the sweeper -----------------------------------------------------------------------------


def test_the_lease_is_the_lambda_timeout_plus_a_margin_renewed_at_each_checkpoint(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, int]] = []
    real_after_batch = pipeline.after_batch

    def record(run: pipeline.Run, last_row: int) -> None:
        job = repository.get_job(run.import_id) or {}
        seen.append((int(job["lease_until"]) - int(time.time()), run.remaining_ms() // 1000))
        real_after_batch(run, last_row)

    register_client("leased")
    drop(aws, "leased/file.csv", DATA)
    monkeypatch.setattr(pipeline, "after_batch", record)
    run_drops(aws)
    timeout = STACK.function("imports", "on_file_dropped").timeout
    assert len(seen) == 7  # one checkpoint per batch of 6 rows
    for lease_left, remaining in seen:
        assert remaining <= timeout
        assert remaining + pipeline.LEASE_MARGIN_S - 2 <= lease_left <= remaining + pipeline.LEASE_MARGIN_S + 2
    assert "lease_until" not in job_for(aws, "leased/file.csv")  # released at the end


def test_a_run_whose_lease_was_taken_over_stops_at_its_next_checkpoint(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that stalled past its lease (and another worker took the job) must not write over the other's work."""
    taken = {"done": False}

    def taken_over(run: pipeline.Run, last_row: int) -> None:
        if not taken["done"]:
            taken["done"] = True
            repository.update_job(run.import_id, lease_owner="another-worker", lease_until=int(time.time()) + 600)

    register_client("stalled")
    drop(aws, "stalled/file.csv", DATA)
    monkeypatch.setattr(pipeline, "after_batch", taken_over)
    (notification,) = _notifications(aws)
    assert handlers.on_file_dropped(drops_event(aws, [notification]), context(aws)) == {"batchItemFailures": []}
    job = job_for(aws, "stalled/file.csv")
    assert job["checkpoint"]["row"] == 6, "the second checkpoint was refused"
    assert (job["lease_owner"], job.get("errors", 0)) == ("another-worker", 0)
    assert pending_drops(aws) == []  # no continuation either: the other worker carries the job


def test_an_orphaned_job_is_resumed_by_the_sweeper_once_its_lease_expired(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _clean_counts(aws)
    register_client("orphan")
    drop(aws, "orphan/file.csv", DATA)
    (notification,) = _notifications(aws)

    # The worker is killed after its second checkpoint: no finally runs, its lease stays until it expires.
    with monkeypatch.context() as killed:
        killed.setattr(repository, "release_lease", lambda *_: None)
        killed.setattr(repository, "end_matching_turn", lambda *_: None)
        checkpoints = {"n": 0}

        def kill(run: pipeline.Run, last_row: int) -> None:
            checkpoints["n"] += 1
            if checkpoints["n"] == 2:
                raise SystemExit("killed")

        killed.setattr(pipeline, "after_batch", kill)
        with pytest.raises(SystemExit):
            handlers.handle_record(_sqs_record(aws, notification), context(aws))
    job = job_for(aws, "orphan/file.csv")
    import_id = str(job["import_id"])
    assert job["status"] == "processing" and job["lease_until"] > time.time()

    # A continuation delivered meanwhile is acknowledged: the (dead) holder has the job.
    continuation = {"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": pipeline.continuation_body(import_id)}
    busy = handlers.handle_record(_sqs_record(aws, continuation), context(aws))
    assert busy == [{"import_id": import_id, "status": "busy"}]

    sweeper = context_for(STACK.function("imports", "resume_orphaned_imports"), aws.region, aws.names.stage)
    assert handlers.resume_orphaned_imports({}, sweeper) == {"resumed": []}  # the lease is still live
    assert pending_drops(aws) == []

    # Time passes: the leases expire (the invocation's deadline plus the margin) and nothing moved since.
    past = datetime.now(UTC) - use_cases.ORPHANED_AFTER - timedelta(seconds=1)
    repository.update_job(import_id, lease_until=int(time.time()) - 1, updated_at=past.isoformat())
    repository._table().update_item(
        Key={"PK": "CLIENT#orphan", "SK": "MATCHING"},
        UpdateExpression="SET lease_until = :past",
        ExpressionAttributeValues={":past": int(time.time()) - 1},
    )
    assert handlers.resume_orphaned_imports({}, sweeper) == {"resumed": [import_id]}
    assert run_drops(aws) == [{"batchItemFailures": []}]
    assert _counts(aws, "orphan/file.csv") == expected
    assert handlers.resume_orphaned_imports({}, sweeper) == {"resumed": []}  # finished: no longer active


def test_the_sweeper_leaves_recent_and_leased_jobs_alone(aws: Provisioned) -> None:
    now = datetime.now(UTC)
    old = (now - timedelta(minutes=10)).isoformat()
    jobs: list[tuple[str, str, dict[str, Any]]] = [
        ("quiet-no-lease", "processing", {"updated_at": old}),
        ("quiet-expired-lease", "processing", {"updated_at": old, "lease_until": int(now.timestamp()) - 5}),
        ("quiet-received", "received", {"updated_at": old}),
        ("leased", "processing", {"updated_at": old, "lease_until": int(now.timestamp()) + 300}),
        ("recent", "processing", {"updated_at": (now - timedelta(seconds=30)).isoformat()}),
        ("done", "completed", {"updated_at": old}),
    ]
    for import_id, status, fields in jobs:
        repository.create_job(import_id, {"client_id": "acme", "object_key": f"acme/{import_id}.csv"})
        repository.update_job(import_id, status=status, **fields)
    assert sorted(use_cases.orphaned_imports(now)) == ["quiet-expired-lease", "quiet-no-lease", "quiet-received"]


def _sqs_record(p: Provisioned, message: dict[str, Any]) -> Any:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    return SQSRecord(drops_event(p, [message])["Records"][0])
