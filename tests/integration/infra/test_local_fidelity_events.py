"""infra.local.fidelity.cached_event_paths: moto's EventBridge matches each rule's pattern against the event as it
is, not against a JSON round trip of it, with moto's answers."""

from __future__ import annotations

import itertools
import json
import types
from typing import Any

import pytest
from moto.events import models as events_models
from moto.events.models import EventPattern

from infra.local import fidelity

PATTERNS: list[dict[str, Any]] = [
    {},
    {"source": ["finview.contacts"]},
    {"source": ["finview.contacts", "finview.imports"], "detail-type": ["ContactActionsRequested.v2"]},
    {"detail-type": [{"prefix": "Message"}]},
    {"detail-type": [{"anything-but": ["MessageSent", "MessagesSent.v2"]}]},
    {"detail": {"case_id": [{"exists": True}]}},
    {"detail": {"case_id": [{"exists": False}]}},
    {"detail": {"amount": [{"numeric": [">", 10, "<=", 250]}]}},
    {"detail": {"channel": ["email", "sms"], "owner": {"language": ["de"]}}},
    {"detail": {"tags": ["b"]}},
    {"detail": {"kind": [{"equals-ignore-case": "REMINDER"}]}},
    {"$or": [{"source": ["finview.imports"]}, {"detail": {"channel": ["letter"]}}]},
    {"resources": [{"suffix": "-1"}]},
]

DETAILS: list[dict[str, Any]] = [
    {},
    {"case_id": "c-1", "channel": "email", "amount": 120.5, "owner": {"language": "de"}, "tags": ["a", "b"]},
    {"case_id": None, "channel": "sms", "amount": 300, "owner": {"language": "fr"}, "kind": "Reminder"},
    {"channel": "letter", "amount": 10, "owner": {}, "tags": [], "members": [{"case_id": "c-2"}, {"x": [1, 2.5]}]},
]


def event(source: str, detail_type: str, detail: dict[str, Any], resources: list[str]) -> dict[str, Any]:
    """An event as moto's ``put_events`` builds it for each rule (JSON values: the parsed Detail)."""
    return {
        "version": "0",
        "id": "e-1",
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": 1764400000.25,
        "region": "eu-west-1",
        "resources": resources,
        "detail": json.loads(json.dumps(detail)),
        "ingestion-time": 1764400000.5,
    }


EVENTS = [
    event(source, detail_type, detail, resources)
    for source, detail_type, detail, resources in itertools.product(
        ["finview.contacts", "finview.imports"],
        ["ContactActionsRequested.v2", "MessageSent", "MessageDelivered"],
        DETAILS,
        [[], ["arn:aws:x:eu-west-1:1:thing-1"]],
    )
]


@pytest.fixture(autouse=True)
def _installed() -> None:
    assert fidelity.cached_event_paths() is True


def test_every_pattern_matches_every_event_as_moto_decides() -> None:
    original = fidelity._ORIGINALS["EventPattern.matches_event"]
    answers = []
    for pattern, ev in itertools.product(PATTERNS, EVENTS):
        rule = EventPattern.load(json.dumps(pattern))
        before = json.dumps(ev, sort_keys=True)
        got = rule.matches_event(ev)  # type: ignore[arg-type]
        assert json.dumps(ev, sort_keys=True) == before  # matching left the event as it was
        assert got == original(rule, ev), (pattern, ev)
        answers.append(got)
    assert True in answers and False in answers  # the table holds both answers


def test_an_event_is_matched_without_a_json_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto serialised and parsed the whole event once for each rule of the bus; a rule's match now reads it."""
    counted = {"dumps": 0, "loads": 0}

    def counting(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            counted[name] += 1
            return getattr(json, name)(*args, **kwargs)

        return call

    monkeypatch.setattr(events_models, "json", types.SimpleNamespace(dumps=counting("dumps"), loads=counting("loads")))
    rules = [EventPattern.load(json.dumps(p)) for p in PATTERNS]  # load parses the pattern itself: once a rule
    counted.update(dumps=0, loads=0)
    matched = sum(rule.matches_event(ev) for rule in rules for ev in EVENTS)  # type: ignore[arg-type]
    assert matched > 0
    assert counted == {"dumps": 0, "loads": 0}  # before: one of each a rule and event (13 × 48)
