"""After contacts merges two case owners (an accepted match review), enrichment searches for the survivor only: the
merged owner's tracked cases move to the survivor and follow its snapshot; the merged owner's snapshot goes."""

from __future__ import annotations

from typing import Any

import pytest

from infra.definition import STACK
from infra.local.dispatcher import sqs_record
from infra.local.lambda_runtime import ACCOUNT, context_for
from infra.provision import Provisioned
from services.enrichment import handlers, repository
from shared import bus
from shared.events import CaseOwnersMerged
from tests.integration.enrichment.test_attempts import FakeBureau, case, env, owner, run, settings
from tests.integration.support import receive_all

pytestmark = pytest.mark.integration
__all__ = ["env"]  # the fixture, imported for the tests below


def deliver(p: Provisioned) -> None:
    """What reached enrichment's inbox through the bus rules, through its real consumer."""
    messages = receive_all(p, "enrichment-inbox")
    arn = f"arn:aws:sqs:{p.region}:{ACCOUNT}:{p.names.queue('enrichment-inbox')}"
    fn = next(f for f in STACK.functions if f.service == "enrichment" and f.handler == "on_bus_events")
    event: dict[str, Any] = {"Records": [sqs_record(m, arn, p.region) for m in messages]}
    assert handlers.on_bus_events(event, context_for(fn, p.region, p.names.stage)) == {"batchItemFailures": []}


def test_a_merged_owners_cases_move_to_the_survivor_and_are_searched_with_its_snapshot(env: Provisioned) -> None:
    settings("c1")
    owner("c1", "anna", defaults=("email", "postal_address"))  # the survivor lacks a phone
    owner("c1", "anna-twice", defaults=("phone", "email", "postal_address"))  # lacked nothing: its case not due
    case("c1", "anna", "k1")
    case("c1", "anna-twice", "k2")
    assert {c.case_id for c in repository.cases_in_index("c1", "due")} == {"k1"}

    merged = CaseOwnersMerged(correlation_id="m", client_id="c1", surviving_case_owner_id="anna",
                              merged_case_owner_id="anna-twice")  # fmt: skip
    bus.publish([merged])
    bus.publish([merged])  # a redelivery changes nothing
    deliver(env)

    assert sorted(c.case_id for c in repository.owner_cases("anna")) == ["k1", "k2"]
    assert repository.owner_cases("anna-twice") == []
    assert repository.owners(["anna-twice"]) == {}
    assert repository.get_case("k2").case_owner_id == "anna"  # type: ignore[union-attr]
    # both cases now wait by the survivor's snapshot: lacking a phone, both are due and searched for the survivor
    assert {c.case_id for c in repository.cases_in_index("c1", "due")} == {"k1", "k2"}
    bureau = FakeBureau()
    assert run(bureau)["searched"] == 2
    assert {(r.case_id, r.wanted) for r in bureau.calls} == {("k1", frozenset({"phone"})), ("k2", frozenset({"phone"}))}


def test_cases_of_a_merged_owner_are_not_searched_until_the_survivors_snapshot_arrives(env: Provisioned) -> None:
    settings("c1")
    owner("c1", "weber")
    case("c1", "weber", "k3")
    bus.publish([CaseOwnersMerged(correlation_id="m", client_id="c1", surviving_case_owner_id="schmidt",
                                  merged_case_owner_id="weber")])  # fmt: skip
    deliver(env)
    assert run(FakeBureau())["searched"] == 0  # the survivor's contacts are not known yet: no blind search
    owner("c1", "schmidt", defaults=("phone",))
    assert {c.case_id for c in repository.cases_in_index("c1", "due")} == {"k3"}
    assert run(FakeBureau())["searched"] == 1
