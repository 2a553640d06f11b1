"""The event catalogue: one place, versioned names, strict models, envelopes parsed back to their class."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

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


def test_each_v2_of_many_carries_whole_events_of_its_v1_and_nothing_else() -> None:
    """The v2s of many (``Members``): each carries 1 to ``MAX_MEMBERS`` events of exactly its v1 type, whole (a
    member keeps its own id, time and correlation), is in the catalogue beside its v1 and named after it in the
    plural; ``MANY`` finds it from the v1."""
    many = {cls for cls in ev.CATALOGUE.values() if issubclass(cls, ev.Members)}
    assert {cls.DETAIL_TYPE for cls in many} == {
        "ContactActionsRequested.v2",
        "MessagesSent.v2",
        "MessagesDelivered.v2",
        "MessagesBounced.v2",
        "MessagesComplained.v2",
        "SmsesFailed.v2",
        "MessagesFailed.v2",
        "OptOutsReceived.v2",
        "CasesOpened.v2",
        "CaseOwnersContactsChanged.v2",
        "ContactPointsChecked.v2",
    }
    assert set(ev.MANY.values()) == many
    for cls in many:
        one = cls.ONE
        assert ev.MANY[one] is cls and ev.CATALOGUE[(one.SOURCE, one.DETAIL_TYPE)] is one
        assert cls.SOURCE == one.SOURCE and one.DETAIL_TYPE.endswith(".v1")
        assert set(cls.model_fields) == set(ev.Event.model_fields) | {"members"}, cls.__name__
        schema = cls.model_json_schema()["properties"]["members"]
        assert (schema["minItems"], schema["maxItems"]) == (1, ev.MAX_MEMBERS)
        assert schema["items"]["$ref"].endswith(f"/{one.__name__}")
        with pytest.raises(ValidationError):
            cls.model_validate({"correlation_id": "c", "members": []})


def test_a_v2_member_is_read_as_strictly_and_as_leniently_as_its_v1() -> None:
    delivered = ev.MessageDelivered(
        correlation_id="c",
        message_id="m",
        case_id="k",
        case_owner_id="o",
        contact_point_id="p",
        channel="email",
        provider_message_id="ses-1",
    )
    member = {**json.loads(delivered.model_dump_json()), "added_later": 1}  # a producer's new optional field
    envelope: dict[str, Any] = {
        "source": ev.SOURCE_NOTIFICATIONS,
        "detail-type": "MessagesDelivered.v2",
        "detail": {"event_id": "e", "occurred_at": "2026-11-28T19:00:00Z", "correlation_id": "c", "members": [member]},
    }
    parsed = ev.parse_envelope(envelope)
    assert isinstance(parsed, ev.MessagesDeliveredV2) and parsed.as_v1() == [delivered]
    with pytest.raises(ValidationError):  # a member of another type is not taken for one
        ev.parse_envelope({**envelope, "detail": {**envelope["detail"], "members": [{"correlation_id": "c"}]}})
    with pytest.raises(ValidationError):  # producers stay strict
        ev.MessagesDeliveredV2(correlation_id="c", members=[delivered], surprise=1)  # type: ignore[call-arg]
