"""The provider port and the sandbox bureau: realistic variety, deterministic per person and attempt."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.enrichment.offline_checks import check_phone
from services.enrichment.provider import Candidate, ProviderError, SearchRequest, keep_wanted
from services.enrichment.sandbox import SandboxProvider
from shared.events import ContactPointData, ContactPointType, TraceSubject


def request(person: int, *wanted: ContactPointType) -> SearchRequest:
    subject = TraceSubject(first_name="Jürgen", last_name="Groß", birth_date=date(1970, 1, 1) + timedelta(days=person))
    return SearchRequest(f"ref-{person}", "c", "o", "k", 1, frozenset(wanted or ("phone",)), subject)


def reference_with(outcome: str) -> int:
    """A person the sandbox answers with ``outcome`` (its answers depend on the person and the attempt)."""
    return next(i for i in range(1000) if SandboxProvider.outcome_of(request(i)) == outcome)


def test_sandbox_answers_with_the_variety_of_a_real_bureau() -> None:
    counts = Counter(SandboxProvider.outcome_for(f"attempt-{i}") for i in range(1000))
    assert set(counts) == {"none", "one", "several", "error"}
    assert 250 <= counts["none"] <= 350 and 50 <= counts["error"] <= 150


def test_sandbox_is_deterministic_per_person_and_attempt() -> None:
    sandbox = SandboxProvider()
    ref = reference_with("several")
    assert sandbox.search(request(ref, "phone", "email")) == sandbox.search(request(ref, "phone", "email"))


def test_nothing_found_is_billed_and_an_error_is_not_an_answer() -> None:
    sandbox = SandboxProvider()
    nothing = sandbox.search(request(reference_with("none")))
    assert nothing.outcome == "none" and nothing.cost == Decimal("0.45") and nothing.candidates == ()
    with pytest.raises(ProviderError):
        sandbox.search(request(reference_with("error")))


def test_one_candidate_per_wanted_type_with_a_real_mobile_number() -> None:
    result = SandboxProvider().search(request(reference_with("one"), "phone", "email", "postal_address"))
    assert sorted(c.point.type for c in result.candidates) == ["email", "phone", "postal_address"]
    phone = next(c.point for c in result.candidates if c.point.type == "phone")
    assert check_phone(phone.value).line_type == "mobile"
    email = next(c.point for c in result.candidates if c.point.type == "email")
    assert email.value.startswith("juergen.gross@")
    address = next(c.point for c in result.candidates if c.point.type == "postal_address")
    assert address.address is not None and address.address.country == "DE"


def test_several_candidates_come_best_first_with_falling_confidence() -> None:
    result = SandboxProvider().search(request(reference_with("several"), "phone"))
    assert result.outcome == "several"
    confidences = [c.confidence for c in result.candidates]
    assert confidences == sorted(confidences, reverse=True) and len(set(confidences)) == 3
    assert all(Decimal(0) < c <= Decimal(1) for c in confidences)


def test_only_wanted_types_are_kept_each_value_once() -> None:
    def cand(kind: ContactPointType, value: str, confidence: str) -> Candidate:
        return Candidate(ContactPointData(type=kind, value=value), Decimal(confidence))

    kept = keep_wanted(
        request(0, "email"),
        [cand("phone", "+4915123456789", "0.9"), cand("email", "a@x.de", "0.5"), cand("email", "A@X.de ", "0.7")],
    )
    assert [(c.point.value, c.confidence) for c in kept] == [("A@X.de ", Decimal("0.7"))]
