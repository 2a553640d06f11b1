"""Storage limitation (GDPR Art. 5(1)(e)): a person whose cases are all closed and whose retention has run out is
erased though nobody asked, through the same erasure an agency's request starts (fan-out, audit, idempotency)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from infra.definition import STACK
from infra.local.dispatcher import scheduled_event
from infra.local.lambda_runtime import context_for
from infra.provision import Provisioned
from services.contacts import handlers, store
from services.contacts.privacy import erasure
from tests.integration.privacy.support import CASE, OWNER, _pump
from tests.integration.privacy.test_erasure import PERSONAL, _everything
from tests.integration.support import REGION

# The world's client is German: HGB §257 keeps a case closed in 2026 until 2037-01-01.
WITHIN, PAST = datetime(2036, 12, 31, tzinfo=UTC), datetime(2037, 1, 2, tzinfo=UTC)


def _request_of(owner_id: str) -> dict[str, Any] | None:
    item = store.table().get_item(Key={"PK": f"OWNER#{owner_id}", "SK": "ERASURE"}, ConsistentRead=True).get("Item")
    return dict(item) if item else None


def _sweep_to_the_end(at: datetime) -> tuple[int, int]:
    """The sweep one small page per run (as when each run's time runs out): (runs, people whose erasure it started)."""
    runs = started = 0
    while True:
        runs += 1
        started += erasure.sweep_expired(at, budget_seconds=0, page_items=3)["retention_expired"]
        if store.table().get_item(Key=erasure.SWEEP_STATE, ConsistentRead=True)["Item"].get("passed"):
            return runs, started
        assert runs < 1_000, "the sweep does not move on"


def test_a_person_whose_retention_ran_out_is_erased_though_nobody_asked(
    aws: Provisioned, world: dict[str, Any]
) -> None:
    api = world["api"]
    assert erasure.sweep_expired(datetime(2060, 1, 1, tzinfo=UTC))["retention_expired"] == 0  # the case is open
    assert _request_of(OWNER) is None

    assert api.call("POST", f"/cases/{CASE}/close", {"reason": "recalled_by_client"}).status == 200
    assert erasure.sweep_expired(WITHIN)["retention_expired"] == 0  # closed, retention still runs
    assert _request_of(OWNER) is None

    # Past retention: a page at a time, the sweep resumes where the last run stopped and starts one erasure.
    runs, started = _sweep_to_the_end(PAST)
    assert runs > 1 and started == 1
    request = api.call("GET", f"/erasure-requests/{_request_of(OWNER)['request_id']}").body  # type: ignore[index]
    assert (request["requested_by"], request["reason"], request["status"]) == (
        "system:contacts",
        "retention_expired",
        "waiting",
    )
    assert request["earliest_erasure"] == "2037-01-01"

    # The daily job (as Lambda runs it) sweeps again (nothing new) and erases through every service.
    fire = scheduled_event("erase-due", REGION, PAST)
    counts = handlers.erase_due(fire, context_for(STACK.function("contacts", "erase_due"), REGION, "test"))
    assert (counts["retention_expired"], counts["started"]) == (0, 1)
    _pump(aws)
    done = api.call("GET", f"/erasure-requests/{request['request_id']}").body
    assert done["status"] == "erased", done
    assert set(done["answers"]) == {"contacts", "imports", "enrichment", "notifications"}
    everything = _everything(aws)
    assert [p for p in PERSONAL if p in everything] == []
    audit = api.call("GET", f"/case-owners/{OWNER}/audit", query={"limit": "200"}).body["items"]
    asked = next(e for e in audit if e["action"] == "erasure.requested")
    assert (asked["actor"], asked["why"]["reason"]) == ("system:contacts", "retention_expired")
    assert any(e["action"] == "erasure.completed" for e in audit)

    # Idempotent: the next runs start nothing and change nothing.
    again = handlers.erase_due(
        scheduled_event("erase-due", REGION, datetime(2037, 1, 3, tzinfo=UTC)),
        context_for(STACK.function("contacts", "erase_due"), REGION, "test"),
    )
    assert (again["retention_expired"], again["started"]) == (0, 0)
    requests = [i for i in store.table().scan()["Items"] if str(i["PK"]).startswith("DSR#")]
    assert [r["request_id"] for r in requests if r["SK"] == "REQUEST"] == [request["request_id"]]


def test_a_person_with_a_pending_request_is_not_asked_for_again(aws: Provisioned, world: dict[str, Any]) -> None:
    api = world["api"]
    reply = api.call("POST", f"/case-owners/{OWNER}/erasure", {"reason": "Art. 17 request"})
    assert reply.status == 202, reply.body
    assert api.call("POST", f"/cases/{CASE}/close", {"reason": "recalled_by_client"}).status == 200
    assert erasure.sweep_expired(PAST)["retention_expired"] == 0
    assert _request_of(OWNER)["request_id"] == reply.body["request_id"]  # type: ignore[index]
    assert erasure.erase_due(PAST)["started"] == 1  # the agency's request, erased by the job as before
