"""The imports service's settings: the only module of the service that reads the environment."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings, load


class Settings(ServiceSettings):
    table: str = Field(validation_alias="IMPORTS_TABLE")
    # The drops queue's name: the orphaned-imports sweeper sends its continuations there.
    drops_queue: str = Field(validation_alias="IMPORTS_DROPS_QUEUE")
    # Unset in AWS; moto's server on loopback in the local stack and tests.
    endpoint_url: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL")


def get() -> Settings:
    return load(Settings)
