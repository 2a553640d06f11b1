"""The triggers of a service's Chalice ``app.py``, wired the same way in every service.

``app.py`` is the one place that names a function's trigger (its queue and batch size, or its schedule);
``infra.definition`` reads them from the app's event sources. Each helper registers a Lambda entry point of
``handlers.py`` (``handler(event_dict, context)``) under the handler's own name, which is the function's name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Chalice
from chalice.app import CloudWatchEvent, SQSEvent

LambdaHandler = Callable[[dict[str, Any], Any], Any]
QUEUE_PREFIX = "finview-"  # Chalice's queue names; the stage's physical names come from infra.definition.Names
# A bus consumer handles its batch set-at-a-time (one BatchGetItem, TransactWriteItems or PutEvents for many
# records), so it gets batches that fill: up to 100 records, gathered for at most 1 s (BatchSize above 10 needs a
# batching window in AWS). Under load a batch fills at once; an idle queue's lone event waits at most the window.
BUS_BATCH_SIZE = 100
BUS_BATCHING_WINDOW_SECONDS = 1


def on_queue(
    app: Chalice,
    queue: str,
    handler: LambdaHandler,
    *,
    batch_size: int = BUS_BATCH_SIZE,
    batching_window_seconds: int = BUS_BATCHING_WINDOW_SECONDS,
) -> Any:
    """``handler`` consumes the SQS queue ``queue`` (logical name, e.g. ``imports-drops``)."""

    def entry(event: SQSEvent) -> Any:
        return handler(event.to_dict(), event.context)

    return app.on_sqs_message(
        queue=QUEUE_PREFIX + queue,
        batch_size=batch_size,
        maximum_batching_window_in_seconds=batching_window_seconds if batch_size > 1 else 0,
        name=handler.__name__,
    )(entry)


def on_bus(app: Chalice, service: str, handler: LambdaHandler) -> Any:
    """``handler`` consumes the events the bus rules route to the service's inbox queue."""
    return on_queue(app, f"{service}-inbox", handler)


# What a scheduled event may lack (the SAM CLI's sample has no "version"); Chalice's CloudWatchEvent needs them all.
SCHEDULED_EVENT_DEFAULTS: dict[str, Any] = {
    "version": "0",
    "id": "",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "",
    "time": "",
    "region": "",
    "resources": [],
    "detail": {},
}


def on_schedule(app: Chalice, expression: str, handler: LambdaHandler) -> Any:
    """``handler`` runs on an EventBridge schedule (``rate(...)``/``cron(...)``); the event is read leniently."""

    def entry(event: CloudWatchEvent) -> Any:
        return handler(event.to_dict(), event.context)

    wired = app.schedule(expression, name=handler.__name__)(entry)

    def lenient(event: dict[str, Any], context: Any) -> Any:
        return wired({**SCHEDULED_EVENT_DEFAULTS, **(event or {})}, context)

    return lenient
