"""The review queue, imports' side: an uncertain pair goes out as MatchReviewRequested; when contacts merges the two
case owners (CaseOwnersMerged through the bus), later rows go to the surviving one."""

from __future__ import annotations

import pytest

from infra.provision import Provisioned
from services.imports import repository
from shared import bus
from shared.events import CaseOwnersMerged
from tests.integration.imports.support import bus_events, drop, job_for, register_client, run_drops
from tests.integration.imports.test_settings import deliver_bus_events
from tests.integration.support import case_files

pytestmark = pytest.mark.integration
HEADER = "first_name;last_name;birth_date;street;postcode;phone;invoice_number;amount;opened_on\n"


def owners(p: Provisioned) -> list[str]:
    return [f["case_owner"]["case_owner_id"] for f in case_files(bus_events(p, "CaseFileImported"))]


def test_an_uncertain_pair_is_queued_and_an_accepted_merge_steers_later_rows(aws: Provisioned) -> None:
    register_client("q")
    drop(aws, "q/1.csv", (HEADER + "Anna;Schmidt;1980-04-01;Hauptstraße 5;10115;;A-1;10;2026-01-01\n").encode())
    run_drops(aws)
    (anna,) = owners(aws)
    # her birth date, next door, another family name: her own case owner and a review, never a silent merge
    drop(aws, "q/2.csv", (HEADER + "Anna;Weber;1980-04-01;Hauptstraße 9;10115;;A-2;10;2026-02-01\n").encode())
    run_drops(aws)
    events = bus_events(aws)
    (weber,) = [f["case_owner"]["case_owner_id"] for f in case_files(events)]
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


def _anna_and_her_review(aws: Provisioned) -> tuple[str, str, str]:
    register_client("q")
    drop(aws, "q/1.csv", (HEADER + "Anna;Schmidt;1980-04-01;Hauptstraße 5;10115;;A-1;10;2026-01-01\n").encode())
    run_drops(aws)
    (anna,) = owners(aws)
    drop(aws, "q/2.csv", (HEADER + "Anna;Weber;1980-04-01;Hauptstraße 9;10115;;A-2;10;2026-02-01\n").encode())
    run_drops(aws)
    events = bus_events(aws)
    (weber,) = [f["case_owner"]["case_owner_id"] for f in case_files(events)]
    (review,) = [e["detail"]["review_id"] for e in events if e["detail-type"] == "MatchReviewRequested.v1"]
    return anna, weber, review


def test_a_merge_waits_for_the_import_that_is_matching_and_that_import_takes_it_in(aws: Provisioned) -> None:
    """An import holding the client's matching turn would write its own copy of a profile over a merge written beside
    it; so the merge waits, and the import takes it in before its next batch."""
    anna, weber, review = _anna_and_her_review(aws)
    assert repository.take_matching_turn("q", "an-import-that-is-matching", 600)
    bus.publish([CaseOwnersMerged(correlation_id="t", client_id="q", surviving_case_owner_id=anna,
                                  merged_case_owner_id=weber, review_id=review)])  # fmt: skip
    assert deliver_bus_events(aws) == {"batchItemFailures": []}
    index = repository.DynamoMatchIndex("q")
    assert index.get_profiles([weber])[weber].merged_into is None  # not written beside the import
    assert [(m["surviving"], m["merged"]) for m in repository.pending_merges("q")] == [(anna, weber)]

    repository.end_matching_turn("q", "an-import-that-is-matching")
    drop(aws, "q/3.csv", (HEADER + "Anna;Weber;;Hauptstraße 9;10115;;A-3;10;2026-03-01\n").encode())
    run_drops(aws)
    assert owners(aws) == [anna]  # the import took the merge in before matching its row
    assert index.get_profiles([weber])[weber].merged_into == anna
    assert repository.pending_merges("q") == []


def test_a_merge_goes_into_the_index_at_once_when_no_import_is_matching(aws: Provisioned) -> None:
    anna, weber, review = _anna_and_her_review(aws)
    bus.publish([CaseOwnersMerged(correlation_id="t", client_id="q", surviving_case_owner_id=anna,
                                  merged_case_owner_id=weber, review_id=review)])  # fmt: skip
    assert deliver_bus_events(aws) == {"batchItemFailures": []}
    profiles = repository.DynamoMatchIndex("q").get_profiles([anna, weber])
    assert profiles[weber].merged_into == anna and "anna|weber" in profiles[anna].identities
    assert repository.pending_merges("q") == []
    assert repository.take_matching_turn("q", "the-next-import", 60)  # the merge let go of the turn


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
    (weber,) = [f["case_owner"]["case_owner_id"] for f in case_files(events)]
    (review,) = [e["detail"] for e in events if e["detail-type"] == "MatchReviewRequested.v1"]
    assert (review["case_owner_id"], review["candidate_case_owner_id"]) == (weber, anna)

    drop(aws, "q/2-again.csv", second)
    drop(aws, "q/4.csv", (HEADER + "Anna;Weber;1980-04-01;Hauptstraße 9;10115;;A-4;10;2026-04-01\n").encode())
    run_drops(aws)
    events = bus_events(aws)
    assert [e["detail-type"] for e in events if e["detail-type"] == "MatchReviewRequested.v1"] == []
    assert {
        f["case_owner"]["case_owner_id"] for f in case_files(events)
    } == {weber}
