"""End to end through the local stack: a generated file dropped into S3, imported by the real handler (moto's
S3, SQS, DynamoDB and EventBridge), until the job is completed. Rows/s and the time of each phase.

Only the imports functions are dispatched: the contacts consumer would share the one Python process (and
moto's server) and measure contacts instead. The bus has no rules here: EventBridge accepts the events
(PutEvents is measured) but moto's fan-out into SQS slows down with every queued message (500 events: 8 s, the
next 500: 17 s), which measures moto, not the import. Moto's DynamoDB query also scans the whole table per
call, so this is a lower bound of what AWS does.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from bench.bench_imports_core import generated_csv
from bench.harness import Report
from infra.definition import STACK
from infra.local.stack import LocalStack
from services.imports import repository


def _seconds(job: dict[str, object], start: str, end: str) -> float:
    return (datetime.fromisoformat(str(job[end])) - datetime.fromisoformat(str(job[start]))).total_seconds()


def import_through_stack(rows: int, timeout: float = 3000) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "debtors.csv"
        with path.open("wb") as f:
            for chunk in generated_csv(rows, seed=3):
                f.write(chunk)
        only_imports = replace(
            STACK,
            functions=tuple(f for f in STACK.functions if f.service == "imports" or f.handler == "app"),
            rules=(),
            local_only_queues=(),
        )
        with LocalStack(stage="benchimp", log_file=str(Path(tmp) / "lambda.log"), stack=only_imports) as stack:
            assert stack.provisioned
            repository.put_client("bench", "Bench GmbH")
            key = f"bench/{rows}.csv"
            bucket = stack.provisioned.names.bucket("drops")
            s3 = stack.client("s3")
            start = time.perf_counter()
            s3.upload_file(str(path), bucket, key)
            head = s3.head_object(Bucket=bucket, Key=key)
            refs = [r for r in (head.get("VersionId"), str(head["ETag"]).strip('"')) if r]
            while time.perf_counter() - start < timeout:
                import_id = next((i for r in refs if (i := repository.get_drop(f"{bucket}/{key}", r))), None)
                job = repository.get_job(import_id) if import_id else None
                if job and job["status"] in ("completed", "failed"):
                    elapsed = time.perf_counter() - start
                    break
                time.sleep(1)
            else:
                raise TimeoutError(f"{rows} rows not imported in {timeout} s")
            assert job["status"] == "completed", job
            return {
                "elapsed": elapsed,
                "job": job,
                "size": path.stat().st_size,
                "stage_s": _seconds(job, "started_at", "staged_at"),
                "publish_s": _seconds(job, "staged_at", "finished_at"),
            }


def run(report: Report, quick: bool) -> None:
    rows = 10_000 if quick else 100_000
    result = import_through_stack(rows)
    job = result["job"]
    assert isinstance(job, dict)
    report.add(
        f"end to end through the local stack, {rows:,} rows",
        rows / float(str(result["elapsed"])),
        "rows/s",
        note=(
            f"{int(str(result['size'])) / 2**20:.1f} MB; stage {float(str(result['stage_s'])):.0f} s, publish+report "
            f"{float(str(result['publish_s'])):.0f} s; {job['case_owners_created']:,} case owners; moto on loopback"
        ),
    )
