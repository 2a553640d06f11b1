"""infra.local.fidelity: the update validator's walk decides once per node class whether a node is a SET, REMOVE,
DELETE or ADD action (whose values moto's resolving processor resolves from the second child on), instead of
checking four ABCs for every child of every node, and the tree's copy whether a child is a node. The answers are
moto's own (``test_local_fidelity_updates`` compares whole updates both ways); here, the decision itself, node by
node, and that it costs no ABC check."""

from __future__ import annotations

import abc
import sys
import uuid
from typing import Any

import boto3
import pytest

from infra.local import fidelity
from tests.integration.infra.test_local_fidelity_updates import VALID
from tests.integration.support import create_pk_sk_gsi1_table

ACCOUNT, REGION = "123456789012", "eu-west-1"


def _nodes(node: Any) -> list[Any]:
    found = [node]
    for child in node.children or ():
        if isinstance(child, fidelity._moto.AstNode):
            found += _nodes(child)
    return found


@pytest.mark.parametrize(("expression", "names", "values"), VALID)
def test_the_resolving_processor_decides_at_every_child_as_moto_does(
    moto_endpoint: str, expression: str, names: dict[str, str], values: dict[str, Any]
) -> None:
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
    from moto.dynamodb.parsing.validators import ExpressionAttributeResolvingProcessor

    assert fidelity.cached_update_expressions()
    moto_hook = ExpressionAttributeResolvingProcessor.pre_processing_of_child
    ours = ExpressionAttributeResolvingProcessor.__new__(ExpressionAttributeResolvingProcessor)
    theirs = ExpressionAttributeResolvingProcessor.__new__(ExpressionAttributeResolvingProcessor)
    nodes = _nodes(UpdateExpressionParser.make(expression))
    assert any(isinstance(n, fidelity._moto.ResolvingActions) for n in nodes)
    for node in nodes:
        for child_id in range(max(len(node.children or ()), 2)):
            for resolving in (False, True):
                ours.resolving = theirs.resolving = resolving
                fidelity._resolving_from_value(ours, node, child_id)
                moto_hook(theirs, node, child_id)
                assert ours.resolving is theirs.resolving, (type(node).__name__, child_id, resolving)


def test_an_update_is_validated_without_an_abc_check_of_its_actions(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto's hook checked every child's parent against the four action ABCs (~47 checks an update), and the
    tree's copy checked every child against moto's Node ABC."""
    ddb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)
    table = f"fidelity-walk-{uuid.uuid4().hex[:8]}"
    create_pk_sk_gsi1_table(ddb, table)

    def update(n: int) -> None:
        ddb.update_item(
            TableName=table,
            Key={"PK": {"S": "T"}, "SK": {"S": f"S{n}"}},
            UpdateExpression="SET label = :v, amount = if_not_exists(amount, :zero) + :one REMOVE gone ADD seen :one",
            ExpressionAttributeValues={":v": {"S": "y"}, ":zero": {"N": "0"}, ":one": {"N": "1"}},
        )

    update(1)  # the classes met once
    checked: list[tuple[str, str]] = []
    original = abc.ABCMeta.__instancecheck__

    def counted(cls: abc.ABCMeta, instance: Any) -> bool:
        caller = sys._getframe(1).f_code
        checked.append((caller.co_filename, caller.co_name))
        return original(cls, instance)

    monkeypatch.setattr(abc.ABCMeta, "__instancecheck__", counted)
    update(2)
    monkeypatch.undo()
    assert checked, "the update made no ABC check at all: the count is not counting"
    assert [c for c in checked if c[0] == fidelity.__file__ or c[1] == "pre_processing_of_child"] == []
    assert ddb.get_item(TableName=table, Key={"PK": {"S": "T"}, "SK": {"S": "S2"}})["Item"]["seen"] == {"N": "1"}
