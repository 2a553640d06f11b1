"""Match review routes (a Chalice blueprint registered by ``app.py``): a client's queue of uncertain pairs from
imports, and the decision on each (accept: the two case owners are merged; reject: they stay two)."""

from __future__ import annotations

from chalice import Blueprint, Response

from services.contacts.cases import match_reviews
from services.contacts.cases.models import MatchReview, OptionalReasonIn
from services.contacts.http import Call, respond
from services.contacts.identity import agency
from services.contacts.models import Page
from services.contacts.openapi import CHANGE_ERRORS, route

bp = Blueprint(__name__)

REVIEWS = "/clients/{client_id}/match-reviews"
REVIEW = REVIEWS + "/{review_id}"


def _reason(c: Call) -> str | None:
    """The body is optional: an empty POST decides without a reason."""
    return c.body(OptionalReasonIn).reason if c.request.raw_body else None


@route(
    bp,
    REVIEWS,
    "GET",
    summary="The client's match reviews of one status (pending by default, oldest first), each with both case "
    "owners' files, the score, the threshold and every field's agreement level",
    response=Page[MatchReview],
    query={
        "status": "pending (default), accepted or rejected",
        "limit": "page size, 1-200",
        "next_token": "the next_token of the previous page",
    },
    errors=(400, 401, 404),
)
def list_match_reviews(client_id: str) -> Response:
    def action(c: Call) -> Page[MatchReview]:
        limit, token = c.page()
        return match_reviews.list_reviews(client_id, c.identity, c.query("status"), limit, token)

    return respond(bp.current_request, action)


@route(bp, REVIEW, "GET", summary="One match review with both case owners' files", response=MatchReview,
       errors=(401, 404))  # fmt: skip
def get_match_review(client_id: str, review_id: str) -> Response:
    return respond(bp.current_request, lambda c: match_reviews.get_review(client_id, review_id, c.identity))


@route(
    bp,
    REVIEW + "/accept",
    "POST",
    summary="One person: merge the review's case owner into the candidate (cases, contact points, defaults and "
    "contact-policy facts move; the merged case owner points to the survivor); 409 review_decided once decided",
    request=OptionalReasonIn,
    response=MatchReview,
    errors=CHANGE_ERRORS,
)
def accept_match_review(client_id: str, review_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: match_reviews.accept(client_id, review_id, _reason(c), c.identity, c.correlation_id),
        allow=agency,
    )


@route(
    bp,
    REVIEW + "/reject",
    "POST",
    summary="Two people: record the decision (the pair stays two case owners); 409 review_decided once decided",
    request=OptionalReasonIn,
    response=MatchReview,
    errors=CHANGE_ERRORS,
)
def reject_match_review(client_id: str, review_id: str) -> Response:
    return respond(
        bp.current_request,
        lambda c: match_reviews.reject(client_id, review_id, _reason(c), c.identity, c.correlation_id),
        allow=agency,
    )
