"""DynamoDB access for business units, clients, their users (persons and memberships) and settings.

Keys: see ``store``. A person (one e-mail) is stored once; each client it belongs to holds a membership item
with the person's rights for that client and a copy of its name, e-mail and phone for listing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from services.contacts import pagination, store
from services.contacts.clients.models import BusinessUnit, Client, ClientUser
from shared import dynamo, outbox
from shared.events import Event

NOT_EXISTS = "attribute_not_exists(PK)"
_serialize = TypeSerializer().serialize


# ---- business units ---------------------------------------------------------------------------------------


def _business_unit_item(unit: BusinessUnit) -> dict[str, Any]:
    item = unit.model_dump(mode="json")
    item.update(
        PK=f"BU#{unit.business_unit_id}",
        SK="PROFILE",
        GSI1PK="BUSINESS_UNITS",
        GSI1SK=f"{unit.name.casefold()}#{unit.business_unit_id}",
    )
    return item


def put_new_business_unit(unit: BusinessUnit) -> bool:
    return store.put_new(_business_unit_item(unit))


def replace_business_unit(unit: BusinessUnit) -> bool:
    """Replace an existing business unit; False when it does not exist."""
    try:
        store.table().put_item(Item=_business_unit_item(unit), ConditionExpression="attribute_exists(PK)")
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def get_business_unit(business_unit_id: str) -> BusinessUnit | None:
    item = (
        store.table().get_item(Key={"PK": f"BU#{business_unit_id}", "SK": "PROFILE"}, ConsistentRead=True).get("Item")
    )
    return BusinessUnit.model_validate(store.clean(item)) if item else None


def list_business_units(limit: int, next_token: str | None) -> tuple[list[BusinessUnit], str | None]:
    items, token = _page_gsi1("BUSINESS_UNITS", limit, next_token)
    return [BusinessUnit.model_validate(store.clean(i)) for i in items], token


# ---- clients ----------------------------------------------------------------------------------------------


def _client_item(client: Client) -> dict[str, Any]:
    item = client.model_dump(mode="json", exclude={"business_unit"})
    item.update(
        PK=f"CLIENT#{client.client_id}",
        SK="PROFILE",
        GSI1PK="CLIENTS",
        GSI1SK=f"{client.legal_name.casefold()}#{client.client_id}",
    )
    return store.drop_none(item)


def put_client(client: Client, events: Sequence[Event] = ()) -> None:
    """Store a new client with its events' outbox rows; a retry with the same id changes nothing."""
    try:
        outbox.put_item(store.table_name(), _client_item(client), events, condition=NOT_EXISTS)
    except ClientError as exc:
        if not dynamo.is_condition_failure(exc):
            raise


def replace_client(client: Client, events: Sequence[Event] = ()) -> None:
    outbox.put_item(store.table_name(), _client_item(client), events, condition="attribute_exists(PK)")


def get_client(client_id: str) -> Client | None:
    item = store.table().get_item(Key={"PK": f"CLIENT#{client_id}", "SK": "PROFILE"}).get("Item")
    return Client.model_validate(store.clean(item)) if item else None


def list_clients(limit: int, next_token: str | None) -> tuple[list[Client], str | None]:
    items, token = _page_gsi1("CLIENTS", limit, next_token)
    return [Client.model_validate(store.clean(i)) for i in items], token


def clients_of_business_unit(business_unit_id: str) -> list[Client]:
    """Every client that picked this business unit (a filtered walk of the client list: business units change
    rarely and an agency has clients in the thousands at most)."""
    items = store.query_all(
        IndexName="GSI1",
        KeyConditionExpression=Key("GSI1PK").eq("CLIENTS"),
        FilterExpression=Attr("business_unit_id").eq(business_unit_id),
    )
    return [Client.model_validate(store.clean(i)) for i in items]


def _page_gsi1(partition: str, limit: int, next_token: str | None) -> tuple[list[dict[str, Any]], str | None]:
    kwargs: dict[str, Any] = {
        "IndexName": "GSI1",
        "KeyConditionExpression": Key("GSI1PK").eq(partition),
        "Limit": limit,
    }
    start = pagination.decode(next_token, expect={"GSI1PK": partition})
    if start:
        kwargs["ExclusiveStartKey"] = start
    resp = store.table().query(**kwargs)
    return resp["Items"], pagination.encode(resp.get("LastEvaluatedKey"))


# ---- persons and client users -----------------------------------------------------------------------------


class PersonExists(Exception):
    pass


def _membership_item(user: ClientUser) -> dict[str, Any]:
    item = user.model_dump(mode="json")
    item.update(
        PK=f"CLIENT#{user.client_id}",
        SK=f"USER#{user.user_id}",
        GSI1PK=f"USER#{user.user_id}",  # the clients a person belongs to
        GSI1SK=f"CLIENT#{user.client_id}",
    )
    return store.drop_none(item)


def create_person_with_membership(user: ClientUser, events: Sequence[Event] = ()) -> None:
    """Create the person (its e-mail must be new) and its first membership, all or nothing.

    Raises ``PersonExists`` when a person with this e-mail is already on the platform.
    """
    now = store.now()
    person = store.drop_none(
        {
            "PK": f"PERSON#{user.email}",
            "SK": "PROFILE",
            "person_id": user.user_id,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "phone": user.phone,
            "language": user.language,
            "created_at": now,
        }
    )
    pointer = {"PK": f"USER#{user.user_id}", "SK": "PERSON", "email": user.email}
    name = store.table_name()
    try:
        store.table().meta.client.transact_write_items(
            TransactItems=[
                *(
                    {"Put": {"TableName": name, "Item": item, "ConditionExpression": NOT_EXISTS}}
                    for item in (person, pointer, _membership_item(user))
                ),
                *({"Put": {"TableName": name, "Item": row}} for row in outbox.rows(events)),
            ]
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "TransactionCanceledException" and get_person(user.email) is not None:
            raise PersonExists(user.email) from exc
        raise


def get_person(email: str) -> dict[str, Any] | None:
    item = (
        store.table().get_item(Key={"PK": f"PERSON#{email.lower()}", "SK": "PROFILE"}, ConsistentRead=True).get("Item")
    )
    return store.clean(item) if item else None


def email_of_user(user_id: str) -> str | None:
    item = store.table().get_item(Key={"PK": f"USER#{user_id}", "SK": "PERSON"}, ConsistentRead=True).get("Item")
    return str(item["email"]) if item else None


def put_new_membership(user: ClientUser, events: Sequence[Event] = ()) -> bool:
    """Link a person to a client (with its events' outbox rows); False when it is already linked to that client."""
    try:
        outbox.put_item(store.table_name(), _membership_item(user), events, condition=NOT_EXISTS)
        return True
    except ClientError as exc:
        if dynamo.is_condition_failure(exc):
            return False
        raise


def replace_membership(user: ClientUser, events: Sequence[Event] = ()) -> None:
    outbox.put_item(store.table_name(), _membership_item(user), events, condition="attribute_exists(PK)")


def memberships_of(user_id: str) -> list[ClientUser]:
    """Every client membership of one person (GSI1: ``USER#<id>``)."""
    items = dynamo.query_all(
        store.table(),
        IndexName="GSI1",
        KeyConditionExpression=Key("GSI1PK").eq(f"USER#{user_id}") & Key("GSI1SK").begins_with("CLIENT#"),
    )
    return [ClientUser.model_validate(store.clean(i)) for i in items]


def replace_membership_and_language(
    user: ClientUser, others: Sequence[ClientUser], events: Sequence[Event] = ()
) -> None:
    """One membership replaced, and the person's language (its profile and its other memberships) set to the
    user's, with the events' outbox rows: all or nothing."""
    name = store.table_name()
    language = (
        {"UpdateExpression": "SET #l = :l", "ExpressionAttributeValues": {":l": {"S": user.language}}}
        if user.language
        else {"UpdateExpression": "REMOVE #l"}
    )
    updates = [
        {
            "Update": {
                "TableName": name,
                "Key": {"PK": {"S": pk}, "SK": {"S": sk}},
                "ConditionExpression": "attribute_exists(PK)",
                "ExpressionAttributeNames": {"#l": "language"},
                **language,
            }
        }
        for pk, sk in [
            (f"PERSON#{user.email}", "PROFILE"),
            *((f"CLIENT#{other.client_id}", f"USER#{other.user_id}") for other in others),
        ]
    ]
    put = {
        "TableName": name,
        "Item": {k: _serialize(v) for k, v in _membership_item(user).items()},
        "ConditionExpression": "attribute_exists(PK)",
    }
    outbox.write(events, name, [{"Put": put}, *updates])


def get_client_user(client_id: str, user_id: str) -> ClientUser | None:
    item = store.table().get_item(Key={"PK": f"CLIENT#{client_id}", "SK": f"USER#{user_id}"}).get("Item")
    return ClientUser.model_validate(store.clean(item)) if item else None


def list_client_users(
    client_id: str, limit: int = 200, next_token: str | None = None
) -> tuple[list[ClientUser], str | None]:
    partition = f"CLIENT#{client_id}"
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": Key("PK").eq(partition) & Key("SK").begins_with("USER#"),
        "Limit": limit,
    }
    start = pagination.decode(next_token, expect={"PK": partition}, sk_prefix="USER#")
    if start:
        kwargs["ExclusiveStartKey"] = start
    resp = store.table().query(**kwargs)
    users = [ClientUser.model_validate(store.clean(i)) for i in resp["Items"]]
    return users, pagination.encode(resp.get("LastEvaluatedKey"))


# ---- settings ---------------------------------------------------------------------------------------------


def put_settings(client_id: str, settings: dict[str, Any], events: Sequence[Event] = ()) -> None:
    item = {"PK": f"CLIENT#{client_id}", "SK": "SETTINGS", "settings": settings, "updated_at": store.now()}
    outbox.put_item(store.table_name(), item, events)


def get_settings(client_id: str) -> dict[str, Any] | None:
    item = store.table().get_item(Key={"PK": f"CLIENT#{client_id}", "SK": "SETTINGS"}, ConsistentRead=True).get("Item")
    return dict(item["settings"]) if item else None


# ---- enrichment costs: a read model fed by enrichment's EnrichmentAttemptSettled events ----------------------


def put_cost_line(client_id: str, month: str, line: dict[str, Any]) -> None:
    """Keyed by case and attempt: a re-delivered event writes the same line again."""
    key = {"PK": f"CLIENT#{client_id}", "SK": f"ENRICHMENT_COST#{month}#{line['case_id']}#{int(line['attempt']):03d}"}
    store.table().put_item(Item={**key, **line})


def cost_lines(client_id: str, month: str) -> list[dict[str, Any]]:
    return [
        store.clean(item)
        for item in store.query_all(
            KeyConditionExpression=Key("PK").eq(f"CLIENT#{client_id}")
            & Key("SK").begins_with(f"ENRICHMENT_COST#{month}#"),
        )
    ]
