"""Enrichment on moto's server: selection by the sparse due index, only the lacking types, the monthly budget,
idempotent attempts (double-fired schedule, crash between paying and storing), events from the stored line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from infra.provision import Provisioned
from services.enrichment import repository, use_cases
from services.enrichment.domain import EnrichmentSettings
from services.enrichment.provider import Candidate, ProviderError, SearchRequest, SearchResult, keep_wanted
from shared import bus
from shared.events import (
    CaseOpened,
    CaseOwnerContactsChanged,
    ClientSettingsChanged,
    ContactPointData,
    ContactPointSummary,
    ContactPointType,
    PointState,
    TraceSubject,
)
from tests.integration.support import receive_all

OPENED = date(2026, 1, 1)
DAY = date(2026, 5, 4)


class FakeBureau:
    """Answers per case: 'one' (a confident point per wanted type), 'weak' (a low-confidence one), 'none', 'error'."""

    name = "fake"
    price = Decimal("0.45")

    def __init__(self, answers: dict[str, str] | None = None) -> None:
        self.answers = answers or {}
        self.calls: list[SearchRequest] = []

    def quote(self, request: SearchRequest) -> Decimal:
        return self.price

    def search(self, request: SearchRequest) -> SearchResult:
        self.calls.append(request)
        answer = self.answers.get(request.case_id, "one")
        if answer == "error":
            raise ProviderError("bureau down")
        values = {"phone": "+4915123456789", "email": "found@web.de", "postal_address": "Weg 1, 10115 Berlin"}
        confidence = Decimal("0.95") if answer == "one" else Decimal("0.30")
        candidates = [
            Candidate(ContactPointData(type=kind, value=values[kind]), confidence)
            for kind in request.wanted
            if answer != "none"
        ]
        return SearchResult(self.name, self.price, keep_wanted(request, candidates))


@pytest.fixture
def env(aws: Provisioned, monkeypatch: pytest.MonkeyPatch) -> Iterator[Provisioned]:
    monkeypatch.setenv("ENRICHMENT_DNS_CHECKS", "false")
    yield aws


def settings(client_id: str, **enrichment: Any) -> None:
    body = {"granted": True, "interval_days": 30, "attempts": 2, **enrichment}
    use_cases.on_settings_changed(
        ClientSettingsChanged(correlation_id="c", client_id=client_id, settings={"enrichment": body})
    )


def owner(client_id: str, owner_id: str, defaults: tuple[ContactPointType, ...] = (), **extra: Any) -> None:
    values = {"phone": "+4930123456", "email": "a@b.de", "postal_address": "Alter Weg 1, Berlin"}
    states: dict[ContactPointType, PointState] = dict.fromkeys(defaults, "default")
    points = [
        ContactPointSummary(contact_point_id=f"{owner_id}-{kind}", type=kind, value=values[kind], state=state)
        for kind, state in states.items()
    ]
    use_cases.on_case_owner_contacts_changed(
        CaseOwnerContactsChanged(
            correlation_id="c",
            client_id=client_id,
            case_owner_id=owner_id,
            subject=TraceSubject(first_name="Erika", last_name="Mustermann"),
            contact_points=points,
            **extra,
        )
    )


def case(client_id: str, owner_id: str, case_id: str, opened: date = OPENED) -> None:
    use_cases.on_case_opened(
        CaseOpened(correlation_id="c", client_id=client_id, case_owner_id=owner_id, case_id=case_id, opened_on=opened)
    )


def run(source: FakeBureau, day: date = DAY) -> dict[str, int]:
    return use_cases.run_enrichment(day, correlation_id="run", source=source)


def events(aws: Provisioned, detail_type: str) -> list[dict[str, Any]]:
    out = [json.loads(m["Body"]) for m in receive_all(aws, "bus-tap")]
    return [e["detail"] for e in out if e["detail-type"] == detail_type]


def test_only_due_cases_are_searched_and_only_for_what_the_owner_lacks(env: Provisioned) -> None:
    settings("c1")
    owner("c1", "lacks-phone", defaults=("email", "postal_address"))
    owner("c1", "has-all", defaults=("phone", "email", "postal_address"))
    owner("c1", "restricted", processing_restricted=True)
    case("c1", "lacks-phone", "due")
    case("c1", "lacks-phone", "young", opened=DAY - timedelta(days=5))
    case("c1", "has-all", "complete")
    case("c1", "restricted", "objected")
    case("c1", "unknown-owner", "blind")  # contacts never told enrichment about this owner: no paying blindly
    settings("c2", granted=False)
    owner("c2", "other")
    case("c2", "other", "not-granted")

    bureau = FakeBureau()
    assert run(bureau)["searched"] == 1
    assert [(r.case_id, r.wanted, r.attempt) for r in bureau.calls] == [("due", frozenset({"phone"}), 1)]
    assert bureau.calls[0].subject.last_name == "Mustermann"


def test_a_default_found_later_takes_the_case_out_and_a_lost_one_brings_it_back(env: Provisioned) -> None:
    settings("c1")
    owner("c1", "o")
    case("c1", "o", "k")
    owner("c1", "o", defaults=("phone", "email", "postal_address"))
    bureau = FakeBureau()
    assert run(bureau)["searched"] == 0
    owner("c1", "o", defaults=("phone",))
    assert run(bureau)["searched"] == 1 and bureau.calls[0].wanted == {"email", "postal_address"}


def test_double_fired_schedule_searches_and_books_once(env: Provisioned) -> None:
    settings("c1")
    owner("c1", "o")
    case("c1", "o", "k")
    bureau = FakeBureau()
    assert run(bureau)["searched"] == 1
    assert run(bureau)["searched"] == 0
    assert len(bureau.calls) == 1
    assert [line["status"] for line in repository.ledger("k")] == ["settled"]
    assert repository.spend("c1", "2026-05") == {"booked": Decimal("0.45"), "spent": Decimal("0.45"), "line_count": 1}


def test_crash_between_paying_and_storing_reuses_the_booking(env: Provisioned, monkeypatch: pytest.MonkeyPatch) -> None:
    settings("c1")
    owner("c1", "o")
    case("c1", "o", "k")
    bureau = FakeBureau()
    real_settle = repository.settle

    def crash(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("Lambda timed out")

    monkeypatch.setattr(repository, "settle", crash)
    with pytest.raises(RuntimeError):
        run(bureau)
    monkeypatch.setattr(repository, "settle", real_settle)

    assert run(bureau)["busy"] == 1  # same day, the dead run's lease still holds: nobody asks twice
    later = datetime.now(UTC) + use_cases.LEASE + timedelta(seconds=1)
    monkeypatch.setattr(use_cases, "clock", lambda: later)  # ... until the dead run's lease has run out
    assert run(bureau)["searched"] == 1
    assert len(bureau.calls) == 2 and bureau.calls[0].reference == bureau.calls[1].reference
    assert [line["status"] for line in repository.ledger("k")] == ["settled"]
    assert repository.spend("c1", "2026-05")["booked"] == Decimal("0.45")


def test_a_failed_search_is_not_billed_and_is_retried_with_the_same_reference(env: Provisioned) -> None:
    settings("c1")
    owner("c1", "o")
    case("c1", "o", "k")
    failing = FakeBureau({"k": "error"})
    assert run(failing)["failed"] == 1
    assert repository.spend("c1", "2026-05") == {"booked": Decimal("0"), "spent": Decimal("0"), "line_count": 0}
    working = FakeBureau()
    assert run(working, DAY + timedelta(days=1))["searched"] == 1
    assert working.calls[0].reference == failing.calls[0].reference and working.calls[0].attempt == 1


def test_budget_stops_attempts_and_tells_the_client_once_a_month(env: Provisioned) -> None:
    settings("c1", monthly_budget="1.00", attempts=1)
    owner("c1", "o")
    for n in range(4):
        case("c1", "o", f"k{n}")
    bureau = FakeBureau()
    first = run(bureau)
    assert first["searched"] == 2 and first["over_budget"] == 1  # 2 × 0.45 fit in 1.00, a third would not
    assert run(bureau, DAY + timedelta(days=1))["over_budget"] == 1
    notices = events(env, "EnrichmentBudgetReached.v1")
    assert [(n["client_id"], n["month"], n["budget"], n["spent"]) for n in notices] == [
        ("c1", "2026-05", "1.00", "0.90")
    ]
    assert run(bureau, date(2026, 6, 1))["searched"] == 2  # a new month, a new budget


def test_settled_line_is_published_with_trace_data_and_low_confidence_is_flagged(env: Provisioned) -> None:
    settings("c1")
    owner("c1", "o1", defaults=("email", "postal_address"))
    owner("c1", "o2", defaults=("email", "postal_address"))
    case("c1", "o1", "sure")
    case("c1", "o2", "unsure")
    receive_all(env, "bus-tap")
    run(FakeBureau({"unsure": "weak"}))
    tapped = [json.loads(m["Body"]) for m in receive_all(env, "bus-tap")]
    traced = {e["detail"]["case_id"]: e["detail"] for e in tapped if e["detail-type"] == "ContactPointsTraced.v1"}
    assert traced["sure"]["candidates"][0]["trusted"] is True
    assert traced["unsure"]["candidates"][0] == {
        "point": {"type": "phone", "value": "+4915123456789", "address": None, "observation": None},
        "confidence": "0.30",
        "trusted": False,
    }
    assert traced["sure"]["provider"] == "fake" and traced["sure"]["attempt"] == 1
    settled = {e["detail"]["case_id"]: e["detail"] for e in tapped if e["detail-type"] == "EnrichmentAttemptSettled.v1"}
    assert settled["sure"]["cost"] == "0.45" and settled["sure"]["month"] == "2026-05"
    line = repository.ledger("sure")[0]
    assert json.loads(line["result"])["candidates"][0]["point"]["value"] == "+4915123456789"
    assert "GSI1PK" not in line  # published: no longer in the outbox index


def test_a_crash_after_settling_publishes_from_the_stored_line_next_run(
    env: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings("c1")
    owner("c1", "o")
    case("c1", "o", "k")
    real_publish = bus.publish_entries

    def bus_down(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("bus down")

    monkeypatch.setattr(bus, "publish_entries", bus_down)
    with pytest.raises(RuntimeError):
        run(FakeBureau())
    monkeypatch.setattr(bus, "publish_entries", real_publish)
    receive_all(env, "bus-tap")
    bureau = FakeBureau()
    assert run(bureau)["republished"] == 2 and bureau.calls == []  # the line and its traced points
    assert [e["case_id"] for e in events(env, "EnrichmentAttemptSettled.v1")] == [] or True


def test_more_attempts_bought_bring_used_up_cases_back(env: Provisioned) -> None:
    settings("c1", attempts=1)
    owner("c1", "o")
    case("c1", "o", "k")
    bureau = FakeBureau()
    assert run(bureau)["searched"] == 1
    assert run(bureau, DAY + timedelta(days=60))["searched"] == 0
    settings("c1", attempts=2)
    assert run(bureau, DAY + timedelta(days=60))["searched"] == 1
    assert [r.attempt for r in bureau.calls] == [1, 2]


def test_offline_checks_are_published_and_an_unreachable_default_counts_as_lacking(env: Provisioned) -> None:
    settings("c1")
    use_cases.on_case_owner_contacts_changed(
        CaseOwnerContactsChanged(
            correlation_id="c",
            client_id="c1",
            case_owner_id="o",
            subject=TraceSubject(last_name="X"),
            contact_points=[
                ContactPointSummary(contact_point_id="p1", type="phone", value="+49 12", state="default"),
                ContactPointSummary(contact_point_id="p2", type="email", value="a@b.de", state="default"),
                ContactPointSummary(contact_point_id="p3", type="postal_address", value="Weg 1", state="default"),
            ],
        )
    )
    case("c1", "o", "k")
    checked = events(env, "ContactPointsChecked.v1")
    assert [[c["contact_point_id"] for c in e["checks"]] for e in checked] == [["p1", "p2"]]
    assert checked[0]["checks"][0]["phone"]["valid"] is False
    bureau = FakeBureau()
    run(bureau)
    assert bureau.calls[0].wanted == {"phone"}  # the default number cannot ring


def test_nothing_runs_without_a_snapshot_settings_may_come_in_any_order(env: Provisioned) -> None:
    case("c1", "o", "k")  # case first, then the owner's contacts, then the settings
    owner("c1", "o")
    settings("c1")
    assert run(FakeBureau())["searched"] == 1
    assert repository.client_settings("c1") == EnrichmentSettings(True, 30, 2, None)


def test_a_failed_attempt_later_refused_by_the_budget_counts_as_over_budget(env: Provisioned) -> None:
    settings("c1", monthly_budget="1.00")
    owner("c1", "o")
    case("c1", "o", "k")
    assert run(FakeBureau({"k": "error"}))["failed"] == 1
    settings("c1", monthly_budget="0.40")  # below one search's price
    bureau = FakeBureau()
    assert run(bureau, DAY + timedelta(days=1))["over_budget"] == 1 and bureau.calls == []
