"""DynamoDB access for clients, their users (persons) and settings. Keys: see ``store``."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from services.contacts import store
from services.contacts.models import Client, ClientUser


def put_client(client: Client) -> None:
    item = client.model_dump(mode="json")
    item.update(
        PK=f"CLIENT#{client.client_id}",
        SK="PROFILE",
        GSI1PK="CLIENTS",
        GSI1SK=f"{client.legal_name.casefold()}#{client.client_id}",
    )
    store.put_new(item)


def get_client(client_id: str) -> Client | None:
    item = store.table().get_item(Key={"PK": f"CLIENT#{client_id}", "SK": "PROFILE"}).get("Item")
    return Client.model_validate(store.clean(item)) if item else None


def put_client_user(user: ClientUser) -> bool:
    item = user.model_dump(mode="json")
    item.update(PK=f"CLIENT#{user.client_id}", SK=f"USER#{user.user_id}")
    return store.put_new(item)


def list_client_users(client_id: str) -> list[ClientUser]:
    resp = store.table().query(
        KeyConditionExpression=Key("PK").eq(f"CLIENT#{client_id}") & Key("SK").begins_with("USER#")
    )
    return [ClientUser.model_validate(store.clean(i)) for i in resp["Items"]]


def person_id_for(email: str, new_id: str) -> str:
    """The person id of this e-mail, creating the person with ``new_id`` if none exists."""
    key = {"PK": f"PERSON#{email.lower()}", "SK": "PROFILE"}
    if store.put_new({**key, "person_id": new_id, "email": email.lower(), "created_at": store.now()}):
        return new_id
    return str(store.table().get_item(Key=key, ConsistentRead=True)["Item"]["person_id"])


def put_settings(client_id: str, settings: dict[str, Any]) -> None:
    store.table().put_item(
        Item={"PK": f"CLIENT#{client_id}", "SK": "SETTINGS", "settings": settings, "updated_at": store.now()}
    )


def get_settings(client_id: str) -> dict[str, Any] | None:
    item = store.table().get_item(Key={"PK": f"CLIENT#{client_id}", "SK": "SETTINGS"}).get("Item")
    return dict(item["settings"]) if item else None
