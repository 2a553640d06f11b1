"""A data subject's erasure (GDPR Art. 17) on moto's server: requested while a case is open, the person is
restricted with no erasure date; closing the case gives the date the law of the client's country sets (DE: 10 years
from the end of the year, HGB §257); the daily job erases after it, in every service through the bus: nothing
personal about the person is left in any table or bucket (all versions), the audit says when and why, and the job
and the consumers can run again without changing anything."""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key

from infra.definition import STACK
from infra.local.dispatcher import scheduled_event
from infra.local.lambda_runtime import context_for
from infra.provision import Provisioned
from services.contacts import handlers
from services.contacts.privacy import erasure
from services.imports import repository as imports_repository
from shared import aws as shared_aws
from shared import expiry
from tests.integration.privacy.support import CASE, OWNER, _pump
from tests.integration.support import REGION, receive_all

PERSONAL = ("erika@example.de", "Muster", "promised to pay", "letter.pdf")
REASON = "Art. 17 request, letter of 20.11."


def _everything(aws_: Provisioned) -> str:
    """Every item of every table of the stage, as text."""
    dynamodb = shared_aws.client("dynamodb")
    out: list[str] = []
    # Paginated: one moto server holds every test's stage, and ListTables returns 100 names a page.
    tables = [t for page in dynamodb.get_paginator("list_tables").paginate() for t in page["TableNames"]]
    for table in tables:
        if aws_.names.stage not in table:
            continue
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            out.extend(json.dumps(i) for i in page["Items"])
    return "\n".join(out)


def _versions(bucket: str, prefix: str) -> list[dict[str, Any]]:
    page = shared_aws.client("s3").list_object_versions(Bucket=bucket, Prefix=prefix)
    return [*page.get("Versions", []), *page.get("DeleteMarkers", [])]


def test_erasure_waits_for_the_open_case_and_the_retention_then_erases_everything_but_the_audit(
    aws: Provisioned, world: dict[str, Any]
) -> None:
    api = world["api"]
    # Traces in imports: a match key, as matching writes it, and a staged row of the import that brought the person.
    imports_repository.DynamoMatchIndex(world["client_id"]).put({"email:erika@example.de": {OWNER: "t1"}}, {})
    imports_repository.batch_put([{"PK": "JOB#import-1", "SK": f"ROW#{OWNER}#000002", "email": "erika@example.de"}])
    export = api.call("POST", f"/case-owners/{OWNER}/data-export", {}).body
    _pump(aws)
    assert api.call("GET", f"/data-requests/{export['request_id']}").body["status"] == "ready"
    assert _versions(aws.names.bucket("attachments"), f"cases/{CASE}/") != []
    assert any(p in _everything(aws) for p in PERSONAL)

    # Requested while the case is open: restricted at once, no erasure date yet.
    reply = api.call("POST", f"/case-owners/{OWNER}/erasure", {"reason": REASON, "received_on": "2026-11-20"})
    assert reply.status == 202, reply.body
    request = reply.body
    assert (request["status"], request["earliest_erasure"]) == ("waiting", None)
    assert request["retention_law"].startswith("HGB §257")
    assert api.call("GET", f"/clients/{world['client_id']}/cases").body["items"] == []
    (hold,) = api.call("GET", f"/case-owners/{OWNER}/holds").body  # the contact policy refuses (test_restriction)
    assert (hold["kind"], hold["active"], hold["rule"]) == ("restriction", True, "processing_restricted")
    lift = api.call("POST", f"/case-owners/{OWNER}/holds/{hold['hold_id']}/end", {"reason": "by mistake"})
    assert (lift.status, lift.body["error"]["code"]) == (409, "erasure_pending")
    again = api.call("POST", f"/case-owners/{OWNER}/erasure", {"reason": "twice"})
    assert (again.status, again.body["error"]["code"]) == (409, "erasure_already_requested")
    assert erasure.erase_due(datetime(2040, 1, 1, tzinfo=UTC))["waiting"] == 1  # a case is open: never

    # The case closes: the law keeps its records 10 years from the end of the year.
    assert api.call("POST", f"/cases/{CASE}/close", {"reason": "recalled_by_client"}).status == 200
    assert erasure.erase_due(datetime(2036, 12, 31, tzinfo=UTC)) == {"waiting": 1, "started": 0, "resumed": 0}
    waiting = api.call("GET", f"/erasure-requests/{request['request_id']}").body
    assert waiting["earliest_erasure"] == "2037-01-01"

    # After it, the job erases: contacts at once, the others through the bus.
    fire = scheduled_event("erase-due", REGION, datetime(2037, 1, 2, tzinfo=UTC))  # the daily schedule, as Lambda
    assert (
        handlers.erase_due(fire, context_for(STACK.function("contacts", "erase_due"), REGION, "test"))["started"] == 1
    )
    _pump(aws)
    done = api.call("GET", f"/erasure-requests/{request['request_id']}").body
    assert done["status"] == "erased", done
    assert done["answers"]["imports"] == {"match_keys": 1, "match_profile": 1, "staged_rows": 1}
    assert done["answers"]["notifications"]["messages"] == 1
    assert done["answers"]["enrichment"]["tracked_cases"] == 1

    everything = _everything(aws)
    assert [p for p in PERSONAL if p in everything] == []
    assert _versions(aws.names.bucket("attachments"), f"cases/{CASE}/") == []  # every version of the file
    assert _versions(aws.names.bucket("exports"), f"data-exports/{export['request_id']}") == []

    # The audit keeps that it happened, when and why, not the data; the person is a tombstone.
    owner = api.call("GET", f"/case-owners/{OWNER}").body
    assert owner["case_owner"]["erased_at"] and owner["cases"] == []
    audit = api.call("GET", f"/case-owners/{OWNER}/audit", query={"limit": "200"}).body["items"]
    completed = next(e for e in audit if e["action"] == "erasure.completed")
    assert completed["why"]["reason"] == REASON and completed["why"]["kept_until"] == "2037-01-01"
    assert {e["action"] for e in audit} >= {"case_file.imported", "case.note_added", "erasure.requested"}
    assert all(e.get("after") is None for e in audit if not e["action"].startswith("erasure."))

    # Idempotent and resumable: the job again, the request redelivered, change nothing.
    assert erasure.erase_due(datetime(2037, 1, 3, tzinfo=UTC)) == {"waiting": 0, "started": 0, "resumed": 0}
    assert _everything(aws) == everything

    # What stays (stripped audit, the erasure's entries, the tombstone, the request) is the proof, kept in its
    # retention class and then gone for good: the local expiry job does what DynamoDB TTL does.
    contacts = shared_aws.table(aws.names.table("contacts"))

    def left() -> list[dict[str, Any]]:
        owner_items = contacts.query(KeyConditionExpression=Key("PK").eq(f"OWNER#{OWNER}"))["Items"]
        request_items = contacts.query(KeyConditionExpression=Key("PK").eq(f"DSR#{request['request_id']}"))["Items"]
        return [*owner_items, *request_items]

    kept, started = expiry.CLASSES["erasure_evidence"], datetime(2037, 1, 2, tzinfo=UTC)  # counted from the job's run
    assert {str(i["SK"]).split("#")[0] for i in left()} >= {"AUDIT", "PROFILE", "ERASURE", "REQUEST"}
    for item in left():
        assert int(item["expiration"]) == int((started + kept).timestamp()), item["SK"]
    expiry.sweep(contacts.name, started + kept - timedelta(days=1))
    assert len(left()) > 3
    expiry.sweep(contacts.name, started + kept + timedelta(days=1))
    assert left() == []


def test_an_erasure_request_needs_a_reason_and_the_agency(aws: Provisioned, world: dict[str, Any]) -> None:
    api = world["api"]
    assert api.call("POST", f"/case-owners/{OWNER}/erasure", {}).status == 422
    user = api.client_user(world["client_id"])
    assert api.call("POST", f"/case-owners/{OWNER}/erasure", {"reason": "x"}, token=user).status == 403
    # The reason stays in the audit after the person is gone: it may not carry their e-mail or phone number.
    for reason in ("asked by erika@example.de", "called from +49 30 901820, letter to follow"):
        refused = api.call("POST", f"/case-owners/{OWNER}/erasure", {"reason": reason})
        assert (refused.status, refused.body["error"]["code"]) == (422, "personal_data_in_text"), refused.body
        assert refused.body["error"]["field"] == "reason" and reason not in json.dumps(refused.body)
    assert api.call("GET", f"/case-owners/{OWNER}/holds").body == []  # nothing stored, no hold set
    assert receive_all(aws, "imports-inbox") == []


def test_the_same_person_s_earlier_merged_case_owner_goes_with_her(aws: Provisioned, world: dict[str, Any]) -> None:
    """A match review merged an earlier case owner of the same person into her (its tombstone, audit and the other
    services' traces stay under its own id): the erasure finds it through her audit and erases it everywhere."""
    from services.contacts import store
    from services.contacts.cases import audit
    from services.enrichment import use_cases as enrichment
    from services.imports.matching import OwnerProfile
    from services.notifications import message_records
    from shared.events import CaseOwnerContactsChanged, TraceSubject

    api, client_id, merged = world["api"], world["client_id"], "owner-merged-earlier"
    actor = audit.Actor.system("test")
    profile = {"PK": f"OWNER#{merged}", "SK": "PROFILE", "case_owner_id": merged, "client_id": client_id,
               "first_name": "Erika", "last_name": "Musterfrau-Alt", "merged_into": OWNER}  # fmt: skip
    store.table().put_item(Item=profile)
    created = audit.entry(merged, actor, "case_owner.created", target_type="case_owner", target_id=merged,
                          after={"last_name": "Musterfrau-Alt"})  # fmt: skip
    merge = audit.entry(OWNER, actor, "case_owner.merged", target_type="case_owner", target_id=OWNER,
                        after={"merged_case_owner_id": merged})  # fmt: skip
    store.table().put_item(Item=created)
    store.table().put_item(Item=merge)
    imports_repository.DynamoMatchIndex(client_id).put(
        {"name:erika musterfrau alt": {merged: "import-0#2"}},
        {merged: OwnerProfile(merged, "import-0#2", OWNER, identities={"erika|musterfrau-alt": "import-0#2"})},
    )
    subject = TraceSubject(first_name="Erika", last_name="Musterfrau-Alt")
    enrichment.on_case_owner_contacts_changed(
        CaseOwnerContactsChanged(
            correlation_id="c", client_id=client_id, case_owner_id=merged, subject=subject, contact_points=[]
        )
    )
    message = {"message_id": "m-merged", "kind": "reminder", "channel": "email", "recipient": "erika.alt@example.de",
               "client_id": client_id, "case_owner_id": merged}  # fmt: skip
    assert message_records.claim(message)
    _pump(aws)
    left_behind = ("musterfrau-alt", "musterfrau alt", "erika.alt@example.de")
    assert all(p in _everything(aws).lower() for p in left_behind)

    # Her export holds the earlier file too, in every service.
    export = api.call("POST", f"/case-owners/{OWNER}/data-export", {}).body
    _pump(aws)
    ready = api.call("GET", f"/data-requests/{export['request_id']}").body
    assert ready["status"] == "ready", ready
    with urllib.request.urlopen(ready["download_url"]) as answer:
        sections = json.loads(zipfile.ZipFile(io.BytesIO(answer.read())).read("data.json"))["sections"]
    assert {p.get("last_name") for p in sections["contacts"]["case_owner"]} >= {"Musterfrau-Alt"}
    assert {p["case_owner_id"] for p in sections["imports"]["match_profile"]} == {OWNER, merged}
    assert {c["subject"]["last_name"] for c in sections["enrichment"]["contacts_copy"]} == {"Muster", "Musterfrau-Alt"}
    assert {m["message_id"] for m in sections["notifications"]["messages"]} == {"m-1", "m-merged"}

    assert api.call("POST", f"/case-owners/{OWNER}/erasure", {"reason": REASON}).status == 202
    assert api.call("POST", f"/cases/{CASE}/close", {"reason": "recalled_by_client"}).status == 200
    assert erasure.erase_due(datetime(2037, 1, 2, tzinfo=UTC))["started"] == 1
    _pump(aws)
    requests = api.call("GET", f"/case-owners/{OWNER}/audit", query={"limit": "200"}).body["items"]
    (completed,) = [e for e in requests if e["action"] == "erasure.completed"]
    assert completed["after"]["counts"]["notifications"]["messages"] == 2
    everything = _everything(aws).lower()
    assert [p for p in left_behind if p in everything] == []
    tombstone = store.table().get_item(Key={"PK": f"OWNER#{merged}", "SK": "PROFILE"})["Item"]
    assert tombstone["erased_at"] and tombstone["merged_into"] == OWNER and "last_name" not in tombstone
