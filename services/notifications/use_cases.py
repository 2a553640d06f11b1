"""Notifications use cases: bus events → e-mails through SES, each delivered once per cause."""

from __future__ import annotations

from typing import Any

from services.notifications import (
    channels,
    deliveries,
    domain,
    message_records,
    messages,
    repository,
    settings,
)
from shared import aws, bus, subject_requests
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
    NotificationsSubjectAccessCompleted,
    NotificationsSubjectErasureCompleted,
    Sender,
    SubjectAccessRequested,
    SubjectErasureRequested,
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
    _sent(message.kind, message.to, message_id, cause)
    return message_id


def send_to_client_user(
    kind: str, to: str, language: str | None, values: dict[str, Any], sender: Sender, cause: Event
) -> str | None:
    """A templated e-mail to a client user (both parts, in their language), once per cause and recipient."""
    chosen = messages.client_language(language, sender)
    rendered = messages.email(kind, chosen, messages.client_data(sender, language=chosen, **values), sender)
    if not repository.claim_delivery(cause.event_id, kind, to, cause.correlation_id):
        log.info("already delivered", extra={"kind": kind, "cause": cause.event_id})
        return None
    try:
        message_id = channels.send_email(
            sender_name=sender.name,
            sender_email=sender.email,
            reply_to=sender.reply_to,
            to=to,
            rendered=rendered,
            tags={"kind": kind, "correlation_id": cause.correlation_id},
        )
    except Exception:
        repository.release_delivery(cause.event_id, kind, to)
        raise
    _sent(kind, to, message_id, cause)
    return message_id


def _sent(kind: str, to: str, message_id: str, cause: Event) -> None:
    repository.mark_sent(cause.event_id, kind, to, message_id)
    metrics(SERVICE).add_metric(name="EmailsSent", unit="Count", value=1)
    log.info("e-mail sent", extra={"kind": kind, "message_id": message_id})
    bus.publish(
        [
            NotificationSent(
                correlation_id=cause.correlation_id,
                kind=kind,
                recipient=to,
                message_id=message_id,
                cause_event_id=cause.event_id,
            )
        ]
    )


def _client_sender(client_id: str | None, announced: Sender | None, sender_email: str | None) -> Sender:
    """Who writes to a client's users: the business unit the event names, else the one contacts announced for
    the client, else the deployment's own sender (an event from before senders were announced)."""
    if announced is not None:
        return announced
    stored = repository.client_sender(client_id) if client_id else None
    if stored is not None:
        return stored
    email = sender_email or (repository.sender_for(client_id) if client_id else None) or _default_sender()
    return Sender(name="FinView", email=email, company_name="FinView")


def on_client_registered(event: ClientRegistered) -> None:
    repository.put_client(event.client_id, event.sender_email, event.sender)


def on_client_user_created(event: ClientUserCreated) -> None:
    if event.operational:
        repository.add_operational_contact(event.client_id, event.email, event.language)
    if messages.wants_invitation(event):
        values = messages.invitation_values(event.user_id, event.first_name, settings.get().activation_base_url)
        sender = _client_sender(event.client_id, event.sender, event.sender_email)
        send_to_client_user("invitation", event.email, event.language, values, sender, event)


def on_rights_changed(event: ClientUserRightsChanged) -> None:
    if event.operational:
        repository.add_operational_contact(event.client_id, event.email, event.language)
    else:
        repository.remove_operational_contact(event.client_id, event.email)
    if event.platform_access_granted:
        values = messages.invitation_values(event.user_id, event.first_name, settings.get().activation_base_url)
        sender = _client_sender(event.client_id, event.sender, event.sender_email)
        send_to_client_user("invitation", event.email, event.language, values, sender, event)


def on_import_finished(event: ImportCompleted | ImportFailed) -> None:
    if event.client_id is None:
        return
    kind, values = messages.import_values(event)
    sender = _client_sender(event.client_id, None, None)
    for to, language in repository.operational_contacts(event.client_id):
        send_to_client_user(kind, to, language, values, sender, event)


def on_budget_reached(event: EnrichmentBudgetReached) -> None:
    """The client's operational contacts learn that skip tracing stopped for the month (enrichment sends the
    event once per client and month; the delivery claim makes a re-delivery send nothing), in their language."""
    values = messages.budget_values(event)
    sender = _client_sender(event.client_id, None, None)
    for to, language in repository.operational_contacts(event.client_id):
        send_to_client_user("enrichment_budget_reached", to, language, values, sender, event)


def on_contact_action(event: ContactActionRequested) -> None:
    if event.debtor_message is not None:
        # A templated message contacts decided: rendered in the debtor's language, sent on its channel, recorded.
        deliveries.deliver(event)
        return
    message = domain.contact_action(event)
    channel = domain.CHANNEL[event.action]
    if event.case_owner_id:  # the debtor can find it (GDPR Art. 15, 17)
        repository.link_delivery(event.case_owner_id, event.event_id, message.kind, message.to)
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


def on_subject_access_requested(event: SubjectAccessRequested) -> None:
    """What notifications holds about the person (GDPR Art. 15): every message to them, with its channel, the
    address or number it went to, the template, and what became of it."""
    repository.link_deliveries_of(event.case_owner_id, event.contact_event_ids)  # recorded before they were linked
    people = (event.case_owner_id, *event.merged_case_owner_ids)  # and the same person's earlier, merged files
    records = [subject_requests.without_keys(r) for person in people for r in message_records.of_case_owner(person)]
    deliveries_ = [
        {**subject_requests.without_keys(pointer), **subject_requests.without_keys(delivery or {})}
        for person in people
        for pointer, delivery in repository.owner_deliveries(person)
    ]
    section = {"messages": records, "collector_messages": deliveries_}
    bus.publish(subject_requests.answer(NotificationsSubjectAccessCompleted, event, SERVICE, section))


def on_subject_erasure_requested(event: SubjectErasureRequested) -> None:
    """Erase what notifications holds about the person (GDPR Art. 17): every message to them, where it went, its
    delivery claim and, for a letter, the PDF."""
    repository.link_deliveries_of(event.case_owner_id, event.contact_event_ids)  # recorded before they were linked
    people = (event.case_owner_id, *event.merged_case_owner_ids)  # and the same person's earlier, merged files
    records = [r for person in people for r in message_records.of_case_owner(person)]
    letters = settings.outbox().letters_bucket
    files = sum(message_records.erase(r, letters) for r in records)
    bus.publish(
        [
            NotificationsSubjectErasureCompleted(
                event_id=subject_requests.answer_id(event.request_id, SERVICE),
                correlation_id=event.correlation_id,
                request_id=event.request_id,
                case_owner_id=event.case_owner_id,
                service=SERVICE,
                counts={
                    "messages": len(records),
                    "letter_files": files,
                    "collector_messages": sum(repository.erase_deliveries(person) for person in people),
                },
            )
        ]
    )
