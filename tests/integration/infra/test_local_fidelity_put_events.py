"""infra.local.fidelity.lean_put_events: moto's EventBridge PutEvents parses each entry's Detail once for every rule
of the bus and builds a target's default input without its template parser, delivering the same message bodies
as moto's own path, byte for byte."""

from __future__ import annotations

import itertools
import json
import types
from collections.abc import Iterator
from typing import Any

import pytest
from moto.events import models as events_models
from moto.events.models import Rule, events_backends
from moto.events.utils import EventTemplateParser
from moto.moto_api._internal import mock_random
from moto.sqs.models import sqs_backends

from infra.local import fidelity

ACCOUNT = "210987654321"  # this test's own account in moto's in-process backends
REGION = "eu-central-1"
BUS = "finview-bus"
RULES = {  # rule → pattern; the queue of each is the rule's name
    "to-contacts": {"source": ["finview.notifications"]},
    "to-notifications": {"detail-type": ["ContactActionsRequested.v2", "Odd"]},
    "to-nobody": {"source": ["finview.nowhere"]},
    "tap": {},
}
DETAILS = [
    "{}",
    '{"case_id": "c-1", "amount": 120.5, "owner": {"language": "de"}, "tags": ["a", "b"], "n": null}',
    '{"members": [{"case_id": "c-2", "text": "Grüße, Zahlung fällig"}, {"x": [1, 2.5, -0.0, 1e300]}]}',
    '{"html": "<p>Hallo <source> <id></p>"}',  # text moto's template substitution reaches into
    '{"escaped": "\\u003cdetail-type\\u003e", "quote": "a \\"b\\" \\\\ c"}',
    '{ "spaced" :  [ 1 , 2 ] , "big": 12345678901234567890 }',
    '[1, {"a": 2}]',  # not an object: moto warns and delivers it anyway
    '"just text"',
    "{not json",
]
EXTRAS: list[dict[str, Any]] = [
    {},
    {"Resources": ["arn:aws:x:eu-central-1:1:thing-1", "arn:aws:x:eu-central-1:1:thing-2"]},
    {"Resources": ["r<id>"]},
    {"Time": 1764400000},
    {"Time": 17644.5},
]
ENTRIES = [
    {"Source": source, "DetailType": detail_type, "Detail": detail, "EventBusName": BUS, **extra}
    for source, detail_type, detail, extra in itertools.product(
        ["finview.notifications", "finview.contacts", "finview.zählung", 'odd"source', "odd<source>"],
        ["ContactActionsRequested.v2", "Odd"],
        DETAILS,
        EXTRAS,
    )
] + [{"Source": "", "DetailType": "x", "Detail": "{}"}, {"Source": "s", "DetailType": "x", "Detail": ""}]


@pytest.fixture(autouse=True)
def _installed() -> None:
    assert fidelity.cached_event_paths() is True  # as the local stack installs them: the matching as well
    assert fidelity.lean_put_events() is True


@pytest.fixture
def bus() -> Iterator[Any]:
    """A bus with four rules, each with an SQS target (moto's in-process backends, an account of its own)."""
    events, sqs = events_backends[ACCOUNT][REGION], sqs_backends[ACCOUNT][REGION]
    events.create_event_bus(BUS)
    for name, pattern in RULES.items():
        sqs.create_queue(name)
        events.put_rule(name, event_pattern=json.dumps(pattern), event_bus_arn=BUS, state="ENABLED")
        events.put_targets(name, BUS, [{"Id": "queue", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"}])
    yield events
    events_backends[ACCOUNT].reset()
    sqs_backends[ACCOUNT].reset()


def _delivered(events: Any, put_events: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, dict[str, list[str]]]:
    """What ``put_events`` answers for ENTRIES, and the bodies each queue received, with moto's ids and clock
    fixed (so two runs can be compared byte for byte)."""
    sqs = sqs_backends[ACCOUNT][REGION]
    mock_random.seed(1729)
    monkeypatch.setattr(events_models, "unix_time", lambda: 1764400000.125)
    answers = []
    for entry in ENTRIES:
        try:
            answers.append(put_events(events, [dict(entry)]))
        except Exception as error:  # moto's own failures (a detail-type its template cannot hold) must match too
            answers.append(repr(error))
    bodies = {name: [m.body for m in sqs.get_queue(name)._messages] for name in RULES}
    for name in RULES:
        sqs.get_queue(name)._messages.clear()
    return answers, bodies


@pytest.mark.filterwarnings("ignore:EventDetail should be of type dict")
def test_every_entry_is_delivered_as_moto_delivers_it(bus: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert fidelity.put_events_sources() == fidelity.PINNED_PUT_EVENTS_SOURCES
    with monkeypatch.context() as moto_own:
        moto_own.setattr(EventTemplateParser, "parse", staticmethod(fidelity._ORIGINALS["EventTemplateParser.parse"]))
        moto_own.setattr(Rule, "_send_to_sqs_queue", fidelity._ORIGINALS["Rule._send_to_sqs_queue"])
        theirs = _delivered(bus, fidelity._ORIGINALS["EventsBackend.put_events"], monkeypatch)
    ours = _delivered(bus, type(bus).put_events, monkeypatch)
    assert ours[0] == theirs[0]  # the same entries, errors and failures
    for name in RULES:
        assert ours[1][name] == theirs[1][name], name  # the same bodies, byte for byte, in the same order
    assert len(ours[1]["tap"]) > 50 and not ours[1]["to-nobody"]
    assert any(isinstance(answer, str) for answer in ours[0])  # moto's failures are in the table too


def test_an_entry_is_parsed_and_serialised_once_and_its_default_input_built_without_the_template(
    bus: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto parsed the Detail once more for each of the bus's four rules and, for each of the three matched
    targets, ran eight JSONPath look-ups, serialised the detail and the event and parsed the filled template, then
    serialised the event whole once more for the target's body."""
    counted = {"loads": 0, "dumps": 0, "templates": 0}
    serialised: list[Any] = []

    def counting(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            counted[name] += 1
            if name == "dumps":
                serialised.append(args[0])
            return getattr(json, name)(*args, **kwargs)

        return call

    shim = types.SimpleNamespace(dumps=counting("dumps"), loads=counting("loads"))
    monkeypatch.setattr(events_models, "json", shim)
    monkeypatch.setattr(fidelity, "json", shim)  # the entry's own parse is the replacement's
    original = fidelity._ORIGINALS["EventTemplateParser.parse"]

    def template(*args: Any, **kwargs: Any) -> Any:
        counted["templates"] += 1
        return original(*args, **kwargs)

    monkeypatch.setitem(fidelity._ORIGINALS, "EventTemplateParser.parse", template)
    detail = json.dumps({"members": [{"case_id": f"c-{i}", "language": "de"} for i in range(25)]})
    entry = {"Source": "finview.notifications", "DetailType": "ContactActionsRequested.v2", "Detail": detail}
    answer = bus.put_events([{**entry, "EventBusName": BUS}])
    assert "EventId" in answer[0]
    bodies = [json.loads(m.body) for name in RULES for m in sqs_backends[ACCOUNT][REGION].get_queue(name)._messages]
    assert [b["detail"] for b in bodies] == [json.loads(detail)] * 3  # to-contacts, to-notifications, tap
    # before: 1 + 4 parses of the Detail, 3 templates
    assert counted["loads"] == 1 and counted["templates"] == 0
    # the detail serialised once for the three bodies, each body's other members around it (before: the whole
    # event three times)
    assert sum("members" in value for value in serialised) == 1
    assert sum("detail" in value for value in serialised) == 0
