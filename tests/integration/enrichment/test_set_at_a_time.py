"""Enrichment's consumer handles a batch's opened cases and contact snapshots set-at-a-time: one BatchGetItem for the
snapshots and tracked cases, the new cases and snapshots in shared TransactWriteItems (a failed condition drops
that entity only), index writes only where the index changes. A redelivery changes nothing; a set that cannot be
handled together runs one record at a time."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.client import BaseClient

from infra.provision import Provisioned
from services.enrichment import handlers, repository, use_cases
from shared.events import (
    CaseOpened,
    CaseOwnerContactsChanged,
    CaseOwnersContactsChangedV2,
    CasesOpenedV2,
    ContactPointSummary,
    Event,
    TraceSubject,
)
from tests.integration.enrichment.test_attempts import OPENED, FakeBureau, env, run, settings
from tests.integration.support import client, deliver_to, receive_all

pytestmark = pytest.mark.integration
__all__ = ["env"]  # the fixture, imported for the tests below


def deliver(events: Sequence[Event], receive_count: int = 1) -> dict[str, Any]:
    return deliver_to("enrichment", handlers.on_bus_events, events, receive_count)


def opened(owner_id: str, case_id: str) -> CaseOpened:
    return CaseOpened(correlation_id="c", client_id="c1", case_owner_id=owner_id, case_id=case_id, opened_on=OPENED)


def snapshot(owner_id: str, at: datetime | None = None) -> CaseOwnerContactsChanged:
    """A case owner without contact points: it lacks every type, so its cases are due."""
    return CaseOwnerContactsChanged(
        correlation_id="c",
        client_id="c1",
        case_owner_id=owner_id,
        subject=TraceSubject(first_name="Erika", last_name="Mustermann"),
        contact_points=[],
        **({"occurred_at": at} if at else {}),
    )


def due() -> set[str]:
    return {c.case_id for c in repository.cases_in_index("c1", "due")}


def _track_items(aws: Provisioned) -> dict[str, dict[str, Any]]:
    items = client(aws, "dynamodb").scan(TableName=aws.names.table("enrichment"))["Items"]
    return {i["PK"]["S"]: i for i in items if i["SK"]["S"] == "TRACK"}


def test_a_batch_of_opened_cases_is_one_read_and_a_transaction_per_fifty_cases(
    env: Provisioned, calls: Counter[str]
) -> None:
    settings("c1")
    tag = uuid.uuid4().hex[:6]
    batch = [opened(f"o-{tag}-{i}", f"k-{tag}-{i}") for i in range(60)]
    calls.clear()
    assert deliver(batch) == {"batchItemFailures": []}
    # 60 snapshots + 60 track items read 100 keys a request; the 60 owners' links (no condition) in BatchWriteItem,
    # 25 a request, and only the 60 put-if-new track items in one transaction (the links were its items too, at
    # twice the write units). The one-by-one path made 60 BatchGetItem and 120 PutItem.
    assert calls["TransactWriteItems"] == 1
    assert calls["BatchWriteItem"] == 3
    assert calls["BatchGetItem"] == 2
    assert calls["PutItem"] == calls["UpdateItem"] == calls["Query"] == 0
    assert sum(calls.values()) <= 7  # and the client's settings, once
    assert all(repository.owner_cases(e.case_owner_id)[0].case_id == e.case_id for e in batch)
    assert due() == {e.case_id for e in batch}  # waiting for their owners' snapshots in the index
    assert run(FakeBureau())["searched"] == 0  # but enrichment never pays blindly

    # a redelivery: everything is tracked already, nothing is written, attempts made are never reset
    table = client(env, "dynamodb")
    table.update_item(
        TableName=env.names.table("enrichment"),
        Key={"PK": {"S": f"CASE#k-{tag}-0"}, "SK": {"S": "TRACK"}},
        UpdateExpression="SET attempts_made = :n",
        ExpressionAttributeValues={":n": {"N": "1"}},
    )
    before = _track_items(env)
    calls.clear()
    assert deliver(batch, receive_count=2) == {"batchItemFailures": []}
    assert calls["TransactWriteItems"] == calls["PutItem"] == calls["UpdateItem"] == 0
    assert _track_items(env) == before


def test_a_crash_after_the_links_leaves_no_case_half_tracked_and_the_redelivery_tracks_them(
    env: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The owners' links are written before the track items, outside their transaction: a crash between the two
    leaves links that lead to no case (every reader goes from a link to its track item), and the redelivery writes
    the track items."""
    settings("c1")
    tag = uuid.uuid4().hex[:6]
    batch = [opened(f"o-{tag}-{i}", f"k-{tag}-{i}") for i in range(3)]
    write = repository.dynamo.write_unless_condition_fails

    def killed(*args: Any, **kwargs: Any) -> list[bool]:
        raise SystemExit("killed between the links and the track items")

    monkeypatch.setattr(repository.dynamo, "write_unless_condition_fails", killed)
    with pytest.raises(SystemExit):
        deliver(batch)
    keys = {
        (i["PK"]["S"], i["SK"]["S"])
        for i in client(env, "dynamodb").scan(TableName=env.names.table("enrichment"))["Items"]
    }
    assert all((f"OWNER#{e.case_owner_id}", f"CASE#{e.case_id}") in keys for e in batch)  # the links are there
    assert all(repository.owner_cases(e.case_owner_id) == [] for e in batch)  # and lead to no case yet
    assert repository.owners_cases(e.case_owner_id for e in batch) == {e.case_owner_id: [] for e in batch}
    monkeypatch.setattr(repository.dynamo, "write_unless_condition_fails", write)
    assert deliver(batch, receive_count=2) == {"batchItemFailures": []}
    assert all([c.case_id for c in repository.owner_cases(e.case_owner_id)] == [e.case_id] for e in batch)
    assert due() >= {e.case_id for e in batch}


def test_v2s_of_many_are_handled_set_at_a_time_as_their_members_would_be_as_v1_records(
    env: Provisioned, calls: Counter[str]
) -> None:
    """contacts packs a batch's opened cases and snapshots (``CasesOpened.v2``, ``CaseOwnersContactsChanged.v2``):
    their members join the set-at-a-time forms with the batch's v1 events of their type, so 60 cases in two v2s
    and a v1 cost what 60 v1 records do, not a read and a write each; and the snapshots' checks go out packed too."""
    settings("c1")
    tag = uuid.uuid4().hex[:6]
    cases = [opened(f"o-{tag}-{i}", f"k-{tag}-{i}") for i in range(60)]
    batch: list[Event] = [CasesOpenedV2(correlation_id="c", members=cases[:30]), cases[30]]
    batch.append(CasesOpenedV2(correlation_id="c", members=cases[31:]))
    calls.clear()
    assert deliver(batch) == {"batchItemFailures": []}
    assert calls["TransactWriteItems"] == 1 and calls["BatchGetItem"] == 2  # as for 60 v1 records (above)
    assert calls["PutItem"] == calls["UpdateItem"] == calls["Query"] == 0
    assert due() == {e.case_id for e in cases}

    with_points = [
        snapshot(f"o-{tag}-{i}").model_copy(
            update={"contact_points": [ContactPointSummary(contact_point_id=f"p{i}", type="phone",
                                                           value="+4930123456", state="pending")]}
        )
        for i in range(20)
    ]  # fmt: skip
    receive_all(env, "bus-tap")
    calls.clear()
    assert deliver([CaseOwnersContactsChangedV2(correlation_id="c", members=with_points)]) == {"batchItemFailures": []}
    assert calls["TransactWriteItems"] == 1  # the 20 snapshots together
    assert calls["PutEvents"] == 1
    published = [json.loads(m["Body"]) for m in receive_all(env, "bus-tap")]
    assert [e["detail-type"] for e in published] == ["ContactPointsChecked.v2"]  # 20 owners' checks, one event
    assert [m["case_owner_id"] for m in published[0]["detail"]["members"]] == [e.case_owner_id for e in with_points]


def test_a_batch_of_snapshots_is_one_transaction_and_moves_cases_only_for_owners_that_stop_or_start_being_searchable(
    env: Provisioned, calls: Counter[str]
) -> None:
    settings("c1")
    tag = uuid.uuid4().hex[:6]
    deliver([opened(f"o-{tag}-{i}", f"k-{tag}-{i}") for i in range(30)])
    snapshots = [snapshot(f"o-{tag}-{i}") for i in range(30)]
    calls.clear()
    assert deliver(snapshots) == {"batchItemFailures": []}
    assert calls["TransactWriteItems"] == 1  # 30 snapshots, each still conditional on being the newest
    # what enrichment knew of them before, and nothing read back: each first snapshot was put-if-new, none came first
    assert calls["BatchGetItem"] == 1
    assert calls["PutItem"] == calls["UpdateItem"] == 0
    assert calls["Query"] == 0  # first snapshots: the owners' cases wait in the index already, nothing to move
    assert due() == {f"k-{tag}-{i}" for i in range(30)}

    calls.clear()
    assert deliver(snapshots) == {"batchItemFailures": []}  # delivered twice (at least once)
    assert calls["Query"] == calls["UpdateItem"] == 0  # the owners stay searchable: nothing to re-index
    assert due() == {f"k-{tag}-{i}" for i in range(30)}

    # an older snapshot delivered late beside a newer one: the newer is kept, the older dropped alone
    older = snapshot(f"o-{tag}-0", at=snapshots[0].occurred_at - timedelta(hours=1))
    found = CaseOwnerContactsChanged.model_validate(
        {**snapshot(f"o-{tag}-1").model_dump(), "event_id": str(uuid.uuid4()), "occurred_at": datetime.now(UTC),
         "contact_points": [{"contact_point_id": "p", "type": t, "value": v, "state": "default", "usable": True}
                            for t, v in (("phone", "+4930123456"), ("email", "a@b.de"), ("postal_address", "W 1"))]}
    )  # fmt: skip
    calls.clear()
    assert deliver([older, found]) == {"batchItemFailures": []}
    assert calls["Query"] == 1  # the cases of the owner that stopped being searchable only
    assert repository.owners([f"o-{tag}-0"])[f"o-{tag}-0"].as_of == snapshots[0].occurred_at
    assert due() == {f"k-{tag}-{i}" for i in range(30)} - {f"k-{tag}-1"}  # every default found: out of the index


def test_a_case_opened_with_its_owners_snapshot_in_one_batch_is_indexed_as_it_is_tracked(
    env: Provisioned, calls: Counter[str]
) -> None:
    settings("c1")
    tag = uuid.uuid4().hex[:6]
    batch: list[Event] = []
    for i in range(5):
        batch += [opened(f"o-{tag}-{i}", f"k-{tag}-{i}"), snapshot(f"o-{tag}-{i}")]
    calls.clear()
    assert deliver(batch) == {"batchItemFailures": []}
    assert calls["UpdateItem"] == 0  # snapshots first: each case written with its index entry
    assert calls["TransactWriteItems"] == 2  # the 5 snapshots, then the 5 cases
    assert due() == {f"k-{tag}-{i}" for i in range(5)}


def test_a_case_tracked_between_the_read_and_the_write_is_left_as_it_is_and_the_others_written(
    env: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings("c1")
    tag = uuid.uuid4().hex[:6]
    deliver([opened(f"o-{tag}-0", f"k-{tag}-0")])
    client(env, "dynamodb").update_item(
        TableName=env.names.table("enrichment"),
        Key={"PK": {"S": f"CASE#k-{tag}-0"}, "SK": {"S": "TRACK"}},
        UpdateExpression="SET attempts_made = :n",
        ExpressionAttributeValues={":n": {"N": "1"}},
    )
    read = repository.tracking
    monkeypatch.setattr(repository, "tracking", lambda cases: (read(cases)[0], set()))  # the read saw none tracked
    assert deliver([opened(f"o-{tag}-{i}", f"k-{tag}-{i}") for i in range(4)]) == {"batchItemFailures": []}
    tracked = _track_items(env)
    assert tracked[f"CASE#k-{tag}-0"]["attempts_made"] == {"N": "1"}  # its condition failed: not overwritten
    assert all(f"CASE#k-{tag}-{i}" in tracked for i in range(1, 4))  # the rest of the transaction written again


def everything_found(owner_id: str) -> CaseOwnerContactsChanged:
    """The owner with a usable default of every type: nothing to search for."""
    return snapshot(owner_id).model_copy(
        update={
            "event_id": str(uuid.uuid4()),
            "occurred_at": datetime.now(UTC) - timedelta(minutes=1),
            "contact_points": [
                ContactPointSummary(contact_point_id=f"{owner_id}-{t}", type=t, value=v, state="default", usable=True)
                for t, v in (("phone", "+4930123456"), ("email", "a@b.de"), ("postal_address", "W 1"))
            ],
        }
    )


def test_an_owner_becoming_searchable_while_its_case_is_being_tracked_still_gets_the_case_indexed(
    env: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The two consumers race: the case read a snapshot with nothing to search for, the next snapshot (a default
    lost) looked for the owner's cases before this one was written. Both write first and read after, so the case
    path sees the new snapshot and indexes the case."""
    settings("c1")
    tag = uuid.uuid4().hex[:6]
    use_cases.on_case_owner_contacts_changed(everything_found(f"o-{tag}-0"))
    write = repository.track_cases

    def snapshot_meanwhile(cases: Any) -> list[bool]:
        use_cases.on_case_owner_contacts_changed(snapshot(f"o-{tag}-0"))  # finds no case of the owner yet
        return write(cases)

    monkeypatch.setattr(repository, "track_cases", snapshot_meanwhile)
    assert deliver([opened(f"o-{tag}-0", f"k-{tag}-0"), opened(f"o-{tag}-1", f"k-{tag}-1")]) == {
        "batchItemFailures": []
    }
    assert due() == {f"k-{tag}-0", f"k-{tag}-1"}  # the other owner's snapshot is not there yet: its case waits


def test_an_owners_first_snapshot_racing_another_one_re_indexes_its_cases(
    env: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This batch read no snapshot of the owner; before it wrote its own, another copy stored one with nothing to
    search for and a case was opened against that one (out of the index). The owner's item counts two snapshots,
    so this batch looks for the owner's cases as for an owner that became searchable."""
    settings("c1")
    tag = uuid.uuid4().hex[:6]
    put = repository.put_owners
    raced: list[bool] = []

    def another_copy_first(owners: Any, **kwargs: Any) -> list[repository.Written | None]:
        if not raced:
            raced.append(True)
            use_cases.on_case_owner_contacts_changed(everything_found(f"o-{tag}-0"))
            use_cases.on_case_opened(opened(f"o-{tag}-0", f"k-{tag}-0"))
            assert due() == set()
        return put(owners, **kwargs)

    monkeypatch.setattr(repository, "put_owners", another_copy_first)
    assert deliver([snapshot(f"o-{tag}-0"), snapshot(f"o-{tag}-1")]) == {"batchItemFailures": []}
    assert due() == {f"k-{tag}-0"}


def test_a_set_that_fails_together_runs_one_record_at_a_time(env: Provisioned, monkeypatch: pytest.MonkeyPatch) -> None:
    settings("c1")
    tag = uuid.uuid4().hex[:6]
    deliver([opened(f"o-{tag}-{i}", f"k-{tag}-{i}") for i in range(3)])
    put = repository.put_owners

    def only_one(owners: Any, **kwargs: Any) -> list[repository.Written | None]:
        if len(owners) > 1:
            raise RuntimeError("throttled")
        return put(owners, **kwargs)

    monkeypatch.setattr(repository, "put_owners", only_one)
    assert deliver([snapshot(f"o-{tag}-{i}") for i in range(3)]) == {"batchItemFailures": []}
    assert due() == {f"k-{tag}-{i}" for i in range(3)}


@pytest.fixture
def entries(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The writes this process asks DynamoDB for, by kind: a transaction's entries (Put, Update…) and single writes."""
    counted: Counter[str] = Counter()
    original = BaseClient._make_api_call

    def count(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if operation == "TransactWriteItems":
            counted.update(verb for entry in params["TransactItems"] for verb in entry)
        elif operation in ("PutItem", "UpdateItem"):
            counted[operation] += 1
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", count)
    return counted


def _owner_items(aws: Provisioned, owner_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    ddb = client(aws, "dynamodb")
    found = {}
    for owner_id in owner_ids:
        key = {"PK": {"S": f"OWNER#{owner_id}"}, "SK": {"S": "PROFILE"}}
        found[owner_id] = ddb.get_item(TableName=aws.names.table("enrichment"), Key=key, ConsistentRead=True)["Item"]
    return found


def test_an_owners_first_snapshot_is_a_put_if_new_of_the_item_the_update_would_make(
    env: Provisioned, entries: Counter[str]
) -> None:
    """A first snapshot is put-if-new (the same write units as the update; moto's DynamoDB spent ~1 ms on each
    Update of a new item, a tenth of that on a Put); a later one is the keep-the-newest update. Either way the item
    is the same."""
    settings("c1")
    tag = uuid.uuid4().hex[:6]
    snapshots = [everything_found(f"o-{tag}-{i}") if i % 2 else snapshot(f"o-{tag}-{i}") for i in range(20)]
    entries.clear()
    assert deliver(snapshots) == {"batchItemFailures": []}
    assert entries == {"Put": 20}  # no Update: none of the owners had an item
    put = _owner_items(env, [s.case_owner_id for s in snapshots])

    # the same snapshots for owners of their own through the update (what every first snapshot was before)
    twins = [s.model_copy(update={"case_owner_id": f"{s.case_owner_id}-twin"}) for s in snapshots]
    owners = [use_cases._checked(s)[1] for s in twins]
    assert repository.put_owners(owners, known={o.case_owner_id for o in owners}) == ["newer"] * 20
    updated = _owner_items(env, [s.case_owner_id for s in twins])
    for s in snapshots:
        twin = updated[f"{s.case_owner_id}-twin"]
        assert put[s.case_owner_id] == twin | {"PK": {"S": f"OWNER#{s.case_owner_id}"}}
        assert put[s.case_owner_id]["snapshots"] == {"N": "1"}

    entries.clear()
    assert deliver(snapshots, receive_count=2) == {"batchItemFailures": []}  # delivered again: known owners
    assert entries == {"Update": 20}
    assert all(i["snapshots"] == {"N": "2"} for i in _owner_items(env, [s.case_owner_id for s in snapshots]).values())


def test_a_first_snapshot_refused_because_another_came_meanwhile_is_kept_only_if_newer(env: Provisioned) -> None:
    """The owners had no item when read; before the write another snapshot stored one: the put-if-new is refused and
    the keep-the-newest update decides, as it did for every first snapshot."""
    settings("c1")
    tag = uuid.uuid4().hex[:6]
    now = datetime.now(UTC)
    older, newer = (use_cases._checked(snapshot(f"o-{tag}-{i}", at=now))[1] for i in range(2))
    for owner, at in ((older, now - timedelta(hours=1)), (newer, now + timedelta(hours=1))):
        assert repository.put_owners([replace(owner, as_of=at)], known=set()) == ["first"]

    assert repository.put_owners([older, newer], known=set()) == ["newer", None]  # "newer": another came first
    items = _owner_items(env, [older.case_owner_id, newer.case_owner_id])
    assert items[older.case_owner_id]["as_of"] == {"S": now.isoformat()}
    assert items[older.case_owner_id]["snapshots"] == {"N": "2"}  # it tells a reader that another came first
    assert items[newer.case_owner_id]["as_of"] == {"S": (now + timedelta(hours=1)).isoformat()}
    assert items[newer.case_owner_id]["snapshots"] == {"N": "1"}
