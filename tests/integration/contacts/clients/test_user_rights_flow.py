"""A user's rights change travels to notifications: operational recipients follow, late access gets invited."""

from __future__ import annotations

import json
from typing import Any

from infra.local.dispatcher import sqs_record
from infra.local.lambda_runtime import LambdaContext
from infra.local.stack import sent_emails
from infra.provision import Provisioned
from services.notifications import handlers as notifications
from services.notifications import repository as notification_store
from tests.integration.contacts.support import Api, new_client
from tests.integration.support import receive_all


def _forward_to_notifications(aws: Provisioned) -> list[str]:
    """Deliver what the bus put in the notifications queue, in the real SQS shape; returns the detail types."""
    messages = receive_all(aws, "notifications-inbox")
    if not messages:
        return []  # Lambda is never invoked with an empty batch
    records = [sqs_record(m, "arn:aws:sqs:eu-west-1:123456789012:q", "eu-west-1") for m in messages]
    result = notifications.on_bus_events({"Records": records}, LambdaContext("notifications", 30))
    assert result == {"batchItemFailures": []}
    return [json.loads(m["Body"])["detail-type"] for m in messages]


def _invitations(aws: Provisioned, email: str) -> list[dict[str, Any]]:
    return [m for m in sent_emails(aws.endpoint_url, to=email) if "accès" in m["subject"]]


def test_rights_changes_keep_notifications_in_step(aws: Provisioned) -> None:
    api = Api(aws)
    cid = new_client(api)["client_id"]
    created = api.call(
        "POST",
        f"/clients/{cid}/users",
        {
            "first_name": "Lena",
            "last_name": "Late",
            "email": "lena@client.example",
            "platform_access": False,
            "language": "fr",
        },
    )
    assert created.status == 201 and created.body["language"] == "fr"
    path = f"/clients/{cid}/users/{created.body['user_id']}"
    _forward_to_notifications(aws)
    assert notification_store.operational_contacts(cid) == []
    assert _invitations(aws, "lena@client.example") == []

    assert api.call("PATCH", path, {"operational": True, "platform_access": True}).status == 200
    assert "ClientUserRightsChanged.v1" in _forward_to_notifications(aws)
    assert notification_store.operational_contacts(cid) == [("lena@client.example", "fr")]
    # In her language, from the client's business unit (the built-in one: FinView).
    assert [m["subject"] for m in _invitations(aws, "lena@client.example")] == ["Votre accès à FinView"]

    assert api.call("PATCH", path, {"operational": False}).status == 200
    _forward_to_notifications(aws)
    assert notification_store.operational_contacts(cid) == []
    assert len(_invitations(aws, "lena@client.example")) == 1  # access was already on: no second invitation

    assert api.call("PATCH", path, {"commercial": True}).status == 200
    assert "ClientUserRightsChanged.v1" not in _forward_to_notifications(aws)  # nothing notifications cares about


def test_a_users_language_changes_for_every_client_it_belongs_to(aws: Provisioned) -> None:
    api = Api(aws)
    first, second = new_client(api)["client_id"], new_client(api, "Wasserwerke Beispiel AG")["client_id"]
    created = api.call(
        "POST",
        f"/clients/{first}/users",
        {"first_name": "Nora", "last_name": "Neu", "email": "nora@client.example", "operational": True},
    )
    assert created.status == 201 and created.body.get("language") is None
    user_id = created.body["user_id"]
    linked = api.call("POST", f"/clients/{second}/users/link", {"user_id": user_id, "operational": True})
    assert linked.status == 201
    _forward_to_notifications(aws)
    assert notification_store.operational_contacts(second) == [("nora@client.example", None)]

    # Changed through one client: it is the person's language, so both clients' e-mails follow.
    changed = api.call("PATCH", f"/clients/{first}/users/{user_id}", {"language": "fr"})
    assert changed.status == 200 and changed.body["language"] == "fr" and changed.body["operational"] is True
    assert _forward_to_notifications(aws).count("ClientUserRightsChanged.v1") == 2
    for cid in (first, second):
        assert notification_store.operational_contacts(cid) == [("nora@client.example", "fr")]
        assert api.call("GET", f"/clients/{cid}/users/{user_id}").body["language"] == "fr"

    # A rights change leaves the language as it is; null clears it.
    assert api.call("PATCH", f"/clients/{second}/users/{user_id}", {"commercial": True}).body["language"] == "fr"
    cleared = api.call("PATCH", f"/clients/{second}/users/{user_id}", {"language": None})
    assert cleared.status == 200 and cleared.body.get("language") is None
    _forward_to_notifications(aws)
    assert notification_store.operational_contacts(first) == [("nora@client.example", None)]
    assert api.call("GET", f"/clients/{first}/users/{user_id}").body.get("language") is None

    refused = api.call("PATCH", f"/clients/{first}/users/{user_id}", {"language": "french"})
    assert refused.status == 422 and refused.error["field"] == "language", refused.body
