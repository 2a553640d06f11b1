"""Enrichment service: wiring only. The daily schedule and bus events → functions in ``handlers``."""

from __future__ import annotations

from typing import Any

from chalice import Chalice, Rate
from chalice.app import CloudWatchEvent, SQSEvent

from services.enrichment import handlers

app = Chalice(app_name="finview-enrichment")


@app.schedule(Rate(1, unit=Rate.DAYS))
def on_schedule(event: CloudWatchEvent) -> Any:
    return handlers.on_schedule(event.to_dict(), event.context)


@app.on_sqs_message(queue="finview-enrichment-inbox", batch_size=10)
def on_bus_events(event: SQSEvent) -> Any:
    return handlers.on_bus_events(event.to_dict(), event.context)
