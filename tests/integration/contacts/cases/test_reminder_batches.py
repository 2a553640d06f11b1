"""The reminder schedule publishes its requests in batches (one PutEvents for ten) and reads each case once."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.provision import Provisioned
from services.contacts.cases import reminders, settlement
from shared import aws as shared_aws
from tests.integration.contacts.cases.seed import seed_planned_cases
from tests.integration.contacts.cases.support import Api

TODAY = datetime.now(UTC).date()


def test_twenty_five_reminders_of_one_shard_go_out_in_three_put_events(aws: Provisioned) -> None:
    status, client = Api().call("POST", "/clients", {"legal_name": "Stadtwerke"}, token="local-admin")
    assert status == 201
    tag = uuid.uuid4().hex[:6]
    keys = [k for k in (f"{tag}-{i}" for i in range(2000)) if settlement.plan_shard(f"case-{k}") == 5][:25]
    seed_planned_cases(client["client_id"], keys, (TODAY + timedelta(days=3)).isoformat())
    ours = {f"case-{k}" for k in keys}
    calls: list[list[str]] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        cases = [json.loads(e["Detail"]).get("case_id") for e in params["Entries"]]
        calls.append([c for c in cases if c in ours])

    events = shared_aws.client("events")
    events.meta.events.register("provide-client-params.events.PutEvents", count)
    try:
        run = reminders.run_schedule(TODAY)
    finally:
        events.meta.events.unregister("provide-client-params.events.PutEvents", count)
    assert run.requested >= 25 and not run.failed
    carrying = [c for c in calls if c]
    assert sorted(c for call in carrying for c in call) == sorted(ours)  # each reminder announced once
    assert len(carrying) <= 4, [len(c) for c in carrying]  # before: one PutEvents per reminder (25)
