"""The enrichment service's settings: the only module of the service that reads the environment."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field

from shared.settings import ServiceSettings, load


class Settings(ServiceSettings):
    table: str = Field(validation_alias="ENRICHMENT_TABLE")
    provider: Literal["sandbox", "bureau"] = Field(default="sandbox", validation_alias="ENRICHMENT_PROVIDER")
    # Name of the Secrets Manager secret with the bureau's base URL, API key and price (see bureau.BureauSecret).
    bureau_secret: str | None = Field(default=None, validation_alias="ENRICHMENT_BUREAU_SECRET")
    bureau_timeout_seconds: float = Field(default=5.0, gt=0, le=30, validation_alias="ENRICHMENT_BUREAU_TIMEOUT")
    bureau_breaker_threshold: int = Field(default=5, ge=1, le=100, validation_alias="ENRICHMENT_BUREAU_BREAKER")
    # Traced points below this confidence stay pending and are never made default automatically.
    confidence_threshold: Decimal = Field(
        default=Decimal("0.80"), ge=0, le=1, validation_alias="ENRICHMENT_CONFIDENCE_THRESHOLD"
    )
    # The MX question needs DNS: on in AWS, off on the local stack (loopback only).
    dns_checks: bool = Field(default=True, validation_alias="ENRICHMENT_DNS_CHECKS")
    dns_timeout_seconds: float = Field(default=2.0, gt=0, le=10, validation_alias="ENRICHMENT_DNS_TIMEOUT")

    UNDECLARED: ClassVar[frozenset[str]] = frozenset(
        {
            "ENRICHMENT_BUREAU_TIMEOUT",
            "ENRICHMENT_BUREAU_BREAKER",
            "ENRICHMENT_CONFIDENCE_THRESHOLD",
            "ENRICHMENT_DNS_CHECKS",  # on unless the local stack switches it off
            "ENRICHMENT_DNS_TIMEOUT",
        }
    )


def get() -> Settings:
    return load(Settings)
