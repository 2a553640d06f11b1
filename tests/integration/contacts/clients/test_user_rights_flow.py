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
