"""Imports service: wiring only. S3 drops (via SQS) and bus events → functions in ``handlers``."""

from __future__ import annotations

from typing import Any

from chalice import Chalice
from chalice.app import SQSEvent

from services.imports import handlers

app = Chalice(app_name="finview-imports")


@app.on_sqs_message(queue="finview-imports-drops", batch_size=1)
def on_file_dropped(event: SQSEvent) -> Any:
    return handlers.on_file_dropped(event.to_dict(), event.context)


@app.on_sqs_message(queue="finview-imports-inbox", batch_size=10)
def on_bus_events(event: SQSEvent) -> Any:
    return handlers.on_bus_events(event.to_dict(), event.context)
