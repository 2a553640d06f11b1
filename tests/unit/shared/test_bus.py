"""The publisher batches PutEvents by 10 and retries only the entries EventBridge reports as failed."""

from __future__ import annotations

from typing import Any

import pytest

from shared import bus
from shared.events import ClientRegistered


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
