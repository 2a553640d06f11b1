"""Case routes (a Chalice blueprint registered by ``app.py``): case files and contact points."""

from __future__ import annotations

from chalice import Blueprint, Response

from services.contacts import cases
from services.contacts.http import respond

bp = Blueprint(__name__)


@bp.route("/clients/{client_id}/cases", methods=["GET"])
def list_cases(client_id: str) -> Response:
    return respond(bp.current_request, lambda c: cases.list_cases(client_id, c.identity))


@bp.route("/cases/{case_id}", methods=["GET"])
def get_case(case_id: str) -> Response:
    return respond(bp.current_request, lambda c: cases.get_case_file(case_id, c.identity, c.flag("include_invalid")))
