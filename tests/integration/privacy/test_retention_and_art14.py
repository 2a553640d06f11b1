"""Records that expire on their own (retention classes) and the GDPR Art. 14 notice report, on moto's server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from infra.provision import Provisioned
from services.contacts.identity import Identity
from services.contacts.privacy import art14
from services.contacts.privacy.subject_access import one_month_after
from services.imports import repository as imports_repository
from shared import aws as shared_aws
from shared import expiry
from shared.events import ContactPointData, ContactPointsTraced, MessageSent, TracedContactPoint
from tests.integration.contacts.cases.support import deliver
from tests.integration.imports import support as imports
from tests.integration.privacy.support import CASE, OWNER

CSV = (
    b"invoice_number;amount;opened_on;first_name;last_name;email\n"
    b"R-1;120,50;2026-09-01;Erika;Muster;erika@example.de\n"
    b"R-2;not an amount;2026-09-01;Hans;Kaputt;hans@example.de\n"
)


def _job_items(import_id: str) -> list[dict[str, Any]]:
    table = shared_aws.table(imports_repository.settings.get().table)
    return list(table.query(KeyConditionExpression=Key("PK").eq(f"JOB#{import_id}"))["Items"])


def test_staged_rows_and_rejections_expire_after_their_class_and_the_job_record_stays(aws: Provisioned) -> None:
    imports.register_client("client-r")
    imports.drop(aws, "client-r/debtors.csv", CSV)
    imports.run_drops(aws)
    job = imports.job_for(aws, "client-r/debtors.csv")
    items = _job_items(str(job["import_id"]))
    # (the invoice numbers the file's repeated-invoice check looks up are not stored: the run keeps them in /tmp)
    personal = [i for i in items if str(i["SK"]).startswith(("ROW#", "REJECT#"))]
    assert {str(i["SK"]).split("#")[0] for i in items} == {"ROW", "REJECT", "JOB"}
    now = datetime.now(UTC)
    for item in personal:
        assert abs(int(item["expiration"]) - (now + timedelta(days=21)).timestamp()) < 120
    table = imports_repository.settings.get().table
    expiry.sweep(table, now + timedelta(days=20))  # what TTL deletes by then: not the rows yet
    assert {str(i["SK"]) for i in _job_items(str(job["import_id"]))} >= {str(i["SK"]) for i in personal}
    assert expiry.sweep(table, now + timedelta(days=22)) >= len(personal)
    left = [str(i["SK"]) for i in _job_items(str(job["import_id"]))]
    assert left == ["JOB"]


def _traced(client_id: str, obtained_at: datetime) -> ContactPointsTraced:
    return ContactPointsTraced(
        correlation_id="c",
        client_id=client_id,
        case_owner_id=OWNER,
        case_id=CASE,
        attempt=1,
        provider="bureau",
        obtained_at=obtained_at,
        candidates=[
            TracedContactPoint(
                point=ContactPointData(type="phone", value="+4915123456789"), confidence=Decimal("0.9"), trusted=True
            )
        ],
    )


def test_traced_data_owes_the_art14_notice_due_at_the_first_contact_until_the_agency_records_it(
    aws: Provisioned, world: dict[str, Any]
) -> None:
    api, client_id = world["api"], world["client_id"]
    obtained = datetime.now(UTC) - timedelta(days=3)
    assert deliver(_traced(client_id, obtained)) == {"batchItemFailures": []}
    assert deliver(_traced(client_id, obtained)) == {"batchItemFailures": []}  # the same point again: one notice
    report = api.call("GET", f"/clients/{client_id}/art14-notices").body
    (notice,) = report["notices"]
    assert (notice["case_owner_id"], notice["type"], notice["provider"]) == (OWNER, "phone", "bureau")
    assert (notice["notice_due_on"], notice["overdue"]) == (one_month_after(obtained.date()).isoformat(), False)
    later = art14.report(client_id, Identity("local-admin", "agency_admin"), at=obtained + timedelta(days=40))
    assert [n.overdue for n in later.notices] == [True]

    # A message reaches the person: the notice had to go with it, so it is due that day.
    sent_at = datetime.now(UTC) - timedelta(days=1)
    sent = MessageSent(
        correlation_id="c",
        message_id="m-9",
        case_id=CASE,
        case_owner_id=OWNER,
        contact_point_id=None,
        channel="letter",
        provider_message_id=None,
        client_id=client_id,
        kind="contact_request",
        recipient="Hauptstr. 1, 10115 Berlin",
        template="de/contact_request",
        language="de",
        cause_event_id="ev-9",
        sent_at=sent_at,
    )
    assert deliver(sent.model_copy(update={"traced_data": True})) == {"batchItemFailures": []}
    (notice,) = api.call("GET", f"/clients/{client_id}/art14-notices").body["notices"]
    assert (notice["notice_due_on"], notice["overdue"]) == (sent_at.date().isoformat(), True)

    # The agency gives it and records it: nothing owed any more, the audit keeps how.
    given = {"evidence": "paragraph in the letter of today", "given_on": datetime.now(UTC).date().isoformat()}
    reply = api.call("POST", f"/case-owners/{OWNER}/art14-notice", given)
    assert (reply.status, reply.body["notices_cleared"]) == (200, 1), reply.body
    assert api.call("GET", f"/clients/{client_id}/art14-notices").body["notices"] == []
    audit = api.call("GET", f"/case-owners/{OWNER}/audit", query={"limit": "200"}).body["items"]
    assert next(e for e in audit if e["action"] == "art14.notice_given")["why"]["evidence"] == given["evidence"]


def test_messages_to_a_debtor_are_kept_as_evidence_of_contact_then_expire(aws: Provisioned) -> None:
    from services.notifications import message_records
    from services.notifications import repository as notifications

    now = datetime.now(UTC)
    assert message_records.claim(
        {"message_id": "m-ev", "kind": "reminder", "channel": "email", "recipient": "erika@example.de",
         "case_owner_id": OWNER, "case_id": CASE}
    )  # fmt: skip
    message_records.link_provider_id("ses-ev", "m-ev")
    assert notifications.claim_delivery("cause-ev", "action_email", "erika@example.de", "c")
    notifications.link_delivery(OWNER, "cause-ev", "action_email", "erika@example.de")
    table = notifications.settings.get().table
    keys = [
        ("MESSAGE#m-ev", "RECORD"),
        ("PROVIDER#ses-ev", "MESSAGE"),
        ("DELIVERY#cause-ev", "action_email#erika@example.de"),
        (f"OWNER#{OWNER}", "DELIVERY#cause-ev#action_email#erika@example.de"),
    ]
    kept = expiry.CLASSES["message_records"]
    assert kept.days >= 6 * 365  # the longest limitation period of a claim about the contact (GB: 6 years)

    def stored() -> list[dict[str, Any]]:
        items = [shared_aws.table(table).get_item(Key={"PK": pk, "SK": sk}).get("Item") for pk, sk in keys]
        return [i for i in items if i is not None]

    assert len(stored()) == 4
    for item in stored():
        assert abs(int(item["expiration"]) - (now + kept).timestamp()) < 120, item["PK"]
    expiry.sweep(table, now + kept - timedelta(days=1))  # the local expiry job: not yet
    assert len(stored()) == 4
    expiry.sweep(table, now + kept + timedelta(days=1))
    assert stored() == []


def test_a_message_decided_without_traced_data_costs_no_art14_read(aws: Provisioned, world: dict[str, Any]) -> None:
    """The gate tells (``traced_data``) whether the person had traced points when it let the message out; without
    any, no notice can be owed, so contacts does not look for one (one Query fewer per message). Unknown (an
    event from before the flag): it looks, as before."""
    sent = MessageSent(
        correlation_id="c",
        message_id="m-10",
        case_id=CASE,
        case_owner_id=OWNER,
        contact_point_id=None,
        channel="email",
        provider_message_id="p-10",
        client_id=world["client_id"],
        kind="payment_plan_reminder",
        recipient="erika@example.de",
        template="de/payment_plan_reminder",
        language="de",
        cause_event_id="ev-10",
        sent_at=datetime.now(UTC),
    )
    looked: list[str] = []
    items = art14._items

    def looking(client_id: str, case_owner_id: str | None = None) -> list[dict[str, Any]]:
        looked.append(str(case_owner_id))
        return items(client_id, case_owner_id)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(art14, "_items", looking)
        assert deliver(sent.model_copy(update={"traced_data": False})) == {"batchItemFailures": []}
        assert looked == []
        unknown = sent.model_copy(update={"event_id": "e-unknown", "traced_data": None})
        assert deliver(unknown) == {"batchItemFailures": []}
        assert looked == [OWNER]
