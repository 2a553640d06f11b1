"""Notifications service: wiring only. Bus events → the entry point in ``handlers``."""

from __future__ import annotations

from chalice import Chalice

from services.notifications import handlers
from shared import wiring

app = Chalice(app_name="finview-notifications")

on_bus_events = wiring.on_bus(app, "notifications", handlers.on_bus_events)
