"""Imports service: wiring only. S3 drops (via SQS) and bus events → the entry points in ``handlers``."""

from __future__ import annotations

from chalice import Chalice

from services.imports import handlers
from shared import wiring

app = Chalice(app_name="finview-imports")

on_file_dropped = wiring.on_queue(app, "imports-drops", handlers.on_file_dropped, batch_size=1)
on_bus_events = wiring.on_bus(app, "imports", handlers.on_bus_events)
