"""The three cease-communication messages (FDCPA 1692c(c)): sent only to a debtor who asked us to cease, through the
contact-policy gate, and delivered by notifications (an e-mail through SES, a letter as a PDF in the outbox)."""

from __future__ import annotations

import io
import json
from typing import Any

from pypdf import PdfReader

from infra.local.stack import sent_emails
from infra.provision import Provisioned
from services.notifications import deliveries
from shared.events import ContactActionRequested, ContactPointData, PostalAddress
from tests.integration.contacts.cases.support import Api, deliver, imported, point_id
from tests.integration.support import client, receive_all

ADDRESS = PostalAddress(street="Lindenstraße 5", postcode="10969", city="Berlin", country="DE")


def _requests(aws: Provisioned) -> list[ContactActionRequested]:
    events = [json.loads(m["Body"]) for m in receive_all(aws, "bus-tap")]
    return [
        ContactActionRequested.model_validate(e["detail"])
        for e in events
        if e["detail-type"] == "ContactActionRequested.v1"
    ]


def _outbox(aws: Provisioned) -> deliveries.Outbox:
    bucket = f"letters-cease-{aws.names.stage}"
    client(aws, "s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": aws.region})
    url = client(aws, "sqs").create_queue(QueueName=f"calls-{bucket}")["QueueUrl"]
    return deliveries.Outbox(bucket, url, None, "https://app.finview.example/unsubscribe")


def _debtor(api: Api, suffix: str, email: str) -> tuple[str, str]:
    """A German debtor with a default e-mail and a default postal address; (case owner id, case id)."""
    status, created = api.call("POST", "/clients", {"legal_name": f"Stadtwerke {suffix}"}, token="local-admin")
    assert status == 201, created
    owner, case = f"owner-cease-{suffix}", f"case-cease-{suffix}"
    file = imported(owner, client_id=created["client_id"], case_ids=(case,), points=())
    points = [
        ContactPointData(type="email", value=email),
        ContactPointData(type="postal_address", value="Lindenstraße 5, 10969 Berlin", address=ADDRESS),
    ]
    assert deliver(file.model_copy(update={"contact_points": points}))["batchItemFailures"] == []
    for point_type in ("email", "postal_address"):
        base = f"/case-owners/{owner}/contact-points/{point_id(api, owner, point_type)}"
        assert api.call("POST", f"{base}/validate", {"evidence": {"kind": "reason", "note": "replied"}})[0] == 200
        assert api.call("POST", f"{base}/make-default", {})[0] == 200
    return owner, case


def _cease(api: Api, owner: str) -> None:
    hold = {"kind": "cease_communication", "reason": "the debtor's letter of 20 November", "evidence": "scan-4711"}
    assert api.call("POST", f"/case-owners/{owner}/holds", hold)[0] == 201


def test_a_notice_needs_the_debtors_request_and_goes_through_the_gate(aws: Provisioned) -> None:
    api = Api()
    to = f"cease.{aws.names.stage}@example.de"
    owner, case = _debtor(api, "a", to)
    notice: dict[str, Any] = {"notice": "remedy_intended", "remedy": "Klage zu erheben", "channel": "email"}
    status, refused = api.call("POST", f"/cases/{case}/cease-notices", notice)
    assert (status, refused["error"]["code"]) == (409, "no_cease_request")

    _cease(api, owner)
    _requests(aws)
    # The hold stops everything else: an ordinary e-mail is refused by the gate.
    status, held = api.call("POST", f"/cases/{case}/actions", {"action": "email"})
    assert status == 409, held
    for body, code in [
        ({"notice": "remedy_intended", "channel": "email"}, "remedy_required"),
        ({"notice": "efforts_ended", "remedy": "Klage zu erheben"}, "remedy_not_expected"),
        ({"notice": "efforts_ended", "channel": "sms"}, "invalid_literal_error"),
    ]:
        status, invalid = api.call("POST", f"/cases/{case}/cease-notices", body)
        assert (status, invalid["error"]["code"]) == (422, code), invalid

    status, requested = api.call("POST", f"/cases/{case}/cease-notices", notice)
    assert status == 202, requested
    assert (requested["status"], requested["action"]) == ("requested", "email")
    [event] = _requests(aws)
    assert event.debtor_message is not None
    assert (event.message_kind, event.debtor_message.remedy) == ("cease_remedy_intended", "Klage zu erheben")
    assert deliveries.deliver(event, _outbox(aws))
    [sent] = sent_emails(aws.endpoint_url, to=to)
    # The debtor lives in Germany: German, with the remedy the collector named.
    assert sent["subject"].endswith("Ankündigung weiterer Schritte") and "Klage zu erheben" in sent["body"]


def test_closing_as_uncollectable_under_a_cease_request_tells_the_debtor_by_letter(aws: Provisioned) -> None:
    api = Api()
    owner, case = _debtor(api, "b", f"cease.b.{aws.names.stage}@example.de")
    _cease(api, owner)
    _requests(aws)
    status, closed = api.call("POST", f"/cases/{case}/close", {"reason": "uncollectable"})
    assert status == 200, closed
    assert closed["closing_message_status"] == "requested" and closed["closing_message"]
    [event] = _requests(aws)
    assert (event.action, event.message_kind, event.automatic) == ("letter", "cease_efforts_ended", True)
    outbox = _outbox(aws)
    assert deliveries.deliver(event, outbox)
    [letter] = client(aws, "s3").list_objects_v2(Bucket=outbox.letters_bucket)["Contents"]
    pdf = client(aws, "s3").get_object(Bucket=outbox.letters_bucket, Key=letter["Key"])["Body"].read()
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Lindenstraße 5" in text and "Inkassobemühungen" in text


def test_a_paid_case_or_a_debtor_without_a_cease_request_gets_no_notice(aws: Provisioned) -> None:
    api = Api()
    _, case = _debtor(api, "c", f"cease.c.{aws.names.stage}@example.de")
    _requests(aws)
    status, closed = api.call("POST", f"/cases/{case}/close", {"reason": "recalled_by_client"})
    assert status == 200 and closed["closing_message"] is None  # no cease request: nothing to say
    assert [e.message_kind for e in _requests(aws)] == []


def test_an_action_of_a_cease_kind_sends_that_notice_not_the_generic_text(aws: Provisioned) -> None:
    api = Api()
    to = f"cease.d.{aws.names.stage}@example.de"
    owner, case = _debtor(api, "d", to)
    action: dict[str, Any] = {"action": "email", "message_kind": "cease_remedy_intended", "remedy": "Klage zu erheben"}
    status, refused = api.call("POST", f"/cases/{case}/actions", action)
    assert (status, refused["error"]["code"]) == (
        409,
        "no_cease_request",
    )  # the notice's own rule, as on /cease-notices

    _cease(api, owner)
    _requests(aws)
    email_point = f"/case-owners/{owner}/contact-points/{point_id(api, owner, 'email')}/actions"
    for path, body, code in [
        (f"/cases/{case}/actions", {**action, "remedy": None}, "remedy_required"),
        (f"/cases/{case}/actions", {**action, "action": "sms"}, "cease_notice_in_writing"),
        (f"/cases/{case}/actions", {**action, "automatic": True}, "cease_notice_by_a_collector"),
        (f"/cases/{case}/actions", {"action": "email", "remedy": "Klage zu erheben"}, "remedy_not_expected"),
        (email_point, action, "case_required"),
    ]:
        status, invalid = api.call("POST", path, body)
        assert (status, invalid["error"]["code"]) == (422, code), invalid

    status, requested = api.call("POST", f"/cases/{case}/actions", action)
    assert status == 202 and requested["status"] == "requested", requested
    status, from_point = api.call(
        "POST", email_point, {**action, "message_kind": "cease_efforts_ended", "remedy": None, "case_id": case}
    )
    assert status == 202 and from_point["contact_point"]["value"] == to, from_point
    events = _requests(aws)
    assert [(e.message_kind, e.debtor_message is not None) for e in events] == [
        ("cease_remedy_intended", True),
        ("cease_efforts_ended", True),
    ]
    outbox = _outbox(aws)
    for event in events:
        assert deliveries.deliver(event, outbox)
    subjects = sorted(m["subject"] for m in sent_emails(aws.endpoint_url, to=to))
    assert len(subjects) == 2 and any(s.endswith("Ankündigung weiterer Schritte") for s in subjects), subjects
    remedy = next(m for m in sent_emails(aws.endpoint_url, to=to) if "Ankündigung" in m["subject"])
    assert "Klage zu erheben" in remedy["body"]
