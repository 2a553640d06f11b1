"""The match review queue end to end on the local stack (issue 9): a dropped file with an uncertain pair → a review
in the API → accepted → one case owner with every case and contact point → CaseOwnersMerged reaches imports, and a
later row of that person goes to the survivor."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from infra.demo import call
from infra.local.stack import LocalStack

pytestmark = pytest.mark.e2e
HEADER = "first_name;last_name;birth_date;street;postcode;city;phone;invoice_number;amount;opened_on\n"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(stage="review") as running:
        yield running


def _drop(stack: LocalStack, client_id: str, name: str, rows: str) -> None:
    assert stack.provisioned is not None
    key = f"{client_id}/{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{name}"
    stack.client("s3").put_object(
        Bucket=stack.provisioned.names.bucket("drops"), Key=key, Body=(HEADER + rows).encode()
    )
    assert stack.wait_idle(), "the stack did not settle"


def _owner_of(stack: LocalStack, client_id: str, invoice: str) -> dict[str, Any]:
    _, cases = call(stack, "GET", f"/clients/{client_id}/cases")
    case = next(c for c in cases["items"] if invoice in c["invoice_numbers"])
    status, owner = call(stack, "GET", f"/case-owners/{case['case_owner_id']}")
    assert status == 200, owner
    return dict(owner)


def test_an_uncertain_pair_is_reviewed_accepted_and_merged_everywhere(stack: LocalStack) -> None:
    status, client = call(stack, "POST", "/clients", {"legal_name": "Wohnbau Nord GmbH"})
    assert status == 201, client
    client_id = client["client_id"]
    assert stack.wait_idle()
    _drop(
        stack,
        client_id,
        "january.csv",
        "Anna;Schmidt;1980-04-01;Hauptstraße 5;10115;Berlin;+49 30 1234567;A-1;10;2026-01-01\n",
    )
    # Her birth date, next door, another family name: her own case owner and a review, never a silent merge.
    _drop(stack, client_id, "february.csv", "Anna;Weber;1980-04-01;Hauptstraße 9;10115;Berlin;;A-2;20;2026-02-01\n")
    schmidt, weber = _owner_of(stack, client_id, "A-1"), _owner_of(stack, client_id, "A-2")
    assert schmidt["case_owner"]["case_owner_id"] != weber["case_owner"]["case_owner_id"]

    status, page = call(stack, "GET", f"/clients/{client_id}/match-reviews")
    assert status == 200, page
    (review,) = page["items"]
    assert review["candidate"]["case_owner"]["last_name"] == "Schmidt"
    assert review["case_owner"]["case_owner"]["last_name"] == "Weber"
    assert review["comparisons"]["family"] == "different" and review["score"] < review["auto_score"]
    survivor = review["candidate_case_owner_id"]
    points_before = len(review["candidate"]["contact_points"]) + len(review["case_owner"]["contact_points"])

    path = f"/clients/{client_id}/match-reviews/{review['review_id']}/accept"
    status, accepted = call(stack, "POST", path, {"reason": "married name, same person"})
    assert (status, accepted["status"]) == (200, "accepted"), accepted
    assert stack.wait_idle()

    # One case owner with both cases and every contact point; the old link leads to it.
    merged = _owner_of(stack, client_id, "A-2")
    assert merged["case_owner"]["case_owner_id"] == survivor
    assert sorted(n for c in merged["cases"] for n in c["invoice_numbers"]) == ["A-1", "A-2"]
    _, points = call(stack, "GET", f"/case-owners/{survivor}/contact-points?include_invalid=true")
    assert len(points["items"]) == points_before
    _, old_link = call(stack, "GET", f"/case-owners/{review['case_owner_id']}")
    assert old_link["case_owner"]["case_owner_id"] == survivor
    # The merge went over the bus to imports: a later row of Anna Weber (no birth date) joins the survivor.
    events = stack.drain_bus_tap()
    assert [e["detail"]["merged_case_owner_id"] for e in events if e["detail-type"] == "CaseOwnersMerged.v1"] == [
        review["case_owner_id"]
    ]
    assert stack.dlq_depths() == {k: 0 for k in stack.dlq_depths()}
    _drop(stack, client_id, "march.csv", "Anna;Weber;;Hauptstraße 9;10115;Berlin;;A-3;30;2026-03-01\n")
    assert _owner_of(stack, client_id, "A-3")["case_owner"]["case_owner_id"] == survivor
    _, page = call(stack, "GET", f"/clients/{client_id}/match-reviews")
    assert page["items"] == []
