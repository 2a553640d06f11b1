"""Enrichment's offline checks written back set-at-a-time: a batch of ContactPointsChecked stores its points' checks
in shared TransactWriteItems, each still conditional on the point's value; a point whose value changed is dropped
alone, and a redelivery writes the same again."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from infra.provision import Provisioned
from services.contacts import handlers
from shared.events import ContactPointChecks, ContactPointsChecked, EmailCheck, Event, PhoneCheck
from tests.integration.contacts.cases.support import CLIENT_ID, imported
from tests.integration.support import client, deliver_to

CHECKED_AT = datetime(2026, 11, 28, tzinfo=UTC)


def _deliver(events: Sequence[Event], receive_count: int = 1) -> dict[str, Any]:
    return deliver_to("contacts", handlers.on_bus_events, events, receive_count)


def _points(aws: Provisioned) -> dict[tuple[str, str], dict[str, Any]]:
    """(case owner, type) → the stored point item."""
    items = client(aws, "dynamodb").scan(TableName=aws.names.table("contacts"))["Items"]
    return {(i["PK"]["S"].removeprefix("OWNER#"), i["type"]["S"]): i for i in items if i["SK"]["S"].startswith("CP#")}


def _checks(
    owner: str, points: dict[tuple[str, str], dict[str, Any]], email: str | None = None
) -> ContactPointsChecked:
    phone, mail = points[(owner, "phone")], points[(owner, "email")]
    return ContactPointsChecked(
        correlation_id="c",
        client_id=CLIENT_ID,
        case_owner_id=owner,
        checks=[
            ContactPointChecks(
                contact_point_id=phone["contact_point_id"]["S"],
                type="phone",
                value=phone["value"]["S"],
                checked_at=CHECKED_AT,
                phone=PhoneCheck(valid=True, line_type="mobile", region="DE", time_zones=["Europe/Berlin"]),
            ),
            ContactPointChecks(
                contact_point_id=mail["contact_point_id"]["S"],
                type="email",
                value=email or mail["value"]["S"],
                checked_at=CHECKED_AT,
                email=EmailCheck(valid=True, mail_server="found"),
            ),
        ],
    )


def test_a_batch_of_checks_is_one_transaction_and_a_changed_point_is_dropped_alone(
    aws: Provisioned, calls: Counter[str]
) -> None:
    tag = uuid.uuid4().hex[:6]
    owners = [f"owner-{tag}-{i}" for i in range(20)]
    _deliver(
        [
            imported(o, case_ids=(f"{o}-case",), points=(("email", f"m{i}@example.com"), ("phone", "+4915123456789")))
            for i, o in enumerate(owners)
        ]
    )
    points = _points(aws)
    batch = [_checks(o, points, email="old@example.com" if o == owners[7] else None) for o in owners]
    calls.clear()
    assert _deliver(batch) == {"batchItemFailures": []}
    # 40 conditional updates in one request; its one failed condition (owner 7's e-mail changed since it was
    # checked) cancels it once, and the 39 others are written again together. One by one: 40 UpdateItem.
    assert calls["TransactWriteItems"] == 2
    assert calls["UpdateItem"] == 0
    after = _points(aws)
    assert "checks" not in after[(owners[7], "email")]
    stored = [k for k, item in after.items() if k[0] in owners and "checks" in item]
    assert len(stored) == 39
    assert after[(owners[0], "phone")]["checks"]["M"]["phone"]["M"]["line_type"] == {"S": "mobile"}

    calls.clear()
    assert _deliver(batch, receive_count=2) == {"batchItemFailures": []}  # a redelivery writes the same again
    assert calls["TransactWriteItems"] == 2
    assert _points(aws) == after


def test_one_points_checks_alone_are_a_plain_conditional_update(aws: Provisioned, calls: Counter[str]) -> None:
    owner = f"owner-{uuid.uuid4().hex[:6]}"
    _deliver(
        [imported(owner, case_ids=(f"{owner}-case",), points=(("email", "a@example.com"), ("phone", "+4930123456")))]
    )
    one = _checks(owner, _points(aws))
    one = one.model_copy(update={"checks": one.checks[:1]})
    calls.clear()
    assert _deliver([one]) == {"batchItemFailures": []}
    assert (calls["UpdateItem"], calls["TransactWriteItems"]) == (1, 0)  # half the write units of a transaction
    assert "checks" in _points(aws)[(owner, "phone")]


def test_a_batch_of_checks_reads_the_table_name_once(aws: Provisioned, monkeypatch: pytest.MonkeyPatch) -> None:
    """The table's name comes from the function's settings (six environment variables read and compared each
    time): once a batch, not once a point (2.08 points a row of an import)."""
    from services.contacts import store

    owners = [f"owner-{uuid.uuid4().hex[:6]}-{i}" for i in range(3)]
    _deliver(
        [
            imported(o, case_ids=(f"{o}-case",), points=(("email", f"n{i}@example.com"), ("phone", "+4930123456")))
            for i, o in enumerate(owners)
        ]
    )
    points = _points(aws)
    read: list[str] = []
    original = store.table_name

    def counted() -> str:
        read.append(original())
        return read[-1]

    monkeypatch.setattr(store, "table_name", counted)
    assert _deliver([_checks(o, points) for o in owners]) == {"batchItemFailures": []}
    assert len(read) == 1
    assert all("checks" in _points(aws)[(o, kind)] for o in owners for kind in ("phone", "email"))
