"""Lambda entry points of the contacts service that are not API routes: the bus inbox → the cases' use cases."""

from __future__ import annotations

from services.contacts import store
from services.contacts.cases import use_cases as cases
from shared.consumer import bus_consumer
from shared.events import CaseFileImported, EnrichmentResultFound

SERVICE = "contacts"

on_bus_events = bus_consumer(
    SERVICE,
    store.table_name,
    {CaseFileImported: cases.on_case_file_imported, EnrichmentResultFound: cases.on_enrichment_result},
)
