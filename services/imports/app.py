"""Imports service: wiring only. S3 drops (via SQS) and bus events → the entry points in ``handlers``."""

from __future__ import annotations

from chalice import Chalice

from services.imports import handlers
from services.imports.settings import Settings
from shared import wiring
from shared.settings import at_cold_start

app = Chalice(app_name="finview-imports")
at_cold_start(Settings)  # in Lambda, a missing or malformed variable fails the init

on_file_dropped = wiring.on_queue(app, "imports-drops", handlers.on_file_dropped, batch_size=1)
on_bus_events = wiring.on_bus(app, "imports", handlers.on_bus_events)
check_stuck_imports = wiring.on_schedule(app, "rate(15 minutes)", handlers.check_stuck_imports)
resume_orphaned_imports = wiring.on_schedule(app, "rate(5 minutes)", handlers.resume_orphaned_imports)
