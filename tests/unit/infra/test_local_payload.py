"""The payload of the batches running at once in ``finview up`` is bounded for the whole process
(``infra.local.dispatcher.PayloadInFlight``): batches take it in the order they ask, a batch waits while the others
leave no room for it, one larger than the bound runs alone, and a stop ends the wait."""

from __future__ import annotations

import threading
import time

import pytest

from infra.definition import STACK
from infra.local import dispatcher
from infra.local.dispatcher import PayloadInFlight


def _taken_in_thread(
    budget: PayloadInFlight, payload: int, stop: threading.Event, taken: list[int]
) -> threading.Thread:
    def take() -> None:
        if budget.take(payload, stop):
            taken.append(payload)

    t = threading.Thread(target=take, daemon=True)
    t.start()
    return t


def test_a_batch_waits_until_the_running_ones_leave_room_for_it() -> None:
    budget, stop, taken = PayloadInFlight(100), threading.Event(), list[int]()
    assert budget.take(60, stop) and budget.take(40, stop)  # 100 of 100 running
    waiting = _taken_in_thread(budget, 30, stop, taken)
    time.sleep(0.3)
    assert taken == [] and waiting.is_alive()  # 130 would pass the bound
    budget.give_back(40)
    waiting.join(2)
    assert taken == [30] and budget.running == 90 and budget.batches == 2


def test_a_batch_larger_than_the_bound_runs_alone_and_is_never_refused() -> None:
    budget, stop, taken = PayloadInFlight(100), threading.Event(), list[int]()
    assert budget.take(10, stop)
    waiting = _taken_in_thread(budget, 250, stop, taken)
    time.sleep(0.3)
    assert taken == []  # not beside another batch
    budget.give_back(10)
    waiting.join(2)
    assert taken == [250] and budget.running == 250


def test_batches_take_their_turn_in_the_order_they_asked() -> None:
    """A small batch asking after a big one does not pass it (the big one would wait for ever behind small ones)."""
    budget, stop, taken = PayloadInFlight(100), threading.Event(), list[int]()
    assert budget.take(50, stop)
    big = _taken_in_thread(budget, 80, stop, taken)
    time.sleep(0.2)
    small = _taken_in_thread(budget, 10, stop, taken)
    time.sleep(0.3)
    assert taken == []  # 10 would fit beside the 50, but the 80 asked first
    budget.give_back(50)
    big.join(2)
    small.join(2)
    assert taken == [80, 10] and budget.running == 90


def test_a_stop_ends_the_wait_without_taking_anything() -> None:
    budget, stop, taken = PayloadInFlight(100), threading.Event(), list[int]()
    assert budget.take(100, stop)
    waiting = _taken_in_thread(budget, 1, stop, taken)
    time.sleep(0.2)
    stop.set()
    waiting.join(2)
    assert not waiting.is_alive() and taken == [] and budget.running == 100 and budget.batches == 1


def test_a_bound_of_zero_bounds_nothing() -> None:
    budget, stop = PayloadInFlight(0), threading.Event()
    assert all(budget.take(10**9, stop) for _ in range(5))
    assert budget.batches == 5


def test_a_batch_gathers_its_functions_share_of_the_bound_and_without_a_bound_lambdas_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    contacts = next(f for f in STACK.functions if f.service == "contacts" and f.handler == "on_bus_events")
    monkeypatch.setattr(dispatcher, "LOCAL_POLLERS", 4)
    monkeypatch.setattr(dispatcher, "LOCAL_PAYLOAD_IN_FLIGHT", 8_000_000)
    assert dispatcher.pollers(contacts) == 4 and dispatcher.batch_payload(contacts) == 2_000_000
    monkeypatch.setattr(dispatcher, "LOCAL_PAYLOAD_IN_FLIGHT", 0)
    assert dispatcher.batch_payload(contacts) == dispatcher.PAYLOAD_LIMIT
