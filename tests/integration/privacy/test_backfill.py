"""The one-off migration on moto's server, with records in the shape they had before messages were linked to their
debtor: a message record without the owner index, a collector's letter queued in the outbox and a collector's
e-mail sent, neither with a pointer, none with an expiration. After the migration (cut short and resumed, then run
again) export and erasure find every one of them; the sent e-mail, which names nobody, through the ids of the
person's contacts that the request events carry."""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile
from datetime import datetime
from typing import Any

import pytest

from infra import cli
from infra.provision import Provisioned
from services.notifications import backfill
from services.notifications import use_cases as notifications
from shared import aws as shared_aws
from shared import expiry
from shared.events import SubjectErasureRequested
from tests.integration.privacy.support import CASE, OWNER, _pump

CREATED = "2026-06-01T09:00:00+00:00"
OLD_MESSAGE = {"PK": "MESSAGE#m-old", "SK": "RECORD", "message_id": "m-old", "kind": "reminder", "channel": "email",
               "recipient": "erika.old@example.de", "case_owner_id": OWNER, "case_id": CASE, "status": "sent",
               "created_at": CREATED}  # fmt: skip
QUEUED = {"PK": "DELIVERY#cause-queued", "SK": "action_letter#Hauptstr. 1, 10115 Berlin", "status": "queued",
          "created_at": CREATED, "request": {"case_owner_id": OWNER, "action": "letter"}}  # fmt: skip
SENT = {"PK": "DELIVERY#cause-sent", "SK": "action_email#erika.sent@example.de", "status": "sent",
        "created_at": CREATED, "correlation_id": "c", "message_id": "ses-1"}  # fmt: skip
PROVIDER = {"PK": "PROVIDER#ses-old", "SK": "MESSAGE", "message_id": "m-old"}
PERSONAL = ("erika.old@example.de", "Hauptstr. 1", "erika.sent@example.de")


def _scan(table: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_records_from_before_the_owner_links_are_found_by_export_and_erasure_after_the_migration(
    aws: Provisioned, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = world["api"]
    name = aws.names.table("notifications")
    table = shared_aws.table(name)
    for item in (OLD_MESSAGE, QUEUED, SENT, PROVIDER):
        table.put_item(Item=item)
    # Contacts' record of the collector's e-mail keeps the id of its ContactActionRequested (as the gate writes it).
    action = {"PK": f"CASE#{CASE}", "SK": "ACTION#a-old", "action_id": "a-old", "case_id": CASE,
              "case_owner_id": OWNER, "channel": "email", "status": "requested", "decided_at": CREATED,
              "event_id": "cause-sent"}  # fmt: skip
    shared_aws.table(aws.names.table("contacts")).put_item(Item=action)

    # Cut short after each page (a time budget of nothing), it goes on where it stopped.
    runs = [backfill.backfill_owner_links(name, budget_seconds=0, page_items=3)]
    while not runs[-1]["finished"]:
        runs.append(backfill.backfill_owner_links(name, budget_seconds=0, page_items=3))
    assert len(runs) > 2
    counts = runs[-1]["counts"]
    assert (counts["messages_indexed"], counts["deliveries_linked"]) == (1, 1), counts
    assert counts["expirations_set"] >= 4  # the message, its provider pointer, both deliveries (and the new pointer's)
    after = _scan(table)
    # Run again (as the operator does, by the command): finished, nothing written.
    assert cli.main(["backfill", "--stage", aws.names.stage, "--budget", "0"]) == 0
    assert backfill.backfill_owner_links(name)["finished"] is True
    assert _scan(table) == after
    message = table.get_item(Key={"PK": "MESSAGE#m-old", "SK": "RECORD"})["Item"]
    assert message["GSI1PK"] == f"OWNER#{OWNER}#MESSAGES"
    assert int(message["expiration"]) == expiry.expires("message_records", datetime.fromisoformat(CREATED))
    assert all("expiration" in i for i in after if not str(i["PK"]).startswith(("MIGRATION#", "CLIENT#", "IDEM")))

    # Export finds all three (the sent e-mail through the contact ids on the request).
    reply = api.call("POST", f"/case-owners/{OWNER}/data-export", {"reason": "Art. 15 letter"})
    assert reply.status == 202, reply.body
    _pump(aws)
    ready = api.call("GET", f"/data-requests/{reply.body['request_id']}").body
    assert ready["status"] == "ready", ready
    with urllib.request.urlopen(ready["download_url"]) as answer:
        data = json.loads(zipfile.ZipFile(io.BytesIO(answer.read())).read("data.json"))
    section = data["sections"]["notifications"]
    assert {m["message_id"] for m in section["messages"]} == {"m-1", "m-old"}
    assert {d["cause_id"] for d in section["collector_messages"]} == {"cause-queued", "cause-sent"}

    # Erasure removes every one of them.
    published: list[Any] = []
    monkeypatch.setattr(notifications.bus, "publish", published.extend)
    notifications.on_subject_erasure_requested(
        SubjectErasureRequested(
            correlation_id="c",
            request_id="r-erase",
            client_id=world["client_id"],
            case_owner_id=OWNER,
            case_ids=[CASE],
            contact_event_ids=["a-unknown", "cause-sent"],
        )
    )
    left = json.dumps(_scan(table), default=str)
    assert [p for p in PERSONAL if p in left] == []
    assert published[0].counts == {"messages": 2, "letter_files": 0, "collector_messages": 2}
