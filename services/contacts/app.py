"""Contacts service: wiring only. The route blueprints of both sides, the contract and the bus queue.

Every route is declared with ``openapi.route(...)``; GET /openapi.json serves the document.
"""

from __future__ import annotations

import json

from chalice import ConvertToMiddleware, Response

from services.contacts import handlers, http, openapi
from services.contacts.cases import routes as case_routes
from services.contacts.clients import routes as client_routes
from services.contacts.http import JSON_HEADERS, Call
from services.contacts.openapi import route
from services.contacts.policy import routes as policy_routes
from services.contacts.privacy import routes as privacy_routes
from services.contacts.settings import Settings
from shared import wiring
from shared.observability import lambda_handler
from shared.settings import at_cold_start

app = http.RestApi(app_name="finview-contacts")
at_cold_start(Settings)  # in Lambda, a missing or malformed variable fails the init
app.register_middleware(ConvertToMiddleware(lambda_handler("contacts")), "http")
app.register_middleware(http.errors_in_contract, "http")
app.register_blueprint(client_routes.bp)
app.register_blueprint(case_routes.bp)
app.register_blueprint(policy_routes.bp)
app.register_blueprint(privacy_routes.bp)


@route(app, "/openapi.json", "GET", summary="This API's OpenAPI 3.1 document", auth=False, errors=())
def openapi_document() -> Response:
    return Response(body=json.dumps(openapi.document(app)), status_code=200, headers=JSON_HEADERS)


on_bus_events = wiring.on_bus(app, "contacts", handlers.on_bus_events)
on_reminder_schedule = wiring.on_schedule(app, "rate(1 day)", handlers.on_reminder_schedule)
publish_outbox = wiring.on_schedule(app, "rate(1 minute)", handlers.publish_outbox)  # events writers left
# Deferred automatic contacts go out within minutes of their next allowed time (a window opening, a hold ending).
release_deferred_contacts = wiring.on_schedule(app, "rate(5 minutes)", handlers.release_deferred_contacts)

__all__ = ["Call", "app"]
