"""A collector's communication action, on a case (POST /cases/{id}/actions) or from one contact point
(POST /case-owners/{id}/contact-points/{id}/actions).

An action whose ``message_kind`` is one of the three cease-communication notices sends that notice, with its
template and its rules (``cease_notices``: only while the debtor's cease request covers the case, in writing, the
remedy named for ``cease_remedy_intended``), exactly as POST /cases/{id}/cease-notices does; before, it went out as
the collector's generic text. Any other action is an ordinary contact decided by the gate.
"""

from __future__ import annotations

from typing import get_args

from services.contacts.cases import cease_notices, contact_points
from services.contacts.cases import use_cases as cases
from services.contacts.cases.models import CaseActionIn, CeaseNotice, CeaseNoticeIn, ContactActionIn, ContactActionOut
from services.contacts.identity import Identity
from shared.errors import Invalid

NOTICES: dict[str, CeaseNotice] = {kind: notice for notice, kind in cease_notices.KINDS.items()}
WRITTEN = get_args(CeaseNoticeIn.model_fields["channel"].annotation)


def _notice(body: CaseActionIn | ContactActionIn, contact_point_id: str | None) -> CeaseNoticeIn:
    if body.action not in WRITTEN:
        raise Invalid(
            "cease_notice_in_writing",
            f"{body.message_kind} is a written notice: send it by {' or '.join(WRITTEN)}, not by {body.action}",
            "action",
        )
    if body.automatic:
        raise Invalid(
            "cease_notice_by_a_collector", "a cease notice is a collector's decision: automatic false", "automatic"
        )
    return CeaseNoticeIn(
        notice=NOTICES[body.message_kind],
        channel=body.action,  # type: ignore[arg-type]  # one of WRITTEN, checked above
        contact_point_id=contact_point_id,
        remedy=body.remedy,
    )


def _no_remedy(body: CaseActionIn | ContactActionIn) -> None:
    if body.remedy is not None:
        raise Invalid("remedy_not_expected", "only message_kind cease_remedy_intended names a remedy", "remedy")


def case_action(case_id: str, body: CaseActionIn, who: Identity, correlation_id: str) -> ContactActionOut:
    if body.message_kind in NOTICES:
        return cease_notices.send_notice(case_id, _notice(body, body.contact_point_id), who, correlation_id)
    _no_remedy(body)
    return cases.case_action(case_id, body, who, correlation_id)


def point_action(
    case_owner_id: str, contact_point_id: str, body: ContactActionIn, who: Identity, correlation_id: str
) -> ContactActionOut:
    if body.message_kind in NOTICES:
        if body.case_id is None:
            raise Invalid(
                "case_required", f"{body.message_kind} answers a request about one case: name its case_id", "case_id"
            )
        notice = _notice(body, contact_point_id)
        contact_points.owner_for_change(case_owner_id, who)
        return cease_notices.send_notice(body.case_id, notice, who, correlation_id, case_owner_id=case_owner_id)
    _no_remedy(body)
    return contact_points.action_from_point(case_owner_id, contact_point_id, body, who, correlation_id)
