"""Notifications use cases: bus events → e-mails through SES, each delivered once per cause."""

from __future__ import annotations

from services.notifications import deliveries, domain, repository, settings
from shared import aws, bus
from shared.events import (
    ClientRegistered,
    ClientUserCreated,
    ClientUserRightsChanged,
    ContactActionRequested,
    EnrichmentBudgetReached,
    Event,
    ImportCompleted,
    ImportFailed,
    NotificationSent,
)
from shared.observability import logger, metrics

SERVICE = "notifications"
log = logger(SERVICE)


def _default_sender() -> str:
    return settings.get().default_sender_email


def send(message: domain.Message, sender: str, cause: Event) -> str | None:
    if not repository.claim_delivery(cause.event_id, message.kind, message.to, cause.correlation_id):
        log.info("already delivered", extra={"kind": message.kind, "cause": cause.event_id})
        return None
    try:
        response = aws.client("ses").send_email(
            Source=sender,
            Destination={"ToAddresses": [message.to]},
            Message={
                "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": message.body, "Charset": "UTF-8"}},
            },
            Tags=[{"Name": "kind", "Value": message.kind}, {"Name": "correlation_id", "Value": cause.correlation_id}],
        )
    except Exception:
        repository.release_delivery(cause.event_id, message.kind, message.to)
        raise
    message_id = str(response["MessageId"])
    repository.mark_sent(cause.event_id, message.kind, message.to, message_id)
    metrics(SERVICE).add_metric(name="EmailsSent", unit="Count", value=1)
    log.info("e-mail sent", extra={"kind": message.kind, "message_id": message_id})
    bus.publish(
        [
            NotificationSent(
                correlation_id=cause.correlation_id,
                kind=message.kind,
                recipient=message.to,
                message_id=message_id,
                cause_event_id=cause.event_id,
            )
        ]
    )
    return message_id


def on_client_registered(event: ClientRegistered) -> None:
    repository.put_client(event.client_id, event.sender_email)


def on_client_user_created(event: ClientUserCreated) -> None:
    if event.operational:
        repository.add_operational_contact(event.client_id, event.email)
    message = domain.invitation(event, settings.get().activation_base_url)
    if message:
        send(message, event.sender_email or _default_sender(), event)


def on_rights_changed(event: ClientUserRightsChanged) -> None:
    if event.operational:
        repository.add_operational_contact(event.client_id, event.email)
    else:
        repository.remove_operational_contact(event.client_id, event.email)
    if event.platform_access_granted:
        base = settings.get().activation_base_url
        invitation = domain.invitation_for(event.user_id, event.email, event.first_name, base)
        send(invitation, event.sender_email or _default_sender(), event)


def on_import_finished(event: ImportCompleted | ImportFailed) -> None:
    if event.client_id is None:
        return
    sender = repository.sender_for(event.client_id) or _default_sender()
    for to in repository.operational_contacts(event.client_id):
        send(domain.import_report(event, to), sender, event)


def on_budget_reached(event: EnrichmentBudgetReached) -> None:
    """The client's operational contacts learn that skip tracing stopped for the month (enrichment sends the
    event once per client and month; the delivery claim makes a re-delivery send nothing)."""
    sender = repository.sender_for(event.client_id) or _default_sender()
    for to in repository.operational_contacts(event.client_id):
        send(domain.budget_reached(event, to), sender, event)


def on_contact_action(event: ContactActionRequested) -> None:
    if event.debtor_message is not None:
        # A templated message contacts decided: rendered in the debtor's language, sent on its channel, recorded.
        deliveries.deliver(event)
        return
    message = domain.contact_action(event)
    channel = domain.CHANNEL[event.action]
    if channel == "ses":
        send(message, repository.sender_for(event.client_id) or _default_sender(), event)
        return
    if not repository.claim_delivery(event.event_id, message.kind, message.to, event.correlation_id):
        return
    if channel == "sns":
        response = aws.client("sns").publish(PhoneNumber=message.to, Message=message.body[:1600])
        repository.mark_sent(event.event_id, message.kind, message.to, str(response["MessageId"]))
    else:
        # The print service / call-centre connector picks queued deliveries from the outbox.
        repository.mark_queued(event.event_id, message.kind, message.to, event.model_dump(mode="json"))
    log.info("contact action delivered", extra={"action": event.action, "channel": channel})
