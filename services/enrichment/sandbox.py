"""The sandbox bureau: the provider of the local stack and the tests, with a real bureau's variety of answers.

Deterministic per person and attempt (not per random id), so a retried attempt and a re-run demo get the same
answer: about 30 % nothing found, 40 % one candidate per wanted type, 20 % several candidates with falling
confidence, 10 % a failure (not billed).
"""

from __future__ import annotations

import hashlib
import unicodedata
from decimal import Decimal
from typing import Literal

from services.enrichment.provider import Candidate, ProviderError, SearchRequest, SearchResult, keep_wanted
from shared.events import ContactPointData, ContactPointType, PostalAddress

SandboxOutcome = Literal["none", "one", "several", "error"]

_MOBILE_PREFIXES = ("151", "160", "170", "176")
_MAIL_DOMAINS = ("web.de", "gmx.de", "posteo.de", "t-online.de")
_STREETS = (
    ("Kastanienallee", "10435", "Berlin"),
    ("Schillerstraße", "60313", "Frankfurt am Main"),
    ("Lindenweg", "80331", "München"),
    ("Hafenstraße", "20359", "Hamburg"),
)
_CONFIDENCES = (Decimal("0.92"), Decimal("0.64"), Decimal("0.41"))


class SandboxProvider:
    name = "sandbox"
    cost_per_search = Decimal("0.45")

    def quote(self, request: SearchRequest) -> Decimal:
        return self.cost_per_search

    @staticmethod
    def outcome_of(request: SearchRequest) -> SandboxOutcome:
        return SandboxProvider.outcome_for(_seed(request))

    @staticmethod
    def outcome_for(seed: str) -> SandboxOutcome:
        bucket = _number(seed, "sandbox") % 100
        if bucket < 30:
            return "none"
        if bucket < 70:
            return "one"
        if bucket < 90:
            return "several"
        return "error"

    def search(self, request: SearchRequest) -> SearchResult:
        outcome = self.outcome_for(_seed(request))
        if outcome == "error":
            raise ProviderError("sandbox bureau: upstream registry did not answer")
        per_type = {"none": 0, "one": 1, "several": 3}[outcome]
        candidates = [
            Candidate(_point(kind, request, rank), _CONFIDENCES[rank] if per_type > 1 else _CONFIDENCES[0])
            for kind in sorted(request.wanted)
            for rank in range(per_type)
        ]
        return SearchResult(self.name, self.cost_per_search, keep_wanted(request, candidates))


def _seed(request: SearchRequest) -> str:
    s = request.subject
    return f"{s.first_name}|{s.last_name}|{s.company_name}|{s.birth_date}|{request.attempt}"


def _number(reference: str, salt: str) -> int:
    return int(hashlib.sha256(f"{salt}|{reference}".encode()).hexdigest()[:15], 16)


_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


def _ascii(text: str | None, fallback: str) -> str:
    folded = unicodedata.normalize("NFKD", (text or "").translate(_GERMAN)).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in folded if ch.isalnum()) or fallback


def _point(kind: ContactPointType, request: SearchRequest, rank: int) -> ContactPointData:
    n = _number(_seed(request), f"{kind}|{rank}")
    subject = request.subject
    if kind == "phone":
        prefix = _MOBILE_PREFIXES[n % len(_MOBILE_PREFIXES)]
        return ContactPointData(type="phone", value=f"+49{prefix}{n % 10**8:08d}")
    if kind == "email":
        first = _ascii(subject.first_name or subject.company_name, "kontakt")
        last = _ascii(subject.last_name, str(n % 1000))
        domain = _MAIL_DOMAINS[n % len(_MAIL_DOMAINS)]
        return ContactPointData(type="email", value=f"{first}.{last}{rank or ''}@{domain}")
    street, postcode, city = _STREETS[n % len(_STREETS)]
    address = PostalAddress(street=f"{street} {n % 120 + 1}", postcode=postcode, city=city, country="DE")
    return ContactPointData(type="postal_address", value=f"{address.street}, {postcode} {city}, DE", address=address)
