"""DynamoDB access for case owners, cases and contact points. Keys: see ``store``."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from services.contacts import domain, store
from services.contacts.case_models import Case, CaseFile, CaseOwner, ContactPoint
from shared import aws
from shared.events import CaseData, CaseOwnerData


def ensure_case_owner(client_id: str, owner: CaseOwnerData) -> bool:
    item = owner.model_dump(mode="json")
    item.update(PK=f"OWNER#{owner.case_owner_id}", SK="PROFILE", client_id=client_id, created_at=store.now())
    return store.put_new(store.drop_none(item))


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
    table = store.table_name()
    try:
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": {k: ser.serialize(v) for k, v in store.drop_none(i).items()},
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
    items = store.query_all(
        KeyConditionExpression=Key("PK").eq(f"OWNER#{case_owner_id}") & Key("SK").begins_with("CP#")
    )
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
        "created_at": store.now(),
    }
    return store.put_new(store.drop_none(item))


def get_case_file(case_id: str, include_invalid: bool = False) -> CaseFile | None:
    pointer = store.table().get_item(Key={"PK": f"CASE#{case_id}", "SK": "POINTER"}).get("Item")
    if not pointer:
        return None
    owner_id = str(pointer["case_owner_id"])
    items = store.query_all(KeyConditionExpression=Key("PK").eq(f"OWNER#{owner_id}"))
    by_sk = {str(i["SK"]): i for i in items}
    case_item = by_sk.get(f"CASE#{case_id}")
    profile = by_sk.get("PROFILE")
    if not case_item or not profile:
        return None
    points = [ContactPoint.model_validate(store.clean(i)) for sk, i in by_sk.items() if sk.startswith("CP#")]
    if not include_invalid:
        points = [p for p in points if p.valid]
    points.sort(key=lambda p: (p.type, not p.is_default, p.qualification != "validated", p.created_at))
    return CaseFile(
        case=Case.model_validate(store.clean(case_item)),
        case_owner=CaseOwner.model_validate(store.clean(profile)),
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
    resp = store.table().query(**kwargs)
    return [Case.model_validate(store.clean(i)) for i in resp["Items"]], resp.get("LastEvaluatedKey")
