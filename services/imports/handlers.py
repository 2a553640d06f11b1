"""Imports' Lambda entry points: SQS records (S3 notifications or continuations) → the pipeline; the bus → use_cases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from services.imports import drops, pipeline, settings, use_cases
from services.imports.report import is_report
from shared import aws
from shared.consumer import bus_consumer
from shared.events import (
    CaseOwnersMerged,
    ClientRegistered,
    ClientSettingsChanged,
    SubjectAccessRequested,
    SubjectErasureRequested,
)
from shared.observability import lambda_handler, logger, metrics

SERVICE = "imports"
log = logger(SERVICE)
NO_DEADLINE_MS = 15 * 60 * 1000


def _queue_url(arn: str) -> str:
    """The drops queue's URL from the record's source ARN (arn:aws:sqs:<region>:<account>:<name>).

    In AWS the URL follows from the ARN (only sqs:SendMessage is needed); elsewhere (moto) it is asked for.
    """
    _, _, _, region, account, name = arn.split(":", 5)
    if not settings.get().endpoint_url:
        return f"https://sqs.{region}.amazonaws.com/{account}/{name}"
    return str(aws.client("sqs").get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])


def _send_continuation(queue_url: str, import_id: str, delay_s: int = 0) -> None:
    aws.client("sqs").send_message(
        QueueUrl=queue_url, MessageBody=pipeline.continuation_body(import_id), DelaySeconds=max(0, min(delay_s, 900))
    )


def handle_record(record: SQSRecord, context: Any) -> list[dict[str, Any]]:
    """One drops-queue message, in any shape ``drops`` knows; anything else fails the record (→ DLQ) with its
    reason instead of being acknowledged with nothing imported."""
    remaining = getattr(context, "get_remaining_time_in_millis", None) or (lambda: NO_DEADLINE_MS)

    def continue_later(import_id: str, delay_s: int) -> None:
        _send_continuation(_queue_url(record.event_source_arn), import_id, delay_s)

    try:
        messages = drops.parse(record.body)
    except drops.UnsupportedMessage as exc:
        log.error("not a drop: left for the DLQ", extra={"reason": str(exc), "message_id": record.message_id})
        raise
    results = []
    for message in messages:
        if isinstance(message, drops.Continuation):
            results.append(pipeline.resume(message.import_id, remaining, continue_later))
        elif isinstance(message, drops.Drop) and not is_report(message.key):  # not our own rejected-rows report
            results.append(pipeline.handle_drop_notice(message, remaining, continue_later))
    return results


@lambda_handler(SERVICE)
def on_file_dropped(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS records each holding an S3 notification, S3's one-off test event, or a continuation of a long import."""
    processor = BatchProcessor(event_type=EventType.SQS)

    def handle(record: SQSRecord) -> None:
        handle_record(record, context)

    return dict(process_partial_response(event=event, record_handler=handle, processor=processor, context=context))


@lambda_handler(SERVICE)
def check_stuck_imports(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scheduled: count the imports stuck in processing as the ``StuckImports`` metric (its alarm tells operators)."""
    stuck = use_cases.stuck_imports(datetime.now(UTC))
    for import_id in stuck:
        log.warning("import stuck in processing", extra={"import_id": import_id})
    metrics(SERVICE).add_metric(name="StuckImports", unit=MetricUnit.Count, value=len(stuck))
    return {"stuck": stuck}


@lambda_handler(SERVICE)
def resume_orphaned_imports(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scheduled: an import whose worker died (its lease expired, no progress since) gets a continuation on the
    drops queue; without it such a job would stay ``processing`` with no message left to carry it on."""
    region, account = context.invoked_function_arn.split(":")[3:5]
    queue_url = _queue_url(f"arn:aws:sqs:{region}:{account}:{settings.get().drops_queue}")
    resumed = use_cases.orphaned_imports(datetime.now(UTC))
    for import_id in resumed:
        _send_continuation(queue_url, import_id)
        log.warning("orphaned import resumed", extra={"import_id": import_id})
    metrics(SERVICE).add_metric(name="OrphanedImportsResumed", unit=MetricUnit.Count, value=len(resumed))
    return {"resumed": resumed}


on_bus_events = bus_consumer(
    SERVICE,
    lambda: settings.get().table,
    {
        ClientRegistered: use_cases.on_client_registered,
        ClientSettingsChanged: use_cases.on_settings_changed,
        CaseOwnersMerged: use_cases.on_case_owners_merged,
        SubjectAccessRequested: use_cases.on_subject_access_requested,
        SubjectErasureRequested: use_cases.on_subject_erasure_requested,
    },
)
