"""A data subject's export (GDPR Art. 15/20) on moto's server: contacts answers for its own table, the request
fans out on the bus, imports, enrichment and notifications answer for theirs through their real consumers, and the
answer that completes the set zips data.json and the attachments into the private exports bucket; the link works,
the request is audited, and every consumer is idempotent."""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile
from typing import Any

from infra.provision import Provisioned
from shared import subject_requests
from tests.integration.contacts.support import Api
from tests.integration.privacy.support import CASE, FILE, OWNER, _deliver_to, _pump
from tests.integration.support import receive_all


def test_an_export_holds_every_service_s_data_and_the_attachment_behind_a_24_hour_link(
    aws: Provisioned, world: dict[str, Any]
) -> None:
    api: Api = world["api"]
    reply = api.call(
        "POST", f"/case-owners/{OWNER}/data-export", {"reason": "Art. 15 letter", "received_on": "2026-11-20"}
    )
    assert reply.status == 202, reply.body
    request = reply.body
    assert (request["status"], request["answer_due_on"]) == ("collecting", "2026-12-20")
    assert request["progress"]["contacts"]["answered"] is True
    assert request["progress"]["imports"] == {"answered": False, "parts_received": 0, "parts": None, "counts": {}}
    assert (
        api.call("GET", f"/data-requests/{request['request_id']}", token=api.client_user(world["client_id"])).status
        == 403
    )

    moved = _pump(aws)
    assert moved == {"imports": 1, "enrichment": 1, "notifications": 1, "contacts": 3}, moved
    status = api.call("GET", f"/data-requests/{request['request_id']}").body
    assert status["status"] == "ready", status
    assert status["progress"]["enrichment"]["counts"] == {"contacts_copy": 1, "tracked_cases": 1, "ledger": 0}
    assert status["progress"]["notifications"]["counts"] == {"messages": 1, "collector_messages": 0}

    with urllib.request.urlopen(status["download_url"]) as answer:
        archive = zipfile.ZipFile(io.BytesIO(answer.read()))
    data = json.loads(archive.read("data.json"))
    sections = data["sections"]
    assert sorted(sections) == ["contacts", "enrichment", "imports", "notifications"]
    contacts = sections["contacts"]
    assert contacts["case_owner"][0]["first_name"] == "Max"
    assert [p["value"] for p in contacts["contact_points"]] == ["erika@example.de"]
    assert [n["text"] for n in contacts["notes"]] == ["promised to pay on Friday"]
    assert [c["case_id"] for c in contacts["cases"]] == [CASE]
    assert {e["action"] for e in contacts["audit_trail"]} >= {"case_file.imported", "case.note_added"}
    imported = next(e for e in contacts["audit_trail"] if e["action"] == "case_file.imported")
    assert imported["after"]["changes"][0]["action"] == "case_owner.created"  # the import's parts, named
    assert sections["imports"]["match_profile"][0]["emails"] == {"erika@example.de": "t1"}
    assert sections["enrichment"]["contacts_copy"][0]["subject"]["last_name"] == "Muster"
    assert sections["notifications"]["messages"][0]["recipient"] == "erika@example.de"
    (attachment,) = contacts["attachments"]
    assert archive.read(f"attachments/{CASE}/{attachment['attachment_id']}-letter.pdf") == FILE
    assert all("PK" not in r for kinds in sections.values() for records in kinds.values() for r in records)

    # Redelivered answers change nothing; the audit says who asked, when and why, and that it was ready.
    for service in ("imports", "enrichment", "notifications"):
        assert receive_all(aws, f"{service}-inbox") == []
    audit = api.call("GET", f"/case-owners/{OWNER}/audit", query={"limit": "200"}).body["items"]
    requested = [e for e in audit if e["action"] == "data_export.requested"]
    assert len(requested) == 1 and requested[0]["why"]["reason"] == "Art. 15 letter"
    assert len([e for e in audit if e["action"] == "data_export.ready"]) == 1


def test_an_answer_redelivered_after_the_export_is_ready_changes_nothing(
    aws: Provisioned, world: dict[str, Any]
) -> None:
    api: Api = world["api"]
    request_id = api.call("POST", f"/case-owners/{OWNER}/data-export", {}).body["request_id"]
    answers: list[dict[str, Any]] = []
    for service in ("imports", "enrichment", "notifications"):
        assert _deliver_to(service, receive_all(aws, f"{service}-inbox")) == {"batchItemFailures": []}
    answers = receive_all(aws, "contacts-inbox")
    assert len(answers) == 3
    assert _deliver_to("contacts", answers) == {"batchItemFailures": []}
    first = api.call("GET", f"/data-requests/{request_id}").body
    assert first["status"] == "ready"
    for message in answers:  # SQS delivers again with new message ids: the event ids are the same
        message["MessageId"] = message["MessageId"] + "-again"
    assert _deliver_to("contacts", answers) == {"batchItemFailures": []}
    again = api.call("GET", f"/data-requests/{request_id}").body
    assert again["progress"] == first["progress"] and again["link_expires_at"] == first["link_expires_at"]


def test_a_large_section_goes_in_parts_each_under_the_bus_limit() -> None:
    records = [{"n": i, "text": "x" * 1000} for i in range(600)]
    parts = subject_requests.split({"messages": records})
    assert len(parts) == 4
    assert all(len(json.dumps(p)) < subject_requests.PART_BYTES + 2000 for p in parts)
    assert [r for p in parts for r in p["messages"]] == records
