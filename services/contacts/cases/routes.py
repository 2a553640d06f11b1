"""Case routes (a Chalice blueprint registered by ``app.py``): case owners, contact points, case files.

Each route declares its contract and path with ``openapi.route`` and only wires the request to a use case.
"""

from __future__ import annotations

from typing import TypeVar, get_args

from chalice import Blueprint, Response
from pydantic import BaseModel

from services.contacts import pagination
from services.contacts.cases import actions, attachments, case_messages, cease_notices, contact_points, settlement
from services.contacts.cases import use_cases as cases
from services.contacts.cases.models import (
    Attachment,
    AttachmentDownload,
    AttachmentUpload,
    AuditEntry,
    Case,
    CaseActionIn,
    CaseClosingIn,
    CaseClosingOut,
    CaseFile,
    CaseMessage,
    CaseOwner,
    CaseOwnerChange,
    CaseOwnerFile,
    CeaseNoticeIn,
    CollectorIn,
    ContactActionIn,
    ContactActionOut,
    ContactPoint,
    ContactPointChange,
    NewAttachmentIn,
    NewContactPointIn,
    Note,
    NoteIn,
    ObservationIn,
    OptionalReasonIn,
    PaymentIn,
    PaymentOut,
    PaymentPlan,
    PaymentPlanIn,
    ReasonIn,
    ValidateIn,
)
from services.contacts.http import Call, respond
from services.contacts.identity import agency
from services.contacts.models import Page
from services.contacts.openapi import CHANGE_ERRORS, route
from shared.api import ApiError
from shared.events import ContactPointType

bp = Blueprint(__name__)
M = TypeVar("M", bound=BaseModel)

PAGE = {"limit": "page size, 1-200", "next_token": "the next_token of the previous page"}
OWNER = "/case-owners/{case_owner_id}"
POINT = OWNER + "/contact-points/{contact_point_id}"


def _type(c: Call) -> ContactPointType | None:
    value = c.query("type")
    if value is None:
        return None
    allowed = get_args(ContactPointType)
    if value not in allowed:
        raise ApiError("invalid_query", f"type must be one of {', '.join(allowed)}", "type")
    return value  # type: ignore[return-value]


def _optional_body(c: Call, model: type[M]) -> M:
    """Bodies that may be left out entirely (an optional reason)."""
    return c.body(model) if c.request.raw_body else model()


# ---- case owners -----------------------------------------------------------------------------------------


@route(bp, OWNER, "GET", summary="A case owner and all its cases", response=CaseOwnerFile)
def get_case_owner(case_owner_id: str) -> Response:
    return respond(bp.current_request, lambda c: cases.get_case_owner(case_owner_id, c.identity))


@route(
    bp,
    OWNER,
    "PATCH",
    summary="Change the case owner: the language debtor messages are written in",
    request=CaseOwnerChange,
    response=CaseOwner,
    errors=CHANGE_ERRORS,
)
def change_case_owner(case_owner_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: cases.change_case_owner(case_owner_id, c.body(CaseOwnerChange), c.identity, c.correlation_id),
        allow=agency,
    )


@route(
    bp,
    OWNER + "/contact-points",
    "GET",
    summary="The case owner's contact points (valid ones unless include_invalid)",
    response=Page[ContactPoint],
    query={
        "include_invalid": "true also lists invalid points, flagged valid=false",
        "type": "email, phone or postal_address",
        **PAGE,
    },
)
def list_contact_points(case_owner_id: str) -> Response:
    def action(c: Call) -> Page[ContactPoint]:
        limit, token = c.page()
        return contact_points.list_contact_points(
            case_owner_id,
            c.identity,
            include_invalid=c.flag("include_invalid"),
            point_type=_type(c),
            limit=limit,
            next_token=token,
        )

    return respond(bp.current_request, action)


@route(
    bp,
    OWNER + "/contact-points",
    "POST",
    summary="Add a contact point by hand (pending), with an optional objective observation",
    request=NewContactPointIn,
    response=ContactPoint,
    status=201,
    errors=CHANGE_ERRORS,
)
def add_contact_point(case_owner_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: contact_points.add_contact_point(
            case_owner_id, c.body(NewContactPointIn), c.identity, c.correlation_id
        ),
        201,
        allow=agency,
    )


@route(bp, POINT, "GET", summary="One contact point", response=ContactPoint)
def get_contact_point(case_owner_id: str, contact_point_id: str) -> Response:
    return respond(
        bp.current_request, lambda c: contact_points.get_contact_point(case_owner_id, contact_point_id, c.identity)
    )


@route(
    bp,
    POINT,
    "PATCH",
    summary="Edit the observation (null removes it)",
    request=ObservationIn,
    response=ContactPoint,
    errors=CHANGE_ERRORS,
)
def edit_observation(case_owner_id: str, contact_point_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: contact_points.edit_observation(
            case_owner_id, contact_point_id, c.body(ObservationIn).observation, c.identity, c.correlation_id
        ),
        allow=agency,
    )


@route(
    bp,
    POINT + "/validate",
    "POST",
    summary="Validate with evidence (phone: successful_call, inbound_call; address: acknowledgement_of_receipt, "
    "inbound_letter; any type: reason with its text)",
    request=ValidateIn,
    response=ContactPointChange,
    errors=CHANGE_ERRORS,
)
def validate(case_owner_id: str, contact_point_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: contact_points.validate(
            case_owner_id, contact_point_id, c.body(ValidateIn).evidence, c.identity, c.correlation_id
        ),
        allow=agency,
    )


@route(
    bp,
    POINT + "/invalidate",
    "POST",
    summary="Invalidate with a reason; a default point leaves its type without default (default_cleared)",
    request=ReasonIn,
    response=ContactPointChange,
    errors=CHANGE_ERRORS,
)
def invalidate(case_owner_id: str, contact_point_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: contact_points.invalidate(
            case_owner_id, contact_point_id, c.body(ReasonIn).reason, c.identity, c.correlation_id
        ),
        allow=agency,
    )


@route(
    bp,
    POINT + "/cancel-validation",
    "POST",
    summary="Back to pending; a default point leaves its type without default (default_cleared)",
    request=OptionalReasonIn,
    response=ContactPointChange,
    errors=CHANGE_ERRORS,
)
def cancel_validation(case_owner_id: str, contact_point_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: contact_points.cancel_validation(
            case_owner_id, contact_point_id, _optional_body(c, OptionalReasonIn).reason, c.identity, c.correlation_id
        ),
        allow=agency,
    )


@route(
    bp,
    POINT + "/make-default",
    "POST",
    summary="Make this validated point the default of its type (the previous default stops being one)",
    request=OptionalReasonIn,
    response=ContactPointChange,
    errors=CHANGE_ERRORS,
)
def make_default(case_owner_id: str, contact_point_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: contact_points.make_default(
            case_owner_id, contact_point_id, c.identity, c.correlation_id, _optional_body(c, OptionalReasonIn).reason
        ),
        allow=agency,
    )


@route(
    bp,
    POINT + "/actions",
    "POST",
    summary="Call, send a letter, an SMS or an e-mail from this point (published to notifications)",
    request=ContactActionIn,
    response=ContactActionOut,
    status=202,
    errors=CHANGE_ERRORS,
)
def point_action(case_owner_id: str, contact_point_id: str) -> Response:
    def action(c: Call) -> ContactActionOut:
        return actions.point_action(
            case_owner_id, contact_point_id, c.body(ContactActionIn), c.identity, c.correlation_id
        )

    return respond(bp.current_request, action, 202, allow=agency)


@route(
    bp,
    OWNER + "/audit",
    "GET",
    summary="The case owner's audit trail, newest first: who changed what, when, before/after and why",
    response=Page[AuditEntry],
    query=PAGE,
)
def list_audit(case_owner_id: str) -> Response:
    def action(c: Call) -> Page[AuditEntry]:
        limit, token = c.page()
        return cases.list_audit(case_owner_id, c.identity, limit, token)

    return respond(bp.current_request, action)


# ---- cases -----------------------------------------------------------------------------------------------


@route(bp, "/clients/{client_id}/cases", "GET", summary="A client's cases", response=Page[Case], query=PAGE)
def list_cases(client_id: str) -> Response:
    def action(c: Call) -> Page[Case]:
        limit, token = pagination.limit(c.query("limit"), default=100), c.query("next_token")
        return cases.list_cases(client_id, c.identity, limit, token)

    return respond(bp.current_request, action)


@route(
    bp,
    "/cases/{case_id}",
    "GET",
    summary="A case with its owner and the owner's contact points",
    response=CaseFile,
    query={"include_invalid": "true also lists invalid points"},
)
def get_case(case_id: str) -> Response:
    return respond(bp.current_request, lambda c: cases.get_case_file(case_id, c.identity, c.flag("include_invalid")))


@route(
    bp,
    "/cases/{case_id}/actions",
    "POST",
    summary="A communication action of the case (on the default of its type unless a contact point is given)",
    request=CaseActionIn,
    response=ContactActionOut,
    status=202,
    errors=CHANGE_ERRORS,
)
def case_action(case_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: actions.case_action(case_id, c.body(CaseActionIn), c.identity, c.correlation_id),
        202,
        allow=agency,
    )


@route(
    bp,
    "/cases/{case_id}/collector",
    "PUT",
    summary="(Re)assign the case to a collector",
    request=CollectorIn,
    response=Case,
    errors=CHANGE_ERRORS,
)
def assign_collector(case_id: str) -> Response:
    def action(c: Call) -> Case:
        body = c.body(CollectorIn)
        return cases.assign_collector(case_id, body.collector, body.reason, c.identity, c.correlation_id)

    return respond(bp.current_request, action, allow=agency)


@route(bp, "/cases/{case_id}/notes", "GET", summary="The case's notepad, newest first", response=Page[Note], query=PAGE)
def list_notes(case_id: str) -> Response:
    def action(c: Call) -> Page[Note]:
        limit, token = c.page()
        return cases.list_notes(case_id, c.identity, limit, token)

    return respond(bp.current_request, action)


@route(
    bp,
    "/cases/{case_id}/notes",
    "POST",
    summary="Add a note (notes are never edited)",
    request=NoteIn,
    response=Note,
    status=201,
)
def add_note(case_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: cases.add_note(case_id, c.body(NoteIn).text, c.identity, c.correlation_id),
        201,
        allow=agency,
    )


@route(
    bp, "/cases/{case_id}/attachments", "GET", summary="The case's attachments", response=Page[Attachment], query=PAGE
)
def list_attachments(case_id: str) -> Response:
    def action(c: Call) -> Page[Attachment]:
        limit, token = c.page()
        return attachments.list_attachments(case_id, c.identity, limit, token)

    return respond(bp.current_request, action)


@route(
    bp,
    "/cases/{case_id}/attachments",
    "POST",
    summary="Register an attachment (pdf, png, jpeg, tiff, docx, xlsx, txt, eml, msg; at most 20 MB) and get a "
    "presigned PUT URL to upload it",
    request=NewAttachmentIn,
    response=AttachmentUpload,
    status=201,
)
def add_attachment(case_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: attachments.request_upload(case_id, c.body(NewAttachmentIn), c.identity, c.correlation_id),
        201,
        allow=agency,
    )


ATTACHMENT = "/cases/{case_id}/attachments/{attachment_id}"


@route(
    bp,
    ATTACHMENT,
    "GET",
    summary="An attachment with a presigned download URL (409 while its file is not uploaded)",
    response=AttachmentDownload,
    errors=(400, 401, 403, 404, 409),
)
def get_attachment(case_id: str, attachment_id: str) -> Response:
    return respond(bp.current_request, lambda c: attachments.download(case_id, attachment_id, c.identity))


@route(bp, ATTACHMENT, "DELETE", summary="Delete an attachment (record and file)", status=204)
def delete_attachment(case_id: str, attachment_id: str) -> Response:
    response = respond(
        bp.current_request,
        lambda c: attachments.delete(case_id, attachment_id, c.identity, c.correlation_id),
        204,
        allow=agency,
    )
    if response.status_code == 204:
        response.body = ""
    return response


# ---- case lifecycle: payments, payment plan, closing, messages ----------------------------------------------


@route(
    bp,
    "/cases/{case_id}/payments",
    "POST",
    summary="Record a payment of the debtor (in the case currency); the open amount goes down",
    request=PaymentIn,
    response=PaymentOut,
    status=201,
    errors=CHANGE_ERRORS,
)
def record_payment(case_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: settlement.record_payment(case_id, c.body(PaymentIn), c.identity, c.correlation_id),
        201,
        allow=agency,
    )


@route(
    bp,
    "/cases/{case_id}/payment-plan",
    "PUT",
    summary="Agree a payment plan (instalments with due dates and amounts); the case goes into settlement",
    request=PaymentPlanIn,
    response=PaymentPlan,
    errors=CHANGE_ERRORS,
)
def agree_payment_plan(case_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: settlement.agree_plan(case_id, c.body(PaymentPlanIn), c.identity, c.correlation_id),
        allow=agency,
    )


@route(
    bp,
    "/cases/{case_id}/close",
    "POST",
    summary="Close the case with a reason (fully_paid, paid_in_settlement, recalled_by_client, uncollectable)",
    request=CaseClosingIn,
    response=CaseClosingOut,
    errors=CHANGE_ERRORS,
)
def close_case(case_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: settlement.close_case(case_id, c.body(CaseClosingIn), c.identity, c.correlation_id),
        allow=agency,
    )


@route(
    bp,
    "/cases/{case_id}/cease-notices",
    "POST",
    summary="After the debtor asked us to cease communication: tell them our efforts end, that remedies may be "
    "used, or which remedy we intend (the only messages still allowed)",
    request=CeaseNoticeIn,
    response=ContactActionOut,
    status=202,
    errors=CHANGE_ERRORS,
)
def send_cease_notice(case_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: cease_notices.send_notice(case_id, c.body(CeaseNoticeIn), c.identity, c.correlation_id),
        202,
        allow=agency,
    )


@route(
    bp,
    "/cases/{case_id}/messages",
    "GET",
    summary="Every message sent to the debtor about the case, with its template, language and outcome",
    response=Page[CaseMessage],
)
def list_case_messages(case_id: str) -> Response:
    return respond(bp.current_request, lambda c: case_messages.list_messages(case_id, c.identity))
