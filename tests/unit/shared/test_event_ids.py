"""Ids derived from an idempotency key repeat on a retry and nowhere else; lenient parsing keeps what it knows."""

from __future__ import annotations

from shared.events import ClientRegistered, ids_from, new_id


def test_ids_from_a_seed_repeat_in_order_and_differ_between_seeds() -> None:
    with ids_from("key-1"):
        first = [new_id(), ClientRegistered(correlation_id="c", client_id="x", legal_name="L", business_unit_id="b",
                                            sender_email="s@x.de").event_id]
    with ids_from("key-1"):
        again = [new_id(), new_id()]
    with ids_from("key-2"):
        other = [new_id(), new_id()]
    assert first == again
    assert len(set(first)) == 2 and not set(first) & set(other)
    assert new_id() not in first + other  # outside a block: random again
