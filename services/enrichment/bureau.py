"""A generic skip-tracing bureau over HTTPS, behind the provider port.

The contract (what we send, what we read) is the pydantic models below; anything else the bureau answers is
ignored and never stored. Base URL, API key and price come from one Secrets Manager secret (JSON). Failures:
429 and 5xx are retried with exponential backoff (a Retry-After is honoured, capped); a timed-out search is not
retried in the same run (the next run asks again with the same reference, which the bureau answers once); after
``breaker_threshold`` failed searches in one run the breaker opens and the bureau is left alone until the next run.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Literal

import urllib3
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from urllib3.util.retry import Retry

from services.enrichment.provider import (
    Candidate,
    ProviderError,
    ProviderUnavailable,
    SearchRequest,
    SearchResult,
    keep_wanted,
)
from shared import aws
from shared.events import ContactPointData, ContactPointType, PostalAddress, TraceSubject

RETRIED_STATUSES = (429, 500, 502, 503, 504)


class BureauSecret(BaseModel):
    """The secret's JSON: ``{"base_url": ..., "api_key": ..., "price_per_search": "0.80"}``."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(pattern=r"^https?://")
    api_key: SecretStr = Field(min_length=1)
    price_per_search: Decimal = Field(ge=0, max_digits=8, decimal_places=4)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")


def load_secret(secret_id: str) -> BureauSecret:
    raw = aws.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    return BureauSecret.model_validate_json(raw)


# ---- the wire contract -------------------------------------------------------------------------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class BureauSearch(_Wire):
    reference: str
    wanted: list[ContactPointType]
    subject: TraceSubject


class BureauAddress(_Wire):
    street: str
    postcode: str = ""
    city: str = ""
    country: str = Field(min_length=2, max_length=2)


class BureauMatch(_Wire):
    type: Literal["phone", "email", "postal_address"]
    value: str = Field(min_length=1, max_length=500)
    address: BureauAddress | None = None
    score: Decimal = Field(ge=0, le=100, description="the bureau's confidence in per cent")


class BureauCharge(_Wire):
    amount: Decimal = Field(ge=0)
    currency: str = "EUR"


class BureauAnswer(_Wire):
    reference: str
    matches: list[BureauMatch] = Field(default_factory=list)
    charge: BureauCharge


class _CappedRetry(Retry):
    """urllib3's retry, but a bureau's Retry-After never stalls the run longer than ``backoff_max``."""

    def get_retry_after(self, response: Any) -> float | None:
        after = super().get_retry_after(response)
        return None if after is None else min(after, self.backoff_max)


class HttpBureau:
    name = "bureau"

    def __init__(
        self,
        secret: BureauSecret,
        *,
        timeout_seconds: float = 5.0,
        retries: int = 3,
        backoff_seconds: float = 0.5,
        backoff_max_seconds: float = 10.0,
        breaker_threshold: int = 5,
        pool: urllib3.PoolManager | None = None,
    ) -> None:
        self._secret = secret
        self._url = secret.base_url.rstrip("/") + "/searches"
        self._timeout = urllib3.Timeout(connect=timeout_seconds, read=timeout_seconds)
        self._retry = _CappedRetry(
            total=retries,
            connect=retries,
            read=0,  # a search that timed out may be running at the bureau: ask again next run, not now
            status=retries,
            backoff_factor=backoff_seconds,
            backoff_max=backoff_max_seconds,
            status_forcelist=RETRIED_STATUSES,
            allowed_methods=frozenset({"POST"}),  # safe: the Idempotency-Key makes a repeated search one search
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        self._http = pool or urllib3.PoolManager(maxsize=4)
        self._breaker_threshold = breaker_threshold
        self.failures = 0

    @property
    def breaker_open(self) -> bool:
        return self.failures >= self._breaker_threshold

    def quote(self, request: SearchRequest) -> Decimal:
        return self._secret.price_per_search

    def search(self, request: SearchRequest) -> SearchResult:
        if self.breaker_open:
            raise ProviderUnavailable(f"bureau breaker open after {self.failures} failed searches in this run")
        try:
            result = self._search(request)
        except ProviderError:
            self.failures += 1
            raise
        self.failures = 0
        return result

    def _search(self, request: SearchRequest) -> SearchResult:
        body = BureauSearch(reference=request.reference, wanted=sorted(request.wanted), subject=request.subject)
        try:
            response = self._http.request(
                "POST",
                self._url,
                body=body.model_dump_json(exclude_none=True).encode(),
                headers={
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                    "Authorization": f"Bearer {self._secret.api_key.get_secret_value()}",
                    "Idempotency-Key": request.reference,
                },
                timeout=self._timeout,
                retries=self._retry,
            )
        except urllib3.exceptions.HTTPError as exc:  # timeouts, refused connections, retries used up
            raise ProviderError(f"bureau unreachable: {type(exc).__name__}") from exc
        if response.status != 200:
            raise ProviderError(f"bureau answered HTTP {response.status}")
        try:
            answer = BureauAnswer.model_validate(json.loads(response.data))
        except (ValueError, ValidationError) as exc:
            raise ProviderError("bureau answer does not match the contract") from exc
        if answer.reference != request.reference:
            raise ProviderError("bureau answered another search")
        candidates = [_candidate(match) for match in answer.matches]
        return SearchResult(self.name, answer.charge.amount, keep_wanted(request, candidates), answer.charge.currency)


def _candidate(match: BureauMatch) -> Candidate:
    address = PostalAddress(**match.address.model_dump()) if match.address else None
    point = ContactPointData(type=match.type, value=match.value.strip(), address=address)
    return Candidate(point, (match.score / 100).quantize(Decimal("0.01")))
