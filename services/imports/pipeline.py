"""An import job, from a dropped object to events for contacts, resumable at every step.

Design (at least once in, exactly once in effect; any size in flat memory):

1. **Identify.** A delivery (bucket, key, version or ETag) is looked up in ``OBJECT#`` pointers: seen before →
   the same job (finished: nothing to do; unfinished: resume). New → the object is streamed once to hash it;
   the job id is ``uuid5(client, sha256)``, so the same content dropped under another name finds its earlier
   import and fails as ``duplicate_file`` instead of importing twice.
2. **Stage** (status ``processing``, phase ``stage``). The object is read as a stream (``iter_chunks``, 1 MB),
   records are validated and normalised, matched ``BATCH_ROWS`` at a time (one BatchGetItem round for the
   batch's keys, one for the candidates' profiles), and the batch's outcome is written in parallel batch writes:
   staged rows ``ROW#<case owner>#<row>``, ``REJECT#``/``WARN#`` items, the match-index changes. Then the job's
   checkpoint (last row, counts, bytes read) is updated. A crash re-runs at most one batch, and that batch sees
   the index as before its first row (see ``matching``), so it decides the same. The invoice numbers already seen
   in the file (a repeat is rejected or kept, by setting) are the run's own scratch index in /tmp
   (``invoices``), rebuilt from the staged rows up to the checkpoint when a run resumes.
3. **Publish** (phase ``publish``). Staged rows are read back in case-owner order (a DynamoDB query: grouped
   without holding the file in memory); each case owner's file joins a ``CaseFileImported.v2`` of up to 50 case
   owners (~64 KB), whose id follows from its first case file; 100 events go out at a time as parallel PutEvents
   calls, then a cursor (the last case owner of the last chunk sent) is checkpointed, so a resumed publish
   rebuilds the same chunks. Re-published events are absorbed by the consumers (content-idempotent writes).
4. **Report** (phase ``report``). The rejected rows go to ``<key>.rejected.csv`` next to the file, then
   ``ImportCompleted`` (deterministic id) and status ``completed``. A file that cannot be imported at all ends
   ``failed`` with a reason and ``ImportFailed``.

Time: every step checks the Lambda's remaining time. With less than ``TIME_RESERVE_MS`` left the job is
checkpointed and a continuation message goes to the drops queue (the same one that triggered it); the next
invocation resumes. So a file of any size is imported correctly in consecutive 15-minute runs; whether 1M
rows fit in one run depends on the CPU Lambda gives the function (bench/RESULTS.md: the core does ~7k rows/s
on one full core, so 1M rows need ~140-200 s of CPU plus the DynamoDB and EventBridge round trips, which go
out in parallel). One worker at a time holds the job's lease; a job that fails on every delivery ends
``failed`` (``import_error``) on the last one before the DLQ.

Memory: one batch of rows, one page of staged rows and the 100 pending events (up to ~6.4 MB) at a time; XLSX is
spooled to /tmp, not memory; the freed heap is given back after each batch (bench: peak RSS 137 MB for 100k rows,
162 MB for 1M).
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import itertools
import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from services.imports import domain, drops, invoices, repository
from services.imports import report as reports
from services.imports.domain import ImportSettings, Rejection, StagedRow
from services.imports.matching import AUTO_SCORE, Matcher, confirm_merge
from services.imports.parsing import FileRejected, Record, TableReader, open_table
from shared import aws, bus, expiry
from shared.events import (
    CASE_FILES_EVENT_BYTES,
    MAX_CASE_FILES_PER_EVENT,
    Event,
    ImportCompleted,
    ImportedCaseFile,
    ImportFailed,
)
from shared.observability import logger, metrics

SERVICE = "imports"
SUPPORTED_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm")
MAX_BYTES = 2 * 1024 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024
BATCH_ROWS = 500
EVENTS_PER_FLUSH = 100
TIME_RESERVE_MS = 60_000
MAX_WARNINGS_STORED = 10_000
MAX_REASON_CHARS = 500
MAX_ATTEMPTS = 3  # the drops queue's maxReceiveCount: the last delivery before the DLQ fails the job cleanly
# A run's lease on its job (and its client's matching turn) lasts until its invocation certainly ended: the time
# Lambda gives it plus a margin. A worker that dies holds the job no longer than that; the sweeper
# (use_cases.orphaned_imports) then sends the job a continuation.
LEASE_MARGIN_S = 60
TRANSIENT_RETRIES = 8  # throttling or a lost connection, without progress in between, before the delivery fails
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 20.0  # 8 retries wait 35-70 s in all: a short outage of DynamoDB, S3 or EventBridge is ridden out
RETRY_AFTER_PROGRESS_S = 5  # a failed delivery that made progress continues in a fresh message after this delay
TURN_WAIT_S = 30  # another import of the client is matching: look again in a continuation this much later
log = logger(SERVICE)
_publishers = ThreadPoolExecutor(max_workers=10, thread_name_prefix="imports-publish")


class OutOfTime(Exception):
    """Checkpointed; a continuation message carries the job on."""


@dataclass
class Run:
    """One invocation's hold on a job."""

    job: dict[str, Any]
    remaining_ms: Callable[[], int]
    continue_later: Callable[[str, int], None]  # (import_id, delay in seconds)
    worker: str = field(default_factory=lambda: str(uuid.uuid4()))
    staged: bool = False  # this run began staging (its retries after a transient failure are re-runs)

    @property
    def import_id(self) -> str:
        return str(self.job["import_id"])

    def check_time(self) -> None:
        if self.remaining_ms() < TIME_RESERVE_MS:
            raise OutOfTime

    def lease_seconds(self) -> float:
        """Until this invocation has certainly ended: what is left of the Lambda timeout, plus a margin."""
        return self.remaining_ms() / 1000 + LEASE_MARGIN_S

    def lease(self) -> tuple[str, float]:
        """For a checkpoint: written only while the job is still ours, renewing the lease (a run that stalled past
        its lease must not write over its successor's progress: ``repository.LeaseLost`` stops it)."""
        return self.worker, self.lease_seconds()


LeaseLost = repository.LeaseLost


class Waiting(Exception):
    """Another import of the same client holds the matching turn."""


# ---- entry points -------------------------------------------------------------------------------------------


def handle_drop_notice(
    drop: drops.Drop, remaining_ms: Callable[[], int], continue_later: Callable[[str, int], None]
) -> dict[str, Any]:
    """A drop notification: skipped (not failed) when S3 has told us of a later write of the same key already,
    or when the object it names has been overwritten since (its eTag no longer matches)."""
    object_id = f"{drop.bucket}/{drop.key}"
    if drop.sequencer and not repository.note_sequencer(object_id, drop.sequencer):
        log.info("stale notification skipped", extra={"object": object_id, "sequencer": drop.sequencer})
        return {"object": object_id, "status": "skipped", "reason": "stale_notification"}
    try:
        return handle_drop(drop.bucket, drop.key, drop.version_id, drop.etag, remaining_ms, continue_later)
    except Superseded:
        log.info("superseded object skipped", extra={"object": object_id, "etag": drop.etag})
        return {"object": object_id, "status": "skipped", "reason": "superseded_object"}


class Superseded(Exception):
    """The notification names an eTag the key no longer has (no versioning: the object was overwritten)."""


def _object_version(version: str | None, etag: str | None) -> dict[str, str]:
    """GetObject/HeadObject arguments that read exactly the object the notification names."""
    if version:
        return {"VersionId": version}
    if etag:
        return {"IfMatch": etag if etag.startswith('"') else f'"{etag}"'}
    return {}


def handle_drop(
    bucket: str,
    key: str,
    version: str | None,
    etag: str | None,
    remaining_ms: Callable[[], int],
    continue_later: Callable[[str, int], None],
) -> dict[str, Any]:
    object_id = f"{bucket}/{key}"
    drop_ref = version or etag or "-"
    known = repository.get_drop(object_id, drop_ref)
    if known is not None:
        job = repository.get_job(known)
        if job is None or job["status"] in ("completed", "failed"):
            log.info("object already handled", extra={"import_id": known})
            return {"import_id": known, "status": job["status"] if job else "unknown", "redelivery": True}
        return resume(known, remaining_ms, continue_later)
    client_id = key.split("/", 1)[0] if "/" in key else None
    drop_id = str(uuid.uuid5(domain.NAMESPACE, f"drop|{object_id}@{drop_ref}"))
    try:
        import_id, size, sha = _identify(bucket, key, version, client_id, object_id, drop_ref, etag)
    except FileRejected as exc:
        repository.create_job(drop_id, _job_fields(client_id, bucket, key, version, {}))
        repository.put_drop(object_id, drop_ref, drop_id)
        return fail(drop_id, client_id, key, exc)
    settings = ImportSettings.from_client_settings(repository.get_settings(str(client_id)))
    fields = _job_fields(client_id, bucket, key, version, settings.model_dump(mode="json"))
    repository.create_job(import_id, fields | {"size_bytes": size, "sha256": sha, "phase": "stage"})
    repository.put_drop(object_id, drop_ref, import_id)
    return resume(import_id, remaining_ms, continue_later)


def resume(
    import_id: str, remaining_ms: Callable[[], int], continue_later: Callable[[str, int], None]
) -> dict[str, Any]:
    job = repository.get_job(import_id)
    if job is None or job["status"] in ("completed", "failed"):
        return {"import_id": import_id, "status": job["status"] if job else "unknown"}
    run = Run(job, remaining_ms, continue_later)
    log.set_correlation_id(import_id)
    if not repository.take_lease(import_id, run.worker, run.lease_seconds()):
        # The holder carries the job on; if it dies instead, the sweeper resumes the job once the lease expired.
        log.info("another worker holds the job", extra={"import_id": import_id})
        return {"import_id": import_id, "status": "busy"}
    try:
        return _run(run)
    except LeaseLost:
        log.warning("lease lost to another worker; this run stops", extra={"import_id": import_id})
        return {"import_id": import_id, "status": "lease_lost"}
    finally:
        try:
            repository.release_lease(import_id, run.worker)
        except Exception:  # e.g. the endpoint is down: the lease expires by itself (LEASE_MARGIN_S after the deadline)
            log.exception("could not release the lease", extra={"import_id": import_id})


def progress(job: dict[str, Any]) -> tuple[Any, ...]:
    """Where the job stands: any change means a run moved it on."""
    return (job.get("phase"), int((job.get("checkpoint") or {}).get("row", 0)), job.get("publish_cursor"))


def _run(run: Run) -> dict[str, Any]:
    """The job's phases from where it stands; transient failures (throttling, a lost connection) are retried here
    with backoff from the last checkpoint, a run of them reset by any progress in between."""
    import_id, job = run.import_id, run.job
    at_start = last_seen = progress(job)
    quiet_failures = 0  # transient failures since the last progress
    while True:
        try:
            return _phases(run)
        except OutOfTime:
            log.info("checkpointed; continuing in a new invocation", extra={"import_id": import_id})
            run.continue_later(import_id, 0)
            return {"import_id": import_id, "status": "processing", "continued": True}
        except Waiting:
            log.info("another import of the client is matching; waiting", extra={"import_id": import_id})
            run.continue_later(import_id, TURN_WAIT_S)
            return {"import_id": import_id, "status": "waiting"}
        except FileRejected as exc:
            return fail(import_id, job.get("client_id"), str(job["object_key"]), exc)
        except LeaseLost:
            raise
        except Exception as exc:
            current = _job_now(run) if is_transient(exc) else repository.get_job(import_id) or run.job
            if progress(current) != last_seen:
                quiet_failures, last_seen = 0, progress(current)
            quiet_failures += 1
            delay = backoff(quiet_failures)
            if is_transient(exc) and quiet_failures <= TRANSIENT_RETRIES and _time_for(run, delay):
                log.warning("transient failure; retrying from the last checkpoint",
                            extra={"import_id": import_id, "error": f"{type(exc).__name__}: {exc}"[:500],
                                   "attempt": quiet_failures, "delay_s": round(delay, 2)})  # fmt: skip
                sleep(delay)
                run.job = current
                continue
            return _failed_attempt(run, current, exc, progressed=progress(current) != at_start)


def _job_now(run: Run) -> dict[str, Any]:
    """The job as stored, or as this run last saw it while the endpoint does not answer."""
    try:
        return repository.get_job(run.import_id) or run.job
    except Exception as exc:
        if not is_transient(exc):
            raise
        return run.job


def _phases(run: Run) -> dict[str, Any]:
    import_id = run.import_id
    if run.job["status"] == "received":
        repository.update_job(import_id, status="processing", started_at=repository.now())
    if run.job.get("phase", "stage") == "stage":
        with matching_turn(run, str(run.job["client_id"])):
            stage(run)
        run.job = repository.get_job(import_id) or run.job
    if run.job.get("phase") == "publish":
        publish(run)
    return complete(run)


def _failed_attempt(run: Run, job: dict[str, Any], exc: Exception, *, progressed: bool) -> dict[str, Any]:
    """This delivery fails. If it moved the job on, a fresh continuation carries on with a clean slate (the SQS
    message's receive count and the job's error count both start over); if not, SQS retries it, and the last
    delivery before the DLQ ends the job with a reason."""
    import_id = run.import_id
    error = f"{type(exc).__name__}: {exc}"[:1000]
    if progressed:
        repository.update_job(import_id, errors=0, last_error=error)
        log.warning("failed after progress; continuing afresh", extra={"import_id": import_id, "error": error})
        run.continue_later(import_id, RETRY_AFTER_PROGRESS_S)
        return {"import_id": import_id, "status": "processing", "retried": True}
    errors = int(job.get("errors", 0)) + 1
    repository.update_job(import_id, errors=errors, last_error=error)
    if errors < MAX_ATTEMPTS:
        raise exc
    log.exception("import failed repeatedly", extra={"import_id": import_id})
    problem = FileRejected("import_error", f"the import failed {errors} times; last error: {type(exc).__name__}")
    return fail(import_id, job.get("client_id"), str(job["object_key"]), problem)


# Throttling and overload codes of DynamoDB, S3 and EventBridge, and the connection failures botocore raises when an
# endpoint is unreachable for a while: worth waiting for inside the run.
THROTTLING_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "Throttling", "ThrottledException",
    "RequestLimitExceeded", "TooManyRequestsException", "RequestThrottled", "RequestThrottledException",
    "SlowDown", "ServiceUnavailable", "InternalServerError", "InternalFailure", "TransactionConflictException",
    "503", "500",
})  # fmt: skip


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) in THROTTLING_CODES
    return isinstance(exc, repository.Throttled | BotoConnectionError | HTTPClientError | ConnectionError)


def backoff(attempt: int) -> float:
    """Exponential with equal jitter: half the step for sure, the other half at random."""
    step = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
    return step / 2 + random.uniform(0, step / 2)


def _time_for(run: Run, delay: float) -> bool:
    return run.remaining_ms() - delay * 1000 > TIME_RESERVE_MS


sleep = time.sleep  # a seam for tests


@contextmanager
def matching_turn(run: Run, client_id: str) -> Iterator[None]:
    """This client's matching turn for the batches of one run (``Waiting`` if another import has it)."""
    if not repository.take_matching_turn(client_id, run.worker, run.lease_seconds()):
        raise Waiting(client_id)
    try:
        yield
    finally:
        try:
            repository.end_matching_turn(client_id, run.worker)
        except Exception:  # it expires by itself with the run's lease
            log.exception("could not end the matching turn", extra={"import_id": run.import_id})


# ---- identify -----------------------------------------------------------------------------------------------


def _job_fields(
    client_id: str | None, bucket: str, key: str, version: str | None, settings: dict[str, Any]
) -> dict[str, Any]:
    return {
        "client_id": client_id or "-",
        "bucket": bucket,
        "object_key": key,
        "version_id": version or "-",
        "settings": settings,
    }


def _identify(
    bucket: str,
    key: str,
    version: str | None,
    client_id: str | None,
    object_id: str,
    drop_ref: str,
    etag: str | None = None,
) -> tuple[str, int, str]:
    if client_id is None:
        raise FileRejected("no_client_folder", "files must be dropped under <client_id>/")
    if not repository.client_known(client_id):
        raise FileRejected("unknown_client", f"no client {client_id!r} is registered")
    if not key.lower().endswith(SUPPORTED_SUFFIXES):
        name = key.rsplit("/", 1)[-1]
        raise FileRejected("unsupported_file_type", f"{name!r} is not a CSV, TSV or XLSX file")
    s3 = aws.client("s3")
    try:
        head = s3.head_object(Bucket=bucket, Key=key, **_object_version(version, etag))
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("412", "PreconditionFailed"):
            raise Superseded(key) from None
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NoSuchVersion", "403"):
            raise FileRejected("object_missing", "the file was removed before it could be imported") from None
        raise
    size = int(head["ContentLength"])
    if size == 0:
        raise FileRejected("empty_file", "the file is empty")
    if size > MAX_BYTES:
        raise FileRejected("file_too_large", f"the file is larger than {MAX_BYTES // 2**20} MB")
    digest = hashlib.sha256()
    for chunk in _chunks(bucket, key, version, etag):
        digest.update(chunk)
    sha = digest.hexdigest()
    import_id = str(uuid.uuid5(domain.NAMESPACE, f"{client_id}|content|{sha}"))
    claim = repository.claim_content(client_id, sha, import_id, object_id, drop_ref)
    if (claim["object_id"], claim["drop_ref"]) != (object_id, drop_ref):
        earlier = str(claim["object_id"]).split("/", 1)[-1]
        raise FileRejected(
            "duplicate_file",
            f"the same content was already imported from {earlier!r} (import {claim['import_id']}); nothing imported",
        )
    return import_id, size, sha


def _chunks(bucket: str, key: str, version: str | None, etag: str | None = None) -> Iterator[bytes]:
    try:
        obj = aws.client("s3").get_object(Bucket=bucket, Key=key, **_object_version(version, etag))
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("412", "PreconditionFailed"):
            raise Superseded(key) from None
        raise
    yield from obj["Body"].iter_chunks(CHUNK_BYTES)


# ---- stage --------------------------------------------------------------------------------------------------


@dataclass
class Counts:
    rows_read: int = 0
    rows_imported: int = 0
    rows_rejected: int = 0
    warnings: int = 0

    @classmethod
    def of(cls, checkpoint: dict[str, Any]) -> Counts:
        return cls(
            **{k: int(checkpoint.get(k, 0)) for k in ("rows_read", "rows_imported", "rows_rejected", "warnings")}
        )


def stage(run: Run) -> None:
    job = run.job
    import_id, client_id = run.import_id, str(job["client_id"])
    settings = ImportSettings.model_validate(job.get("settings") or {})
    version = None if job.get("version_id") in (None, "-") else str(job["version_id"])
    reader = open_table(_chunks(str(job["bucket"]), str(job["object_key"]), version), str(job["object_key"]))
    columns = domain.resolve_columns(reader.header, settings, import_date(job))
    records = reader.records()
    # Date formats are judged per column from the file's first batch: the same rows on every resume.
    first = list(itertools.islice(records, BATCH_ROWS))
    columns = columns.with_date_formats((r.cells for r in first if r.readable and r.cells is not None), settings)
    checkpoint = dict(job.get("checkpoint") or {})
    done = int(checkpoint.get("row", 0))
    counts = Counts.of(checkpoint)
    # Only a run after an earlier one (a crash, a continuation, this run's own retry) can find match-index entries
    # the import's rows wrote; the first tells the matcher so, which then skips that filter. Recorded (job and run)
    # before the first batch is written.
    rerun = bool(done or job.get("stage_started_at") or run.staged)
    run.staged = True
    domain.norm.forget_cached_values()
    if not done:
        header = [h[:200] for h in reader.header]  # the job record must stay far below DynamoDB's 400 KB
        repository.update_job(
            import_id,
            header=header,
            encoding=reader.encoding,
            delimiter=reader.delimiter,
            notices=columns.notices,
            date_formats=columns.date_formats,
            stage_started_at=job.get("stage_started_at") or repository.now(),
        )
    matcher = Matcher(repository.DynamoMatchIndex(client_id), client_id, import_id, settings, rerun=rerun)
    batch: list[Record] = []
    with fewer_collections() as batch_done, invoices.InvoicesSeen() as seen:
        if done:  # the invoice numbers of the rows staged up to the checkpoint, as a single run would know them
            seen.remember(staged_invoices(import_id, done))
        for record in itertools.chain(first, records):
            if record.row <= done:
                continue  # staged before the last checkpoint
            batch.append(record)
            if len(batch) >= BATCH_ROWS:
                done = stage_batch(run, batch, columns, settings, matcher, counts, reader, seen)
                batch = []
                batch_done()
                run.check_time()
        if batch:
            done = stage_batch(run, batch, columns, settings, matcher, counts, reader, seen)
    if counts.rows_read == 0:
        raise FileRejected("no_rows", "the file has a header but no data rows")
    repository.update_job(import_id, phase="publish", staged_at=repository.now())


@contextmanager
def fewer_collections(first_generation: int = 100_000) -> Iterator[Callable[[], None]]:
    """Python's cycle collector runs after every 700 new container objects. The stage makes and drops dozens per row
    (cells, lines, features, items), nearly all freed by reference counting, so most runs find nothing, yet the
    older generations' runs walk every live object (the normalising caches hold ~10^5). The same collections, less
    often, while a file is staged (bench/RESULTS.md: the collector was a quarter of the core's time at 100k rows).
    A batch keeps ~30,000 containers alive until its end, so below that threshold the collector walked each batch's
    objects several times over (at 10,000: 308 young collections, ~12 µs a row at 100k rows; at 100,000: 140, ~3 µs),
    and they found 849 unreachable objects in the whole file either way: waiting longer holds no garbage back.

    Yields ``batch_done``, called after each batch: the objects made since the last batch are collected once, young
    (the batch's own cycles are found there), and what survives them (the match index, the caches) is frozen
    (``gc.freeze``) so that no later collection walks it again; the file's collections then look at one batch's
    objects each instead of everything alive. All is unfrozen when the stage ends, so a cycle among frozen objects
    is still collected then. Where something else froze objects before, nothing is frozen here."""
    before = gc.get_threshold()
    freezing = gc.get_freeze_count() == 0

    def batch_done() -> None:
        gc.collect(1)
        if freezing:
            gc.freeze()
        give_back_freed_memory()

    gc.set_threshold(first_generation, *before[1:])
    try:
        yield batch_done
    finally:
        if freezing:
            gc.unfreeze()
        gc.set_threshold(*before)


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # type: ignore[no-any-return]  # the C library the interpreter runs on
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to call
        return None


_trim = _malloc_trim()


def give_back_freed_memory() -> None:
    """Return the heap pages a batch freed to the system (glibc's ``malloc_trim``).

    Peak memory grew with the file although the objects alive after a batch do not (bench/RESULTS.md: tracemalloc
    saw live objects grow 0.3 MB from row 200k to 300k, while the resident set grew 14.6 MB from 100k to 300k): the
    bounded caches replace entries all through the file and the batch's large blocks (cells, staged items, the 1 MB
    chunks) come and go between them, so glibc's heap holds freed pages it cannot give back from its top.
    ``malloc_trim`` releases every wholly free page of the heap, wherever it lies."""
    if _trim is not None:
        _trim(0)


def stage_batch(
    run: Run,
    batch: list[Record],
    columns: domain.ColumnMap,
    settings: ImportSettings,
    matcher: Matcher,
    counts: Counts,
    reader: TableReader,
    seen: invoices.InvoicesSeen,
) -> int:
    """Validate, match and stage one batch, then checkpoint; returns the last row of the batch."""
    import_id = run.import_id
    apply_pending_merges(str(run.job["client_id"]))
    valid, rejections, warnings = process_records(batch, columns, settings)
    valid, repeated, repeat_warnings, first_seen = repeated_invoices(batch, valid, settings, seen)
    rejections += repeated
    warnings += repeat_warnings
    decisions = matcher.match_batch([(row, line) for row, _, line in valid])
    items: list[dict[str, Any]] = []
    expiration = expiry.expires("import_rows", datetime.now(UTC))  # debtors' rows expire on their own (DynamoDB TTL)
    for (row, line_no, debtor), decision in zip(valid, decisions, strict=True):
        review = decision.review
        data = domain.staged_json(
            row,
            line_no,
            decision.case_owner_id,
            decision.matched_by,
            decision.owner_new,
            debtor,
            None
            if review is None
            else domain.ReviewNote(candidate=review.candidate, score=review.score, comparisons=review.levels),
        )
        sk = f"ROW#{decision.case_owner_id}#{row:09d}"
        items.append({"PK": f"JOB#{import_id}", "SK": sk, "data": data, "expiration": expiration})
    for r in rejections:
        items.append(
            {
                "PK": f"JOB#{import_id}",
                "SK": f"REJECT#{r.row:09d}",
                "row": r.row,
                "line": r.line,
                "field": r.field,
                "code": r.code,
                "reason": r.reason[:MAX_REASON_CHARS],
                "cells": [c[: reports.MAX_CELL_IN_REPORT] for c in r.cells],
                "expiration": expiration,
            }
        )
    per_row: dict[int, int] = {}
    for row, line_no, message in warnings:
        per_row[row] = per_row.get(row, 0) + 1  # stable keys: a re-run batch overwrites, never duplicates
        if counts.warnings + len(per_row) < MAX_WARNINGS_STORED:
            items.append(
                {"PK": f"JOB#{import_id}", "SK": f"WARN#{row:09d}#{per_row[row]:02d}", "row": row, "line": line_no,
                 "warning": message, "expiration": expiration}
            )  # fmt: skip
    matcher.flush()
    repository.batch_put(items)
    matcher.forget()
    seen.remember(first_seen)
    counts.rows_read += len(batch)
    counts.rows_imported += len(valid)
    counts.rows_rejected += len(rejections)
    counts.warnings += len(warnings)
    last = batch[-1].row
    repository.update_job(
        import_id,
        lease=run.lease(),
        checkpoint={"row": last, **counts.__dict__},
        bytes_read=reader.bytes_read,
        updated_at=repository.now(),
    )
    after_batch(run, last)
    return last


def apply_pending_merges(client_id: str) -> int:
    """Accepted reviews that arrived while an import held the client's matching turn, taken into the match index by
    whoever holds the turn now, before it matches (the import before each batch, or the next merge event). A merge
    written beside a running import would be lost to the import's next write of the same profile. ``confirm_merge``
    is idempotent: a crash between applying and dropping one only applies it again."""
    merges = repository.pending_merges(client_id)
    if merges:
        index = repository.DynamoMatchIndex(client_id)
        for merge in merges:
            confirm_merge(index, merge["surviving"], merge["merged"], merge["tag"])
            repository.drop_pending_merge(client_id, merge["event_id"])
    return len(merges)


def repeated_invoices(
    batch: list[Record],
    valid: list[tuple[int, int, domain.DebtorLine]],
    settings: ImportSettings,
    seen: invoices.InvoicesSeen,
) -> tuple[list[tuple[int, int, domain.DebtorLine]], list[Rejection], list[tuple[int, int, str]], dict[str, Any]]:
    """Invoice numbers already on an earlier batch's kept rows of this file (``seen``: this run's, rebuilt from
    the staged rows up to the checkpoint when it resumed, so rows a crashed run staged after it do not count and
    a re-run decides the same)."""
    start = batch[0].row
    found = seen.first_rows(domain.invoice_key(line.invoice_number) for _, _, line in valid)
    earlier = {k: first for k, first in found.items() if first[0] < start}
    cells = {r.row: r.cells for r in batch if r.cells is not None}
    return domain.repeated_invoices(valid, earlier, settings, cells)


def staged_invoices(import_id: str, through_row: int) -> Iterator[tuple[str, int, int]]:
    """(invoice key, row, line) of every row the job staged up to ``through_row`` (its checkpoint)."""
    for item in repository.staged_rows(import_id):
        key, row, line = domain.staged_invoice(item["data"])
        if row <= through_row:
            yield key, row, line


def import_date(job: dict[str, Any]) -> date:
    """The day the file was received: an invoice without a date column is dated with it, on every resume alike."""
    try:
        return date.fromisoformat(str(job.get("received_at", ""))[:10])
    except ValueError:
        return datetime.now(UTC).date()


def after_batch(run: Run, last_row: int) -> None:
    """A seam for tests (a crash in the middle of a file)."""


def process_records(
    records: list[Record], columns: domain.ColumnMap, settings: ImportSettings
) -> tuple[list[tuple[int, int, domain.DebtorLine]], list[Rejection], list[tuple[int, int, str]]]:
    """Pure: records → valid debtor lines, rejections and warnings, each in the records' order."""
    valid: list[tuple[int, int, domain.DebtorLine]] = []
    rejected: list[Rejection] = []
    warnings: list[tuple[int, int, str]] = []
    validated = columns.validator(settings)

    def judged(record: Record) -> None:
        """A record the plain path does not read: unreadable, or judged by the model (which words every rejection)."""
        cells = record.cells
        if cells is None or record.error_code is not None:  # not ``record.readable``: a call less per row
            code, reason = record.error_code or "unreadable", record.error or ""
            rejected.append(Rejection(record.row, record.line, "row", code, reason, cells or []))
            return
        try:
            line, row_warnings = validated(cells)
        except domain.RowRejected as exc:
            rejected.append(
                Rejection(record.row, record.line, exc.field, exc.code, str(exc)[:MAX_REASON_CHARS], cells)
            )
            return
        valid.append((record.row, record.line, line))
        warnings.extend((record.row, record.line, w) for w in row_warnings)

    validated.plain.read(records, judged, valid, warnings)  # the ordinary rows, compiled; ``judged`` the others
    return valid, rejected, warnings


# ---- publish ------------------------------------------------------------------------------------------------


def publish(run: Run) -> None:
    """Staged rows in case-owner order → ``CaseFileImported.v2`` events of up to ``MAX_CASE_FILES_PER_EVENT`` case
    owners each (and about ``CASE_FILES_EVENT_BYTES``), sent ``EVENTS_PER_FLUSH`` at a time. The cursor and the
    counts are checkpointed only on chunk boundaries that are also case-owner boundaries, so a resumed publish
    rebuilds the same chunks from the next case owner on (same event ids), and nothing is counted twice."""
    job = run.job
    import_id, client_id = run.import_id, str(job["client_id"])
    settings = ImportSettings.model_validate(job.get("settings") or {})
    cursor = job.get("publish_cursor")
    counted = ("created", "merged", "cases", "owners", "reviews")
    tally = {k: int((job.get("published") or {}).get(k, 0)) for k in counted}
    pending: list[Event] = []  # closed chunks and their case owners' reviews
    closed_through = cursor  # the last case owner whose events are all in ``pending`` (or out)
    chunk = _Chunk()
    group: list[StagedRow] = []

    def close_chunk() -> None:
        nonlocal closed_through
        if not chunk.files:
            return
        pending.append(domain.case_files_event(import_id, client_id, chunk.files))
        pending.extend(chunk.reviews)
        for k, n in chunk.tally.items():
            tally[k] += n
        closed_through = chunk.files[-1].case_owner.case_owner_id
        chunk.clear()

    def close_group() -> None:
        files = [domain.imported_case_file(e) for e in domain.case_file_events(import_id, client_id, group, settings)]
        reviews = domain.review_events(import_id, client_id, group, AUTO_SCORE)
        counts = {
            "owners": 1,
            "created" if group[0].owner_new else "merged": 1,
            "cases": sum(len(f.cases) for f in files),
            "reviews": len(reviews),
        }
        if len(files) > 1:
            # A case file in parts: a case owner appears once per event, so each part goes in an event of its own.
            close_chunk()
            for part in files[:-1]:
                chunk.add(part, 0)
                close_chunk()
            chunk.add(files[-1], 0)
        else:
            n = _event_bytes(files[0])
            if not chunk.fits(n):
                close_chunk()
            chunk.add(files[0], n)
        chunk.reviews.extend(reviews)
        for k, v in counts.items():
            chunk.tally[k] = chunk.tally.get(k, 0) + v
        if len(files) > 1:
            close_chunk()  # the last part with the case owner's reviews and counts

    def flush() -> None:
        nonlocal cursor
        if not pending:
            return
        for future in [_publishers.submit(bus.publish, b) for b in bus.event_batches(pending)]:
            future.result()
        cursor = closed_through
        repository.update_job(
            import_id, lease=run.lease(), publish_cursor=cursor, published=dict(tally), updated_at=repository.now()
        )
        pending.clear()
        run.check_time()

    for item in repository.staged_rows(import_id, after_owner=cursor):
        staged = domain.read_staged(item["data"])
        if group and staged.case_owner_id != group[0].case_owner_id:
            close_group()
            group = []
            if len(pending) >= EVENTS_PER_FLUSH:
                flush()
        group.append(staged)
    if group:
        close_group()
        if len(pending) >= EVENTS_PER_FLUSH:
            flush()
    close_chunk()
    flush()
    repository.update_job(import_id, phase="report", published=dict(tally))
    run.job = repository.get_job(import_id) or job


@dataclass
class _Chunk:
    """The case files of the next ``CaseFileImported.v2``, with the reviews and counts of their case owners."""

    files: list[ImportedCaseFile] = field(default_factory=list)
    size: int = 0
    reviews: list[Event] = field(default_factory=list)
    tally: dict[str, int] = field(default_factory=dict)

    def fits(self, n: int) -> bool:
        return not self.files or (
            len(self.files) < MAX_CASE_FILES_PER_EVENT and self.size + n <= CASE_FILES_EVENT_BYTES
        )

    def add(self, file: ImportedCaseFile, n: int) -> None:
        self.files.append(file)
        self.size += n

    def clear(self) -> None:
        self.files, self.size, self.reviews, self.tally = [], 0, [], {}


def _event_bytes(file: ImportedCaseFile) -> int:
    return len(file.model_dump_json()) + 1  # the separating comma in the event's list


# ---- report -------------------------------------------------------------------------------------------------


def complete(run: Run) -> dict[str, Any]:
    job = repository.get_job(run.import_id) or run.job
    import_id, key, bucket = run.import_id, str(job["object_key"]), str(job["bucket"])
    checkpoint = dict(job.get("checkpoint") or {})
    published = dict(job.get("published") or {})
    counts = Counts.of(checkpoint)
    rejected_key = None
    if counts.rows_rejected:
        spool, _ = reports.write_rejected_csv(list(job.get("header") or []), repository.rejections(import_id))
        rejected_key = reports.rejected_key(key)
        aws.client("s3").upload_fileobj(
            spool, bucket, rejected_key, ExtraArgs={"ContentType": "text/csv", "Tagging": reports.REJECTED_TAGGING}
        )
        spool.close()
    created, merged = int(published.get("created", 0)), int(published.get("merged", 0))
    bus.publish(
        [
            ImportCompleted(
                event_id=str(uuid.uuid5(domain.NAMESPACE, f"{import_id}|completed")),
                correlation_id=import_id,
                import_id=import_id,
                client_id=str(job["client_id"]),
                object_key=key,
                rows_read=counts.rows_read,
                case_owners_created=created,
                case_owners_merged=merged,
                rows_rejected=counts.rows_rejected,
                rejected_rows_key=rejected_key,
            )
        ]
    )
    result = {
        "status": "completed",
        "phase": "done",
        "finished_at": repository.now(),
        **counts.__dict__,
        "case_owners_created": created,
        "case_owners_merged": merged,
        "cases": int(published.get("cases", 0)),
        "match_reviews": int(published.get("reviews", 0)),
        "rejections": [
            {k: r[k] for k in ("row", "line", "field", "code", "reason")} for r in repository.rejections(import_id, 100)
        ],
    }
    if rejected_key:
        result["rejected_rows_key"] = rejected_key
    repository.update_job(import_id, **result)
    metrics(SERVICE).add_metric(name="RowsImported", unit="Count", value=counts.rows_imported)
    log.info("import completed", extra={"import_id": import_id, "rows_read": counts.rows_read})
    return {"import_id": import_id, **{k: v for k, v in result.items() if k != "rejections"}}


def fail(import_id: str, client_id: str | None, key: str, exc: FileRejected) -> dict[str, Any]:
    repository.update_job(
        import_id, status="failed", phase="done", reason_code=exc.code, reason=str(exc), finished_at=repository.now()
    )
    bus.publish(
        [
            ImportFailed(
                event_id=str(uuid.uuid5(domain.NAMESPACE, f"{import_id}|failed")),
                correlation_id=import_id,
                import_id=import_id,
                client_id=None if client_id in (None, "-") else client_id,
                object_key=key,
                reason_code=exc.code,
                reason=str(exc),
            )
        ]
    )
    metrics(SERVICE).add_metric(name="ImportsFailed", unit="Count", value=1)
    log.warning("import failed", extra={"import_id": import_id, "reason_code": exc.code})
    return {"import_id": import_id, "status": "failed", "reason_code": exc.code, "reason": str(exc)}


def continuation_body(import_id: str) -> str:
    return json.dumps({"finview": "import-continue", "import_id": import_id})
