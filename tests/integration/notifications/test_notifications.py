"""Notifications on moto's server: invitations, import reports and contact actions, each delivered once."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from moto.backends import get_backend

from infra.local.dispatcher import sqs_record
from infra.local.lambda_runtime import ACCOUNT, LambdaContext
from infra.local.stack import sent_emails
from infra.provision import Provisioned
from services.notifications import handlers, repository
from shared.events import (
    ClientRegistered,
    ClientUserCreated,
    ContactActionRequested,
    EnrichmentBudgetReached,
    Event,
    ImportCompleted,
    ImportFailed,
    Sender,
)
from tests.integration.support import client


def _deliver(*events: Event) -> dict[str, Any]:
    records = []
    for i, e in enumerate(events):
        body = json.dumps({"source": e.SOURCE, "detail-type": e.DETAIL_TYPE, "detail": json.loads(e.model_dump_json())})
        records.append(sqs_record({"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": body}, "arn:q", "eu-west-1"))
    return handlers.on_bus_events({"Records": records}, LambdaContext("notifications", 30))


def _emails_to(aws: Provisioned, address: str) -> list[dict[str, Any]]:
    return sent_emails(aws.endpoint_url, to=address)


def _user(email: str, **kw: Any) -> ClientUserCreated:
    fields: dict[str, Any] = dict(
        correlation_id="c",
        client_id="cl-1",
        user_id="u-" + email,
        email=email,
        first_name="Ida",
        last_name="Iversen",
        commercial=False,
        operational=True,
        platform_access=True,
        sender_email="no-reply@finview.example",
    )
    fields.update(kw)
    return ClientUserCreated(**fields)


def test_invitation_only_for_platform_access_and_not_for_a_linked_user(aws: Provisioned) -> None:
    result = _deliver(
        _user("new@client.example"),
        _user("noaccess@client.example", platform_access=False),
        _user("linked@client.example", linked_existing=True),
    )
    assert result == {"batchItemFailures": []}
    invitation = _emails_to(aws, "new@client.example")
    assert len(invitation) == 1 and "/activate?user=u-new@client.example" in invitation[0]["body"]
    # An event from before senders were announced: the deployment's sender, the English template (HTML part).
    assert invitation[0]["subject"] == "Your access to FinView"
    assert invitation[0]["body"].startswith("<!DOCTYPE html>") and "Hello Ida," in invitation[0]["body"]
    assert _emails_to(aws, "noaccess@client.example") == []
    assert _emails_to(aws, "linked@client.example") == []


def test_import_report_goes_to_every_operational_contact_once(aws: Provisioned) -> None:
    _deliver(
        ClientRegistered(
            correlation_id="c",
            client_id="cl-2",
            legal_name="L",
            business_unit_id="b",
            sender_email="no-reply@finview.example",
        ),
        _user("ops1@client.example", client_id="cl-2"),
        _user("ops2@client.example", client_id="cl-2"),
        _user("sales@client.example", client_id="cl-2", operational=False, commercial=True),
    )
    done = ImportCompleted(
        correlation_id="imp",
        import_id="imp",
        client_id="cl-2",
        object_key="cl-2/f.csv",
        rows_read=10,
        case_owners_created=7,
        case_owners_merged=2,
        rows_rejected=1,
    )
    failed = ImportFailed(
        correlation_id="imp2",
        import_id="imp2",
        client_id="cl-2",
        object_key="cl-2/g.pdf",
        reason_code="unsupported_file_type",
        reason="'g.pdf' is not a CSV file",
    )
    _deliver(done, failed)
    _deliver(done)  # redelivered: nothing more goes out
    for ops in ("ops1@client.example", "ops2@client.example"):
        subjects = sorted(m["subject"] for m in _emails_to(aws, ops))
        assert subjects == ["Import failed: cl-2/g.pdf", "Import report: cl-2/f.csv", "Your access to FinView"]
        report = next(m for m in _emails_to(aws, ops) if m["subject"].startswith("Import report"))
        assert "<tr><td>Rows rejected</td><td>1</td></tr>" in report["body"]
    assert [m["subject"] for m in _emails_to(aws, "sales@client.example")] == ["Your access to FinView"]


SENDER = Sender(
    name="Inkasso Nord",
    email="service@inkasso-nord.example",
    reply_to="fragen@inkasso-nord.example",
    company_name="Inkasso Nord GmbH",
    footers={"de": "Inkasso Nord GmbH · Hamburg", "fr": "Inkasso Nord GmbH · Hambourg"},
    language="de",
)


def test_client_users_get_the_business_units_templates_in_their_language(aws: Provisioned) -> None:
    client(aws, "ses").verify_domain_identity(Domain="inkasso-nord.example")  # as contacts requires it
    registered = ClientRegistered(
        correlation_id="c",
        client_id="cl-lang",
        legal_name="L",
        business_unit_id="nord",
        sender_email=SENDER.email,
        sender=SENDER,
    )
    french = _user("fr.ops@client.example", client_id="cl-lang", language="fr", sender=SENDER)
    unset = _user("de.ops@client.example", client_id="cl-lang", sender=SENDER)  # the business unit's language
    english = _user("en.ops@client.example", client_id="cl-lang", language="en", sender=SENDER)
    assert _deliver(registered, french, unset, english) == {"batchItemFailures": []}
    done = ImportCompleted(
        correlation_id="imp-lang",
        import_id="imp-lang",
        client_id="cl-lang",
        object_key="cl-lang/faelle.csv",
        rows_read=12500,
        case_owners_created=11980,
        case_owners_merged=470,
        rows_rejected=50,
    )
    assert _deliver(done) == {"batchItemFailures": []}
    subjects = {
        lang: sorted(m["subject"] for m in _emails_to(aws, f"{lang}.ops@client.example")) for lang in ("fr", "de", "en")
    }
    assert subjects == {
        "fr": ["Rapport d'import : cl-lang/faelle.csv", "Votre accès à Inkasso Nord"],
        "de": ["Ihr Zugang zu Inkasso Nord", "Importbericht: cl-lang/faelle.csv"],
        "en": ["Import report: cl-lang/faelle.csv", "Your access to Inkasso Nord"],
    }
    french_report = next(m for m in _emails_to(aws, "fr.ops@client.example") if "import" in m["subject"])
    # Babel's French grouping (a narrow no-break space), the business unit's French footer, its sender name.
    assert "12\u202f500" in french_report["body"] and "Inkasso Nord GmbH · Hambourg" in french_report["body"]
    assert french_report["source"] == '"Inkasso Nord" <service@inkasso-nord.example>'
    german_report = next(m for m in _emails_to(aws, "de.ops@client.example") if "Import" in m["subject"])
    assert "12.500" in german_report["body"] and "Inkasso Nord GmbH · Hamburg" in german_report["body"]


def test_contact_actions_go_out_on_their_channel(aws: Provisioned) -> None:
    base: dict[str, Any] = dict(
        correlation_id="c",
        client_id="cl-3",
        case_owner_id="o-1",
        contact_point_id="cp",
        requested_by="collector@agency.example",
    )
    email = ContactActionRequested(
        action="email", contact_point_value="debtor@example.de", message="Bitte zahlen", **base
    )
    sms = ContactActionRequested(action="sms", contact_point_value="+4915112345678", message="Bitte melden", **base)
    letter = ContactActionRequested(action="letter", contact_point_value="Hauptstr. 1, 10115 Berlin, DE", **base)
    assert _deliver(email, sms, letter, letter) == {"batchItemFailures": []}
    sent = _emails_to(aws, "debtor@example.de")
    assert len(sent) == 1 and sent[0]["body"] == "Bitte zahlen"
    # The moto server runs in this process: its SNS backend holds the SMS it was asked to send.
    sns = get_backend("sns")[ACCOUNT][aws.region]
    assert [m for m in sns.sms_messages.values() if m[0] == "+4915112345678"] == [("+4915112345678", "Bitte melden")]
    queued = [d for d in repository.outbox("action_letter") if d["request"]["event_id"] == letter.event_id]
    assert len(queued) == 1 and queued[0]["status"] == "queued"


def test_budget_reached_tells_the_operational_contacts_once_in_their_language(aws: Provisioned) -> None:
    registered = ClientRegistered(
        correlation_id="c",
        client_id="cl-b",
        legal_name="L",
        business_unit_id="b",
        sender_email=SENDER.email,
        sender=SENDER.model_copy(update={"language": "de"}),
    )
    _deliver(
        registered,
        _user("ops@client.example", client_id="cl-b"),  # no language of her own: the business unit's
        _user("ops-fr@client.example", client_id="cl-b", language="fr"),
        _user("sales@client.example", client_id="cl-b", operational=False),
    )
    reached = EnrichmentBudgetReached(
        correlation_id="run", client_id="cl-b", month="2026-11", budget=Decimal("50.00"), spent=Decimal("49.95")
    )
    assert _deliver(reached, reached) == {"batchItemFailures": []}
    german = [m for m in _emails_to(aws, "ops@client.example") if "Budget" in m["subject"]]
    assert [m["subject"] for m in german] == ["Budget der Adressermittlung für November 2026 erreicht"]
    body = re.sub(r"[\u00a0\u202f]", " ", german[0]["body"])
    assert "<strong>49,95 €</strong> von 50,00 €" in body and "1. Dezember 2026" in body
    assert "Inkasso Nord GmbH · Hamburg" in body  # the business unit's German footer
    french = [m for m in _emails_to(aws, "ops-fr@client.example") if "Budget" in m["subject"]]
    assert [m["subject"] for m in french] == ["Budget de recherche d'adresses de novembre 2026 atteint"]
    assert "49,95 €</strong> dépensés sur 50,00 €" in re.sub(r"[\u00a0\u202f]", " ", french[0]["body"])
    assert not [m for m in _emails_to(aws, "sales@client.example") if "Budget" in m["subject"]]
