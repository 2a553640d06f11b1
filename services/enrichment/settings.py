"""The enrichment service's settings: the only module of the service that reads the environment."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings, load


class Settings(ServiceSettings):
    table: str = Field(validation_alias="ENRICHMENT_TABLE")


def get() -> Settings:
    return load(Settings)
