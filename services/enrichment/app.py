"""Enrichment service: wiring only. The daily schedule and bus events → the entry points in ``handlers``."""

from __future__ import annotations

from chalice import Chalice

from services.enrichment import handlers
from services.enrichment.settings import Settings
from shared import wiring
from shared.settings import at_cold_start

app = Chalice(app_name="finview-enrichment")
at_cold_start(Settings)  # in Lambda, a missing or malformed variable fails the init

on_schedule = wiring.on_schedule(app, "rate(1 day)", handlers.on_schedule)
on_bus_events = wiring.on_bus(app, "enrichment", handlers.on_bus_events)
publish_outbox = wiring.on_schedule(app, "rate(1 minute)", handlers.publish_outbox)  # events writers left
