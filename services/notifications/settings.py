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


def get() -> Settings:
    return load(Settings)
