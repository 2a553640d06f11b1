"""Notifications service: wiring only. Bus events → the entry point in ``handlers``."""

from __future__ import annotations

from chalice import Chalice

from services.notifications import handlers
from services.notifications.settings import Settings
from shared import wiring
from shared.settings import at_cold_start

app = Chalice(app_name="finview-notifications")
at_cold_start(Settings)  # in Lambda, a missing or malformed variable fails the init

on_bus_events = wiring.on_bus(app, "notifications", handlers.on_bus_events)
