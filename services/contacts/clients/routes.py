"""Client routes (a Chalice blueprint registered by ``app.py``): business units, clients, client users, settings.

Each route declares its contract and path with ``openapi.route`` and only wires the request to a use case.
"""

from __future__ import annotations

import json

from chalice import Blueprint, Response

from services.contacts import openapi
from services.contacts.clients import business_units, enrichment_costs
from services.contacts.clients import use_cases as clients
from services.contacts.clients.models import (
    BusinessUnit,
    BusinessUnitDefinition,
    Client,
    ClientChange,
    ClientSettings,
    ClientUser,
    ClientUserChange,
    ClientUserLink,
    EffectiveBusinessUnit,
    EffectiveWorkflow,
    EnrichmentCosts,
    NewBusinessUnit,
    NewClient,
    NewClientUser,
)
from services.contacts.http import Call, respond
from services.contacts.identity import Identity, agency
from services.contacts.models import Page
from services.contacts.openapi import CHANGE_ERRORS, route

bp = Blueprint(__name__)

PAGE_QUERY = {
    "limit": f"page size, 1 to {openapi.MAX_LIMIT} (default 50)",
    "next_token": "the next_token of the previous page",
}


def admin(who: Identity) -> None:
    who.require_admin()


# ---- business units ---------------------------------------------------------------------------------------


@route(
    bp,
    "/business-units",
    "POST",
    summary="Create a business unit (agency administrator)",
    request=NewBusinessUnit,
    response=BusinessUnit,
    status=201,
    errors=(400, 401, 403, 409, 422),
)
def create_business_unit() -> Response:
    return respond(
        bp.current_request, lambda c: business_units.create(c.body(NewBusinessUnit), c.identity), 201, allow=admin
    )


@route(
    bp,
    "/business-units",
    "GET",
    summary="List the business units (agency staff)",
    response=Page[BusinessUnit],
    query=PAGE_QUERY,
    errors=(400, 401, 403),
)
def list_business_units() -> Response:
    return respond(bp.current_request, lambda c: business_units.list_all(c.identity, *c.page()), allow=agency)


@route(
    bp,
    "/business-units/{business_unit_id}",
    "GET",
    summary="Get a business unit (agency staff)",
    response=BusinessUnit,
    errors=(401, 403, 404),
)
def get_business_unit(business_unit_id: str) -> Response:
    return respond(bp.current_request, lambda c: business_units.get(business_unit_id, c.identity), allow=agency)


@route(
    bp,
    "/business-units/{business_unit_id}",
    "PUT",
    summary="Replace a business unit's settings (agency administrator)",
    request=BusinessUnitDefinition,
    response=BusinessUnit,
)
def replace_business_unit(business_unit_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: business_units.replace(
            business_unit_id, c.body(BusinessUnitDefinition), c.identity, c.correlation_id
        ),
        allow=admin,
    )


# ---- clients ----------------------------------------------------------------------------------------------


@route(
    bp,
    "/clients",
    "POST",
    summary="Create a client (agency administrator); it inherits its business unit's settings",
    request=NewClient,
    response=Client,
    status=201,
    errors=(400, 401, 403, 422),
)
def create_client() -> Response:
    return respond(
        bp.current_request,
        lambda c: clients.create_client(c.body(NewClient), c.identity, c.correlation_id),
        201,
        allow=admin,
    )


@route(
    bp,
    "/clients",
    "GET",
    summary="List clients by name (a client user sees only its own)",
    response=Page[Client],
    query=PAGE_QUERY,
    errors=(400, 401),
)
def list_clients() -> Response:
    return respond(bp.current_request, lambda c: clients.list_clients(c.identity, *c.page()))


@route(
    bp,
    "/clients/{client_id}",
    "GET",
    summary="Get a client with its effective business unit settings",
    response=Client,
    errors=(401, 404),
)
def get_client(client_id: str) -> Response:
    return respond(bp.current_request, lambda c: clients.get_client_profile(client_id, c.identity))


@route(
    bp,
    "/clients/{client_id}",
    "PATCH",
    summary="Change a client (business unit and finances: agency administrator; the rest: agency staff)",
    request=ClientChange,
    response=Client,
    errors=CHANGE_ERRORS,
)
def change_client(client_id: str) -> Response:
    def run(c: Call) -> Client:
        if c.sent_fields() & clients.ADMIN_FIELDS:
            # Authorised before the body is validated: a collector gets 403 whatever the finances say.
            c.identity.require_admin()
        return clients.change_client(client_id, c.body(ClientChange), c.identity, c.correlation_id)

    return respond(bp.current_request, run, allow=agency)


@route(
    bp,
    "/clients/{client_id}/business-unit",
    "GET",
    summary="The client's effective business unit settings (inherited, with the client's overrides)",
    response=EffectiveBusinessUnit,
    errors=(401, 404),
)
def get_effective_business_unit(client_id: str) -> Response:
    return respond(bp.current_request, lambda c: clients.effective_business_unit(client_id, c.identity))


# ---- client users -----------------------------------------------------------------------------------------


@route(
    bp,
    "/clients/{client_id}/users",
    "POST",
    summary="Create a client user (409 person_exists when the e-mail is already on the platform: link it)",
    request=NewClientUser,
    response=ClientUser,
    status=201,
    errors=CHANGE_ERRORS,
)
def create_client_user(client_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: clients.create_client_user(client_id, c.body(NewClientUser), c.identity, c.correlation_id),
        201,
        allow=agency,
    )


@route(
    bp,
    "/clients/{client_id}/users/link",
    "POST",
    summary="Link an existing user (by user_id or email) to this client with its rights here",
    request=ClientUserLink,
    response=ClientUser,
    status=201,
    errors=CHANGE_ERRORS,
)
def link_client_user(client_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: clients.link_client_user(client_id, c.body(ClientUserLink), c.identity, c.correlation_id),
        201,
        allow=agency,
    )


@route(
    bp,
    "/clients/{client_id}/users",
    "GET",
    summary="List a client's users",
    response=Page[ClientUser],
    query=PAGE_QUERY,
    errors=(400, 401, 404),
)
def list_client_users(client_id: str) -> Response:
    return respond(bp.current_request, lambda c: clients.list_client_users(client_id, c.identity, *c.page()))


@route(
    bp,
    "/clients/{client_id}/users/{user_id}",
    "GET",
    summary="Get one user of a client with its rights there",
    response=ClientUser,
    errors=(401, 404),
)
def get_client_user(client_id: str, user_id: str) -> Response:
    return respond(bp.current_request, lambda c: clients.get_client_user(client_id, user_id, c.identity))


@route(
    bp,
    "/clients/{client_id}/users/{user_id}",
    "PATCH",
    summary="Change a user's rights for this client (commercial, operational, platform access, portfolios) "
    "or the person's language (for all its clients; null clears it)",
    request=ClientUserChange,
    response=ClientUser,
)
def change_client_user_rights(client_id: str, user_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: clients.change_client_user(
            client_id, user_id, c.body(ClientUserChange), c.identity, c.correlation_id
        ),
        allow=agency,
    )


# ---- settings ---------------------------------------------------------------------------------------------


@route(
    bp,
    "/clients/{client_id}/settings",
    "GET",
    summary="A client's settings (enrichment, imports, workflow, debtor communication)",
    response=ClientSettings,
    errors=(401, 404),
)
def get_settings(client_id: str) -> Response:
    return respond(bp.current_request, lambda c: clients.get_settings(client_id, c.identity))


@route(
    bp,
    "/clients/{client_id}/settings",
    "PUT",
    summary="Replace a client's settings (agency staff; granting or revoking enrichment: administrator)",
    request=ClientSettings,
    response=ClientSettings,
)
def put_settings(client_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: clients.put_settings(client_id, c.body(ClientSettings), c.identity, c.correlation_id),
        allow=agency,
    )


@route(
    bp,
    "/clients/{client_id}/portfolios/{portfolio_id}/workflow",
    "GET",
    summary="The workflow settings that apply to one portfolio (its overrides, else the client's)",
    response=EffectiveWorkflow,
    errors=(401, 404),
)
def get_portfolio_workflow(client_id: str, portfolio_id: str) -> Response:
    return respond(bp.current_request, lambda c: clients.portfolio_workflow(client_id, portfolio_id, c.identity))


# ---- enrichment costs ---------------------------------------------------------------------------------------


@route(
    bp,
    "/clients/{client_id}/enrichment/costs",
    "GET",
    summary="The enrichment cost ledger of one month (JSON; CSV for billing with ?format=csv or Accept: text/csv)",
    response=EnrichmentCosts,
    query={"month": "the billing month, YYYY-MM (default: the current month)", "format": "json (default) or csv"},
    errors=(400, 401, 404, 422),
)
def get_enrichment_costs(client_id: str) -> Response:
    request = bp.current_request
    assert request is not None
    response = respond(request, lambda c: enrichment_costs.costs(client_id, c.query("month"), c.identity))
    params: dict[str, str] = dict(request.query_params or {})
    headers: dict[str, str] = {k.lower(): v for k, v in dict(request.headers or {}).items()}
    wanted, accept = params.get("format", "").lower(), headers.get("accept", "")
    if response.status_code != 200 or not (wanted == "csv" or (not wanted and "text/csv" in accept)):
        return response
    ledger = EnrichmentCosts.model_validate(json.loads(str(response.body)))
    return Response(
        body=enrichment_costs.to_csv(ledger),
        status_code=200,
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="enrichment-costs-{client_id}-{ledger.month}.csv"',
        },
    )
