"""A case owner's file from an import is stored in one TransactWriteItems (a few past DynamoDB's 100 items); a new
owner's whole file with one audit entry naming every part, a known owner's new parts each with its own; what exists
already is left out and the rest still written."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from infra.local import fidelity
from infra.provision import Provisioned
from services.contacts import store
from tests.integration.contacts.cases.support import deliver, imported

OWNER = "owner-w"


def _kinds() -> dict[str, int]:
    items = store.query_all(KeyConditionExpression=Key("PK").eq(f"OWNER#{OWNER}"))
    out: dict[str, int] = {}
    for i in items:
        kind = str(i["SK"]).split("#")[0]
        out[kind] = out.get(kind, 0) + 1
    return out


def _transactions(fn: Any) -> int:
    before = fidelity.stats["transactions"]
    fn()
    return fidelity.stats["transactions"] - before


def test_a_new_case_owner_is_one_transaction(aws: Provisioned) -> None:
    event = imported(OWNER, case_ids=("c-1", "c-2"))
    assert _transactions(lambda: deliver(event)) == 1
    # one audit entry for the file (it is written all or nothing), naming each part as its own entry would
    assert _kinds() == {"PROFILE": 1, "CASE": 2, "CP": 2, "AUDIT": 1}
    assert store.table().get_item(Key={"PK": "CASE#c-2", "SK": "POINTER"})["Item"]["case_owner_id"] == OWNER
    (entry,) = store.query_all(KeyConditionExpression=Key("PK").eq(f"OWNER#{OWNER}") & Key("SK").begins_with("AUDIT#"))
    assert (entry["action"], entry["target_type"], entry["target_id"]) == ("case_file.imported", "case_owner", OWNER)
    assert entry["actor"] == "system:imports" and entry["why"]["import_id"] == event.import_id
    assert "case_id" not in entry  # two cases: each named in its change
    changes = entry["after"]["changes"]
    assert [(c["action"], c["target_type"]) for c in changes] == [
        ("case_owner.created", "case_owner"),
        ("case.opened", "case"),
        ("case.opened", "case"),
        ("contact_point.added", "contact_point"),
        ("contact_point.added", "contact_point"),
    ]
    assert [c.get("case_id") for c in changes[1:3]] == ["c-1", "c-2"] == [c["target_id"] for c in changes[1:3]]
    assert changes[0]["after"]["client_id"] == event.client_id and changes[1]["after"]["status"] == "open"
    points = {str(i["SK"]): i for i in store.query_all(KeyConditionExpression=Key("PK").eq(f"OWNER#{OWNER}"))}
    for change in changes[3:]:  # each point as it was stored
        stored = next(p for p in points.values() if p.get("contact_point_id") == change["target_id"])
        assert (
            change["after"]["value"] == stored["value"]
            and change["after"]["qualification"] == stored["qualification"] == "pending"
        )


def test_what_exists_is_left_out_and_the_rest_written(aws: Provisioned) -> None:
    deliver(imported(OWNER, case_ids=("c-1",)))

    def more() -> Any:  # a new event each time, same content; imports matched the row to the known owner
        points = (("email", "max@example.com"), ("phone", "+41 79 555 01 02"))
        return imported(OWNER, case_ids=("c-1", "c-2"), points=points, matched_by="weighted")

    # the owner and c-1 are read, not tried: one transaction writes c-2 and the new phone, each with its entry
    assert _transactions(lambda: deliver(more())) == 1
    assert _kinds() == {"PROFILE": 1, "CASE": 2, "CP": 3, "AUDIT": 3}
    # again: the owner, both cases and the points are there: nothing to write
    assert _transactions(lambda: deliver(more())) == 0
    assert _kinds() == {"PROFILE": 1, "CASE": 2, "CP": 3, "AUDIT": 3}


def test_a_file_past_100_items_is_split_by_whole_entities(aws: Provisioned) -> None:
    cases = tuple(f"c-{n:02d}" for n in range(40))  # 2 + 40 × 3 + 2 × 2 = 126 items
    assert _transactions(lambda: deliver(imported(OWNER, case_ids=cases))) == 2
    assert _kinds() == {"PROFILE": 1, "CASE": 40, "CP": 2, "AUDIT": 43}
