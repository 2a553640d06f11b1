"""The notifications service's settings: the only module of the service that reads the environment."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings, load


class Settings(ServiceSettings):
    table: str = Field(validation_alias="NOTIFICATIONS_TABLE")
    # The sender when a client has none of its own (verified in SES: a template parameter).
    default_sender_email: str = Field(validation_alias="DEFAULT_SENDER_EMAIL", pattern=r"^[^@\s]+@[^@\s]+$")
    # Where invitation e-mails link to (the web app; a template parameter).
    activation_base_url: str = Field(validation_alias="ACTIVATION_BASE_URL", pattern=r"^https?://\S+$")


class Outbox(ServiceSettings):
    """Where debtor messages go (``deliveries``). No function delivers them yet, so infra declares none of these;
    declare them in ``infra.definition`` when a handler does (the environment test then holds them to it)."""

    UNDECLARED: ClassVar[frozenset[str]] = frozenset(
        {"LETTERS_BUCKET", "CALLS_QUEUE_URL", "SES_CONFIGURATION_SET", "UNSUBSCRIBE_BASE_URL"}
    )

    letters_bucket: str = Field(default="", validation_alias="LETTERS_BUCKET")
    calls_queue_url: str = Field(default="", validation_alias="CALLS_QUEUE_URL")
    configuration_set: str | None = Field(default=None, validation_alias="SES_CONFIGURATION_SET")
    unsubscribe_base_url: str = Field(
        default="https://app.finview.example/unsubscribe", validation_alias="UNSUBSCRIBE_BASE_URL"
    )


def get() -> Settings:
    return load(Settings)


def outbox() -> Outbox:
    return load(Outbox)
