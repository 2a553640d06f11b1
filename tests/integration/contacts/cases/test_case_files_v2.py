"""CaseFileImported.v2 in contacts: the case owners of one event written set-at-a-time (new owners' groups sharing
TransactWriteItems of at most 100 items, no read first), the others through the per-owner path, and a delivery that
fails between two transactions finished by its redelivery with every case opened once."""

from __future__ import annotations

import json
import math
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from infra.provision import Provisioned
from services.contacts import handlers
from services.imports import domain
from shared import outbox
from shared.events import CaseFileImported, CaseFileImportedV2, Event
from tests.integration.contacts.cases.support import imported, new_owner_files
from tests.integration.support import arrived, client, deliver_to, receive_all


def _deliver(events: Sequence[Event], receive_count: int = 1) -> dict[str, Any]:
    return deliver_to("contacts", handlers.on_bus_events, events, receive_count)


def chunk(files: Sequence[CaseFileImported]) -> CaseFileImportedV2:
    """The v1 case files as imports' publish phase sends them now: one v2 event (imports' own conversion)."""
    return domain.case_files_event("import-1", files[0].client_id, [domain.imported_case_file(f) for f in files])


class Calls:
    def __init__(self) -> None:
        self.operations: Counter[str] = Counter()
        self.transaction_sizes: list[int] = []
        self.fail_transaction: int | None = None  # the n-th TransactWriteItems (1-based) raises


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    seen = Calls()
    original = BaseClient._make_api_call

    def count(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        seen.operations[operation] += 1
        if operation == "TransactWriteItems":
            seen.transaction_sizes.append(len(params["TransactItems"]))
            if seen.fail_transaction == len(seen.transaction_sizes):
                raise ClientError({"Error": {"Code": "InternalServerError", "Message": "simulated"}}, operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", count)
    yield seen


def _items(aws: Provisioned) -> list[dict[str, Any]]:
    return list(client(aws, "dynamodb").scan(TableName=aws.names.table("contacts"))["Items"])


def _shape(items: list[dict[str, Any]], owner_id: str) -> Counter[str]:
    """What is stored for an owner, by kind (PROFILE, CASE, CP#email, AUDIT, …), and its case pointers."""
    kinds: Counter[str] = Counter()
    for i in items:
        pk, sk = i["PK"]["S"], i["SK"]["S"]
        if pk == f"OWNER#{owner_id}":
            parts = sk.split("#")
            kinds["#".join(parts[:2]) if parts[0] in ("CP", "DEFAULT") else parts[0]] += 1
        elif pk.startswith("CASE#") and i.get("case_owner_id", {}).get("S") == owner_id:
            kinds["case pointer"] += 1
    return kinds


def _arrived(aws: Provisioned) -> list[dict[str, Any]]:
    return arrived(aws, "enrichment-inbox")


def test_fifty_new_owners_in_one_event_share_transactions_and_read_nothing(aws: Provisioned, calls: Calls) -> None:
    files = new_owner_files(50)
    assert _deliver([chunk(files)]) == {"batchItemFailures": []}
    items = sum(calls.transaction_sizes)
    assert len(calls.transaction_sizes) <= 1 + math.ceil(items / 100)  # not one per owner (50)
    assert max(calls.transaction_sizes) <= 100
    assert calls.operations["Query"] == calls.operations["GetItem"] == calls.operations["BatchGetItem"] == 0
    assert calls.operations["PutItem"] == calls.operations["UpdateItem"] == 0
    # 50 CaseOpened and 50 snapshots as two v2s of many (shared.bus.packed) in one PutEvents; the 50 CaseOpened in
    # one outbox row a transaction (shared.outbox.merged), deleted in one request
    assert calls.operations["PutEvents"] == 1
    assert calls.operations["BatchWriteItem"] == 1
    stored = _items(aws)
    reference = _shape(stored, files[0].case_owner.case_owner_id)
    assert reference["PROFILE"] == 1 and reference["CASE"] == 1 and reference["case pointer"] == 1
    assert reference["CP#email"] == reference["CP#phone"] == 1
    assert all(_shape(stored, f.case_owner.case_owner_id) == reference for f in files)
    assert not [i for i in stored if i["PK"]["S"].startswith(outbox.PREFIX)]
    packed = Counter(json.loads(m["Body"])["detail-type"] for m in receive_all(aws, "enrichment-inbox"))
    assert packed == {"CasesOpened.v2": 1, "CaseOwnersContactsChanged.v2": 1}


def test_an_owner_stored_meanwhile_and_a_known_owner_take_the_per_owner_path(aws: Provisioned, calls: Calls) -> None:
    """Five owners matched as new, one of them stored already (an earlier file, an owner created meanwhile): its
    group fails its condition, the transaction is written again without it, and the general path adds only its new
    case. A known owner whose file brings nothing new costs one Query and no write."""
    tag = uuid.uuid4().hex[:6]
    files = new_owner_files(5, tag)
    stored_owner = files[2].case_owner.case_owner_id
    known = imported(f"known-{tag}", case_ids=(f"known-{tag}-a",), points=(("email", "k@example.com"),))
    assert _deliver([chunk([files[2], known])]) == {"batchItemFailures": []}
    receive_all(aws, "enrichment-inbox")
    before = {i["SK"]["S"] for i in _items(aws) if i["PK"]["S"] == f"OWNER#{stored_owner}"}
    calls.operations.clear()
    calls.transaction_sizes.clear()

    more = files[2].model_copy(update={"cases": [*files[2].cases, *imported(case_ids=(f"{stored_owner}-b",)).cases]})
    again = known.model_copy(update={"matched_by": "model:name+phone"})
    assert _deliver([chunk([files[0], files[1], more, again, files[3], files[4]])]) == {"batchItemFailures": []}
    # the shared transaction, cancelled for the stored owner; again without it; the stored owner's new case
    first, second, general = calls.transaction_sizes
    # the four others' groups (alike) written again, their CaseOpened rows one outbox row; the stored owner's group
    # (the same, plus a case: the case and its pointer, named in the group's one audit entry, and its CaseOpened in
    # the shared row) left out; the general path writes that case, its pointer, its row and an audit entry
    others = second - 1
    assert others % 4 == 0 and first == second + others // 4 + 2 and general == 4
    assert calls.operations["Query"] == 2  # one per owner on the general path; the outbox is not read back
    assert calls.operations["GetItem"] == 0
    added = {i["SK"]["S"] for i in _items(aws) if i["PK"]["S"] == f"OWNER#{stored_owner}"} - before
    assert {sk.split("#")[0] for sk in added} == {"CASE", "AUDIT"}
    opened = sorted(e["detail"]["case_id"] for e in _arrived(aws) if e["detail-type"] == "CaseOpened.v1")
    assert opened == sorted(
        [f"{stored_owner}-b", *(f.cases[0].case_id for f in (files[0], files[1], files[3], files[4]))]
    )


def test_a_delivery_that_fails_between_two_transactions_is_finished_by_its_redelivery(
    aws: Provisioned, calls: Calls
) -> None:
    files = new_owner_files(20)
    event = chunk(files)  # SQS redelivers the same message: the same event id, so the outbox rows of its cause
    calls.fail_transaction = 2
    with pytest.raises(BatchProcessingError):  # the batch's only record failed: the invocation fails, SQS retries
        _deliver([event])
    assert len(calls.transaction_sizes) == 2
    stored = _items(aws)
    written = [f for f in files if _shape(stored, f.case_owner.case_owner_id)["PROFILE"]]
    assert 0 < len(written) < len(files)  # the first transaction's owners, whole, and nothing of the others
    reference = _shape(stored, written[0].case_owner.case_owner_id)
    assert all(_shape(stored, f.case_owner.case_owner_id) == reference for f in written)
    assert all(not _shape(stored, f.case_owner.case_owner_id) for f in files if f not in written)
    rows = [i for i in stored if i["PK"]["S"].startswith(outbox.PREFIX)]
    assert sum(outbox.events_in(i) for i in rows) == len(written)  # their CaseOpened
    assert len(rows) < len(written)  # one row a transaction
    assert _arrived(aws) == []  # a failed record's events do not go out

    calls.fail_transaction = None
    assert _deliver([event], receive_count=2) == {"batchItemFailures": []}
    stored = _items(aws)
    assert all(_shape(stored, f.case_owner.case_owner_id) == reference for f in files)
    assert not [i for i in stored if i["PK"]["S"].startswith(outbox.PREFIX)]
    arrived = _arrived(aws)
    opened = Counter(e["detail"]["case_id"] for e in arrived if e["detail-type"] == "CaseOpened.v1")
    assert opened == {f.cases[0].case_id: 1 for f in files}  # every case opened exactly once
    snapshots = {e["detail"]["case_owner_id"] for e in arrived if e["detail-type"] == "CaseOwnerContactsChanged.v1"}
    assert snapshots == {f.case_owner.case_owner_id for f in files}

    # and a further redelivery changes nothing and announces no case again
    before = sorted(json.dumps(i, sort_keys=True) for i in stored)
    assert _deliver([event], receive_count=3) == {"batchItemFailures": []}
    assert sorted(json.dumps(i, sort_keys=True) for i in _items(aws)) == before
    assert not [e for e in _arrived(aws) if e["detail-type"] == "CaseOpened.v1"]


def test_v1_and_v2_of_the_same_case_file_store_the_same(aws: Provisioned) -> None:
    """During the rollout both versions arrive: a case file announced by either is stored alike, and announced by
    both (an import published before the rollout, redelivered after it) is stored once."""
    [v1_file] = new_owner_files(1)
    [v2_file] = new_owner_files(1)
    assert _deliver([v1_file]) == {"batchItemFailures": []}
    assert _deliver([chunk([v2_file])]) == {"batchItemFailures": []}
    stored = _items(aws)
    assert _shape(stored, v1_file.case_owner.case_owner_id) == _shape(stored, v2_file.case_owner.case_owner_id)
    receive_all(aws, "enrichment-inbox")
    assert _deliver([chunk([v1_file])]) == {"batchItemFailures": []}
    assert sorted(json.dumps(i, sort_keys=True) for i in _items(aws)) == sorted(
        json.dumps(i, sort_keys=True) for i in stored
    )
    assert not [e for e in _arrived(aws) if e["detail-type"] == "CaseOpened.v1"]


def test_two_parts_of_one_owners_file_in_one_event_are_written_one_after_the_other(
    aws: Provisioned, calls: Calls
) -> None:
    """imports never puts a case owner twice in an event, but a consumer does not rely on it: the first part goes
    with the new owners, the second (the same owner's items: not in the same request) on the per-owner path."""
    tag = uuid.uuid4().hex[:6]
    [other] = new_owner_files(1, tag)
    owner = f"owner-{tag}-parts"
    first = imported(owner, case_ids=(f"{owner}-a", f"{owner}-b"), points=(("email", "p@example.com"),))
    second = imported(owner, case_ids=(f"{owner}-c",), points=(("email", "p@example.com"),))
    assert _deliver([chunk([first, other, second])]) == {"batchItemFailures": []}
    assert len(calls.transaction_sizes) == 2  # the two new owners together; the second part's new case
    assert calls.operations["Query"] == 1  # the second part reads what the first wrote
    stored = _shape(_items(aws), owner)
    assert (stored["PROFILE"], stored["CASE"], stored["case pointer"], stored["CP#email"]) == (1, 3, 3, 1)
    opened = sorted(e["detail"]["case_id"] for e in _arrived(aws) if e["detail-type"] == "CaseOpened.v1")
    assert opened == sorted([f"{owner}-a", f"{owner}-b", f"{owner}-c", other.cases[0].case_id])
