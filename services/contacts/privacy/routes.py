"""Data-protection routes (a Chalice blueprint registered by ``app.py``): a data subject's export and its progress."""

from __future__ import annotations

from chalice import Blueprint, Response

from services.contacts.http import respond
from services.contacts.identity import Identity
from services.contacts.openapi import route
from services.contacts.privacy import models, subject_access

bp = Blueprint(__name__)


def agency(who: Identity) -> None:
    who.require_agency()


@route(
    bp,
    "/case-owners/{case_owner_id}/data-export",
    "POST",
    summary="Export everything FinView holds about a case owner (GDPR Art. 15/20): every service answers on the bus, "
    "the JSON and the attachments are zipped; poll the request for progress and the link",
    request=models.DataExportIn,
    response=models.DataRequestOut,
    status=202,
    errors=(400, 401, 403, 404, 422),
)
def request_data_export(case_owner_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: subject_access.request_export(
            case_owner_id,
            c.body(models.DataExportIn) if c.request.raw_body else models.DataExportIn(),
            c.identity,
            c.correlation_id,
        ),
        202,
        allow=agency,
    )


@route(
    bp,
    "/data-requests/{request_id}",
    "GET",
    summary="A data subject's request: progress per service and, once ready, the export's link (valid 24 h)",
    response=models.DataRequestOut,
)
def get_data_request(request_id: str) -> Response:
    return respond(bp.current_request, lambda c: subject_access.view(request_id, c.identity), allow=agency)
