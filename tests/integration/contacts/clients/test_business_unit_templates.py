"""A business unit's own wording (its communication templates): refused when it is saved if it cannot be used (422
naming the template and the problem), and otherwise sent, through the bus and SES, inside our layout."""

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


@pytest.fixture
def unit(aws: Provisioned, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    domain = f"t{uuid.uuid4().hex[:8]}.agency.example"
    monkeypatch.setenv("SENDER_DOMAIN", domain)
    client(aws, "ses").verify_domain_identity(Domain=domain)
    return {
        "business_unit_id": f"u{uuid.uuid4().hex[:6]}",
        "name": "Inkasso Süd",
        "company": {"legal_name": "Inkasso Süd GmbH"},
        "email": {"sender_email": f"service@{domain}", "sender_name": "Inkasso Süd"},
        "email_footers": {"de": "Inkasso Süd GmbH · München"},
        "language": "de",
    }


def _deliver_to_notifications(aws: Provisioned) -> None:
    messages = receive_all(aws, "notifications-inbox")
    records = [sqs_record(m, "arn:aws:sqs:eu-west-1:123456789012:q", "eu-west-1") for m in messages]
    assert notifications.on_bus_events({"Records": records}, LambdaContext("n", 30)) == {"batchItemFailures": []}


@pytest.mark.parametrize(
    ("key", "template", "code", "part"),
    [
        ("invitation.de", {"subject": "Zugang", "body": "Hallo {{ vorname }}"}, "unknown_variable", "body"),
        ("invitation", {"subject": "Zugang {{ first_name", "body": "Hallo"}, "template_syntax", "subject"),
        ("invitation", {"subject": "Zugang", "body": "Hallo $first_name: $activation_url"}, "template_syntax", "body"),
        ("invitation", {"subject": "Zugang", "body": "{{ first_name.__class__ }}"}, "template_construct", "body"),
        ("invitation", {"subject": "Zugang", "body": "{% include 'de/_legal.txt' %}"}, "template_construct", "body"),
        ("invitation", {"subject": "{{ sender_name | attr('x') }}", "body": "Hallo"}, "template_filter", "subject"),
        ("invitation", {"subject": "Zugang", "body": "{% if false %}x{% endif %}"}, "template_empty", "body"),
        ("cease_efforts_ended", {"subject": "Ende", "body": "Wir hören auf."}, "fixed_template", None),
        ("case_closed", {"subject": "Danke", "body": "Bezahlt."}, "unknown_template", None),
    ],
)
def test_a_template_that_cannot_be_used_is_refused_when_saved(
    aws: Provisioned, unit: dict[str, Any], key: str, template: dict[str, str], code: str, part: str | None
) -> None:
    api = Api(aws)
    reply = api.call("POST", "/business-units", {**unit, "communication_templates": {key: template}})
    assert reply.status == 422, reply.body
    field = f"communication_templates.{key}" + (f".{part}" if part else "")
    assert (reply.error["code"], reply.error["field"]) == (code, field), reply.error
    # Nothing was stored; a good unit is stored, then a bad change to it is refused and the good one kept.
    assert api.call("GET", f"/business-units/{unit['business_unit_id']}").status == 404
    assert api.call("POST", "/business-units", unit).status == 201
    definition = {k: v for k, v in unit.items() if k != "business_unit_id"}
    changed = api.call(
        "PUT", f"/business-units/{unit['business_unit_id']}", {**definition, "communication_templates": {key: template}}
    )
    assert changed.status == 422 and changed.error["code"] == code
    assert api.call("GET", f"/business-units/{unit['business_unit_id']}").body["communication_templates"] == {}


def test_a_units_own_invitation_is_sent_in_its_language_inside_our_layout(
    aws: Provisioned, unit: dict[str, Any]
) -> None:
    api = Api(aws)
    wording = {
        "subject": "Willkommen bei {{ sender_name }}, {{ first_name }}",
        "body": "Hallo {{ first_name }},\n\nIhr Zugang wartet:\n{{ activation_url }}\n\nBis bald & <gerne>!",
    }
    reply = api.call("POST", "/business-units", {**unit, "communication_templates": {"invitation": wording}})
    assert reply.status == 201, reply.body
    cid = new_client(api, business_unit_id=unit["business_unit_id"])["client_id"]
    de, fr = (f"{who}-{uuid.uuid4().hex[:6]}@kunde.example" for who in ("de", "fr"))
    for email, language in ((de, None), (fr, "fr")):
        body = {"first_name": "Zoë", "last_name": "Z", "email": email, "language": language}
        assert api.call("POST", f"/clients/{cid}/users", body).status == 201
    _deliver_to_notifications(aws)

    # German (the unit's language, the user has none): the unit's words, escaped in HTML, with our footer.
    [german] = sent_emails(aws.endpoint_url, to=de)
    assert german["subject"] == "Willkommen bei Inkasso Süd, Zoë"
    assert "<p>Hallo Zoë,</p>" in german["body"] and "Bis bald &amp; &lt;gerne&gt;!" in german["body"]
    assert "/activate?user=" in german["body"] and "Inkasso Süd GmbH · München" in german["body"]
    # French: the unit wrote no French invitation, so ours, in French.
    [french] = sent_emails(aws.endpoint_url, to=fr)
    assert french["subject"] == "Votre accès à Inkasso Süd"


def test_a_units_template_change_is_announced_to_its_clients(aws: Provisioned, unit: dict[str, Any]) -> None:
    api = Api(aws)
    assert api.call("POST", "/business-units", unit).status == 201
    cid = new_client(api, business_unit_id=unit["business_unit_id"])["client_id"]
    receive_all(aws, "notifications-inbox")
    definition = {k: v for k, v in unit.items() if k != "business_unit_id"}
    wording = {"subject": "Bezahlt: {{ case_reference }}", "body": "Danke, {{ debtor_name }}."}
    definition["communication_templates"] = {"closing_fully_paid.fr": wording}
    assert api.call("PUT", f"/business-units/{unit['business_unit_id']}", definition).status == 200
    announced = [json.loads(m["Body"]) for m in receive_all(aws, "notifications-inbox")]
    assert [(e["detail"]["client_id"], e["detail"]["sender"]["templates"]) for e in announced] == [
        (cid, {"closing_fully_paid.fr": wording})
    ]
