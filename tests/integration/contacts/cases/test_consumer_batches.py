"""The contacts consumer at an import's scale: a batch of imported case owners costs no idempotency record and one
PutEvents per 10 events; a redelivery changes nothing; events that cannot be published send their records back
with their outbox rows kept; the snapshot for enrichment built from what was just read and written is the one a
read-back gives."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest

from infra.local.dispatcher import sqs_record
from infra.local.lambda_runtime import ACCOUNT
from infra.provision import Provisioned
from services.contacts import handlers
from services.contacts.cases import enrichment
from shared import bus, outbox
from shared.events import Event
from tests.integration.contacts.cases.support import imported, new_owner_files
from tests.integration.support import REGION, arrived, client, deliver_to, envelope, receive_all, unpacked


def _deliver(events: Sequence[Event], receive_count: int = 1) -> dict[str, Any]:
    return deliver_to("contacts", handlers.on_bus_events, events, receive_count)


def _items(aws: Provisioned) -> list[dict[str, Any]]:
    return list(client(aws, "dynamodb").scan(TableName=aws.names.table("contacts"))["Items"])


def test_a_batch_of_imported_owners_costs_no_idempotency_record_and_a_put_events_per_ten(
    aws: Provisioned, calls: Counter[str]
) -> None:
    events = new_owner_files(10)
    assert _deliver(events) == {"batchItemFailures": []}
    # per owner: one transaction, nothing read (imports matched them as new: no points to compare with, no
    # restriction, no merge; every write is conditional); for the batch: 20 events as two v2s of many in one
    # PutEvents, one delete of the CaseOpened rows; the outbox is not read back: on a first delivery the rows to
    # publish are those the transactions committed
    assert calls["TransactWriteItems"] == 10
    assert calls["PutEvents"] == 1
    assert calls["BatchWriteItem"] == 1
    assert calls["Query"] == calls["GetItem"] == 0
    assert calls["PutItem"] == calls["UpdateItem"] == 0
    items = _items(aws)
    assert not [i for i in items if i["SK"]["S"] == "IDEMPOTENCY"]
    assert not [i for i in items if i["PK"]["S"].startswith(outbox.PREFIX)]
    packed = [json.loads(m["Body"]) for m in receive_all(aws, "enrichment-inbox")]
    assert Counter(e["detail-type"] for e in packed) == {"CasesOpened.v2": 1, "CaseOwnersContactsChanged.v2": 1}
    members = Counter(e["detail-type"] for e in unpacked(packed))
    assert members == {"CaseOpened.v1": 10, "CaseOwnerContactsChanged.v1": 10}


def test_a_first_delivery_whose_known_case_was_left_out_publishes_only_what_it_committed(
    aws: Provisioned, calls: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second file with a known case and a new one, the known case written by someone else between the read and
    the write: its group fails its condition and is left out of the transaction, so not every outbox row built was
    committed; the consumer reads the committed ones back."""
    from services.contacts.cases import repository, use_cases

    owner = f"owner-{uuid.uuid4().hex[:6]}"
    assert _deliver([imported(owner, case_ids=(f"{owner}-a",), points=(("email", "a@example.com"),))]) == {
        "batchItemFailures": []
    }
    receive_all(aws, "enrichment-inbox")
    real_read = repository.read_owner

    def read_before_the_case(case_owner_id: str) -> repository.OwnerRead:
        read = real_read(case_owner_id)
        return repository.OwnerRead(case_owner_id, tuple(i for i in read.items if i["SK"] != f"CASE#{owner}-a"))

    monkeypatch.setattr(use_cases.repository, "read_owner", read_before_the_case)
    queries = calls["Query"]
    again = imported(owner, case_ids=(f"{owner}-a", f"{owner}-b"), points=(("email", "a@example.com"),))
    assert _deliver([again]) == {"batchItemFailures": []}
    assert calls["Query"] == queries + 2  # the owner with its cases and points, and the outbox rows it committed
    opened = [m["detail"]["case_id"] for m in arrived(aws, "enrichment-inbox") if m["detail-type"] == "CaseOpened.v1"]
    assert opened == [f"{owner}-b"]
    assert not [i for i in _items(aws) if i["PK"]["S"].startswith(outbox.PREFIX)]


def test_a_new_owner_found_stored_already_takes_the_reading_path_and_writes_only_what_is_missing(
    aws: Provisioned, calls: Counter[str]
) -> None:
    """The no-read path for an owner imports matched as new: when its transaction finds the owner there (an owner
    created meanwhile, a tombstone, a second part of a big file), nothing of it is written and the general path
    reads the owner and its points and adds only the new case and point, with one CaseOpened."""
    owner = f"owner-{uuid.uuid4().hex[:6]}"
    assert _deliver([imported(owner, case_ids=(f"{owner}-a",), points=(("email", "a@example.com"),))]) == {
        "batchItemFailures": []
    }
    assert (calls["TransactWriteItems"], calls["Query"], calls["GetItem"]) == (1, 0, 0)
    receive_all(aws, "enrichment-inbox")
    before = {i["SK"]["S"] for i in _items(aws) if i["PK"]["S"] == f"OWNER#{owner}"}
    again = imported(
        owner, case_ids=(f"{owner}-a", f"{owner}-b"), points=(("email", "a@example.com"), ("phone", "+41 44 1234567"))
    )
    assert again.matched_by == "new"
    assert _deliver([again]) == {"batchItemFailures": []}
    # the cancelled no-read transaction, then the general path: one Query (the owner, its cases and points) and
    # one transaction with only what is new; the outbox rows it committed are published without a read
    assert (calls["TransactWriteItems"], calls["GetItem"], calls["Query"]) == (1 + 1 + 1, 0, 1)
    added = {i["SK"]["S"] for i in _items(aws) if i["PK"]["S"] == f"OWNER#{owner}"} - before
    assert {sk.split("#")[0] + "#" + sk.split("#")[1] for sk in added if not sk.startswith("AUDIT#")} == {
        f"CASE#{owner}-b",
        "CP#phone",
    }
    assert len([sk for sk in added if sk.startswith("AUDIT#")]) == 2  # the case opened, the phone added
    opened = [m["detail"]["case_id"] for m in arrived(aws, "enrichment-inbox") if m["detail-type"] == "CaseOpened.v1"]
    assert opened == [f"{owner}-b"]


def test_a_known_owners_file_with_nothing_new_costs_one_read_and_no_write(
    aws: Provisioned, calls: Counter[str]
) -> None:
    """The same rows imported again (next month's file repeating a debtor): one Query finds the owner, its case and
    its points there, so there is no transaction to try and no outbox to read; the snapshot still goes out."""
    owner = f"owner-{uuid.uuid4().hex[:6]}"
    first = imported(owner, case_ids=(f"{owner}-a",), points=(("email", "a@example.com"),))
    assert _deliver([first]) == {"batchItemFailures": []}
    receive_all(aws, "enrichment-inbox")
    before = sorted(json.dumps(i, sort_keys=True) for i in _items(aws))
    calls.clear()
    again = first.model_copy(update={"event_id": str(uuid.uuid4()), "import_id": "import-2", "matched_by": "weighted"})
    assert _deliver([again]) == {"batchItemFailures": []}
    assert calls["Query"] == 1
    assert calls["GetItem"] == calls["TransactWriteItems"] == calls["BatchWriteItem"] == 0
    assert sorted(json.dumps(i, sort_keys=True) for i in _items(aws)) == before
    assert [m["detail-type"] for m in arrived(aws, "enrichment-inbox")] == ["CaseOwnerContactsChanged.v1"]


def test_a_redelivered_batch_changes_nothing(aws: Provisioned) -> None:
    events = new_owner_files(3)
    assert _deliver(events) == {"batchItemFailures": []}
    before = sorted(json.dumps(i, sort_keys=True) for i in _items(aws))
    receive_all(aws, "enrichment-inbox")
    assert _deliver(events, receive_count=2) == {"batchItemFailures": []}
    assert sorted(json.dumps(i, sort_keys=True) for i in _items(aws)) == before
    again = [m["detail-type"] for m in arrived(aws, "enrichment-inbox")]
    assert again == ["CaseOwnerContactsChanged.v1"] * 3  # the snapshots again; no case opened twice


def test_events_that_cannot_go_out_send_their_records_back_and_a_retry_publishes_them(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = new_owner_files(2)

    def refused(*args: Any, **kwargs: Any) -> None:
        raise bus.PublishError([{"ErrorCode": "InternalFailure"}])

    with monkeypatch.context() as m:
        m.setattr(bus, "_put_batch", refused)
        result = _deliver(events)
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == ["m-0", "m-1"]
    kept = [i for i in _items(aws) if i["PK"]["S"].startswith(outbox.PREFIX)]
    assert len(kept) == 2  # the CaseOpened rows wait in the outbox
    assert receive_all(aws, "enrichment-inbox") == []
    assert _deliver(events, receive_count=2) == {"batchItemFailures": []}
    assert not [i for i in _items(aws) if i["PK"]["S"].startswith(outbox.PREFIX)]
    announced = Counter(m["detail-type"] for m in arrived(aws, "enrichment-inbox"))
    assert announced == {"CaseOpened.v1": 2, "CaseOwnerContactsChanged.v1": 2}


def _published_snapshot(aws: Provisioned, owner_id: str) -> dict[str, Any]:
    envelopes = arrived(aws, "enrichment-inbox")
    snapshots = [m["detail"] for m in envelopes if m["detail-type"] == "CaseOwnerContactsChanged.v1"]
    [snapshot] = [s for s in snapshots if s["case_owner_id"] == owner_id]
    return snapshot


def _comparable(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in snapshot.items() if k not in ("event_id", "occurred_at")}


@pytest.mark.parametrize("known_owner", [False, True], ids=["new owner", "owner with points already"])
def test_the_snapshot_built_from_the_writes_is_the_one_read_back(aws: Provisioned, known_owner: bool) -> None:
    owner = f"owner-{uuid.uuid4().hex[:6]}"
    if known_owner:
        assert _deliver([imported(owner, case_ids=(f"{owner}-a",), points=(("email", "a@example.com"),))]) == {
            "batchItemFailures": []
        }
        receive_all(aws, "enrichment-inbox")
    event = imported(
        owner,
        case_ids=(f"{owner}-b",),
        points=(("email", "b@example.com"), ("phone", "+41 44 123 45 67"), ("email", "a@example.com")),
    )
    assert _deliver([event]) == {"batchItemFailures": []}
    read_back = enrichment.contacts_changed(owner, event.correlation_id)
    assert read_back is not None
    expected = _comparable(json.loads(read_back.model_dump_json()))
    assert _comparable(_published_snapshot(aws, owner)) == expected
    assert len(expected["contact_points"]) == 3


def test_a_read_is_shared_by_the_records_of_a_batch_until_its_writer_runs(aws: Provisioned) -> None:
    """``read_once_per_batch``: the records of one invocation share a read (enrichment's client settings); the
    writer of that data makes the next records read again; another invocation reads afresh."""
    from shared import consumer
    from shared.events import CaseOpened, ClientSettingsChanged

    loads: list[str] = []
    value = {"v": "old"}

    def read(event: Event) -> None:
        loads.append(consumer.read_once_per_batch("k", lambda: value["v"]))

    def write(event: Event) -> None:
        value["v"] = "new"
        consumer.forget_for_the_batch("k")

    def opened() -> CaseOpened:
        return CaseOpened(
            correlation_id="c", client_id="x", case_owner_id="o", case_id=uuid.uuid4().hex, opened_on=date(2026, 9, 1)
        )

    changed = ClientSettingsChanged(correlation_id="c", client_id="x", settings={})
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"

    def batch(*events: Event) -> list[dict[str, Any]]:
        return [
            sqs_record({"Body": json.dumps(envelope(e)), "MessageId": f"m{n}", "ReceiptHandle": "rh"}, arn, REGION)
            for n, e in enumerate(events)
        ]

    handlers: dict[type[Event], Any] = {
        CaseOpened: consumer.rerunnable(read),
        ClientSettingsChanged: consumer.rerunnable(write),
    }
    table = aws.names.table("enrichment")
    value["v"] = "first"
    result = consumer.consume(
        {"Records": batch(opened(), opened(), changed, opened())},
        None,
        service="t",
        table_name=table,
        handlers=handlers,
    )
    assert result == {"batchItemFailures": []}
    assert loads == ["first", "first", "new"]
    assert consumer.read_once_per_batch("k", lambda: "outside") == "outside"
