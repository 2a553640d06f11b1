"""Which postal address a debtor message names (address block, RDG §13a "found by tracing", the debtor's country):
the default one; without a default, the most recently validated; with nothing validated, the client's newest
before a traced one (seeds 000/003: automatic work uses the default; a traced point waits for a person)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

from infra.provision import Provisioned
from services.contacts.cases import debtor_messages
from shared.events import ContactPointData, ContactPointsTraced, PostalAddress, TracedContactPoint
from tests.integration.contacts.cases.support import Api, deliver, imported, point_id

OWNER, CASE = "owner-address", "case-address"
GIVEN = PostalAddress(street="Hauptstraße 1", postcode="10115", city="Berlin", country="DE")
TRACED = PostalAddress(street="12 rue de la Paix", postcode="75002", city="Paris", country="FR")


def _traced(client_id: str) -> ContactPointsTraced:
    point = ContactPointData(type="postal_address", value="12 rue de la Paix, 75002 Paris", address=TRACED)
    return ContactPointsTraced(
        correlation_id="trace",
        client_id=client_id,
        case_owner_id=OWNER,
        case_id=CASE,
        attempt=1,
        provider="sandbox",
        obtained_at=datetime.now(UTC),
        candidates=[TracedContactPoint(point=point, confidence=Decimal("0.5"), trusted=False)],
    )


def _address() -> tuple[str | None, bool]:
    _, message = debtor_messages.debtor_message(CASE, "contact_request")
    return (message.address.city if message.address else None), message.address_from_enrichment


def test_the_default_then_the_most_recently_validated_then_the_clients_address(aws: Provisioned) -> None:
    api = Api()
    status, client = api.call("POST", "/clients", {"legal_name": "Stadtwerke"}, token="local-admin")
    assert status == 201
    given = imported(OWNER, client_id=client["client_id"], case_ids=(CASE,), points=())
    point = ContactPointData(type="postal_address", value="Hauptstraße 1, Berlin", address=GIVEN)
    assert deliver(given.model_copy(update={"contact_points": [point]}))["batchItemFailures"] == []
    # The traced address is newer, but pending: only a person can confirm it.
    assert deliver(_traced(client["client_id"]))["batchItemFailures"] == []
    assert _address() == ("Berlin", False)

    base = f"/case-owners/{OWNER}/contact-points"
    berlin = point_id(api, OWNER, "postal_address", "Hauptstraße 1, Berlin")
    paris = point_id(api, OWNER, "postal_address", "12 rue de la Paix, 75002 Paris")
    evidence = {"evidence": {"kind": "reason", "note": "acknowledgement of receipt"}}
    assert api.call("POST", f"{base}/{berlin}/validate", evidence)[0] == 200
    time.sleep(0.01)
    assert api.call("POST", f"{base}/{paris}/validate", evidence)[0] == 200
    # The traced address was confirmed after the client's: it is the freshest evidence of where the debtor lives.
    assert _address() == ("Paris", True)
    assert api.call("GET", f"{base}/{paris}")[1]["validated_at"] is not None

    assert api.call("POST", f"{base}/{berlin}/make-default", {})[0] == 200
    assert _address() == ("Berlin", False)  # the default always comes first
