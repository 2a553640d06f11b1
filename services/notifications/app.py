"""Notifications service: wiring only. Bus events → functions in ``handlers``."""

from __future__ import annotations

from typing import Any

from chalice import Chalice
from chalice.app import SQSEvent

from services.notifications import handlers

app = Chalice(app_name="finview-notifications")


@app.on_sqs_message(queue="finview-notifications-inbox", batch_size=10)
def on_bus_events(event: SQSEvent) -> Any:
    return handlers.on_bus_events(event.to_dict(), event.context)
