"""Lambda entry points of the contacts service that are not API routes."""

from __future__ import annotations

from typing import Any

from services.contacts import store
from services.contacts.cases import use_cases as cases
from shared.consumer import consume
from shared.events import CaseFileImported, EnrichmentResultFound
from shared.observability import lambda_handler

SERVICE = "contacts"


@lambda_handler(SERVICE)
def on_bus_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return consume(
        event,
        context,
        service=SERVICE,
        table_name=store.table_name(),
        handlers={CaseFileImported: cases.on_case_file_imported, EnrichmentResultFound: cases.on_enrichment_result},
    )
