"""infra.local.fidelity.packed_items: moto's DynamoDB items kept as packed bytes when not in use, unpacked on the
next access. Every test here packs after every operation (``PACKED_AFTER = 0``), so each read, condition, update,
transaction and query runs on items that were packed before it, and must answer exactly as DynamoDB would."""

from __future__ import annotations

import gc
import tracemalloc
import uuid
import weakref
from collections.abc import Iterator
from typing import Any

import boto3
import moto
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import dynamodb_backends

from infra.local import fidelity
from tests.integration.support import create_pk_sk_gsi1_table, traced_bytes_per_item

ACCOUNT, REGION = "123456789012", "eu-west-1"

EVERY_TYPE: dict[str, Any] = {
    "s": {"S": "Zoë ✓"},
    "n": {"N": "-12.500"},
    "b": {"B": b"\x00\xffbinary"},
    "t": {"BOOL": True},
    "f": {"BOOL": False},
    "null": {"NULL": True},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"x", b"y"]},
    "l": {"L": [{"S": "one"}, {"N": "2"}, {"M": {"deep": {"L": [{"NULL": True}]}}}]},
    "m": {"M": {"name": {"S": "n"}, "inner": {"M": {"k": {"BOOL": False}}}}},
}


@pytest.fixture
def packing_always(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    assert fidelity.packed_items() is True
    monkeypatch.setattr(fidelity, "PACKED_AFTER", 0)
    yield


@pytest.fixture
def table(moto_endpoint: str, packing_always: None) -> tuple[Any, str]:
    ddb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)
    name = f"packed-{uuid.uuid4().hex[:8]}"
    create_pk_sk_gsi1_table(ddb, name)
    return ddb, name


def _packed(ddb: Any, name: str, pk: str, sk: str) -> bool:
    """Whether the stored item is packed once the next operation ended (writing a response may unpack it again)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    ddb.get_item(TableName=name, Key={"PK": {"S": "none"}, "SK": {"S": "none"}})
    item = dynamodb_backends[ACCOUNT][REGION].tables[name].items[DynamoType({"S": pk})][DynamoType({"S": sk})]
    return fidelity.packed_form(item) is not None


def test_the_packing_patch_is_pinned_to_the_installed_moto() -> None:
    assert moto.__version__ == fidelity.PINNED_MOTO
    assert fidelity.packing_sources() == fidelity.PINNED_PACKING_SOURCES
    assert fidelity.packed_items() is True
    assert "packed-dynamodb-items" in fidelity.installed()


def test_every_attribute_type_comes_back_as_it_was_put(table: tuple[Any, str]) -> None:
    ddb, name = table
    item = {"PK": {"S": "P#1"}, "SK": {"S": "S#1"}, **EVERY_TYPE}
    ddb.put_item(TableName=name, Item=item)
    assert _packed(ddb, name, "P#1", "S#1")
    got = ddb.get_item(TableName=name, Key={"PK": {"S": "P#1"}, "SK": {"S": "S#1"}})["Item"]
    assert _sets_sorted(got) == _sets_sorted(item)


def test_conditions_and_updates_see_the_packed_item(table: tuple[Any, str]) -> None:
    ddb, name = table
    key = {"PK": {"S": "P#2"}, "SK": {"S": "S#2"}}
    ddb.put_item(TableName=name, Item={**key, "v": {"N": "1"}, "m": {"M": {"a": {"S": "x"}}}, "tags": {"SS": ["a"]}})
    with pytest.raises(ClientError) as refused:
        ddb.put_item(TableName=name, Item={**key, "v": {"N": "9"}}, ConditionExpression="attribute_not_exists(PK)")
    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    ddb.update_item(
        TableName=name,
        Key=key,
        UpdateExpression="SET m.b = :b, #n = :n ADD v :one, tags :t REMOVE m.a",
        ConditionExpression="v = :was",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={
            ":b": {"L": [{"S": "y"}]},
            ":n": {"S": "new"},
            ":one": {"N": "1"},
            ":t": {"SS": ["b"]},
            ":was": {"N": "1"},
        },
    )
    assert _packed(ddb, name, "P#2", "S#2")
    got = ddb.get_item(TableName=name, Key=key, ConsistentRead=True)["Item"]
    assert got["v"] == {"N": "2"} and got["name"] == {"S": "new"}
    assert got["m"] == {"M": {"b": {"L": [{"S": "y"}]}}} and sorted(got["tags"]["SS"]) == ["a", "b"]


def test_a_cancelled_transaction_leaves_packed_items_as_they_were(table: tuple[Any, str]) -> None:
    ddb, name = table
    ddb.put_item(TableName=name, Item={"PK": {"S": "P#3"}, "SK": {"S": "A"}, "v": {"S": "kept"}})
    ddb.put_item(TableName=name, Item={"PK": {"S": "P#3"}, "SK": {"S": "C"}, "v": {"S": "check"}})
    with pytest.raises(ClientError) as cancelled:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": {"PK": {"S": "P#3"}, "SK": {"S": "A"}, "v": {"S": "lost"}}}},
                {"Put": {"TableName": name, "Item": {"PK": {"S": "P#3"}, "SK": {"S": "B"}}}},
                {
                    "ConditionCheck": {
                        "TableName": name,
                        "Key": {"PK": {"S": "P#3"}, "SK": {"S": "C"}},
                        "ConditionExpression": "v = :other",
                        "ExpressionAttributeValues": {":other": {"S": "other"}},
                    }
                },
            ]
        )
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    items = ddb.query(TableName=name, KeyConditionExpression="PK = :p", ExpressionAttributeValues={":p": {"S": "P#3"}})[
        "Items"
    ]
    assert items == [
        {"PK": {"S": "P#3"}, "SK": {"S": "A"}, "v": {"S": "kept"}},
        {"PK": {"S": "P#3"}, "SK": {"S": "C"}, "v": {"S": "check"}},
    ]
    reasons = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "ConditionalCheckFailed"]


def test_gsi_queries_page_packed_items_in_order(table: tuple[Any, str]) -> None:
    ddb, name = table
    for n in (3, 1, 4, 0, 2):
        ddb.put_item(
            TableName=name,
            Item={"PK": {"S": f"P#{n}"}, "SK": {"S": "X"}, "GSI1PK": {"S": "G"}, "GSI1SK": {"S": f"{n:02d}"}},
        )
    seen, start = [], None
    while True:
        kwargs: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
        page = ddb.query(
            TableName=name,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :g",
            ExpressionAttributeValues={":g": {"S": "G"}},
            Limit=2,
            **kwargs,
        )
        seen += [i["GSI1SK"]["S"] for i in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    assert seen == ["00", "01", "02", "03", "04"]


def test_ordering_a_gsi_key_s_members_unpacks_only_the_page_and_keeps_no_copy_of_them(
    table: tuple[Any, str],
) -> None:
    """Reading a client's cases back through the API pages through one GSI key holding all of them; its first
    page orders every member. Ordering them from their stored attributes unpacked all of them in one operation,
    and the cached order kept those unpacked values alive after the items were packed again."""
    ddb, name = table
    members = 1_000
    listed = [
        {
            "PK": {"S": f"CASEOWNER#{n:05d}"},
            "SK": {"S": f"CASE#{n:05d}"},
            "GSI1PK": {"S": "CLIENT#c#CASES"},
            "GSI1SK": {"S": f"2026-0{n % 9 + 1}-01#{n:05d}"},
            "status": {"S": "open"},
        }
        for n in range(members)
    ]
    for b in range(0, members, 25):
        ddb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": i}} for i in listed[b : b + 25]]})
    query = {"TableName": name, "IndexName": "GSI1", "KeyConditionExpression": "GSI1PK = :h", "Limit": 10}
    ddb.query(**query, ExpressionAttributeValues={":h": {"S": "CLIENT#other#CASES"}})  # the client's first call
    gc.collect()
    unpacked = fidelity.stats["unpacked"]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        page = ddb.query(**query, ExpressionAttributeValues={":h": {"S": "CLIENT#c#CASES"}})
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert [i["GSI1SK"]["S"] for i in page["Items"]] == sorted(i["GSI1SK"]["S"] for i in listed)[:10]
    # the page and the item that says there is more, each unpacked under the lock and again for the response
    assert fidelity.stats["unpacked"] - unpacked <= 2 * 11
    assert kept / members < 300, kept  # the order: a tuple of references and a list slot or two per member


def test_the_members_of_a_gsi_key_share_one_object_of_its_value(table: tuple[Any, str]) -> None:
    """The index keeps each member's GSI key values after its item is packed; the hash value is the same for all
    members (every case of a client), so it is kept once, not once a member, and goes with the last member."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    ddb, name = table
    for n in range(60):
        ddb.put_item(
            TableName=name,
            Item={"PK": {"S": f"P#{n}"}, "SK": {"S": "X"}, "GSI1PK": {"S": "AB"[n % 2]}, "GSI1SK": {"S": f"{n:03d}"}},
        )
    ddb.update_item(  # moves from A to B
        TableName=name,
        Key={"PK": {"S": "P#0"}, "SK": {"S": "X"}},
        UpdateExpression="SET GSI1PK = :b",
        ExpressionAttributeValues={":b": {"S": "B"}},
    )
    gsi = dynamodb_backends[ACCOUNT][REGION].tables[name].__dict__["_finview_keys"].gsis["GSI1"]
    held = {id(value) for value, _ in gsi.where.values()}
    assert len(gsi.where) == 60 and len(held) == 2  # one object each for A and B
    b = DynamoType({"S": "B"})
    assert {id(gsi.where[k][0]) for k in gsi.buckets[b]} == {id(gsi.hashes[b])}
    for n in range(60):
        ddb.delete_item(TableName=name, Key={"PK": {"S": f"P#{n}"}, "SK": {"S": "X"}})
    assert gsi.where == {} and gsi.buckets == {} and gsi.hashes == {}


def test_packed_items_cost_less_than_half_the_memory(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without packing moto holds ~3.2 KB for this 10-attribute item (~380 bytes of DynamoDB JSON)."""
    assert fidelity.packed_items() is True
    ddb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)
    per_item = {}
    for mode, unpacked in (("packed", 0), ("as moto keeps them", 10**9)):
        monkeypatch.setattr(fidelity, "PACKED_AFTER", unpacked)
        name = f"mem-{uuid.uuid4().hex[:8]}"
        per_item[mode] = traced_bytes_per_item(ddb, name, [_contact_point(n) for n in range(2_000)])
        ddb.delete_table(TableName=name)
        gc.collect()
    assert per_item["packed"] < per_item["as moto keeps them"] / 2, per_item


def _contact_point(n: int) -> dict[str, Any]:
    return {
        "PK": {"S": f"CASEOWNER#{n // 4:012d}"},
        "SK": {"S": f"CP#{n:012d}"},
        "kind": {"S": "email"},
        "value": {"S": f"someone{n}@example.com"},
        "state": {"S": "unverified"},
        "source": {"S": "import"},
        "created_at": {"S": "2026-11-28T12:00:00+00:00"},
        "client_id": {"S": "c-123456"},
        "version": {"N": "1"},
        "evidence": {"M": {"by": {"S": "import"}, "at": {"S": "2026-11-28T12:00:00Z"}}},
    }


def _sets_sorted(item: dict[str, Any]) -> dict[str, Any]:
    return {k: {t: sorted(v) if t in ("SS", "NS", "BS") else v for t, v in val.items()} for k, val in item.items()}


def test_an_item_recorded_while_the_oldest_are_packed_fails_no_operation(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's UpdateItem handler deep-copies the stored item outside the serialising lock, and the copy records
    itself as unpacked; when that happened while another thread's operation walked the oldest items to pack them,
    the walk raised "dictionary changed size during iteration" and that operation, already applied, answered 500.
    The interleaving is made deterministic: the copy is recorded between two steps of the walk."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    assert fidelity.packed_items() is True
    late: list[Any] = []

    class RecordedMeanwhile(weakref.WeakValueDictionary[int, Any]):
        def keys(self) -> Iterator[int]:  # type: ignore[override]
            for n, key in enumerate(super().keys()):
                if n == 1 and not late:  # another thread's deep copy, between two steps of the walk
                    late.append(Item(DynamoType({"S": "late"}), None, {"PK": {"S": "late"}}))
                yield key

    monkeypatch.setattr(fidelity, "_unpacked", RecordedMeanwhile())
    monkeypatch.setattr(fidelity, "PACKED_AFTER", 1)
    items: list[Any] = [
        Item(DynamoType({"S": f"k{n}"}), None, {"PK": {"S": f"k{n}"}, "v": {"N": str(n)}}) for n in range(4)
    ]

    fidelity._pack_oldest()  # raised RuntimeError before the fix
    assert late and all(fidelity.packed_form(i) is None for i in items)

    fidelity._pack_oldest()  # the next operation packs: all but the newest (the late copy)
    assert all(fidelity.packed_form(i) is not None for i in items)
    assert fidelity.packed_form(late[0]) is None
    assert [i.attrs["v"] for i in items] == [DynamoType({"N": str(n)}) for n in range(4)]


def _stored(name: str, pk: Any, sk: Any) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = dynamodb_backends[ACCOUNT][REGION].tables[name]
    return table.items[DynamoType(pk)][DynamoType(sk)]


def test_a_packed_item_holds_neither_its_key_values_nor_its_attribute_names(table: tuple[Any, str]) -> None:
    """Both are held once elsewhere: the key by the Item (shared with the table's dicts), the names and types by
    the item's shape; the packed bytes hold the other values only."""
    ddb, name = table
    item = _contact_point(7) | {"GSI1PK": {"S": "CLIENT#c-123456#POINTS"}, "GSI1SK": {"S": "2026-11-28"}}
    ddb.put_item(TableName=name, Item=item)
    assert _packed(ddb, name, item["PK"]["S"], item["SK"]["S"])
    packed = fidelity.packed_form(_stored(name, item["PK"], item["SK"]))
    assert packed is not None
    for held_elsewhere in (item["PK"]["S"], item["SK"]["S"], "created_at", "client_id", "evidence"):
        assert held_elsewhere.encode() not in packed, held_elsewhere
    assert b"someone7@example.com" in packed
    got = ddb.get_item(TableName=name, Key={"PK": item["PK"], "SK": item["SK"]}, ConsistentRead=True)["Item"]
    assert got == item and list(got) == list(item)  # the same attributes, in the order they were put


def test_a_big_item_is_packed_compressed_and_reads_back_whole(table: tuple[Any, str]) -> None:
    ddb, name = table
    text = " ".join(f"case_file.imported: case {n} opened, point {n} added" for n in range(60))
    item = {"PK": {"S": "OWNER#1"}, "SK": {"S": "AUDIT#1"}, "entry": {"S": text}, "parts": {"L": [{"S": text}]}}
    ddb.put_item(TableName=name, Item=item)
    assert _packed(ddb, name, "OWNER#1", "AUDIT#1")
    assert len(fidelity.packed_form(_stored(name, item["PK"], item["SK"])) or text) < len(text) / 2
    got = ddb.get_item(TableName=name, Key={"PK": item["PK"], "SK": item["SK"]})["Item"]
    assert got == item


def test_values_equal_to_a_key_in_all_but_type_or_spelling_come_back_as_they_were(
    moto_endpoint: str, packing_always: None
) -> None:
    """Only an attribute that is the item's key to the very value is restored from the key: a number key "1.0"
    and a stored "1" are the same key to DynamoDB, but each item reads back as it was put."""
    ddb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)
    name = f"packed-n-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "n", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "n", "KeyType": "RANGE"}],
    )
    first = {"PK": {"S": "1"}, "n": {"N": "1"}, "same": {"S": "1"}, "as_number": {"N": "1"}, "pk_again": {"S": "1"}}
    ddb.put_item(TableName=name, Item=first)
    got = ddb.get_item(TableName=name, Key={"PK": {"S": "1"}, "n": {"N": "1"}})["Item"]
    assert got == first
    replaced = {"PK": {"S": "1"}, "n": {"N": "1.0"}, "was": {"N": "1"}}
    ddb.put_item(TableName=name, Item=replaced)  # the same key: it replaces the first item
    items = ddb.query(TableName=name, KeyConditionExpression="PK = :p", ExpressionAttributeValues={":p": {"S": "1"}})
    assert items["Items"] == [replaced]
    assert ddb.get_item(TableName=name, Key={"PK": {"S": "1"}, "n": {"N": "1.00"}})["Item"] == replaced


def test_items_of_a_new_shape_past_the_numbered_ones_are_packed_whole(
    table: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ddb, name = table
    monkeypatch.setattr(fidelity, "MAX_SHAPES", len(fidelity._shape_list))
    item = {"PK": {"S": "P#w"}, "SK": {"S": "S#w"}, f"unseen_{uuid.uuid4().hex}": {"S": "x"}, **EVERY_TYPE}
    ddb.put_item(TableName=name, Item=item)
    assert _packed(ddb, name, "P#w", "S#w")
    assert item["PK"]["S"].encode() in (fidelity.packed_form(_stored(name, item["PK"], item["SK"])) or b"")  # whole
    got = ddb.get_item(TableName=name, Key={"PK": item["PK"], "SK": item["SK"]})["Item"]
    assert _sets_sorted(got) == _sets_sorted(item)


def test_the_items_of_a_partition_share_its_key_with_the_table(table: tuple[Any, str]) -> None:
    """One copy of a partition's key for all its items, and a replacing item holds the key the table holds."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    ddb, name = table
    for n in range(3):
        ddb.put_item(TableName=name, Item={"PK": {"S": "OWNER#9"}, "SK": {"S": f"CP#{n}"}, "v": {"N": str(n)}})
    ddb.put_item(TableName=name, Item={"PK": {"S": "OWNER#9"}, "SK": {"S": "CP#1"}, "v": {"N": "10"}})
    stored = dynamodb_backends[ACCOUNT][REGION].tables[name].items
    (partition_key,) = [k for k in stored if k == DynamoType({"S": "OWNER#9"})]
    partition = stored[partition_key]
    assert all(item.hash_key is partition_key for item in partition.values())
    assert all(item.range_key is key for key, item in partition.items())
    assert partition[DynamoType({"S": "CP#1"})].attrs["v"] == DynamoType({"N": "10"})


# ---- the disk store: packed items are rows of a SQLite file, not bytes in moto's memory ----------------------------


def test_a_packed_item_is_a_row_of_the_disk_store_and_reads_back_from_it(table: tuple[Any, str]) -> None:
    ddb, name = table
    item = {"PK": {"S": "P#d"}, "SK": {"S": "S#d"}, **EVERY_TYPE}
    ddb.put_item(TableName=name, Item=item)
    assert _packed(ddb, name, "P#d", "S#d")
    stored = _stored(name, item["PK"], item["SK"])
    row = getattr(stored, "_finview_attrs")  # noqa: B009 - moto's Item does not declare it
    assert type(row) is int  # its row's number: no bytes held in memory
    assert fidelity._disk is not None and fidelity._disk.read(row) == fidelity.packed_form(stored)
    got = ddb.get_item(TableName=name, Key={"PK": item["PK"], "SK": item["SK"]})["Item"]
    assert _sets_sorted(got) == _sets_sorted(item)


def test_packed_items_on_disk_cost_moto_far_less_memory_than_packed_in_memory(
    moto_endpoint: str, packing_always: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    ddb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)
    per_item = {}
    # a round first that is not compared: what the modes allocate once (caches, shapes) is paid before either is
    # measured, so the comparison fails when both modes hold the same (it did not, with the once-cost in the first)
    for mode, writes in (("once", True), ("in memory", False), ("on disk", True)):
        monkeypatch.setattr(fidelity, "_disk_writes", writes)
        name = f"disk-{uuid.uuid4().hex[:8]}"
        per_item[mode] = traced_bytes_per_item(ddb, name, [_contact_point(n) for n in range(2_000)], pack_last=True)
        assert ddb.scan(TableName=name, Select="COUNT")["Count"] == 2_000
        ddb.delete_table(TableName=name)
        gc.collect()
    # the packed bytes of this item are ~150 of the ~700 bytes moto held per packed item
    assert per_item["on disk"] < per_item["in memory"] - 100, per_item


def test_the_rows_of_replaced_and_deleted_items_are_deleted(table: tuple[Any, str]) -> None:
    ddb, name = table
    store = fidelity._disk
    assert store is not None
    for n in range(20):
        ddb.put_item(TableName=name, Item={"PK": {"S": f"P#{n}"}, "SK": {"S": "X"}, "v": {"N": str(n)}})
    ddb.describe_table(TableName=name)
    rows = store.rows()
    for n in range(10):
        ddb.put_item(TableName=name, Item={"PK": {"S": f"P#{n}"}, "SK": {"S": "X"}, "v": {"N": "99"}})
    for n in range(10, 20):
        ddb.delete_item(TableName=name, Key={"PK": {"S": f"P#{n}"}, "SK": {"S": "X"}})
    gc.collect()
    fidelity._forget_freed()
    ddb.describe_table(TableName=name)
    assert store.rows() == rows - 10  # 10 replaced in place of 10 freed, 10 deleted
    got = ddb.query(
        TableName=name,
        KeyConditionExpression="PK = :p",
        ExpressionAttributeValues={":p": {"S": "P#3"}},
        ConsistentRead=True,
    )["Items"]
    assert got == [{"PK": {"S": "P#3"}, "SK": {"S": "X"}, "v": {"N": "99"}}]


def test_rows_are_numbered_as_first_written_and_a_changed_item_keeps_its_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The store appends: a row keyed by the item's address went to a random page of a file larger than SQLite's
    cache, a page read and written per item."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    assert fidelity.packed_items() is True
    monkeypatch.setattr(fidelity, "_unpacked", weakref.WeakValueDictionary())
    monkeypatch.setattr(fidelity, "PACKED_AFTER", 0)
    items = [Item(DynamoType({"S": f"k{n}"}), None, {"PK": {"S": f"k{n}"}, "v": {"N": str(n)}}) for n in range(3)]
    fidelity._pack_oldest()
    rows = [getattr(i, "_finview_attrs") for i in items]  # noqa: B009 - moto's Item does not declare it
    assert all(type(r) is int for r in rows) and rows == sorted(rows) and len(set(rows)) == 3
    assert items[1].attrs["v"] == DynamoType({"N": "1"})  # unpacked from its row
    fidelity._changed(items[1])  # as moto's update_item marks it
    fidelity._pack_oldest()
    assert getattr(items[1], "_finview_attrs") == rows[1]  # noqa: B009 - rewritten in place
    later = Item(DynamoType({"S": "k3"}), None, {"PK": {"S": "k3"}})
    fidelity._pack_oldest()
    assert getattr(later, "_finview_attrs") > rows[-1]  # noqa: B009
    assert [i.attrs["v"] for i in items] == [DynamoType({"N": str(n)}) for n in range(3)]


def test_a_failing_disk_store_keeps_packed_items_in_memory(
    table: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ddb, name = table
    store = fidelity._disk
    assert store is not None

    def full(rows: list[tuple[int, bytes]]) -> None:
        raise OSError("database or disk is full")

    monkeypatch.setattr(store, "write", full)
    monkeypatch.setattr(fidelity, "_disk_writes", True)
    item = {"PK": {"S": "P#f"}, "SK": {"S": "S#f"}, "v": {"S": "still here"}}
    ddb.put_item(TableName=name, Item=item)
    assert _packed(ddb, name, "P#f", "S#f")
    assert type(_stored(name, item["PK"], item["SK"])._finview_attrs) is bytes
    assert fidelity._disk_writes is False
    assert ddb.get_item(TableName=name, Key={"PK": item["PK"], "SK": item["SK"]})["Item"] == item


def test_an_item_read_and_not_changed_is_packed_again_without_a_write(
    table: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ddb, name = table
    key = {"PK": {"S": "P#r"}, "SK": {"S": "S#r"}}
    ddb.put_item(TableName=name, Item={**key, "v": {"N": "1"}})
    assert _packed(ddb, name, "P#r", "S#r")
    store = fidelity._disk
    assert store is not None
    writes: list[int] = []
    original = store.write

    def counted(rows: list[tuple[int, bytes]]) -> None:
        writes.extend(i for i, _ in rows)
        original(rows)

    monkeypatch.setattr(store, "write", counted)
    stored = _stored(name, key["PK"], key["SK"])
    for _ in range(3):
        assert ddb.get_item(TableName=name, Key=key)["Item"]["v"] == {"N": "1"}
        assert _packed(ddb, name, "P#r", "S#r")
    row = getattr(stored, "_finview_attrs")  # noqa: B009 - moto's Item does not declare it
    assert type(row) is int and row not in writes  # read three times, its row never written again
    ddb.update_item(
        TableName=name, Key=key, UpdateExpression="SET v = :two", ExpressionAttributeValues={":two": {"N": "2"}}
    )
    assert _packed(ddb, name, "P#r", "S#r") and row in writes  # changed: its row written again
    assert ddb.get_item(TableName=name, Key=key)["Item"]["v"] == {"N": "2"}


def test_an_update_that_fails_part_way_reads_back_as_it_does_unpacked(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto applies an update expression's actions in turn and may fail after changing the item: whatever it left
    in the item is what a later read sees, packed on disk or never packed (moto's own behaviour, kept)."""
    assert fidelity.packed_items() is True
    ddb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)
    key = {"PK": {"S": "P#u"}, "SK": {"S": "S#u"}}
    seen = {}
    for mode, unpacked in (("never packed", 10**9), ("packed", 0)):
        monkeypatch.setattr(fidelity, "PACKED_AFTER", unpacked)
        name = f"partway-{uuid.uuid4().hex[:8]}"
        create_pk_sk_gsi1_table(ddb, name)
        ddb.put_item(TableName=name, Item={**key, "a": {"N": "1"}, "m": {"M": {"x": {"S": "text"}}}})
        ddb.get_item(TableName=name, Key=key)  # packed, then read back from the disk store
        with pytest.raises(ClientError):
            ddb.update_item(
                TableName=name,
                Key=key,
                UpdateExpression="SET a = :two, m.y = :two REMOVE m.x ADD m.x :one",
                ExpressionAttributeValues={":two": {"N": "2"}, ":one": {"N": "1"}},
            )
        ddb.describe_table(TableName=name)
        seen[mode] = ddb.get_item(TableName=name, Key=key, ConsistentRead=True)["Item"]
        ddb.delete_table(TableName=name)
    assert seen["packed"] == seen["never packed"]


def test_a_full_window_is_packed_and_freed_rows_deleted_in_batches_not_after_every_operation(
    table: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full window packed one item after every operation of a big import (each a write transaction of the disk
    store), and deleted the rows freed meanwhile at every packing: now a 64th of the window at a time, and the freed
    rows 1,024 at a time. Every item still reads back as last written."""
    ddb, name = table
    store = fidelity._disk
    assert store is not None
    monkeypatch.setattr(fidelity, "_unpacked", weakref.WeakValueDictionary())
    monkeypatch.setattr(fidelity, "PACKED_AFTER", 640)
    calls = {"write": 0, "delete": 0}
    for op in calls:
        original = getattr(store, op)

        def counted(rows: Any, op: str = op, original: Any = original) -> None:
            calls[op] += 1
            original(rows)

        monkeypatch.setattr(store, op, counted)

    def put(numbers: range, value: str) -> None:
        for start in range(numbers.start, numbers.stop, 25):
            requests = [
                {"PutRequest": {"Item": {**_contact_point(n), "value": {"S": f"{value}{n}"}}}}
                for n in range(start, min(start + 25, numbers.stop))
            ]
            ddb.batch_write_item(RequestItems={name: requests})

    put(range(2_000), "first")  # 2,000 puts, each its own operation: 1,360 of them past the window
    put(range(300), "again")  # replaces 300 packed items: 300 rows freed
    assert calls["write"] <= 2_300 // (640 // fidelity.PACK_SLACK) + 1, calls
    assert calls["delete"] == 0, calls  # fewer than FREED_BATCH rows freed
    fidelity._forget_freed()
    for n in (0, 299, 300, 1_999):
        key = {k: _contact_point(n)[k] for k in ("PK", "SK")}
        got = ddb.get_item(TableName=name, Key=key, ConsistentRead=True)["Item"]
        assert got["value"] == {"S": f"{'again' if n < 300 else 'first'}{n}"}
