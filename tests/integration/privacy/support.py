"""Helpers of the data-protection tests: a person known to every service, and the bus run by hand (each
service's inbox to its real consumer, as Lambda calls it)."""

from __future__ import annotations

import importlib
import urllib.request
from datetime import date
from typing import Any

from infra.definition import STACK
from infra.local.dispatcher import sqs_record
from infra.local.lambda_runtime import ACCOUNT, context_for
from infra.provision import Provisioned
from services.enrichment import use_cases as enrichment
from services.imports import repository as imports_repository
from services.imports.matching import OwnerProfile
from services.notifications import message_records
from shared.events import CaseOpened, CaseOwnerContactsChanged, TraceSubject
from tests.integration.contacts.cases.support import deliver, imported
from tests.integration.contacts.support import Api, new_client
from tests.integration.support import REGION, receive_all

OWNER = "owner-export"
CASE = "case-export"
FILE = b"%PDF-1.4 the debtor's letter of 20.11.2026"


def _deliver_to(service: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """SQS records of ``messages`` to ``service``'s bus consumer, exactly as Lambda calls it."""
    function = STACK.function(service, "on_bus_events")
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:finview-test-{service}-inbox"
    handler = importlib.import_module(f"services.{service}.handlers").on_bus_events
    result: dict[str, Any] = handler(
        {"Records": [sqs_record(m, arn, REGION) for m in messages]}, context_for(function, REGION, "test")
    )
    return result


def _pump(aws: Provisioned) -> dict[str, int]:
    """Let the bus run: each service's inbox to its consumer until nothing moves; how many records each got."""
    moved: dict[str, int] = {}
    for _ in range(5):
        quiet = True
        for service in ("imports", "enrichment", "notifications", "contacts"):
            messages = receive_all(aws, f"{service}-inbox")
            if messages:
                quiet = False
                moved[service] = moved.get(service, 0) + len(messages)
                assert _deliver_to(service, messages) == {"batchItemFailures": []}
        if quiet:
            return moved
    raise AssertionError("the bus never went quiet")


def world_of(aws: Provisioned) -> dict[str, Any]:
    api = Api(aws)
    address = {"street": "Hauptstr. 1", "postcode": "10115", "city": "Berlin", "country": "DE"}
    client_id = str(new_client(api, "Stadtwerke Beispiel GmbH", address=address)["client_id"])
    event = imported(OWNER, client_id=client_id, case_ids=(CASE,), points=(("email", "erika@example.de"),))
    assert deliver(event) == {"batchItemFailures": []}
    assert (
        api.call("POST", f"/cases/{CASE}/notes", {"text": "promised to pay on Friday"}, token="local-collector").status
        == 201
    )
    upload = api.call(
        "POST",
        f"/cases/{CASE}/attachments",
        {"filename": "letter.pdf", "content_type": "application/pdf", "size": len(FILE)},
        token="local-collector",
    )
    assert upload.status == 201, upload.body
    put = urllib.request.Request(
        upload.body["upload_url"], data=FILE, method="PUT", headers=upload.body["upload_headers"]
    )
    assert urllib.request.urlopen(put).status == 200
    # What the other services hold about the person, written by their own code.
    imports_repository.DynamoMatchIndex(client_id).put(
        {}, {OWNER: OwnerProfile(OWNER, "import-1", emails={"erika@example.de": "t1"})}
    )
    enrichment.on_case_owner_contacts_changed(
        CaseOwnerContactsChanged(
            correlation_id="c",
            client_id=client_id,
            case_owner_id=OWNER,
            subject=TraceSubject(first_name="Erika", last_name="Muster"),
            contact_points=[],
        )
    )
    enrichment.on_case_opened(
        CaseOpened(
            correlation_id="c", client_id=client_id, case_owner_id=OWNER, case_id=CASE, opened_on=date(2026, 9, 1)
        )
    )
    assert message_records.claim(
        {
            "message_id": "m-1",
            "kind": "contact_request",
            "channel": "email",
            "recipient": "erika@example.de",
            "client_id": client_id,
            "case_id": CASE,
            "case_owner_id": OWNER,
        }
    )
    _pump(aws)  # what the set-up itself put on the bus
    return {"api": api, "client_id": client_id}
