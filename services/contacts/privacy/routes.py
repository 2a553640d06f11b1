"""Data-protection routes (a Chalice blueprint registered by ``app.py``): a data subject's export and its progress."""

from __future__ import annotations

from chalice import Blueprint, Response

from services.contacts.http import respond
from services.contacts.identity import agency
from services.contacts.openapi import CHANGE_ERRORS, route
from services.contacts.privacy import art14, erasure, models, subject_access

bp = Blueprint(__name__)


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


@route(
    bp,
    "/case-owners/{case_owner_id}/erasure",
    "POST",
    summary="Erase a case owner (GDPR Art. 17): restricted at once, erased by the daily job once no case is open "
    "and the retention period (the law of the client's country, or the client's longer one) has run",
    request=models.ErasureIn,
    response=models.ErasureOut,
    status=202,
    errors=CHANGE_ERRORS,
)
def request_erasure(case_owner_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: erasure.request_erasure(case_owner_id, c.body(models.ErasureIn), c.identity, c.correlation_id),
        202,
        allow=agency,
    )


@route(
    bp,
    "/erasure-requests/{request_id}",
    "GET",
    summary="An erasure request: waiting (with the earliest erasure date), erasing, or erased with what each "
    "service erased",
    response=models.ErasureOut,
)
def get_erasure_request(request_id: str) -> Response:
    return respond(bp.current_request, lambda c: erasure.view(request_id, c.identity), allow=agency)


@route(
    bp,
    "/clients/{client_id}/art14-notices",
    "GET",
    summary="The people whose traced data still needs the GDPR Art. 14 notice (due a month after obtaining it, or "
    "at the first contact), the overdue first",
    response=models.Art14Report,
)
def art14_notices(client_id: str) -> Response:
    return respond(bp.current_request, lambda c: art14.report(client_id, c.identity))


@route(
    bp,
    "/case-owners/{case_owner_id}/art14-notice",
    "POST",
    summary="Record that the person was told where their traced data came from (GDPR Art. 14): clears their notices",
    request=models.Art14GivenIn,
    response=models.Art14Given,
    errors=(400, 401, 403, 404, 422),
)
def record_art14_notice(case_owner_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: art14.record_given(case_owner_id, c.body(models.Art14GivenIn), c.identity, c.correlation_id),
        allow=agency,
    )
