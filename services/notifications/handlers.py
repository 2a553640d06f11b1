"""Notifications' Lambda entry point: the bus inbox → ``use_cases``."""

from __future__ import annotations

from services.notifications import settings, use_cases
from shared.consumer import bus_consumer
from shared.events import (
    ClientRegistered,
    ClientUserCreated,
    ClientUserRightsChanged,
    ContactActionRequested,
    ImportCompleted,
    ImportFailed,
)

on_bus_events = bus_consumer(
    use_cases.SERVICE,
    lambda: settings.get().table,
    {
        ClientRegistered: use_cases.on_client_registered,
        ClientUserCreated: use_cases.on_client_user_created,
        ClientUserRightsChanged: use_cases.on_rights_changed,
        ImportCompleted: use_cases.on_import_finished,
        ImportFailed: use_cases.on_import_finished,
        ContactActionRequested: use_cases.on_contact_action,
    },
)
