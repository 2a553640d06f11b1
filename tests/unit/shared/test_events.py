"""The event catalogue: one place, versioned names, strict models, envelopes parsed back to their class."""

from __future__ import annotations

import json
from datetime import date

import pytest
from pydantic import ValidationError

from shared import events as ev
from shared.bus import to_entry


def test_every_event_has_a_versioned_unique_detail_type_and_a_known_source() -> None:
    sources = {ev.SOURCE_CONTACTS, ev.SOURCE_IMPORTS, ev.SOURCE_ENRICHMENT, ev.SOURCE_NOTIFICATIONS}
    detail_types = [cls.DETAIL_TYPE for cls in ev.CATALOGUE.values()]
    assert len(detail_types) == len(set(detail_types))
    for cls in ev.CATALOGUE.values():
        assert cls.SOURCE in sources
        name, _, version = cls.DETAIL_TYPE.rpartition(".")
        assert version.startswith("v") and version[1:].isdigit()
        # v1 is named after the event; a later version beside it (during a rollout) carries its number: ...V2
        assert cls.__name__ == (name if version == "v1" else f"{name}V{version[1:]}")


def test_every_event_model_subclass_is_in_the_catalogue() -> None:
    def all_subclasses(cls: type) -> set[type]:
        found: set[type] = set()
        children: list[type] = cls.__subclasses__()
        for child in children:
            found |= {child} | all_subclasses(child)
        return found

    assert all_subclasses(ev.Event) == set(ev.CATALOGUE.values())


def test_envelope_round_trip_keeps_id_time_and_correlation() -> None:
    event = ev.CaseOpened(
        correlation_id="corr-1", client_id="c1", case_owner_id="o1", case_id="k1", opened_on=date(2026, 1, 2)
    )
    entry = to_entry(event, "bus")
    envelope = {"source": entry["Source"], "detail-type": entry["DetailType"], "detail": json.loads(entry["Detail"])}
    parsed = ev.parse_envelope(envelope)
    assert parsed == event
    assert parsed.event_id == event.event_id and parsed.correlation_id == "corr-1"


def test_unknown_event_is_refused() -> None:
    with pytest.raises(ev.UnknownEvent):
        ev.parse_envelope({"source": "finview.contacts", "detail-type": "Nope.v1", "detail": {}})


def test_detail_with_unknown_field_or_missing_correlation_is_refused() -> None:
    good = {
        "client_id": "c",
        "legal_name": "L",
        "business_unit_id": "b",
        "sender_email": "s@x.de",
        "correlation_id": "x",
    }
    ev.ClientRegistered.model_validate(good)
    with pytest.raises(ValidationError):
        ev.ClientRegistered.model_validate({**good, "surprise": 1})
    with pytest.raises(ValidationError):
        ev.ClientRegistered.model_validate({k: v for k, v in good.items() if k != "correlation_id"})


def test_delivery_outcomes_carry_the_fields_contacts_consumes() -> None:
    contract = {"message_id", "case_id", "case_owner_id", "contact_point_id", "channel", "provider_message_id"}
    for cls in (ev.MessageDelivered, ev.MessageBounced, ev.MessageComplained, ev.SmsFailed, ev.OptOutReceived):
        assert cls.SOURCE == ev.SOURCE_NOTIFICATIONS
        assert contract <= set(cls.model_fields), cls.__name__
    assert ev.MessageBounced.model_fields["bounce_type"].annotation is not None
    with pytest.raises(ValidationError):
        ev.MessageBounced(
            correlation_id="c",
            message_id="m",
            case_id="k",
            case_owner_id="o",
            contact_point_id="p",
            channel="email",
            provider_message_id="x",
            bounce_type="soft",  # type: ignore[arg-type]
        )
