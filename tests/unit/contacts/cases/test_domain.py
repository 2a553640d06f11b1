"""The contact point rules of PRODUCT.md §2, without AWS: states, evidence per type, defaults, actions, values."""

from __future__ import annotations

import pytest

from services.contacts.cases import domain
from services.contacts.cases.domain import Evidence, PointState
from services.contacts.cases.models import ContactPoint
from shared.api import ApiError, from_domain_error
from shared.errors import DomainError
from shared.events import ContactPointData

PENDING = PointState(valid=True, qualification="pending", is_default=False)
VALIDATED = PointState(valid=True, qualification="validated", is_default=False)
DEFAULT = PointState(valid=True, qualification="validated", is_default=True)
INVALID = PointState(valid=False, qualification="pending", is_default=False)


def _error(fn: object, *args: object) -> ApiError:
    """The refusal as the API answers it (status from the one mapping at the edge)."""
    with pytest.raises(DomainError) as info:
        fn(*args)  # type: ignore[operator]
    return from_domain_error(info.value)


def test_the_four_states_a_contact_point_can_be_in() -> None:
    assert [s.name for s in (INVALID, PENDING, VALIDATED, DEFAULT)] == ["invalid", "pending", "validated", "default"]


@pytest.mark.parametrize(
    ("point_type", "kind"),
    [
        ("phone", "successful_call"),
        ("phone", "inbound_call"),
        ("postal_address", "acknowledgement_of_receipt"),
        ("postal_address", "inbound_letter"),
        ("email", "reason"),
        ("phone", "reason"),
        ("postal_address", "reason"),
    ],
)
def test_evidence_that_fits_the_type_validates(point_type: str, kind: str) -> None:
    evidence = Evidence(kind, "confirmed by the debtor" if kind == "reason" else None)  # type: ignore[arg-type]
    assert domain.validated(PENDING, point_type, evidence) == VALIDATED  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("point_type", "kind"),
    [
        ("email", "successful_call"),
        ("email", "inbound_letter"),
        ("phone", "acknowledgement_of_receipt"),
        ("phone", "inbound_letter"),
        ("postal_address", "successful_call"),
        ("postal_address", "inbound_call"),
    ],
)
def test_evidence_that_does_not_fit_the_type_is_422(point_type: str, kind: str) -> None:
    err = _error(domain.validated, PENDING, point_type, Evidence(kind))  # type: ignore[arg-type]
    assert (err.status, err.code, err.field) == (422, "evidence_not_for_type", "evidence.kind")


@pytest.mark.parametrize("note", [None, "", "   "])
def test_a_free_reason_needs_its_text(note: str | None) -> None:
    err = _error(domain.validated, PENDING, "email", Evidence("reason", note))
    assert (err.status, err.code, err.field) == (422, "reason_required", "evidence.note")


def test_validating_twice_is_a_conflict_and_an_invalid_point_can_be_confirmed_again() -> None:
    assert _error(domain.validated, VALIDATED, "phone", Evidence("inbound_call")).status == 409
    assert domain.validated(INVALID, "phone", Evidence("inbound_call")) == VALIDATED


def test_invalidating_the_default_leaves_it_neither_valid_nor_default() -> None:
    assert domain.invalidated(DEFAULT) == INVALID
    assert domain.invalidated(PENDING) == INVALID
    assert _error(domain.invalidated, INVALID).code == "already_invalid"


def test_cancelling_validation_goes_back_to_pending_and_drops_the_default() -> None:
    assert domain.validation_cancelled(DEFAULT) == PENDING
    assert domain.validation_cancelled(VALIDATED) == PENDING
    assert _error(domain.validation_cancelled, PENDING).code == "not_validated"
    assert _error(domain.validation_cancelled, INVALID).status == 409


def test_only_a_valid_validated_point_can_become_the_default() -> None:
    assert domain.made_default(VALIDATED) == DEFAULT
    assert domain.made_default(DEFAULT) == DEFAULT
    assert (_error(domain.made_default, PENDING).status, _error(domain.made_default, PENDING).code) == (
        409,
        "not_validated",
    )
    assert _error(domain.made_default, INVALID).code == "contact_point_invalid"


@pytest.mark.parametrize(
    ("action", "point_type"), [("call", "phone"), ("sms", "phone"), ("letter", "postal_address"), ("email", "email")]
)
def test_actions_fit_their_type(action: str, point_type: str) -> None:
    domain.check_action_type(action, point_type)  # type: ignore[arg-type]
    for other in ("phone", "email", "postal_address"):
        if other != point_type:
            err = _error(domain.check_action_type, action, other)
            assert (err.status, err.code, err.field) == (422, "action_not_for_type", "action")


# Validity and the default for automatic actions are the contact policy's (tests/unit/test_contacts_policy_rules.py).


def test_the_same_value_written_differently_is_the_same_contact_point() -> None:
    a = domain.contact_point_id("o1", ContactPointData(type="phone", value="+41 44 123 45 67"))
    b = domain.contact_point_id("o1", ContactPointData(type="phone", value="+41441234567"))
    c = domain.contact_point_id("o2", ContactPointData(type="phone", value="+41441234567"))
    e1 = domain.contact_point_id("o1", ContactPointData(type="email", value=" Max@Example.com"))
    e2 = domain.contact_point_id("o1", ContactPointData(type="email", value="max@example.com"))
    assert a == b != c
    assert e1 == e2


def test_proposed_points_skip_existing_values_and_duplicates() -> None:
    existing = {domain.contact_point_id("o1", ContactPointData(type="email", value="a@example.com"))}
    proposed = [
        ContactPointData(type="email", value="A@example.com"),
        ContactPointData(type="phone", value="+41441234567"),
        ContactPointData(type="phone", value="+41 44 123 45 67"),
    ]
    added = domain.points_to_add("o1", proposed, existing, "enrichment")
    assert [(p.data.type, p.source) for p in added] == [("phone", "enrichment")]


def test_values_are_checked_and_normalised() -> None:
    assert domain.check_value("email", " Max.Muster@Example.COM ") == "max.muster@example.com"
    assert domain.check_value("phone", "+41 44 123 45 67") == "+41441234567"
    assert domain.check_value("postal_address", " Hauptstr.  1,\n8000 Zürich ") == "Hauptstr. 1, 8000 Zürich"
    assert _error(domain.check_value, "email", "not-an-email").code == "invalid_email"
    assert _error(domain.check_value, "phone", "044 123").code == "invalid_phone"


def test_the_state_is_part_of_the_api_model() -> None:
    point = ContactPoint(
        contact_point_id="x",
        type="phone",
        value="+41441234567",
        valid=True,
        qualification="validated",
        is_default=True,
        source="manual",
        created_at="2026-11-26T07:00:00Z",  # type: ignore[arg-type]
    )
    assert point.model_dump()["state"] == "default"
