"""Issue 14's journey on the local stack (moto's server, the real triggers): a debtor imported from an S3 drop, a
note, an attachment, an enrichment result and a sent message; an export that holds every item; an erasure requested
while the case is open (restricted: gone from the list, refused by the contact policy); the case closed; the clock
past the retention period: the erasure job runs and nothing personal about the person is left in any table, any
bucket (every version) or the log, while the audit says when and why."""

from __future__ import annotations

import io
import json
import os
import urllib.request
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.definition import STACK, Names
from infra.demo import _wait_for, call
from infra.local.stack import LocalStack
from shared import expiry
from tests import aws_calls

pytestmark = pytest.mark.e2e
STAGE = "e2e-gdpr"
COLLECTOR = "local-collector"
CSV = (
    "case_number;first_name;last_name;email;phone;street;postcode;city;country;invoice_number;amount;opened_on\n"
    "K-9001;Gerda;Beispielfrau;gerda.beispielfrau@example.de;+49 30 9876543;Lindenallee 17;10115;Berlin;DE;"
    "INV-9001;310,00;2026-05-04\n"
)
# The client's next file: the same person under a variant of her name, matched to her (a second case). Her profile
# keeps the first name only; the variant's match keys must go with her all the same.
VARIANT_CSV = (
    "case_number;first_name;last_name;email;phone;street;postcode;city;country;invoice_number;amount;opened_on\n"
    "K-9002;Gerta;Beispielfrau;gerda.beispielfrau@example.de;+49 30 9876543;Lindenallee 17;10115;Berlin;DE;"
    "INV-9002;45,00;2026-06-01\n"
)
NOTE = "Frau Beispielfrau promised to pay by Friday"
FILE = b"%PDF-1.4 letter from Gerda Beispielfrau"
EMAIL = "gerda.beispielfrau@example.de"
PERSONAL = ("Gerda", "Gerta", "Beispielfrau", EMAIL, "9876543", "Lindenallee", NOTE)  # in any case: keys are folded
AFTER_RETENTION = datetime(2037, 1, 2, 3, 0, tzinfo=UTC)  # closed in 2026: DE keeps 10 years from the year's end


def _everything(stack: LocalStack) -> str:
    """Every item of every table of the stage and every version of every object of its buckets, as text."""
    assert stack.provisioned is not None
    names, out = stack.provisioned.names, list[str]()
    dynamodb, s3 = stack.client("dynamodb"), stack.client("s3")
    for table in STACK.tables:
        for page in dynamodb.get_paginator("scan").paginate(TableName=names.table(table.logical)):
            out.extend(json.dumps(i) for i in page["Items"])
    for bucket in STACK.buckets:
        name = names.bucket(bucket.logical)
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            for version in page.get("Versions", []):
                body = s3.get_object(Bucket=name, Key=version["Key"], VersionId=version["VersionId"])["Body"].read()
                out.append(f"{version['Key']}\n{body.decode('utf-8', 'replace')}")
    return "\n".join(out)


def _journey(stack: LocalStack) -> dict[str, Any]:
    address = {"street": "Marktplatz 1", "postcode": "10117", "city": "Berlin", "country": "DE"}
    status, client = call(stack, "POST", "/clients", {"legal_name": "Stadtwerke Beispiel GmbH", "address": address})
    assert status == 201, client
    client_id = client["client_id"]
    enrichment = {"granted": True, "interval_days": 30, "attempts": 1}
    assert call(stack, "PUT", f"/clients/{client_id}/settings", {"enrichment": enrichment})[0] == 200
    stack.wait_idle()

    # Imported from an S3 drop; a note, an attachment, an enrichment result and a sent message.
    assert stack.provisioned is not None
    drops = stack.provisioned.names.bucket("drops")
    stack.client("s3").put_object(Bucket=drops, Key=f"{client_id}/debtors.csv", Body=CSV.encode())
    stack.wait_idle()
    (case,) = _wait_for(lambda: call(stack, "GET", f"/clients/{client_id}/cases")[1]["items"])
    case_id, owner = case["case_id"], case["case_owner_id"]
    assert call(stack, "POST", f"/cases/{case_id}/notes", {"text": NOTE}, token=COLLECTOR)[0] == 201
    upload = {"filename": "letter.pdf", "content_type": "application/pdf", "size": len(FILE)}
    status, attachment = call(stack, "POST", f"/cases/{case_id}/attachments", upload, token=COLLECTOR)
    assert status == 201, attachment
    put = urllib.request.Request(
        attachment["upload_url"], data=FILE, method="PUT", headers=attachment["upload_headers"]
    )
    assert urllib.request.urlopen(put).status == 200
    assert stack.dispatcher is not None
    enriched = stack.dispatcher.fire(stack.function("enrichment", "on_schedule"))
    assert enriched["found"] == 1, enriched
    stack.wait_idle()
    _, case_file = call(stack, "GET", f"/cases/{case_id}")
    email = next(cp for cp in case_file["contact_points"] if cp["type"] == "email")
    points = f"/case-owners/{owner}/contact-points/{email['contact_point_id']}"
    evidence = {"evidence": {"kind": "reason", "note": "the debtor wrote from it"}}
    assert call(stack, "POST", f"{points}/validate", evidence, token=COLLECTOR)[0] == 200
    assert call(stack, "POST", f"{points}/make-default", {}, token=COLLECTOR)[0] == 200
    status, sent = call(stack, "POST", f"/cases/{case_id}/actions", {"action": "email"}, token=COLLECTOR)
    assert status == 202, sent
    stack.wait_idle()
    assert _wait_for(lambda: [m for m in stack.sent_emails() if EMAIL in m["destinations"]["ToAddresses"]])
    traced = [cp for cp in call(stack, "GET", f"/cases/{case_id}")[1]["contact_points"] if cp["source"] == "enrichment"]
    assert traced, "enrichment found nothing: the export and the erasure would not cover its data"

    # The same person in the client's next file, under a variant of her name: her second case.
    stack.client("s3").put_object(Bucket=drops, Key=f"{client_id}/debtors-2.csv", Body=VARIANT_CSV.encode())
    stack.wait_idle()
    cases = _wait_for(lambda: len(i := call(stack, "GET", f"/clients/{client_id}/cases")[1]["items"]) == 2 and i)
    assert {c["case_owner_id"] for c in cases} == {owner}, cases

    # The export holds every item.
    status, export = call(stack, "POST", f"/case-owners/{owner}/data-export", {"reason": "Art. 15 letter"})
    assert status == 202, export
    stack.wait_idle()
    ready = _wait_for(
        lambda: (r := call(stack, "GET", f"/data-requests/{export['request_id']}")[1])["status"] == "ready" and r
    )
    with urllib.request.urlopen(ready["download_url"]) as answer:
        archive = zipfile.ZipFile(io.BytesIO(answer.read()))
    data = json.loads(archive.read("data.json"))

    # Erasure requested while the case is open: restricted. The reason outlives her: it may not carry her e-mail.
    reason = "Art. 17 request, letter of 20.11."
    personal_reason = call(stack, "POST", f"/case-owners/{owner}/erasure", {"reason": f"asked by {EMAIL}"})
    status, erasure = call(stack, "POST", f"/case-owners/{owner}/erasure", {"reason": reason})
    assert status == 202, erasure
    stack.wait_idle()
    listed = call(stack, "GET", f"/clients/{client_id}/cases")[1]["items"]
    refused = call(stack, "POST", f"/cases/{case_id}/actions", {"action": "email"}, token=COLLECTOR)
    before = _everything(stack)

    # The cases close, the clock passes the retention period, the job runs.
    for closing in cases:
        assert call(stack, "POST", f"/cases/{closing['case_id']}/close", {"reason": "recalled_by_client"})[0] == 200
    first_run = stack.dispatcher.fire(stack.function("contacts", "erase_due"), AFTER_RETENTION)
    stack.wait_idle()
    erased = _wait_for(
        lambda: (r := call(stack, "GET", f"/erasure-requests/{erasure['request_id']}")[1])["status"] == "erased" and r
    )
    names = stack.provisioned.names
    expired = {t.logical: expiry.sweep(names.table(t.logical), AFTER_RETENTION) for t in STACK.tables}
    for bucket in STACK.buckets:
        if bucket.expire_days:
            expiry.sweep_bucket(names.bucket(bucket.logical), bucket.expire_days, AFTER_RETENTION)
    again = stack.dispatcher.fire(stack.function("contacts", "erase_due"), AFTER_RETENTION)
    audit = call(stack, "GET", f"/case-owners/{owner}/audit?limit=200")[1]["items"]
    owner_file = call(stack, "GET", f"/case-owners/{owner}")[1]
    # What the erasure left (the proof, without her data) expires in its class, six years on.
    evidence_expired = AFTER_RETENTION + expiry.CLASSES["erasure_evidence"] + timedelta(days=1)
    expiry.sweep(names.table("contacts"), evidence_expired)
    return {
        "case_id": case_id,
        "data": data,
        "archive": archive,
        "erasure": erasure,
        "listed": listed,
        "refused": refused,
        "before": before,
        "first_run": first_run,
        "erased": erased,
        "expired": expired,
        "again": again,
        "after": _everything(stack),
        "audit": audit,
        "owner": owner_file,
        "personal_reason": personal_reason,
        "evidence_left": call(stack, "GET", f"/case-owners/{owner}")[0],
    }


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[aws_calls.Call], Path]:
    log_file = tmp_path_factory.mktemp("logs") / "lambda.log"
    saved = dict(os.environ)
    try:
        with LocalStack(stage=STAGE, log_file=str(log_file)) as stack, aws_calls.recording() as calls:
            result = _journey(stack)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return result, calls, log_file


def test_the_export_holds_every_item_of_every_service(journey: tuple[dict[str, Any], Any, Path]) -> None:
    result = journey[0]
    sections = result["data"]["sections"]
    contacts = sections["contacts"]
    assert contacts["case_owner"][0]["last_name"] == "Beispielfrau"
    assert [n["text"] for n in contacts["notes"]] == [NOTE]
    (attachment,) = contacts["attachments"]
    assert result["archive"].read(f"attachments/{result['case_id']}/{attachment['attachment_id']}-letter.pdf") == FILE
    assert {cp["source"] for cp in contacts["contact_points"]} == {"import", "enrichment"}
    assert [line["result"] for line in sections["enrichment"]["ledger"] if line.get("result")]  # what the bureau found
    assert [m["recipient"] for m in sections["notifications"]["collector_messages"]] == [EMAIL]
    assert sections["imports"]["staged_rows"] and sections["imports"]["match_profile"]


def test_an_erasure_while_the_case_is_open_restricts_the_person(journey: tuple[dict[str, Any], Any, Path]) -> None:
    result = journey[0]
    assert (result["erasure"]["status"], result["erasure"]["earliest_erasure"]) == ("waiting", None)
    assert result["listed"] == []
    status, refused = result["refused"]
    assert (status, refused["error"]["code"]) == (409, "processing_restricted")
    assert "Beispielfrau" in result["before"]  # kept, restricted, until the law lets go


def test_after_the_retention_nothing_personal_is_left_in_any_table_or_bucket(
    journey: tuple[dict[str, Any], Any, Path],
) -> None:
    result = journey[0]
    assert result["first_run"]["started"] == 1 and result["erased"]["erasing_since"]
    assert set(result["erased"]["answers"]) == {"contacts", "imports", "enrichment", "notifications"}
    after = result["after"].lower()
    assert [p for p in PERSONAL if p.lower() in after] == []
    assert result["again"] == {"owners_checked": 0, "retention_expired": 0, "waiting": 0, "started": 0, "resumed": 0}
    assert result["erased"]["answers"]["imports"]["staged_rows"] == 2  # both files' rows


def test_the_audit_says_when_and_why_and_the_log_holds_none_of_it(journey: tuple[dict[str, Any], Any, Path]) -> None:
    result, _, log_file = journey
    completed = next(e for e in result["audit"] if e["action"] == "erasure.completed")
    assert completed["why"]["reason"] == "Art. 17 request, letter of 20.11."
    status, refused = result["personal_reason"]
    assert (status, refused["error"]["code"]) == (422, "personal_data_in_text")
    assert result["evidence_left"] == 404  # six years after the erasure, its proof is gone too
    assert completed["why"]["retention_law"].startswith("HGB §257") and completed["after"]["erased_at"]
    assert result["owner"]["case_owner"]["erased_at"] and result["owner"]["cases"] == []
    log = log_file.read_text(encoding="utf-8")
    assert log.count("\n") > 20 and [p for p in PERSONAL if p.lower() in log.lower()] == []


def test_every_aws_call_of_the_journey_is_granted(journey: tuple[dict[str, Any], Any, Path]) -> None:
    calls: list[aws_calls.Call] = journey[1]
    assert {c.function.handler for c in calls} >= {"erase_due", "on_bus_events", "app"}
    assert aws_calls.refused(calls, Names(STAGE)) == []
