"""``shared.dynamo.write_groups``: many entities' conditional writes in as few TransactWriteItems as fit."""

from __future__ import annotations

from typing import Any

import pytest

from shared import dynamo


def _put(pk: str, sk: str = "A") -> dict[str, Any]:
    return {"Put": {"TableName": "t", "Item": {"PK": {"S": pk}, "SK": {"S": sk}}}}


def _update(pk: str, sk: str = "A") -> dict[str, Any]:
    return {"Update": {"TableName": "t", "Key": {"PK": {"S": pk}, "SK": {"S": sk}}, "UpdateExpression": "SET a = :a"}}


class Fake:
    """A TransactWriteItems that refuses the items whose PK is in ``refuse`` (with ``code``), like DynamoDB."""

    def __init__(self, refuse: dict[str, str] | None = None) -> None:
        self.refuse = dict(refuse or {})
        self.requests: list[list[str]] = []

    def __call__(self, items: list[dict[str, Any]]) -> None:
        pks = [next(iter(op.values()))["Item" if "Put" in op else "Key"]["PK"]["S"] for op in items]
        self.requests.append(pks)
        assert len(items) <= 100
        keys = [str(next(iter(op.values()))) for op in items]
        assert len(set(pks)) == len(pks) or len(set(keys)) == len(keys)
        if any(pk in self.refuse for pk in pks):
            raise dynamo.TransactionCancelled([self.refuse.get(pk, "None") for pk in pks])


def test_groups_share_requests_of_at_most_100_items_in_order() -> None:
    groups = [[_put(f"E{i}", "A"), _put(f"E{i}", "B"), _put(f"E{i}", "C")] for i in range(70)]
    commit = Fake()
    assert dynamo.write_groups(groups, commit) == [None] * 70
    assert [len(r) for r in commit.requests] == [99, 99, 12]  # 33 whole groups a request
    assert [pk for r in commit.requests for pk in r] == [f"E{i}" for i in range(70) for _ in "ABC"]


def test_a_group_touching_an_item_the_request_holds_starts_the_next_request() -> None:
    groups = [[_put("C1"), _update("OWNER")], [_put("C2"), _update("OWNER")], [_put("C3", "X")]]
    commit = Fake()
    assert dynamo.write_groups(groups, commit) == [None, None, None]
    assert commit.requests == [["C1", "OWNER"], ["C2", "OWNER", "C3"]]


def test_a_group_whose_condition_failed_is_left_out_with_its_reasons_and_the_rest_written() -> None:
    groups = [[_put(f"E{i}"), _update(f"H{i}")] for i in range(5)]
    commit = Fake({"E1": "ConditionalCheckFailed", "H3": "TransactionConflict"})
    result = dynamo.write_groups(groups, commit)
    assert result == [None, ["ConditionalCheckFailed", "None"], None, ["None", "TransactionConflict"], None]
    assert commit.requests[-1] == ["E0", "H0", "E2", "H2", "E4", "H4"]  # written again without them
    assert len(commit.requests) == 2


def test_a_cancellation_that_names_no_item_raises() -> None:
    def commit(items: list[dict[str, Any]]) -> None:
        raise dynamo.TransactionCancelled(["None"] * len(items))

    with pytest.raises(dynamo.TransactionCancelled):
        dynamo.write_groups([[_put("E1")]], commit)


def test_empty_groups_are_written_without_a_request() -> None:
    commit = Fake()
    assert dynamo.write_groups([[], []], commit) == [None, None]
    assert commit.requests == []
