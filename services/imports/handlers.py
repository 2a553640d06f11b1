"""Imports use cases: a dropped object → an import job → events for contacts; bus events → own copies."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from services.imports import domain, repository
from services.imports.parsing import FileRejected, read_rows
from shared import aws, bus
from shared.consumer import consume
from shared.events import (
    CaseFileImported,
    ClientRegistered,
    ClientSettingsChanged,
    Event,
    ImportCompleted,
    ImportFailed,
)
from shared.observability import lambda_handler, logger, metrics

SERVICE = "imports"
SUPPORTED_SUFFIXES = (".csv", ".txt")
MAX_BYTES = 200 * 1024 * 1024
log = logger(SERVICE)


def import_id_for(bucket: str, key: str, version: str | None, etag: str | None) -> str:
    """Same object delivered twice → same import id → the second delivery does nothing."""
    return str(uuid.uuid5(domain.NAMESPACE, f"{bucket}/{key}@{version or etag or ''}"))


def process_object(bucket: str, key: str, version: str | None, etag: str | None) -> dict[str, Any]:
    import_id = import_id_for(bucket, key, version, etag)
    client_id = key.split("/", 1)[0] if "/" in key else None
    log.set_correlation_id(import_id)
    existing = repository.start_job(import_id, client_id, bucket, key, correlation_id=import_id)
    if existing is not None:
        log.info("object already imported", extra={"import_id": import_id, "status": existing["status"]})
        return existing
    try:
        if client_id is None:
            raise FileRejected("no_client_folder", "files must be dropped under <client_id>/")
        if not repository.client_known(client_id):
            raise FileRejected("unknown_client", f"no client {client_id!r} is registered")
        if not key.lower().endswith(SUPPORTED_SUFFIXES):
            raise FileRejected("unsupported_file_type", f"{key.rsplit('/', 1)[-1]!r} is not a CSV file")
        obj = aws.client("s3").get_object(Bucket=bucket, Key=key, **({"VersionId": version} if version else {}))
        if obj["ContentLength"] > MAX_BYTES:
            raise FileRejected("file_too_large", f"the file is larger than {MAX_BYTES} bytes")
        return _import_rows(import_id, client_id, key, obj["Body"].read())
    except FileRejected as exc:
        repository.finish_job(import_id, "failed", reason_code=exc.code, reason=str(exc))
        bus.publish(
            [
                ImportFailed(
                    correlation_id=import_id,
                    import_id=import_id,
                    client_id=client_id,
                    object_key=key,
                    reason_code=exc.code,
                    reason=str(exc),
                )
            ]
        )
        metrics(SERVICE).add_metric(name="ImportsFailed", unit="Count", value=1)
        log.warning("import failed", extra={"import_id": import_id, "reason_code": exc.code})
        return {"import_id": import_id, "status": "failed", "reason_code": exc.code}


def _import_rows(import_id: str, client_id: str, key: str, data: bytes) -> dict[str, Any]:
    settings = repository.get_settings(client_id).get("imports", {})
    groups: dict[str, domain.CaseOwnerGroup] = {}
    rejected: list[dict[str, Any]] = []
    rows_read = 0
    created = merged = 0
    for line_no, raw in read_rows(data):
        rows_read += 1
        try:
            line = domain.validate(raw)
        except domain.RowError as exc:
            rejected.append({"row": line_no, "field": exc.field, "reason": str(exc)})
            continue
        match_key = line.match_key()
        candidate = domain.new_case_owner_id(client_id, match_key, import_id, line_no)
        owner_id = repository.claim_match_key(client_id, match_key, candidate) if match_key else candidate
        group = groups.get(owner_id)
        if group is None:
            is_new = owner_id == candidate
            created, merged = created + is_new, merged + (not is_new)
            group = groups[owner_id] = domain.CaseOwnerGroup(owner_id, "new" if is_new else "email-or-name-postcode")
        group.lines.append((line_no, line))
    if rows_read == 0:
        raise FileRejected("no_rows", "the file has a header but no data rows")
    events: list[Event] = [
        CaseFileImported(
            correlation_id=import_id,
            import_id=import_id,
            client_id=client_id,
            row_numbers=[n for n, _ in g.lines],
            matched_by=g.matched_by,
            case_owner=g.case_owner(),
            cases=g.cases(client_id, bool(settings.get("new_file_per_invoice"))),
            contact_points=g.contact_points(),
        )
        for g in groups.values()
    ]
    events.append(
        ImportCompleted(
            correlation_id=import_id,
            import_id=import_id,
            client_id=client_id,
            object_key=key,
            rows_read=rows_read,
            case_owners_created=created,
            case_owners_merged=merged,
            rows_rejected=len(rejected),
        )
    )
    bus.publish(events)
    repository.finish_job(
        import_id,
        "completed",
        rows_read=rows_read,
        case_owners_created=created,
        case_owners_merged=merged,
        rows_rejected=len(rejected),
        rejections=rejected[:1000],
    )
    metrics(SERVICE).add_metric(name="RowsImported", unit="Count", value=rows_read - len(rejected))
    return {"import_id": import_id, "status": "completed", "rows_read": rows_read}


@lambda_handler(SERVICE)
def on_file_dropped(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS records each holding an S3 notification (or S3's one-off test event, which is skipped)."""
    processor = BatchProcessor(event_type=EventType.SQS)

    def handle(record: SQSRecord) -> None:
        body = json.loads(record.body)
        if body.get("Event") == "s3:TestEvent":
            return
        for s3_record in body.get("Records", []):
            s3 = s3_record["s3"]
            process_object(
                s3["bucket"]["name"],
                unquote_plus(s3["object"]["key"]),
                s3["object"].get("versionId"),
                s3["object"].get("eTag"),
            )

    return dict(process_partial_response(event=event, record_handler=handle, processor=processor, context=context))


def on_client_registered(event: ClientRegistered) -> None:
    repository.put_client(event.client_id, event.legal_name)


def on_settings_changed(event: ClientSettingsChanged) -> None:
    repository.put_settings(event.client_id, event.settings)


@lambda_handler(SERVICE)
def on_bus_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return consume(
        event,
        context,
        service=SERVICE,
        table_name=aws.env("IMPORTS_TABLE"),
        handlers={ClientRegistered: on_client_registered, ClientSettingsChanged: on_settings_changed},
    )
