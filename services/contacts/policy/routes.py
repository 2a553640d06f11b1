"""Contact-policy routes (a Chalice blueprint registered by ``app.py``): the policy view, holds, the debtor's
wishes per contact point, call outcomes, returned letters and the client's contact rules."""

from __future__ import annotations

from chalice import Blueprint, Response
from pydantic import RootModel

from services.contacts.http import Call, respond
from services.contacts.identity import agency
from services.contacts.openapi import CHANGE_ERRORS, route
from services.contacts.policy import models, use_cases

bp = Blueprint(__name__)

OWNER = "/case-owners/{case_owner_id}"
POINT = OWNER + "/contact-points/{contact_point_id}"


class HoldList(RootModel[list[models.HoldOut]]):
    pass


@route(
    bp,
    "/cases/{case_id}/contact-policy",
    "GET",
    summary="The effective contact rules of a case: jurisdiction, window, caps and counts, holds, and per channel "
    "whether a contact may go now and when it next may",
    response=models.PolicyView,
)
def contact_policy(case_id: str) -> Response:
    return respond(bp.current_request, lambda c: use_cases.view(case_id, c.identity))


@route(
    bp,
    "/cases/{case_id}/actions/{action_id}/outcome",
    "POST",
    summary="A call's outcome: a conversation starts the 7-day wait (Reg F), a wrong number invalidates the phone",
    request=models.CallOutcomeIn,
    response=models.ActionOutcomeOut,
    errors=CHANGE_ERRORS,
)
def call_outcome(case_id: str, action_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: use_cases.record_call_outcome(
            case_id, action_id, c.body(models.CallOutcomeIn), c.identity, c.correlation_id
        ),
        allow=agency,
    )


@route(bp, OWNER + "/holds", "GET", summary="The case owner's holds, newest first", response=HoldList)
def list_holds(case_owner_id: str) -> Response:
    return respond(bp.current_request, lambda c: HoldList(use_cases.list_holds(case_owner_id, c.identity)))


@route(
    bp,
    OWNER + "/holds",
    "POST",
    summary="Set a hold (UK moratorium, care, hardship, dispute, cease communication, deceased) with why and evidence",
    request=models.HoldIn,
    response=models.HoldOut,
    status=201,
    errors=CHANGE_ERRORS,
)
def set_hold(case_owner_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: use_cases.set_hold(case_owner_id, c.body(models.HoldIn), c.identity, c.correlation_id),
        201,
        allow=agency,
    )


@route(
    bp,
    OWNER + "/holds/{hold_id}/end",
    "POST",
    summary="End a hold early (a moratorium's end, a dispute resolved, cease communication revoked)",
    request=models.HoldEndIn,
    response=models.HoldOut,
    errors=CHANGE_ERRORS,
)
def end_hold(case_owner_id: str, hold_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: use_cases.end_hold(case_owner_id, hold_id, c.body(models.HoldEndIn), c.identity, c.correlation_id),
        allow=agency,
    )


@route(
    bp,
    OWNER + "/inconvenient-times",
    "PUT",
    summary="The times the debtor named as inconvenient (local time), replacing the previous list",
    request=models.InconvenientTimesIn,
    response=models.InconvenientTimesIn,
    errors=CHANGE_ERRORS,
)
def inconvenient_times(case_owner_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: use_cases.set_inconvenient_times(
            case_owner_id, c.body(models.InconvenientTimesIn), c.identity, c.correlation_id
        ),
        allow=agency,
    )


@route(
    bp, POINT + "/contact-policy", "GET", summary="The debtor's wishes on this contact point", response=models.WishesOut
)
def wishes(case_owner_id: str, contact_point_id: str) -> Response:
    return respond(bp.current_request, lambda c: use_cases.get_wishes(case_owner_id, contact_point_id, c.identity))


@route(
    bp,
    POINT + "/opt-outs",
    "POST",
    summary="Opt a channel of this point out ('stop calling', a written request); never used again until opted in",
    request=models.OptOutIn,
    response=models.WishesOut,
    errors=CHANGE_ERRORS,
)
def opt_out(case_owner_id: str, contact_point_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: use_cases.opt_out(
            case_owner_id, contact_point_id, c.body(models.OptOutIn), c.identity, c.correlation_id
        ),
        allow=agency,
    )


@route(
    bp,
    POINT + "/consents",
    "POST",
    summary="Record consent with its source; the debtor's own consent with evidence also lifts an opt-out",
    request=models.ConsentIn,
    response=models.WishesOut,
    errors=CHANGE_ERRORS,
)
def consent(case_owner_id: str, contact_point_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: use_cases.consent(
            case_owner_id, contact_point_id, c.body(models.ConsentIn), c.identity, c.correlation_id
        ),
        allow=agency,
    )


@route(
    bp,
    POINT + "/work-contact",
    "PUT",
    summary="Mark a work phone or e-mail, and whether the employer forbids contact there",
    request=models.WorkContactIn,
    response=models.WishesOut,
    errors=CHANGE_ERRORS,
)
def work_contact(case_owner_id: str, contact_point_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: use_cases.set_work_contact(
            case_owner_id, contact_point_id, c.body(models.WorkContactIn), c.identity, c.correlation_id
        ),
        allow=agency,
    )


@route(
    bp,
    POINT + "/returned-letters",
    "POST",
    summary="A letter came back (collector or print-service callback): the address becomes invalid with evidence",
    request=models.ReturnedLetterIn,
    response=models.WishesOut,
    errors=CHANGE_ERRORS,
)
def returned_letter(case_owner_id: str, contact_point_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: use_cases.letter_returned(
            case_owner_id, contact_point_id, c.body(models.ReturnedLetterIn), c.identity, c.correlation_id
        ),
        allow=agency,
    )


@route(
    bp,
    "/clients/{client_id}/contact-policy",
    "GET",
    summary="The client's own contact rules (window, caps, bounce limit); the law's presets apply on top",
    response=models.ClientRulesOut,
)
def get_client_rules(client_id: str) -> Response:
    return respond(bp.current_request, lambda c: use_cases.get_client_rules(client_id, c.identity))


@route(
    bp,
    "/clients/{client_id}/contact-policy",
    "PUT",
    summary="Set the client's contact rules: they tighten a legal preset and apply alone where no law sets a limit",
    request=models.ClientRulesIn,
    response=models.ClientRulesOut,
    errors=CHANGE_ERRORS,
)
def put_client_rules(client_id: str) -> Response:
    def action(c: Call) -> models.ClientRulesOut:
        return use_cases.put_client_rules(client_id, c.body(models.ClientRulesIn), c.identity)

    return respond(bp.current_request, action, allow=agency)
