"""The reminder schedule publishes its requests in batches (one PutEvents for ten) and reads each case once."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from infra.provision import Provisioned
from services.contacts import store
from services.contacts.cases import reminders, repository, settlement
from shared import aws as shared_aws
from shared import outbox
from tests.integration.contacts.cases.seed import seed_planned_cases
from tests.integration.contacts.cases.support import Api
from tests.integration.support import carried

TODAY = datetime.now(UTC).date()


@pytest.fixture(autouse=True)
def _today() -> None:
    """Each test takes today's date when it starts, not when the module was collected: the services take theirs at
    the request, so a run that crosses midnight UTC (collection at 23:57, this test at 00:00) compared two days."""
    global TODAY
    TODAY = datetime.now(UTC).date()


def test_twenty_five_reminders_of_one_shard_go_out_in_three_put_events(aws: Provisioned) -> None:
    status, client = Api().call("POST", "/clients", {"legal_name": "Stadtwerke"}, token="local-admin")
    assert status == 201
    tag = uuid.uuid4().hex[:6]
    keys = [k for k in (f"{tag}-{i}" for i in range(2000)) if settlement.plan_shard(f"case-{k}") == 5][:25]
    seed_planned_cases(client["client_id"], keys, (TODAY + timedelta(days=3)).isoformat())
    ours = {f"case-{k}" for k in keys}
    calls: list[list[str]] = []
    entries: list[str] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        cases = [d.get("case_id") for e in params["Entries"] for d in carried(json.loads(e["Detail"]))]
        calls.append([c for c in cases if c in ours])
        for e in params["Entries"]:
            if any(d.get("case_id") in ours for d in carried(json.loads(e["Detail"]))):
                entries.append(e["DetailType"])

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
    # a page's requests (20 cases) in one event: before, one each
    assert len(entries) <= 3 and set(entries) == {"ContactActionsRequested.v2"}, entries


def test_a_reminder_reads_its_case_owner_once_and_its_record_is_its_claim(
    aws: Provisioned, calls: Counter[str]
) -> None:
    """Per reminder: one Query of the case owner's partition (the case, the points, the default pointers, the
    contact-policy items, the profile) for both the message and the gate, the page's look-up of old claims (one
    BatchGetItem; pages of one here), and the gate's transaction, whose record (its id derived from the instalment)
    is the reminder's claim. The client's settings, sender and contact rules are read once for the run."""
    counted = calls

    status, client = Api().call("POST", "/clients", {"legal_name": "Stadtwerke"}, token="local-admin")
    assert status == 201
    tag = uuid.uuid4().hex[:6]
    keys = [f"{tag}-{i}" for i in range(10)]
    seed_planned_cases(client["client_id"], keys, (TODAY + timedelta(days=3)).isoformat())
    run = reminders.ReminderRun(TODAY)
    counted.clear()  # what the set-up asked
    with outbox.cause(f"test-{tag}"):
        for k in keys:
            index = {"case_id": f"case-{k}", "case_owner_id": f"owner-{k}"}
            assert reminders.remind_case(index, TODAY, run, "corr") == 1
        once_per_run = dict(counted)
        counted.clear()
        index = {"case_id": f"case-{keys[0]}", "case_owner_id": f"owner-{keys[0]}"}
        assert reminders.remind_case(index, TODAY, run, "corr") == 0  # the schedule fired twice
        # the owner read, the old claims looked up, the transaction refused
        assert counted == {"Query": 1, "BatchGetItem": 1, "TransactWriteItems": 1}
        outbox.try_flush(store.table_name())
    assert (run.requested, run.already_reminded, run.failed) == (10, 1, [])
    assert once_per_run["Query"] == 10 and once_per_run["TransactWriteItems"] == 10, once_per_run
    assert once_per_run["BatchGetItem"] == 10, once_per_run
    assert once_per_run["PutItem"] == 1, once_per_run  # the day records became claims (a fresh table)
    # the client, its settings, its business unit and its contact rules, read for the first reminder only; the day
    # records became claims, once a run
    assert once_per_run["GetItem"] <= 6, once_per_run
    assert sum(once_per_run.values()) == 10 * 3 + once_per_run["GetItem"] + 1, once_per_run
    claims = store.query_all(
        KeyConditionExpression=Key("PK").eq(f"CASE#case-{keys[0]}") & Key("SK").begins_with("REMINDER#")
    )
    assert claims == []  # no claim beside the record any more
    actions = store.query_all(
        KeyConditionExpression=Key("PK").eq(f"CASE#case-{keys[0]}") & Key("SK").begins_with("ACTION#")
    )
    # the second firing wrote nothing: no second contact in the history either
    assert [a["SK"] for a in actions] == [
        f"ACTION#{reminders.reminder_action_id(f'case-{keys[0]}', f'plan-{keys[0]}', 1)}"
    ]


def test_the_gate_still_decides_each_reminder_from_that_one_read(aws: Provisioned) -> None:
    """A debtor who asked us to cease communication (a hold, read with the rest of the owner's partition) gets
    no reminder: it is refused and recorded; the other debtors' reminders go out."""
    api = Api()
    status, client = api.call("POST", "/clients", {"legal_name": "Stadtwerke"}, token="local-admin")
    assert status == 201
    tag = uuid.uuid4().hex[:6]
    keys = [f"{tag}-{i}" for i in range(3)]
    seed_planned_cases(client["client_id"], keys, (TODAY + timedelta(days=3)).isoformat())
    hold = {"kind": "cease_communication", "reason": "the debtor's letter", "evidence": "scan-1"}
    assert api.call("POST", f"/case-owners/owner-{keys[1]}/holds", hold)[0] == 201
    run = reminders.ReminderRun(TODAY)
    with outbox.cause(f"test-{tag}"):
        requested = [
            reminders.remind_case({"case_id": f"case-{k}", "case_owner_id": f"owner-{k}"}, TODAY, run, "corr")
            for k in keys
        ]
        outbox.try_flush(store.table_name())
    assert requested == [1, 0, 1]
    assert (run.requested, run.held_back) == (2, 1)
    # The refused reminder holds its claim too: a second firing decides nothing again.
    with outbox.cause(f"test-{tag}-again"):
        again = reminders.remind_case(
            {"case_id": f"case-{keys[1]}", "case_owner_id": f"owner-{keys[1]}"}, TODAY, run, "c"
        )
    assert again == 0 and run.already_reminded == 1 and run.held_back == 1
    [refused] = store.query_all(
        KeyConditionExpression=Key("PK").eq(f"CASE#case-{keys[1]}") & Key("SK").begins_with("ACTION#")
    )
    assert (refused["status"], refused["message_kind"]) == ("refused", "payment_plan_reminder")
    assert refused["rule"] == "cease_communication"


def test_a_reminder_that_could_not_be_requested_leaves_no_claim(aws: Provisioned) -> None:
    """Nothing is written for a reminder whose request failed (here: no default point to send it to), so the next
    run tries again once the debtor can be reached."""
    status, client = Api().call("POST", "/clients", {"legal_name": "Stadtwerke"}, token="local-admin")
    assert status == 201
    key = uuid.uuid4().hex[:6]
    seed_planned_cases(client["client_id"], [key], (TODAY + timedelta(days=3)).isoformat())
    [pointer] = store.query_all(
        KeyConditionExpression=Key("PK").eq(f"OWNER#owner-{key}") & Key("SK").begins_with("DEFAULT#")
    )
    store.table().delete_item(Key={"PK": pointer["PK"], "SK": pointer["SK"]})
    index = {"case_id": f"case-{key}", "case_owner_id": f"owner-{key}"}
    run = reminders.ReminderRun(TODAY)
    with outbox.cause(f"test-{key}"):
        assert reminders.remind_case(index, TODAY, run, "corr") == 0
    assert len(run.failed) == 1 and "no default" in run.failed[0]
    claims = store.query_all(KeyConditionExpression=Key("PK").eq(f"CASE#case-{key}") & Key("SK").begins_with("ACTION#"))
    assert claims == []
    store.table().put_item(Item=pointer)  # the debtor has a default e-mail again
    with outbox.cause(f"test-{key}-again"):
        assert reminders.remind_case(index, TODAY, run, "corr") == 1
        outbox.try_flush(store.table_name())


def test_the_request_says_whether_the_person_has_traced_data(aws: Provisioned) -> None:
    """GDPR Art. 14: contacts only looks for an owed notice when the message went to a person with points from
    skip tracing; the gate, which read the points, says so on the request (notifications passes it on)."""
    status, client = Api().call("POST", "/clients", {"legal_name": "Stadtwerke"}, token="local-admin")
    assert status == 201
    tag = uuid.uuid4().hex[:6]
    keys = [f"{tag}-plain", f"{tag}-traced"]
    seed_planned_cases(client["client_id"], keys, (TODAY + timedelta(days=3)).isoformat())
    store.table().put_item(
        Item={
            "PK": f"OWNER#owner-{keys[1]}",
            "SK": "CP#phone#cp-traced",
            "contact_point_id": "cp-traced",
            "type": "phone",
            "value": "+4915123456789",
            "valid": True,
            "qualification": "pending",
            "is_default": False,
            "source": "enrichment",
            "created_at": datetime.now(UTC).isoformat(),
            "revision": 1,
        }
    )
    details: list[dict[str, Any]] = []

    def keep(params: dict[str, Any], **_: Any) -> None:
        details.extend(d for e in params["Entries"] for d in carried(json.loads(e["Detail"])))

    events = shared_aws.client("events")
    events.meta.events.register("provide-client-params.events.PutEvents", keep)
    run = reminders.ReminderRun(TODAY)
    try:
        with outbox.cause(f"test-{tag}"):
            for k in keys:
                assert reminders.remind_case({"case_id": f"case-{k}", "case_owner_id": f"owner-{k}"}, TODAY, run, "c")
            outbox.try_flush(store.table_name())
    finally:
        events.meta.events.unregister("provide-client-params.events.PutEvents", keep)
    traced = {d["case_id"]: d["traced_data"] for d in details if d.get("case_id") in {f"case-{k}" for k in keys}}
    assert traced == {f"case-{keys[0]}": False, f"case-{keys[1]}": True}


def test_a_page_of_reminders_is_decided_one_by_one_and_written_in_shared_transactions(
    aws: Provisioned, calls: Counter[str]
) -> None:
    counted = calls
    """Set at a time: 26 reminders (25 owners, one of them with a second case) cost 5 TransactWriteItems, not 26.
    Every guarantee holds: the reminder whose claim is there already is not decided again, the owner with two cases
    gets both reminders and both attempts in the history (the second, which shared the history item, is decided
    again on its own), and a second firing writes nothing."""

    from services.contacts.policy import repository as policy_repository

    status, client = Api().call("POST", "/clients", {"legal_name": "Stadtwerke"}, token="local-admin")
    assert status == 201
    tag = uuid.uuid4().hex[:6]
    keys = [f"{tag}-{i}" for i in range(25)]
    seed_planned_cases(client["client_id"], keys, (TODAY + timedelta(days=3)).isoformat())
    # the first owner's second case in settlement, with its own plan
    first = store.table().get_item(Key={"PK": f"OWNER#owner-{keys[0]}", "SK": f"CASE#case-{keys[0]}"})["Item"]
    second_case = f"case-{tag}-second"
    store.table().put_item(Item={**first, "SK": f"CASE#{second_case}", "case_id": second_case, "plan_id": "plan-2"})
    store.table().put_item(
        Item={"PK": f"CASE#{second_case}", "SK": "POINTER", "case_owner_id": f"owner-{keys[0]}", "client_id": "x"}
    )
    # the fifth reminder was claimed by a run before (one that died before it published anything, say), of the code
    # that wrote a claim beside the record: that claim is looked up before deciding
    store.table().put_item(Item={"PK": f"CASE#case-{keys[4]}", "SK": f"REMINDER#plan-{keys[4]}#1", "due_on": "x"})
    indexes = [{"case_id": f"case-{k}", "case_owner_id": f"owner-{k}"} for k in keys]
    indexes.insert(10, {"case_id": second_case, "case_owner_id": f"owner-{keys[0]}"})
    run = reminders.ReminderRun(TODAY)
    counted.clear()  # what the set-up asked
    with outbox.cause(f"test-{tag}"):
        assert reminders.remind_cases(indexes, TODAY, run, "corr") == 25
        first_run = dict(counted)
        counted.clear()
        assert reminders.remind_cases(indexes, TODAY, run, "corr") == 0  # the schedule fired twice
        second_run = dict(counted)
        outbox.try_flush(store.table_name())
    assert (run.requested, run.already_reminded, run.held_back, run.failed) == (25, 1 + 26, 0, [])
    # At most 25 reminders a request (4 items each); the owner's second case starts the next request (one item per
    # request), where its history condition fails (the first case's attempt moved it): that request goes again
    # without it, and it is decided again on its own: 4 in all (the claimed one was read, not tried)
    assert first_run["TransactWriteItems"] == 4, first_run  # was one per reminder: 26
    assert first_run["Query"] == 26 + 2, first_run  # + the re-read points and policy
    assert first_run["PutItem"] == 1 and "PutItem" not in second_run, first_run  # the day records became claims
    assert second_run["TransactWriteItems"] == 2 and second_run["Query"] == 26, second_run  # both refused whole
    history = store.table().get_item(
        Key={"PK": policy_repository.owner_pk(f"owner-{keys[0]}"), "SK": policy_repository.HISTORY_SK}
    )
    attempts = history["Item"]["attempts"]
    assert sorted(a["case_id"] for a in attempts) == sorted([f"case-{keys[0]}", second_case])
    for case_id in (f"case-{keys[0]}", second_case, f"case-{keys[1]}"):
        [action] = store.query_all(
            KeyConditionExpression=Key("PK").eq(f"CASE#{case_id}") & Key("SK").begins_with("ACTION#")
        )
        assert action["status"] == "requested"
    assert (
        store.query_all(KeyConditionExpression=Key("PK").eq(f"CASE#case-{keys[4]}") & Key("SK").begins_with("ACTION#"))
        == []
    )


def test_a_page_of_reminders_logs_one_line_for_its_decisions(
    aws: Provisioned, caplog: pytest.LogCaptureFixture
) -> None:
    """A page's decisions written together are logged in one "contacts allowed" line that names every action (a
    line a reminder cost more CPU than the rest of the gate's own work); a reminder decided again on its own path
    still logs its own "contact allowed"."""
    status, client = Api().call("POST", "/clients", {"legal_name": "Stadtwerke"}, token="local-admin")
    assert status == 201
    tag = uuid.uuid4().hex[:6]
    keys = [f"{tag}-{i}" for i in range(5)]
    seed_planned_cases(client["client_id"], keys, (TODAY + timedelta(days=3)).isoformat())
    # the first owner's second case: it shares the owner's history item, so it is decided again on its own
    first = store.table().get_item(Key={"PK": f"OWNER#owner-{keys[0]}", "SK": f"CASE#case-{keys[0]}"})["Item"]
    second_case = f"case-{tag}-second"
    store.table().put_item(Item={**first, "SK": f"CASE#{second_case}", "case_id": second_case, "plan_id": "plan-2"})
    indexes = [{"case_id": f"case-{k}", "case_owner_id": f"owner-{k}"} for k in keys]
    indexes.append({"case_id": second_case, "case_owner_id": f"owner-{keys[0]}"})
    caplog.clear()
    with outbox.cause(f"test-{tag}"):
        assert reminders.remind_cases(indexes, TODAY, reminders.ReminderRun(TODAY), "corr") == 6
        outbox.try_flush(store.table_name())
    pages = [vars(r) for r in caplog.records if r.name == "contacts" and r.getMessage() == "contacts allowed"]
    alone = [vars(r) for r in caplog.records if r.name == "contacts" and r.getMessage() == "contact allowed"]
    actions = {
        str(a["action_id"]): str(a["case_id"])
        for k in [*keys, second_case.removeprefix("case-")]
        for a in store.query_all(
            KeyConditionExpression=Key("PK").eq(f"CASE#case-{k}") & Key("SK").begins_with("ACTION#")
        )
    }
    assert len(pages) == 1 and pages[0]["count"] == 5, pages
    assert sorted(actions[a] for a in pages[0]["action_ids"]) == sorted(f"case-{k}" for k in keys)
    assert [actions[line["action_id"]] for line in alone] == [second_case]


def _remind_keeping_transactions(keys: list[str], tag: str) -> list[dict[str, Any]]:
    """Remind the seeded cases of ``keys`` (each reminded once), flush the outbox, and return the items of every
    TransactWriteItems the run sent, as sent."""
    written: list[dict[str, Any]] = []

    def keep(params: dict[str, Any], **_: Any) -> None:
        written.extend(params["TransactItems"])

    ddb = shared_aws.client("dynamodb")
    ddb.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", keep)
    try:
        with outbox.cause(f"test-{tag}"):
            indexes = [{"case_id": f"case-{k}", "case_owner_id": f"owner-{k}"} for k in keys]
            assert reminders.remind_cases(indexes, TODAY, reminders.ReminderRun(TODAY), "corr") == len(keys)
            outbox.try_flush(store.table_name())
    finally:
        ddb.meta.events.unregister("provide-client-params.dynamodb.TransactWriteItems", keep)
    return written


def test_a_reminder_writes_four_items_its_record_being_its_claim(aws: Provisioned) -> None:
    """The gate's transaction holds a reminder's record, history, audit entry and outbox row: four items, no
    ``REMINDER#`` claim beside them (one item and 2 write units fewer a reminder in AWS); the page's outbox rows are
    one row carrying every reminder's event (shared.outbox.merged)."""
    status, client = Api().call("POST", "/clients", {"legal_name": "Stadtwerke"}, token="local-admin")
    assert status == 201
    tag = uuid.uuid4().hex[:6]
    keys = [f"{tag}-{i}" for i in range(5)]
    seed_planned_cases(client["client_id"], keys, (TODAY + timedelta(days=3)).isoformat())
    written = _remind_keeping_transactions(keys, tag)
    sks = [next(iter(op.values()))["Item" if "Put" in op else "Key"]["SK"]["S"] for op in written]
    assert len(written) == 5 * 3 + 1, sks
    puts = [op["Put"]["Item"] for op in written if "Put" in op]
    [row] = [item for item in puts if item["PK"]["S"].startswith(outbox.PREFIX)]
    assert outbox.events_in(row) == 5
    assert not [sk for sk in sks if sk.startswith("REMINDER#")]
    records = [sk for sk in sks if sk.startswith("ACTION#")]
    assert sorted(records) == sorted(
        f"ACTION#{reminders.reminder_action_id(f'case-{k}', f'plan-{k}', 1)}" for k in keys
    )


def test_a_reminders_history_is_put_whole_under_its_revision_not_updated(aws: Provisioned) -> None:
    """Every item of a page's decisions is a Put: the owner's contact history too, written whole under the same
    condition an update had (absent for a first contact, else the revision read), so the local DynamoDB does no
    update a reminder (an UpdateItem there costs ~2.5 times a Put). The history keeps what it held, gains the
    new attempt and the next revision; a history written meanwhile (a stale revision) is not overwritten."""
    from services.contacts.policy import repository as policy_repository

    status, client = Api().call("POST", "/clients", {"legal_name": "Stadtwerke"}, token="local-admin")
    assert status == 201
    tag = uuid.uuid4().hex[:6]
    keys = [f"{tag}-{i}" for i in range(3)]
    seed_planned_cases(client["client_id"], keys, (TODAY + timedelta(days=3)).isoformat())
    earlier = {
        "at": (datetime.now(UTC) - timedelta(days=2)).isoformat(),
        "channel": "email",
        "case_id": "case-elsewhere",
        "contact_point_id": "cp-elsewhere",
        "action_id": "action-earlier",
        "counted": False,  # so it cannot hold this reminder back
        "at_work": False,
    }
    history_key = {"PK": policy_repository.owner_pk(f"owner-{keys[0]}"), "SK": policy_repository.HISTORY_SK}
    store.table().put_item(
        Item={**history_key, "attempts": [earlier], "conversations": [], "revision": 3, "updated_at": "x"}
    )
    written = _remind_keeping_transactions(keys, tag)
    assert [next(iter(op)) for op in written] == ["Put"] * len(written)  # before: one Update a reminder
    histories = {
        op["Put"]["Item"]["PK"]["S"]: op["Put"]
        for op in written
        if op["Put"]["Item"]["SK"]["S"] == policy_repository.HISTORY_SK
    }
    assert len(histories) == 3
    first = histories[history_key["PK"]]
    assert first["ConditionExpression"] == "#rev = :expected_rev"
    assert first["ExpressionAttributeNames"] == {"#rev": "revision"}
    assert first["ExpressionAttributeValues"] == {":expected_rev": {"N": "3"}}
    for k in keys[1:]:
        assert histories[f"OWNER#owner-{k}"]["ConditionExpression"] == "attribute_not_exists(PK)"
    item = store.table().get_item(Key=history_key, ConsistentRead=True)["Item"]
    assert set(item) == {"PK", "SK", "attempts", "conversations", "revision", "updated_at"}
    assert item["revision"] == 4 and item["conversations"] == []
    assert [a["action_id"] for a in item["attempts"]] == [
        "action-earlier",
        reminders.reminder_action_id(f"case-{keys[0]}", f"plan-{keys[0]}", 1),
    ]
    fresh = store.table().get_item(
        Key={"PK": policy_repository.owner_pk(f"owner-{keys[1]}"), "SK": policy_repository.HISTORY_SK},
        ConsistentRead=True,
    )["Item"]
    assert fresh["revision"] == 1 and len(fresh["attempts"]) == 1
    # a writer that read revision 3 (before this run) is refused: the count and the decision stay one write
    stale = repository.Tx()
    policy_repository.write_history(stale, f"owner-{keys[0]}", policy_repository.history_from(None), 3)
    with pytest.raises(repository.WriteConflict):
        stale.commit()
    assert store.table().get_item(Key=history_key, ConsistentRead=True)["Item"] == item


def test_old_claims_are_honoured_for_the_longest_reminder_window_after_the_change(
    aws: Provisioned, calls: Counter[str]
) -> None:
    """A ``REMINDER#`` claim the old code wrote still keeps its instalment from a second reminder while the
    instalment is due within the longest reminder window after the first run that wrote records as claims; an
    instalment due later cannot have one, and nothing is looked up for it."""
    status, client = Api().call("POST", "/clients", {"legal_name": "Stadtwerke"}, token="local-admin")
    assert status == 201
    tag = uuid.uuid4().hex[:6]
    keys = [f"{tag}-old", f"{tag}-new"]
    seed_planned_cases(client["client_id"], keys, (TODAY + timedelta(days=3)).isoformat())
    for k in keys:  # both claimed by the old code (for the second, that cannot happen: it shows nothing reads it)
        store.table().put_item(Item={"PK": f"CASE#case-{k}", "SK": f"REMINDER#plan-{k}#1", "due_on": "x"})
    store.table().put_item(Item={**reminders.RECORDS_ARE_CLAIMS, "since": TODAY.isoformat()})
    run = reminders.ReminderRun(TODAY)
    with outbox.cause(f"test-{tag}"):
        assert (
            reminders.remind_case({"case_id": f"case-{keys[0]}", "case_owner_id": f"owner-{keys[0]}"}, TODAY, run, "c")
            == 0
        )
    assert (run.requested, run.already_reminded) == (0, 1)
    assert (
        store.query_all(KeyConditionExpression=Key("PK").eq(f"CASE#case-{keys[0]}") & Key("SK").begins_with("ACTION#"))
        == []
    )
    # records have been claims for longer than any reminder window: instalments due now were never claimed the old way
    since = TODAY - reminders.LONGEST_WINDOW - timedelta(days=4)
    store.table().put_item(Item={**reminders.RECORDS_ARE_CLAIMS, "since": since.isoformat()})
    run = reminders.ReminderRun(TODAY)
    calls.clear()
    with outbox.cause(f"test-{tag}-later"):
        assert (
            reminders.remind_case({"case_id": f"case-{keys[1]}", "case_owner_id": f"owner-{keys[1]}"}, TODAY, run, "c")
            == 1
        )
        outbox.try_flush(store.table_name())
    assert "BatchGetItem" not in calls, calls


def test_the_day_records_became_claims_is_the_first_runs(aws: Provisioned) -> None:
    assert reminders.records_are_claims_since(TODAY) == TODAY
    assert reminders.records_are_claims_since(TODAY + timedelta(days=5)) == TODAY


def test_the_owner_read_gives_what_the_table_gives_without_the_resource(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The schedule's one read a case goes through the low-level client (``dynamo.query_items``): the same items,
    numbers as the same Decimals, as the Table resource's query of the same range."""
    status, client = Api().call("POST", "/clients", {"legal_name": "Stadtwerke"}, token="local-admin")
    assert status == 201
    key = uuid.uuid4().hex[:6]
    seed_planned_cases(client["client_id"], [key], (TODAY + timedelta(days=3)).isoformat())
    owner_id = f"owner-{key}"
    expected = store.query_all(
        KeyConditionExpression=Key("PK").eq(f"OWNER#{owner_id}") & Key("SK").gte("CASE#"), ConsistentRead=True
    )
    assert any(str(i["SK"]).startswith("CASE#") for i in expected) and any(
        str(i["SK"]).startswith("CP#") for i in expected
    )

    def no_resource(*_: Any, **__: Any) -> Any:
        raise AssertionError("the owner read went through the Table resource")

    monkeypatch.setattr(shared_aws, "table", no_resource)
    monkeypatch.setattr(shared_aws, "resource", no_resource)
    read = repository.read_owner(owner_id)
    assert read.items == tuple(expected)
    assert [{k: type(v) for k, v in i.items()} for i in read.items] == [
        {k: type(v) for k, v in i.items()} for i in expected
    ]
    case = read.case(f"case-{key}")
    assert case is not None and case["status"] == "in_settlement"
