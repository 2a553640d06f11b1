"""Imports use cases fed by the bus: the service's own copies of its clients and their import settings.

The file pipeline (a drop or a continuation → case files on the bus) is in ``pipeline``.
"""

from __future__ import annotations

from services.imports import repository
from shared.events import ClientRegistered, ClientSettingsChanged


def on_client_registered(event: ClientRegistered) -> None:
    repository.put_client(event.client_id, event.legal_name)


def on_settings_changed(event: ClientSettingsChanged) -> None:
    repository.put_settings(event.client_id, event.settings)
