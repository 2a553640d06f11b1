"""The case file through the API: reassignment, the notepad, attachments via presigned S3 URLs, the audit."""

from __future__ import annotations

import urllib.parse
import urllib.request
from typing import Any

import pytest

from infra.provision import Provisioned
from tests.integration.contacts.cases.support import Api, deliver, imported
from tests.integration.support import client

CASE = "/cases/case-1"


@pytest.fixture
def api(aws: Provisioned) -> Api:
    assert deliver(imported("owner-1")) == {"batchItemFailures": []}
    deliver(imported("owner-b", client_id="client-b", case_ids=("case-b",)))
    return Api()


def _audit(api: Api) -> list[dict[str, Any]]:
    return list(api.call("GET", "/case-owners/owner-1/audit")[1]["items"])


def test_reassigning_a_case_to_a_collector(api: Api) -> None:
    status, case = api.call("PUT", f"{CASE}/collector", {"collector": "lea@agency.example", "reason": "holidays"})
    assert status == 200 and case["collector"] == "lea@agency.example"
    status, case = api.call("PUT", f"{CASE}/collector", {"collector": "tom@agency.example"})
    assert api.call("GET", CASE)[1]["case"]["collector"] == "tom@agency.example"
    entries = [e for e in _audit(api) if e["action"] == "case.collector_assigned"]
    assert [(e["before"], e["after"]) for e in entries] == [
        ({"collector": "lea@agency.example"}, {"collector": "tom@agency.example"}),
        ({"collector": None}, {"collector": "lea@agency.example"}),
    ]
    assert entries[1]["why"] == {"reason": "holidays"}
    assert api.call("PUT", f"{CASE}/collector", {"collector": "x"}, token="client-a-user")[0] == 403
    assert api.call("PUT", "/cases/nope/collector", {"collector": "x"})[0] == 404
    assert api.call("PUT", f"{CASE}/collector", {"collector": ""})[0] == 422


def test_the_notepad_is_append_only_newest_first_and_paginated(api: Api) -> None:
    for text in ("Called, no answer", "Debtor promised to pay on Friday", "Payment received"):
        status, note = api.call("POST", f"{CASE}/notes", {"text": text})
        assert status == 201 and note["author"] == "collector@agency.example"
    status, first = api.call("GET", f"{CASE}/notes", query={"limit": "2"})
    assert status == 200
    assert [n["text"] for n in first["items"]] == ["Payment received", "Debtor promised to pay on Friday"]
    _, rest = api.call("GET", f"{CASE}/notes", query={"limit": "2", "next_token": first["next_token"]})
    assert [n["text"] for n in rest["items"]] == ["Called, no answer"] and rest["next_token"] is None
    # Every collector (and the client's own users) can read it; only agency staff write in it.
    assert api.call("GET", f"{CASE}/notes", token="client-a-user")[0] == 200
    assert api.call("GET", f"{CASE}/notes", token="client-b-user")[0] == 404
    assert api.call("POST", f"{CASE}/notes", {"text": "x"}, token="client-a-user")[0] == 403
    assert api.call("POST", f"{CASE}/notes", {"text": ""})[0] == 422
    assert [e["action"] for e in _audit(api)].count("case.note_added") == 3
    # There is no route to change or delete a note.
    note_id = first["items"][0]["note_id"]
    assert api.call("DELETE", f"{CASE}/notes/{note_id}")[0] in (404, 405)


def test_notes_stay_objective_like_observations(api: Api) -> None:
    """Every collector reads the notepad: a judgement of the debtor is refused however it is spelled."""
    for text in ("Schuldner ist ein V0llidi0t", "Debtor is a l.i.a.r", "Vraiment un escr*c"):
        status, body = api.call("POST", f"{CASE}/notes", {"text": text})
        assert (status, body["error"]["code"], body["error"]["field"]) == (422, "note_not_objective", "text"), text
    assert api.call("POST", f"{CASE}/notes", {"text": "Strafanzeige wegen Betrug laut Schuldner"})[0] == 201
    assert [e["action"] for e in _audit(api)].count("case.note_added") == 1


def _http(method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> bytes:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return bytes(resp.read())


def test_attachments_upload_and_download_through_presigned_urls(api: Api, aws: Provisioned) -> None:
    content = b"%PDF-1.4 Mahnung an Max Muster"
    status, upload = api.call(
        "POST",
        f"{CASE}/attachments",
        {"filename": "Mahnung.pdf", "content_type": "application/pdf", "size": len(content), "description": "1st"},
    )
    assert status == 201, upload
    assert upload["upload_method"] == "PUT" and upload["expires_in"] > 0
    attachment_id = upload["attachment"]["attachment_id"]
    status, body = api.call("GET", f"{CASE}/attachments/{attachment_id}")
    assert (status, body["error"]["code"]) == (409, "attachment_not_uploaded")
    _http("PUT", upload["upload_url"], content, upload["upload_headers"])

    status, page = api.call("GET", f"{CASE}/attachments")
    assert status == 200 and [a["filename"] for a in page["items"]] == ["Mahnung.pdf"]
    assert page["items"][0]["description"] == "1st"
    status, download = api.call("GET", f"{CASE}/attachments/{attachment_id}", token="client-a-user")
    assert status == 200
    assert _http("GET", download["download_url"]) == content

    assert api.call("DELETE", f"{CASE}/attachments/{attachment_id}", token="client-a-user")[0] == 403
    status, body = api.call("DELETE", f"{CASE}/attachments/{attachment_id}")
    assert status == 204 and body is None
    assert api.call("GET", f"{CASE}/attachments/{attachment_id}")[0] == 404
    assert api.call("GET", f"{CASE}/attachments")[1]["items"] == []
    objects = client(aws, "s3").list_objects_v2(Bucket=aws.names.bucket("attachments")).get("Contents", [])
    assert objects == []
    actions = [e["action"] for e in _audit(api)]
    assert "case.attachment_added" in actions and "case.attachment_deleted" in actions
    assert api.call("DELETE", f"{CASE}/attachments/{attachment_id}")[0] == 404


def test_attachment_limits_are_422_and_store_nothing(api: Api) -> None:
    too_big = {"filename": "scan.pdf", "content_type": "application/pdf", "size": 20 * 1024 * 1024 + 1}
    status, body = api.call("POST", f"{CASE}/attachments", too_big)
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, "attachment_too_large", "size")
    status, body = api.call(
        "POST", f"{CASE}/attachments", {"filename": "x.exe", "content_type": "application/x-msdownload", "size": 5}
    )
    assert (status, body["error"]["field"]) == (422, "content_type")
    assert api.call("GET", f"{CASE}/attachments")[1]["items"] == []
    assert api.call("GET", "/cases/case-b/attachments", token="client-a-user")[0] == 404


def test_the_upload_url_signs_type_and_size_so_s3_refuses_another_file(api: Api) -> None:
    # moto does not check signatures; S3 does, so the signed headers are what enforce the limits there.
    _, upload = api.call("POST", f"{CASE}/attachments", {"filename": "a.txt", "content_type": "text/plain", "size": 3})
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(upload["upload_url"]).query)
    assert set(query["X-Amz-SignedHeaders"][0].split(";")) >= {"content-length", "content-type", "host"}
    assert int(query["X-Amz-Expires"][0]) == upload["expires_in"]
