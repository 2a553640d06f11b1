"""The review queue, imports' side: an uncertain pair goes out as MatchReviewRequested; when contacts merges the two
case owners (CaseOwnersMerged through the bus), later rows go to the surviving one."""

from __future__ import annotations

import pytest

from infra.provision import Provisioned
from shared import bus
from shared.events import CaseOwnersMerged
from tests.integration.imports.support import bus_events, drop, job_for, register_client, run_drops
from tests.integration.imports.test_settings import deliver_bus_events

pytestmark = pytest.mark.integration
HEADER = "first_name;last_name;birth_date;street;postcode;phone;invoice_number;amount;opened_on\n"


def owners(p: Provisioned) -> list[str]:
    return [e["detail"]["case_owner"]["case_owner_id"] for e in bus_events(p, "CaseFileImported")]


def test_an_uncertain_pair_is_queued_and_an_accepted_merge_steers_later_rows(aws: Provisioned) -> None:
    register_client("q")
    drop(aws, "q/1.csv", (HEADER + "Anna;Schmidt;1980-04-01;Hauptstraße 5;10115;;A-1;10;2026-01-01\n").encode())
    run_drops(aws)
    (anna,) = owners(aws)
    # her birth date, next door, another family name: her own case owner and a review, never a silent merge
    drop(aws, "q/2.csv", (HEADER + "Anna;Weber;1980-04-01;Hauptstraße 9;10115;;A-2;10;2026-02-01\n").encode())
    run_drops(aws)
    events = bus_events(aws)
    (weber,) = [e["detail"]["case_owner"]["case_owner_id"] for e in events if e["detail-type"] == "CaseFileImported.v1"]
    (review,) = [e["detail"] for e in events if e["detail-type"] == "MatchReviewRequested.v1"]
    assert weber != anna
    assert (review["case_owner_id"], review["candidate_case_owner_id"], review["row"]) == (weber, anna, 1)
    assert review["comparisons"] == {"given": "exact", "family": "different", "birth_date": "exact",
                                     "address": "street_or_postcode_off"}  # fmt: skip
    assert 0 < review["score"] < review["auto_score"] and job_for(aws, "q/2.csv")["match_reviews"] == 1

    merged = CaseOwnersMerged(correlation_id="t", client_id="q", surviving_case_owner_id=anna,
                              merged_case_owner_id=weber, review_id=review["review_id"])  # fmt: skip
    bus.publish([merged])
    bus.publish([merged])  # a redelivery changes nothing
    assert deliver_bus_events(aws) == {"batchItemFailures": []}
    drop(aws, "q/3.csv", (HEADER + "Anna;Weber;;Hauptstraße 9;10115;;A-3;10;2026-03-01\n").encode())
    run_drops(aws)
    assert owners(aws) == [anna]


def test_a_pair_once_queued_is_not_queued_again_when_the_same_person_comes_back(aws: Provisioned) -> None:
    """A rejected review needs nothing from imports: the row's own case owner now matches that person outright,
    so dropping the same rows again (or a later row of hers) never queues the pair a second time."""
    register_client("q")
    drop(aws, "q/1.csv", (HEADER + "Anna;Schmidt;1980-04-01;Hauptstraße 5;10115;;A-1;10;2026-01-01\n").encode())
    run_drops(aws)
    (anna,) = owners(aws)
    second = (HEADER + "Anna;Weber;1980-04-01;Hauptstraße 9;10115;;A-2;10;2026-02-01\n").encode()
    drop(aws, "q/2.csv", second)
    run_drops(aws)
    events = bus_events(aws)
    (weber,) = [e["detail"]["case_owner"]["case_owner_id"] for e in events if e["detail-type"] == "CaseFileImported.v1"]
    (review,) = [e["detail"] for e in events if e["detail-type"] == "MatchReviewRequested.v1"]
    assert (review["case_owner_id"], review["candidate_case_owner_id"]) == (weber, anna)

    drop(aws, "q/2-again.csv", second)
    drop(aws, "q/4.csv", (HEADER + "Anna;Weber;1980-04-01;Hauptstraße 9;10115;;A-4;10;2026-04-01\n").encode())
    run_drops(aws)
    events = bus_events(aws)
    assert [e["detail-type"] for e in events if e["detail-type"] == "MatchReviewRequested.v1"] == []
    assert {
        e["detail"]["case_owner"]["case_owner_id"] for e in events if e["detail-type"] == "CaseFileImported.v1"
    } == {weber}
