"""Contacts service: wiring only. API Gateway routes and the bus queue → functions in ``handlers``."""

from __future__ import annotations

from typing import Any

from chalice import Chalice, ConvertToMiddleware, Response
from chalice.app import SQSEvent

from services.contacts import case_routes, clients, handlers
from services.contacts.http import Call, respond
from services.contacts.models import ClientSettings, NewClient, NewClientUser
from shared.observability import lambda_handler

app = Chalice(app_name="finview-contacts")
app.register_middleware(ConvertToMiddleware(lambda_handler("contacts")), "http")
app.register_blueprint(case_routes.bp)


@app.route("/clients", methods=["POST"])
def create_client() -> Response:
    return respond(
        app.current_request, lambda c: clients.create_client(c.body(NewClient), c.identity, c.correlation_id), 201
    )


@app.route("/clients/{client_id}", methods=["GET"])
def get_client(client_id: str) -> Response:
    return respond(app.current_request, lambda c: clients.get_client(client_id, c.identity))


@app.route("/clients/{client_id}/users", methods=["POST"])
def create_client_user(client_id: str) -> Response:
    return respond(
        app.current_request,
        lambda c: clients.create_client_user(client_id, c.body(NewClientUser), c.identity, c.correlation_id),
        201,
    )


@app.route("/clients/{client_id}/settings", methods=["GET"])
def get_settings(client_id: str) -> Response:
    return respond(app.current_request, lambda c: clients.get_settings(client_id, c.identity))


@app.route("/clients/{client_id}/settings", methods=["PUT"])
def put_settings(client_id: str) -> Response:
    return respond(
        app.current_request,
        lambda c: clients.put_settings(client_id, c.body(ClientSettings), c.identity, c.correlation_id),
    )


@app.on_sqs_message(queue="finview-contacts-inbox", batch_size=10)
def on_bus_events(event: SQSEvent) -> Any:
    return handlers.on_bus_events(event.to_dict(), event.context)


__all__ = ["Call", "app"]
