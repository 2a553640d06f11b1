"""Senders: the default business unit sends from the deployment's SenderEmail; a unit's own sender must be one the
deployment may send from and that SES has verified, or it is refused when it is set (422), not in a queue later."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from infra.local.dispatcher import sqs_record
from infra.local.lambda_runtime import LambdaContext
from infra.local.stack import sent_emails
from infra.provision import Provisioned
from services.notifications import handlers as notifications
from tests.integration.contacts.support import Api, new_client
from tests.integration.support import client, receive_all

pytestmark = pytest.mark.integration


def _unit(sender: str, unit_id: str = "emea") -> dict[str, Any]:
    return {
        "business_unit_id": unit_id,
        "name": "Agency EMEA",
        "company": {"legal_name": "Inkasso EMEA GmbH"},
        "email": {"sender_email": sender},
    }


@pytest.fixture
def domain(aws: Provisioned, monkeypatch: pytest.MonkeyPatch) -> str:
    """A domain the deployment allows business units to send from (SenderDomain), not yet verified in SES."""
    name = f"d{uuid.uuid4().hex[:8]}.agency.example"  # moto's SES is shared by the whole session
    monkeypatch.setenv("SENDER_DOMAIN", name)
    return name


def test_a_sender_not_verified_in_ses_is_refused_until_it_is(aws: Provisioned, domain: str) -> None:
    api = Api(aws)
    reply = api.call("POST", "/business-units", _unit(f"billing@{domain}"))
    assert (reply.status, reply.error["code"], reply.error["field"]) == (
        422,
        "sender_not_verified",
        "email.sender_email",
    )
    assert domain in reply.error["message"]
    assert api.call("GET", "/business-units/emea").status == 404  # nothing stored

    client(aws, "ses").verify_email_identity(EmailAddress=f"billing@{domain}")
    assert api.call("POST", "/business-units", _unit(f"billing@{domain}")).status == 201
    # Any address of a verified domain will do.
    client(aws, "ses").verify_domain_identity(Domain=domain)
    assert api.call("POST", "/business-units", _unit(f"post@{domain}", "emea-2")).status == 201


def test_a_sender_outside_the_deployments_domains_is_refused(aws: Provisioned, domain: str) -> None:
    client(aws, "ses").verify_domain_identity(Domain="elsewhere.example")  # verified, but IAM would refuse it
    reply = Api(aws).call("POST", "/business-units", _unit("billing@elsewhere.example"))
    assert (reply.status, reply.error["code"]) == (422, "sender_not_allowed")
    assert "SenderDomain" in reply.error["message"]


def test_changing_a_units_sender_to_an_unverified_one_is_refused_and_keeps_the_old(
    aws: Provisioned, domain: str
) -> None:
    api = Api(aws)
    client(aws, "ses").verify_email_identity(EmailAddress=f"billing@{domain}")
    assert api.call("POST", "/business-units", _unit(f"billing@{domain}")).status == 201
    definition = {k: v for k, v in _unit(f"new@{domain}").items() if k != "business_unit_id"}
    reply = api.call("PUT", "/business-units/emea", definition)
    assert (reply.status, reply.error["code"]) == (422, "sender_not_verified")
    assert api.call("GET", "/business-units/emea").body["email"]["sender_email"] == f"billing@{domain}"


def test_the_default_unit_sends_its_invitation_from_the_deployments_sender(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: the built-in unit's sender was hard-coded no-reply@finview.example, which a deployment with another
    # SenderEmail neither verifies nor allows: every invitation was refused by SES and ended in the DLQ.
    sender = f"ops@{uuid.uuid4().hex[:8]}.agency.example"
    monkeypatch.setenv("DEFAULT_SENDER_EMAIL", sender)  # the SenderEmail parameter, for contacts and notifications
    client(aws, "ses").verify_email_identity(EmailAddress=sender)
    api = Api(aws)
    cid = new_client(api)["client_id"]
    assert api.call("GET", "/business-units/default").body["email"]["sender_email"] == sender
    to = f"petra-{uuid.uuid4().hex[:6]}@stadtwerke.example"
    reply = api.call("POST", f"/clients/{cid}/users", {"first_name": "Petra", "last_name": "Meyer", "email": to})
    assert reply.status == 201
    messages = receive_all(aws, "notifications-inbox")  # what the bus delivered: ClientRegistered, ClientUserCreated
    [created] = [e["detail"] for m in messages if (e := json.loads(m["Body"]))["detail-type"] == "ClientUserCreated.v1"]
    assert created["sender_email"] == sender
    records = [sqs_record(m, "arn:aws:sqs:eu-west-1:123456789012:q", "eu-west-1") for m in messages]
    assert notifications.on_bus_events({"Records": records}, LambdaContext("n", 30)) == {"batchItemFailures": []}
    [invitation] = sent_emails(aws.endpoint_url, to=to)
    assert invitation["source"] == f'"FinView" <{sender}>'


def test_a_units_new_footer_and_language_reach_the_e_mails_of_its_clients(aws: Provisioned, domain: str) -> None:
    api = Api(aws)
    client(aws, "ses").verify_domain_identity(Domain=domain)
    unit = _unit(f"billing@{domain}", f"u{uuid.uuid4().hex[:6]}")
    assert api.call("POST", "/business-units", unit).status == 201
    cid = new_client(api, business_unit_id=unit["business_unit_id"])["client_id"]
    receive_all(aws, "notifications-inbox")  # the client's first ClientRegistered
    definition = {k: v for k, v in unit.items() if k != "business_unit_id"}
    definition |= {"language": "de", "email_footers": {"de": "Inkasso EMEA GmbH · Amtsgericht Köln HRB 1"}}
    assert api.call("PUT", f"/business-units/{unit['business_unit_id']}", definition).status == 200
    messages = receive_all(aws, "notifications-inbox")
    announced = [e["detail"] for m in messages if (e := json.loads(m["Body"]))["detail-type"] == "ClientRegistered.v1"]
    assert [(e["client_id"], e["sender"]["language"], e["sender"]["footers"]) for e in announced] == [
        (cid, "de", {"de": "Inkasso EMEA GmbH · Amtsgericht Köln HRB 1"})
    ]
    assert api.call("PUT", f"/business-units/{unit['business_unit_id']}", definition).status == 200
    assert receive_all(aws, "notifications-inbox") == []  # nothing changed: nothing announced
