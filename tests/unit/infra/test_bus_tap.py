"""infra.local.dispatcher.BusTap: the local-only bus tap keeps the newest events, bounded by count and by the size
of their text, and holds them as text (parsed only when taken)."""

from __future__ import annotations

import json
import tracemalloc
import uuid
from typing import Any

import pytest

from infra.local import dispatcher
from infra.local.dispatcher import BusTap


def event(n: int, padding: int = 0) -> str:
    return json.dumps({"detail-type": "TapProbe.v1", "detail": {"n": n, "padding": "x" * padding}})


def case_files_event() -> str:
    """A CaseFileImported.v2 of 50 case files, shaped as the imports' publisher sends it (~50 KB of JSON)."""

    def case_file(i: int) -> dict[str, Any]:
        ids = [str(uuid.uuid4()) for _ in range(6)]
        return {
            "case_file_id": ids[0],
            "row_numbers": [i],
            "matched_by": "new",
            "case_owner": {"case_owner_id": ids[1], "kind": "person", "given_name": "Anna", "family_name": f"M{i}"},
            "cases": [{"case_id": ids[2], "invoice_number": f"i-{i}", "amount": {"value": "12.5", "currency": "EUR"}}],
            "contact_points": [
                {"contact_point_id": ids[3], "type": "email", "value": f"anna{i}@example.de", "row_number": i},
                {"contact_point_id": ids[4], "type": "phone", "value": "+4915112345678", "row_number": i},
                {
                    "contact_point_id": ids[5],
                    "type": "postal_address",
                    "value": {"street": "Hauptstr. 1", "postal_code": "10115", "city": "Berlin", "country": "DE"},
                    "row_number": i,
                },
            ],
        }

    detail = {"import_id": str(uuid.uuid4()), "case_files": [case_file(i) for i in range(50)]}
    return json.dumps({"detail-type": "CaseFileImported.v2", "id": str(uuid.uuid4()), "detail": detail})


def test_the_newest_events_are_kept_by_count_and_taken_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatcher, "TAP_KEEP", 3)
    tap = BusTap()
    tap.add([event(n) for n in range(2)])
    tap.add([event(n) for n in range(2, 5)])
    assert len(tap) == 3
    assert [e["detail"]["n"] for e in tap.take()] == [2, 3, 4]
    assert tap.take() == [] and len(tap) == 0 and tap.text == 0


def test_the_newest_events_are_kept_by_the_size_of_their_text(monkeypatch: pytest.MonkeyPatch) -> None:
    bodies = [event(n, padding=1000) for n in range(10)]
    monkeypatch.setattr(dispatcher, "TAP_KEEP_TEXT", 3 * len(bodies[0]) + 10)
    tap = BusTap()
    for body in bodies:
        tap.add([body])
        assert tap.text <= dispatcher.TAP_KEEP_TEXT
    assert [e["detail"]["n"] for e in tap.take()] == [7, 8, 9]


def test_events_are_held_as_their_text_not_as_parsed_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    """~1,400 such events go over the bus in a 100,000-row import: parsed, each costs ~3.7 times its text."""
    bodies = [case_files_event() for _ in range(40)]
    text = sum(len(b) for b in bodies)
    tap = BusTap()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tap.add([body.replace("Anna", "Anne") for body in bodies])  # new strings, as the bus delivers them
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 1.2 * text, (held, text)
    assert len(tap.take()) == 40
