"""The contacts service's settings: the only module of the service that reads the environment."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings, load

OBSERVATION_TERMS_VAR = "CONTACTS_OBSERVATION_TERMS"
DEFAULT_OBSERVATION_TERMS = Path(__file__).parent / "cases" / "observation_terms.txt"


class Rules(ServiceSettings):
    """What the pure rules read: usable without the function's resources (no table or bucket needed)."""

    UNDECLARED: ClassVar[frozenset[str]] = frozenset({OBSERVATION_TERMS_VAR})

    # An operator may name another list of objective-observation terms (one per line); the default ships here.
    observation_terms: Path = Field(default=DEFAULT_OBSERVATION_TERMS, validation_alias=OBSERVATION_TERMS_VAR)


class Settings(Rules):
    table: str = Field(validation_alias="CONTACTS_TABLE")
    attachments_bucket: str = Field(validation_alias="ATTACHMENTS_BUCKET")
    exports_bucket: str = Field(validation_alias="EXPORTS_BUCKET")
    # The deployment's sender (the built-in business unit's) and the domain business units may also send from.
    default_sender_email: str = Field(validation_alias="DEFAULT_SENDER_EMAIL")
    sender_domain: str = Field(default="", validation_alias="SENDER_DOMAIN")


def get() -> Settings:
    return load(Settings)


def rules() -> Rules:
    return load(Rules)
