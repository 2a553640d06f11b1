"""Event evolution (hardening item 12): an event of a known type and version with an added field, at the top or
inside a payload, is handled by every consumer; producers stay strict. And the idempotency records' key layout
(``_PerKeyPersistence`` overrides powertools' private ``_get_key``) is pinned against the installed powertools."""

from __future__ import annotations

import inspect
import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from pydantic import ValidationError

from infra.definition import STACK
from infra.local.dispatcher import sqs_record
from infra.local.lambda_runtime import ACCOUNT, context_for
from infra.provision import Provisioned
from services.contacts import handlers as contacts
from services.enrichment import handlers as enrichment
from services.imports import handlers as imports
from services.notifications import handlers as notifications
from services.notifications import repository as notifications_repository
from shared import consumer
from shared.events import CaseData, CaseFileImported, CaseOpened, CaseOwnerData, ClientRegistered, Event, parse_envelope
from tests.integration.support import REGION, client


def _evolved(event: Event, top: dict[str, Any], nested: tuple[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    detail = {**json.loads(event.model_dump_json()), **top}
    if nested:
        where, extra = nested
        target = detail[where][0] if isinstance(detail[where], list) else detail[where]
        target.update(extra)
    return {"version": "0", "id": str(uuid.uuid4()), "source": event.SOURCE, "detail-type": event.DETAIL_TYPE,
            "account": ACCOUNT, "time": datetime.now(UTC).isoformat(), "region": REGION, "resources": [],
            "detail": detail}


def _deliver(service: str, handler: Any, envelope: dict[str, Any]) -> dict[str, Any]:
    fn = next(f for f in STACK.functions if f.service == service and f.handler == "on_bus_events")
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:finview-test-{service}-inbox"
    message = {"Body": json.dumps(envelope), "MessageId": str(uuid.uuid4()), "ReceiptHandle": "rh"}
    result: dict[str, Any] = handler({"Records": [sqs_record(message, arn, REGION)]}, context_for(fn, REGION, "t"))
    return result


def _registered() -> ClientRegistered:
    return ClientRegistered(correlation_id="corr", client_id="c-evo", legal_name="Evo AG", business_unit_id="default",
                            sender_email="no-reply@finview.example")


def test_contacts_consumer_ignores_added_fields(aws: Provisioned) -> None:
    event = CaseFileImported(
        correlation_id="corr", import_id="i-1", client_id="c-evo", row_numbers=[2], matched_by="new",
        case_owner=CaseOwnerData(case_owner_id="owner-evo", last_name="Muster"),
        cases=[CaseData(case_id="case-evo", amount=Decimal("10"), opened_on=date(2026, 1, 5))],
        contact_points=[],
    )
    envelope = _evolved(event, {"source_system": "erp"}, ("cases", {"dunning_level": 2}))
    assert _deliver("contacts", contacts.on_bus_events, envelope) == {"batchItemFailures": []}
    from services.contacts.cases import repository as case_repository

    assert case_repository.get_owner("owner-evo") is not None


def test_imports_consumer_ignores_added_fields(aws: Provisioned) -> None:
    envelope = _evolved(_registered(), {"vat_id": "DE123"})
    assert _deliver("imports", imports.on_bus_events, envelope) == {"batchItemFailures": []}


def test_enrichment_consumer_ignores_added_fields(aws: Provisioned) -> None:
    event = CaseOpened(correlation_id="corr", client_id="c-evo", case_owner_id="o", case_id="case-evo",
                       opened_on=date(2026, 1, 5))
    assert _deliver("enrichment", enrichment.on_bus_events, _evolved(event, {"priority": "high"})) == {
        "batchItemFailures": []
    }
    from services.enrichment import repository

    tracked = repository.get_case("case-evo")
    assert tracked is not None and tracked.opened_on == date(2026, 1, 5)


def test_notifications_consumer_ignores_added_fields(aws: Provisioned) -> None:
    envelope = _evolved(_registered(), {"vat_id": "DE123"})
    assert _deliver("notifications", notifications.on_bus_events, envelope) == {"batchItemFailures": []}
    assert notifications_repository.sender_for("c-evo") == "no-reply@finview.example"


def test_producers_stay_strict_and_a_wrong_known_field_is_still_refused() -> None:
    with pytest.raises(ValidationError):
        ClientRegistered(**{**_registered().model_dump(), "vat_id": "DE123"})
    broken = _evolved(_registered(), {"vat_id": "DE123", "client_id": None})
    with pytest.raises(ValidationError):
        parse_envelope(broken)


def test_powertools_persistence_key_override_is_still_used(aws: Provisioned) -> None:
    """``_PerKeyPersistence`` relies on powertools calling its private ``_get_key(idempotency_key)`` for every
    record; if an upgrade renames or stops calling it, records silently move to one hot partition."""
    params = list(inspect.signature(DynamoDBPersistenceLayer._get_key).parameters)
    assert params == ["self", "idempotency_key"]
    table = aws.names.table("notifications")
    store = consumer._persistence(table, "pin", aws.endpoint_url + "#pin")
    record = DataRecord(idempotency_key="pin#abc", status="INPROGRESS", expiry_timestamp=2**31)
    store._put_record(record)
    items = client(aws, "dynamodb").scan(TableName=table)["Items"]
    assert [(i["PK"]["S"], i["SK"]["S"]) for i in items] == [("pin#abc", "IDEMPOTENCY")]
    assert store._get_record("pin#abc").idempotency_key == "pin#abc"
    store._delete_record(record)
    assert client(aws, "dynamodb").scan(TableName=table)["Items"] == []
