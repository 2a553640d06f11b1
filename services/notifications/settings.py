"""The notifications service's settings: the only module of the service that reads the environment."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings, load


class Settings(ServiceSettings):
    table: str = Field(validation_alias="NOTIFICATIONS_TABLE")
    # The sender when a client has none of its own (verified in SES: a template parameter).
    default_sender_email: str = Field(validation_alias="DEFAULT_SENDER_EMAIL", pattern=r"^[^@\s]+@[^@\s]+$")
    # Where invitation e-mails link to (the web app; a template parameter).
    activation_base_url: str = Field(validation_alias="ACTIVATION_BASE_URL", pattern=r"^https?://\S+$")


class Outbox(ServiceSettings):
    """Where debtor messages go (``deliveries``): the letters bucket, the dialer's queue, SES's configuration set
    (its events come back through the delivery-feedback topic) and the unsubscribe page."""

    letters_bucket: str = Field(validation_alias="LETTERS_BUCKET")
    calls_queue: str = Field(validation_alias="CALLS_QUEUE")
    configuration_set: str | None = Field(default=None, validation_alias="SES_CONFIGURATION_SET")
    # End User Messaging's configuration set for SMS; empty: SNS Publish (the local stack, where moto has none).
    sms_configuration_set: str | None = Field(default=None, validation_alias="SMS_CONFIGURATION_SET")
    unsubscribe_base_url: str = Field(validation_alias="UNSUBSCRIBE_BASE_URL", pattern=r"^https://\S+$")


def get() -> Settings:
    return load(Settings)


def outbox() -> Outbox:
    return load(Outbox)
