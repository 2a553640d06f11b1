"""Notification rules and templates, free of AWS."""

from __future__ import annotations

from dataclasses import dataclass
from string import Template

from shared.events import (
    ClientUserCreated,
    ContactActionRequested,
    EnrichmentBudgetReached,
    ImportCompleted,
    ImportFailed,
)


@dataclass(frozen=True)
class Message:
    kind: str
    to: str
    subject: str
    body: str


INVITATION = Template(
    "Hello $first_name,\n\n"
    "you have been given access to FinView for your company. Activate your account here:\n"
    "$activation_url\n\n"
    "The link is personal; if you did not expect this e-mail, ignore it.\n"
)

IMPORT_REPORT = Template(
    "Your file $object_key has been imported.\n\n"
    "Rows read: $rows_read\nNew case owners: $created\nMerged with existing case owners: $merged\n"
    "Rows rejected: $rejected\n"
)

IMPORT_FAILED = Template("Your file $object_key could not be imported: $reason\n")


def invitation(event: ClientUserCreated, activation_base_url: str) -> Message | None:
    """Only a user with platform access is invited; a linked existing user already has an account."""
    if not event.platform_access or event.linked_existing:
        return None
    return invitation_for(event.user_id, event.email, event.first_name, activation_base_url)


def invitation_for(user_id: str, email: str, first_name: str, activation_base_url: str) -> Message:
    url = f"{activation_base_url}/activate?user={user_id}"
    return Message(
        "invitation", email, "Your FinView access", INVITATION.substitute(first_name=first_name, activation_url=url)
    )


def import_report(event: ImportCompleted | ImportFailed, to: str) -> Message:
    if isinstance(event, ImportFailed):
        return Message(
            "import_failed",
            to,
            "Your FinView import failed",
            IMPORT_FAILED.substitute(object_key=event.object_key, reason=event.reason),
        )
    return Message(
        "import_report",
        to,
        "Your FinView import report",
        IMPORT_REPORT.substitute(
            object_key=event.object_key,
            rows_read=event.rows_read,
            created=event.case_owners_created,
            merged=event.case_owners_merged,
            rejected=event.rows_rejected,
        ),
    )


BUDGET_REACHED = Template(
    "Hello,\n\nthe skip tracing of your cases has reached its budget for $month: $spent of $budget $currency "
    "spent. No further searches will be made this month; they resume next month or as soon as your agency "
    "raises the monthly budget.\n"
)


def budget_reached(event: EnrichmentBudgetReached, to: str) -> Message:
    return Message(
        "enrichment_budget_reached",
        to,
        f"FinView: skip tracing budget for {event.month} reached",
        BUDGET_REACHED.substitute(
            month=event.month, spent=f"{event.spent:.2f}", budget=f"{event.budget:.2f}", currency=event.currency
        ),
    )


CONTACT_REQUEST = Template(
    "Hello,\n\nwe are writing to you about an open matter on behalf of our client. Please contact us so we can "
    "find a solution together.\n"
)

# How each action reaches the debtor: e-mail through SES, SMS through SNS; letters and calls are handed to the
# print service and the call-centre software through the outbox.
CHANNEL = {"email": "ses", "sms": "sns", "letter": "outbox", "call": "outbox"}


def contact_action(event: ContactActionRequested) -> Message:
    body = event.message or CONTACT_REQUEST.substitute()
    subject = event.subject or "Your open case"
    return Message(f"action_{event.action}", event.contact_point_value, subject, body)
