"""DynamoDB access for the contacts table (single-table design).

Keys:
  CLIENT#<id>      PROFILE | SETTINGS | USER#<user_id>
  PERSON#<email>   PROFILE                      (same e-mail = same person, whatever the client)
  OWNER#<id>       PROFILE | CASE#<case_id> | CP#<type>#<cp_id> | DEFAULT#<type> | AUDIT#<ts>#<id>
  CASE#<id>        POINTER                      (case id → case owner)
GSI1: CLIENT#<id>#CASES / <opened_on>#<case_id> lists a client's cases; CLIENTS / <name>#<id> lists clients.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from services.contacts import domain
from services.contacts.models import Case, CaseFile, CaseOwner, Client, ClientUser, ContactPoint
from shared import aws
from shared.events import CaseData, CaseOwnerData


def _table() -> Any:
    return aws.table(aws.env("CONTACTS_TABLE"))


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _clean(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if v is not None and k not in {"PK", "SK", "GSI1PK", "GSI1SK"}}


def _put_new(item: dict[str, Any]) -> bool:
    """Put unless the key exists; False when it did (a re-delivery or a duplicate)."""
    try:
        _table().put_item(Item=item, ConditionExpression="attribute_not_exists(PK)")
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


# ---- clients ----------------------------------------------------------------------------------------------


def put_client(client: Client) -> None:
    item = client.model_dump(mode="json")
    item.update(
        PK=f"CLIENT#{client.client_id}",
        SK="PROFILE",
        GSI1PK="CLIENTS",
        GSI1SK=f"{client.legal_name.casefold()}#{client.client_id}",
    )
    _put_new(item)


def get_client(client_id: str) -> Client | None:
    item = _table().get_item(Key={"PK": f"CLIENT#{client_id}", "SK": "PROFILE"}).get("Item")
    return Client.model_validate(_clean(item)) if item else None


def put_client_user(user: ClientUser) -> bool:
    item = user.model_dump(mode="json")
    item.update(PK=f"CLIENT#{user.client_id}", SK=f"USER#{user.user_id}")
    return _put_new(item)


def list_client_users(client_id: str) -> list[ClientUser]:
    resp = _table().query(KeyConditionExpression=Key("PK").eq(f"CLIENT#{client_id}") & Key("SK").begins_with("USER#"))
    return [ClientUser.model_validate(_clean(i)) for i in resp["Items"]]


def person_id_for(email: str, new_id: str) -> str:
    """The person id of this e-mail, creating the person with ``new_id`` if none exists."""
    key = {"PK": f"PERSON#{email.lower()}", "SK": "PROFILE"}
    if _put_new({**key, "person_id": new_id, "email": email.lower(), "created_at": _now()}):
        return new_id
    return str(_table().get_item(Key=key, ConsistentRead=True)["Item"]["person_id"])


def put_settings(client_id: str, settings: dict[str, Any]) -> None:
    _table().put_item(Item={"PK": f"CLIENT#{client_id}", "SK": "SETTINGS", "settings": settings, "updated_at": _now()})


def get_settings(client_id: str) -> dict[str, Any] | None:
    item = _table().get_item(Key={"PK": f"CLIENT#{client_id}", "SK": "SETTINGS"}).get("Item")
    return dict(item["settings"]) if item else None


# ---- case owners, cases, contact points --------------------------------------------------------------------


def ensure_case_owner(client_id: str, owner: CaseOwnerData) -> bool:
    item = owner.model_dump(mode="json")
    item.update(PK=f"OWNER#{owner.case_owner_id}", SK="PROFILE", client_id=client_id, created_at=_now())
    return _put_new(_drop_none(item))


def ensure_case(client_id: str, case_owner_id: str, case: CaseData) -> bool:
    """Create the case and its pointer together; False if the case already existed."""
    item = case.model_dump(mode="json")
    item.update(
        PK=f"OWNER#{case_owner_id}",
        SK=f"CASE#{case.case_id}",
        case_owner_id=case_owner_id,
        client_id=client_id,
        status="open",
        GSI1PK=f"CLIENT#{client_id}#CASES",
        GSI1SK=f"{case.opened_on.isoformat()}#{case.case_id}",
    )
    pointer = {"PK": f"CASE#{case.case_id}", "SK": "POINTER", "case_owner_id": case_owner_id, "client_id": client_id}
    client = aws.client("dynamodb")
    from boto3.dynamodb.types import TypeSerializer

    ser = TypeSerializer()
    table = aws.env("CONTACTS_TABLE")
    try:
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": {k: ser.serialize(v) for k, v in _drop_none(i).items()},
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
                for i in (item, pointer)
            ]
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "TransactionCanceledException":
            return False
        raise


def contact_point_ids(case_owner_id: str) -> set[str]:
    items = _query_all(Key("PK").eq(f"OWNER#{case_owner_id}") & Key("SK").begins_with("CP#"))
    return {str(i["contact_point_id"]) for i in items}


def add_contact_point(case_owner_id: str, new: domain.NewContactPoint) -> bool:
    data = new.data
    item: dict[str, Any] = {
        "PK": f"OWNER#{case_owner_id}",
        "SK": f"CP#{data.type}#{new.contact_point_id}",
        "contact_point_id": new.contact_point_id,
        "type": data.type,
        "value": data.value,
        "address": data.address.model_dump() if data.address else None,
        "observation": data.observation,
        "valid": True,
        "qualification": "pending",
        "is_default": False,
        "source": new.source,
        "created_at": _now(),
    }
    return _put_new(_drop_none(item))


def get_case_file(case_id: str, include_invalid: bool = False) -> CaseFile | None:
    pointer = _table().get_item(Key={"PK": f"CASE#{case_id}", "SK": "POINTER"}).get("Item")
    if not pointer:
        return None
    owner_id = str(pointer["case_owner_id"])
    items = _query_all(Key("PK").eq(f"OWNER#{owner_id}"))
    by_sk = {str(i["SK"]): i for i in items}
    case_item = by_sk.get(f"CASE#{case_id}")
    profile = by_sk.get("PROFILE")
    if not case_item or not profile:
        return None
    points = [ContactPoint.model_validate(_clean(i)) for sk, i in by_sk.items() if sk.startswith("CP#")]
    if not include_invalid:
        points = [p for p in points if p.valid]
    points.sort(key=lambda p: (p.type, not p.is_default, p.qualification != "validated", p.created_at))
    return CaseFile(
        case=Case.model_validate(_clean(case_item)),
        case_owner=CaseOwner.model_validate(_clean(profile)),
        contact_points=points,
    )


def list_cases(
    client_id: str, limit: int = 50, start: dict[str, Any] | None = None
) -> tuple[list[Case], dict[str, Any] | None]:
    kwargs: dict[str, Any] = {
        "IndexName": "GSI1",
        "KeyConditionExpression": Key("GSI1PK").eq(f"CLIENT#{client_id}#CASES"),
        "Limit": limit,
    }
    if start:
        kwargs["ExclusiveStartKey"] = start
    resp = _table().query(**kwargs)
    return [Case.model_validate(_clean(i)) for i in resp["Items"]], resp.get("LastEvaluatedKey")


def _query_all(condition: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"KeyConditionExpression": condition}
    while True:
        resp = _table().query(**kwargs)
        items.extend(resp["Items"])
        if "LastEvaluatedKey" not in resp:
            return items
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def _drop_none(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if v is not None}
