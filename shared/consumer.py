"""EventBridge → SQS → Lambda consumption, the same for every service.

Each record's body is an EventBridge envelope. It is parsed into its catalogue model, the correlation id is put
on the logger, and the service's handler for that event type runs at most once per ``event_id`` (powertools
idempotency, persisted in the service's own table). A record that fails is reported in ``batchItemFailures``
so only it returns to the queue; after the queue's maxReceiveCount it lands in the DLQ. Events the handler
wrote to the outbox (``shared.outbox``, cause = the record's ``event_id``) are published after it, and on every
redelivery, so a retry republishes whatever an earlier delivery committed and did not publish.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from shared import aws, outbox
from shared.events import Event, parse_envelope
from shared.observability import lambda_handler, logger, metrics

EventHandler = Callable[..., Any]
IDEMPOTENCY_TTL_SECONDS = 7 * 24 * 3600


class _PerKeyPersistence(DynamoDBPersistenceLayer):
    """Idempotency records in the service's own PK/SK table, one partition per key.

    Powertools' composite-key mode puts every record under one static partition key, a hot partition once an
    import sends a million events; here the idempotency key is the partition key and SK a constant.
    """

    def _get_key(self, idempotency_key: str) -> dict[str, Any]:
        return {self.key_attr: {"S": idempotency_key}, str(self.sort_key_attr): {"S": "IDEMPOTENCY"}}


@functools.cache
def _persistence(table_name: str, service: str, endpoint: str) -> DynamoDBPersistenceLayer:
    # ``endpoint`` is part of the cache key so tests against different moto servers get fresh clients.
    return _PerKeyPersistence(
        table_name=table_name,
        key_attr="PK",
        sort_key_attr="SK",
        static_pk_value=f"IDEMPOTENCY#{service}",
        boto3_client=aws.client("dynamodb"),
    )


def _once(service: str, table_name: str, fn: EventHandler, context: Any) -> EventHandler:
    config = IdempotencyConfig(event_key_jmespath="event_id", expires_after_seconds=IDEMPOTENCY_TTL_SECONDS)
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        config.register_lambda_context(context)
    store = _persistence(table_name, service, os.environ.get("AWS_ENDPOINT_URL", ""))
    return idempotent_function(data_keyword_argument="event", config=config, persistence_store=store)(fn)


def consume(
    raw_event: dict[str, Any],
    context: Any,
    *,
    service: str,
    table_name: str,
    handlers: Mapping[type[Event], EventHandler],
) -> dict[str, Any]:
    log = logger(service)
    processor = BatchProcessor(event_type=EventType.SQS)

    def handle_record(record: SQSRecord) -> None:
        envelope = json.loads(record.body)
        event = parse_envelope(envelope)
        log.set_correlation_id(event.correlation_id)
        handler = handlers.get(type(event))
        if handler is None:
            # A rule delivered something this service does not consume: a wiring error, not data to retry.
            raise LookupError(f"{service} has no handler for {event.DETAIL_TYPE}")
        log.info("handling event", extra={"detail_type": event.DETAIL_TYPE, "event_id": event.event_id})

        def run(event: Event) -> Any:
            return handler(event)

        run.__name__ = run.__qualname__ = f"{service}.{type(event).__name__}"
        with outbox.cause(event.event_id):
            _once(service, table_name, run, context)(event=event)
            # Outside the idempotent part: a retry whose handler is already done still publishes what the
            # first delivery committed and did not get out (a failure here returns the record to the queue).
            # A first delivery whose handler wrote no outbox row has nothing to publish: no query.
            if outbox.rows_made() or _redelivered(record):
                outbox.flush(table_name)
        metrics(service).add_metric(name=f"{type(event).__name__}Handled", unit="Count", value=1)

    return dict(
        process_partial_response(event=raw_event, record_handler=handle_record, processor=processor, context=context)
    )


def _redelivered(record: SQSRecord) -> bool:
    """SQS's receive count says whether an earlier delivery ran; unknown counts as a retry."""
    count = (record.raw_event.get("attributes") or {}).get("ApproximateReceiveCount")
    return count is None or int(count) > 1


def bus_consumer(
    service: str, table_name: Callable[[], str], handlers: Mapping[type[Event], EventHandler]
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda entry point of a service's bus inbox: ``handlers`` maps each event type to its use case.

    ``table_name`` is asked at each invocation (the service's settings), for the idempotency records.
    """

    @lambda_handler(service)
    def on_bus_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return consume(event, context, service=service, table_name=table_name(), handlers=handlers)

    return on_bus_events


def outbox_publisher(service: str, table_name: Callable[[], str]) -> Callable[[dict[str, Any], Any], dict[str, int]]:
    """The Lambda entry point of a service's ``publish_outbox`` schedule: publishes the outbox rows a writer left
    behind (it died, or its client gave up) once they are older than a writer's own flush."""

    @lambda_handler(service)
    def publish_outbox(event: dict[str, Any], context: Any) -> dict[str, int]:
        published = outbox.sweep(table_name())
        if published:
            logger(service).warning("published events writers had left in the outbox", extra={"count": published})
        return {"published": published}

    return publish_outbox
