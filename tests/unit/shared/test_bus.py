"""The publisher batches PutEvents by 10 and retries only the entries EventBridge reports as failed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared import bus
from shared.events import (
    MAX_MEMBERS,
    MEMBERS_EVENT_BYTES,
    ClientRegistered,
    ContactActionRequested,
    ContactActionsRequestedV2,
    Event,
    members_event_id,
    parse_envelope,
)


def _event(i: int) -> ClientRegistered:
    return ClientRegistered(
        correlation_id=f"c{i}", client_id=f"client-{i}", legal_name="L", business_unit_id="b", sender_email="s@x.de"
    )


class FakeEvents:
    """Fails the entries whose client id is in ``flaky`` the first ``times`` times they are sent."""

    def __init__(self, flaky: set[str] = frozenset(), times: int = 1) -> None:  # type: ignore[assignment]
        self.calls: list[list[dict[str, Any]]] = []
        self.flaky, self.times = set(flaky), times
        self.seen: dict[str, int] = {}

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        results = []
        for entry in Entries:
            client_id = entry["Detail"].split('"client_id":"')[1].split('"')[0]
            self.seen[client_id] = self.seen.get(client_id, 0) + 1
            if client_id in self.flaky and self.seen[client_id] <= self.times:
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "try again"})
            else:
                results.append({"EventId": "id"})
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


def test_publishes_in_batches_of_ten() -> None:
    fake = FakeEvents()
    assert bus.publish([_event(i) for i in range(25)], "bus", client=fake) == 25
    assert [len(c) for c in fake.calls] == [10, 10, 5]
    assert all(e["EventBusName"] == "bus" and e["DetailType"] == "ClientRegistered.v1" for c in fake.calls for e in c)


def test_retries_only_the_failed_entries() -> None:
    fake = FakeEvents(flaky={"client-3", "client-7"})
    bus.publish([_event(i) for i in range(10)], "bus", client=fake)
    assert [len(c) for c in fake.calls] == [10, 2]
    assert all(n == 1 for cid, n in fake.seen.items() if cid not in {"client-3", "client-7"})
    assert fake.seen["client-3"] == fake.seen["client-7"] == 2


def test_gives_up_with_the_error_codes_after_the_last_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bus.time, "sleep", lambda _: None)
    fake = FakeEvents(flaky={"client-1"}, times=99)
    with pytest.raises(bus.PublishError, match="InternalFailure") as err:
        bus.publish([_event(i) for i in range(3)], "bus", client=fake)
    assert len(err.value.failed) == 1
    assert len(fake.calls) == bus.MAX_ATTEMPTS


def test_batches_also_by_request_size_and_refuses_an_oversized_event() -> None:
    big = [{"Source": "s", "DetailType": "d", "Detail": "x" * 100_000} for _ in range(5)]
    sizes = [len(b) for b in bus.batches(big)]
    assert sizes == [2, 2, 1]
    assert all(sum(bus.entry_size(e) for e in b) <= bus.MAX_REQUEST_BYTES for b in bus.batches(big))
    with pytest.raises(bus.EventTooLarge):
        list(bus.batches([{"Source": "s", "DetailType": "d", "Detail": "x" * 300_000}]))


def test_event_batches_are_the_put_events_calls_publish_makes() -> None:
    """Each group of ``event_batches``, published alone, is one PutEvents call: 10 small events, or fewer big ones."""
    small = [_event(i) for i in range(12)]
    big = [_event(100 + i).model_copy(update={"legal_name": "x" * 100_000}) for i in range(5)]
    groups = bus.event_batches([*small, *big])
    assert [len(g) for g in groups] == [10, 4, 2, 1]  # 2 small + 2 big fit 256 KiB, a third big one does not
    assert [e for g in groups for e in g] == [*small, *big]  # in order, each once
    for group in groups:
        fake = FakeEvents()
        bus.publish(group, "bus", client=fake)
        assert len(fake.calls) == 1


# ---- several events of one kind as one v2 event (shared.events.Members) ---------------------------------------


def _requested(i: int, correlation_id: str = "run-1", note: str = "") -> ContactActionRequested:
    from tests.unit.notifications.samples import debtor_message

    return ContactActionRequested(
        correlation_id=correlation_id,
        client_id="cl-1",
        case_owner_id=f"owner-{i}",
        case_id=f"case-{i}",
        action="email",
        contact_point_id=f"cp-{i}",
        contact_point_value=f"debtor{i}@example.de",
        automatic=True,
        requested_by="schedule",
        message=note or None,
        debtor_message=debtor_message("payment_plan_reminder", "de"),
    )


def _parsed(entry: dict[str, Any]) -> Event:
    return parse_envelope(
        {"source": entry["Source"], "detail-type": entry["DetailType"], "detail": json.loads(entry["Detail"])}
    )


def test_a_pages_requests_go_out_as_one_v2_event_that_reads_back_as_the_same_v1_events() -> None:
    requests = [_requested(i) for i in range(20)]
    other = _event(1)
    entries = [bus.to_entry(e, "bus") for e in [requests[0], other, *requests[1:]]]
    out = bus.packed(entries)
    assert [e["DetailType"] for e, _ in out] == ["ContactActionsRequested.v2", "ClientRegistered.v1"]
    assert out[1] == (entries[1], [1])
    v2, positions = out[0]
    assert positions == [0, *range(2, 21)] and v2["EventBusName"] == "bus" and v2["Source"] == "finview.contacts"
    event = _parsed(v2)
    assert isinstance(event, ContactActionsRequestedV2)
    assert event.as_v1() == requests  # each member whole: its id, time, correlation, debtor message
    assert event.correlation_id == "run-1"
    # derived from the members, in whatever order they were packed: a re-publication is the same event
    assert event.event_id == members_event_id("ContactActionsRequested.v2", [r.event_id for r in reversed(requests)])
    again = _parsed(bus.packed([bus.to_entry(e, "bus") for e in reversed(requests)])[0][0])
    assert again.event_id == event.event_id and again != event  # (its own time)
    # packing what is packed changes nothing (the consumer packs a batch's events, then publishes them)
    assert [e for e, _ in bus.packed([e for e, _ in out])] == [e for e, _ in out]


def test_a_lone_event_and_events_of_different_runs_stay_apart() -> None:
    lone = bus.packed([bus.to_entry(_requested(1), "bus")])
    assert [e["DetailType"] for e, _ in lone] == ["ContactActionRequested.v1"]
    mixed = [bus.to_entry(_requested(i, correlation_id=f"run-{i % 2}"), "bus") for i in range(4)]
    out = bus.packed(mixed)
    assert [(e["DetailType"], p) for e, p in out] == [
        ("ContactActionsRequested.v2", [0, 2]),
        ("ContactActionsRequested.v2", [1, 3]),
    ]
    assert [_parsed(e).correlation_id for e, _ in out] == ["run-0", "run-1"]


def test_a_v2_event_holds_at_most_max_members() -> None:
    entries = [bus.to_entry(_requested(i), "bus") for i in range(MAX_MEMBERS + 2)]
    out = bus.packed(entries)
    assert [len(p) for _, p in out] == [MAX_MEMBERS, 2]
    assert len(_parsed(out[0][0]).as_v1()) == MAX_MEMBERS  # type: ignore[attr-defined]


def test_a_v2_event_at_the_size_limit_fits_the_bus_and_the_next_member_starts_another() -> None:
    """Members of ~40 KiB (a collector's long note): as many as fit ``MEMBERS_EVENT_BYTES`` in one event, which
    stays within EventBridge's 256 KiB per entry (and leaves room for the envelope SQS receives)."""
    requests = [_requested(i, note="x" * 40_000 + str(i)) for i in range(14)]
    entries = [bus.to_entry(e, "bus") for e in requests]
    one = bus.entry_size(entries[0])
    out = bus.packed(entries)
    sizes = [bus.entry_size(e) for e, _ in out]
    per_event = [len(p) for _, p in out]
    assert per_event[1:] == [6, 2] and per_event[0] == MEMBERS_EVENT_BYTES // (one + 1) == 6, (per_event, one)
    assert max(sizes) <= MEMBERS_EVENT_BYTES < bus.MAX_REQUEST_BYTES
    assert sizes[0] + one > MEMBERS_EVENT_BYTES  # full: one more member would not have fitted
    assert [m.event_id for e, _ in out for m in _parsed(e).as_v1()] == [r.event_id for r in requests]  # type: ignore[attr-defined]
    assert [list(b) for b in bus.batches([e for e, _ in out])] == [[out[0][0]], [out[1][0]], [out[2][0]]]
