"""The three messages a debtor who asked us to cease communication may still receive (FDCPA 1692c(c), PRODUCT §5):
our efforts are ended, we or the client may use the remedies the law provides, or we intend a named remedy.

They exist only as answers to that request: a collector sends one with POST /cases/{id}/cease-notices while a
cease-communication hold covers the case (409 otherwise), and closing the case as recalled or uncollectable under
such a hold sends "efforts ended" on its own. Every one goes through the contact-policy gate like any other
message (``debtor_messages.request_message`` → ``contact_requests.request_contact``), which lets exactly these
kinds through the hold.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.contacts.cases import contact_requests, debtor_messages, domain, repository
from services.contacts.cases.models import CeaseNotice, CeaseNoticeIn, ContactActionOut
from services.contacts.cases.use_cases import case_item
from services.contacts.identity import Identity
from services.contacts.policy import gate
from services.contacts.policy import repository as policy_repository
from services.contacts.policy.rules import Hold
from shared.errors import Conflict, DomainError, Invalid, NotFound
from shared.events import Channel, MessageKind
from shared.observability import logger

log = logger("contacts")

KINDS: dict[CeaseNotice, MessageKind] = {
    "efforts_ended": "cease_efforts_ended",
    "remedies_may_be_used": "cease_remedies_may_be_used",
    "remedy_intended": "cease_remedy_intended",
}
# Closing a case for these reasons ends our efforts; a paid case needs no such notice.
EFFORTS_END = frozenset({"recalled_by_client", "uncollectable"})
# Written first: the debtor asked in writing, and a letter reaches them without an address to reply to.
AUTOMATIC_CHANNELS: tuple[Channel, ...] = ("letter", "email")


def cease_request(case_owner_id: str, case_id: str, at: datetime | None = None) -> Hold | None:
    """The cease-communication hold in force on the case, if the debtor asked."""
    when = at or gate.now()
    holds = policy_repository.owner_policy(case_owner_id).holds
    return next(
        (h for h in holds if h.kind == "cease_communication" and h.covers(case_id) and h.active(when)),
        None,
    )


def check_notice(body: CeaseNoticeIn) -> None:
    if body.notice == "remedy_intended" and not body.remedy:
        raise Invalid("remedy_required", "name the remedy the notice announces", "remedy")
    if body.notice != "remedy_intended" and body.remedy:
        raise Invalid("remedy_not_expected", "only remedy_intended names a remedy", "remedy")


def send_notice(
    case_id: str, body: CeaseNoticeIn, who: Identity, correlation_id: str, case_owner_id: str | None = None
) -> ContactActionOut:
    """A collector's notice to a debtor who asked us to cease communication (refused by the gate: 409).
    ``case_owner_id``: the case owner the request came through (a contact point's action); the case must be theirs."""
    check_notice(body)
    item = case_item(case_id, who, change=True)
    owner_id = str(item["case_owner_id"])
    if case_owner_id is not None and owner_id != case_owner_id:
        raise NotFound("case", case_id)
    if cease_request(owner_id, case_id) is None:
        raise Conflict(
            "no_cease_request",
            "the debtor has not asked us to cease communication about this case: send an ordinary message instead",
        )
    if body.contact_point_id is not None:
        point = repository.get_contact_point(owner_id, body.contact_point_id)
        if point is None:
            raise NotFound("contact_point", body.contact_point_id)
        domain.check_action_type(body.channel, point["type"])
    outcome = debtor_messages.request_message(
        case_id,
        KINDS[body.notice],
        body.channel,
        automatic=False,
        who=who,
        correlation_id=correlation_id,
        remedy=body.remedy,
        contact_point_id=body.contact_point_id,
    )
    return contact_requests.action_out(outcome, body.channel, automatic=False)


def after_closing(item: dict[str, Any], reason: str, who: Identity, correlation_id: str) -> tuple[str, str] | None:
    """Closing as recalled or uncollectable ends our efforts: a debtor who asked us to cease communication is
    told so, by letter to the default address, else by e-mail to the default e-mail. (action id, status), or
    None when no notice is due."""
    case_id, owner_id = str(item["case_id"]), str(item["case_owner_id"])
    if reason not in EFFORTS_END or cease_request(owner_id, case_id) is None:
        return None
    for channel in AUTOMATIC_CHANNELS:
        try:
            outcome = debtor_messages.request_message(
                case_id,
                "cease_efforts_ended",
                channel,
                automatic=True,
                who=who,
                correlation_id=correlation_id,
                case_changes={"status": "closed"},
            )
        except DomainError as refused:
            log.warning("no cease notice", extra={"case_id": case_id, "channel": channel, "reason": refused.message})
            continue
        if outcome.status != "refused":
            return outcome.action_id, outcome.status
        log.info("cease notice refused", extra={"case_id": case_id, "channel": channel, "rule": outcome.decision.rule})
    return "", "refused"
