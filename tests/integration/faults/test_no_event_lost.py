"""Fault suite of issue 16 (and the publisher-kill test of issue 10): a handler killed after its last write and
before its publish, then retried as SQS / EventBridge / the client would, still gets every event downstream
exactly once in effect. "Killed" is SystemExit from the publisher: nothing after it in the process runs."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.conditions import Attr

from infra.local.dispatcher import scheduled_event
from infra.local.lambda_runtime import LambdaContext
from infra.provision import Provisioned
from services.contacts import store
from services.contacts.cases import repository as case_repository
from services.contacts.policy import gate
from services.enrichment import handlers as enrichment_handlers
from services.enrichment import repository as enrichment
from services.enrichment import use_cases as enrichment_uses
from services.enrichment.sandbox import SandboxProvider
from services.imports import handlers as import_handlers
from services.imports import pipeline as imports_pipeline
from shared import aws, bus, outbox
from shared.events import CaseFileImportedV2, CaseOpened, CaseOwnerContactsChanged, ClientSettingsChanged, TraceSubject
from tests.integration.contacts.cases.support import Api as CaseApi
from tests.integration.contacts.cases.support import deliver, enriched, imported, point_id
from tests.integration.contacts.support import Api, bus_events
from tests.integration.imports import support as imports
from tests.integration.support import arrived, client, receive_all

pytestmark = pytest.mark.integration
IMPORT_SAMPLE = (Path(__file__).resolve().parents[3] / "samples" / "debtors.csv").read_bytes()


class Kill:
    """Makes ``target.name`` kill the process (SystemExit) on its first ``times`` calls, then behave."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, target: Any, name: str, times: int = 1) -> None:
        self.left = times
        real = getattr(target, name)

        def dying(*args: Any, **kwargs: Any) -> Any:
            if self.left > 0:
                self.left -= 1
                raise SystemExit(f"killed in {name}")
            return real(*args, **kwargs)

        monkeypatch.setattr(target, name, dying)


def visibility_timeout_passes(table: str) -> None:
    """What SQS's visibility timeout (6x the Lambda timeout) means for a killed invocation: its idempotency
    record's in-progress lease has expired by the time the message is delivered again."""
    items = aws.table(table).scan(FilterExpression=Attr("status").eq("INPROGRESS"))["Items"]
    for item in items:
        aws.table(table).update_item(
            Key={"PK": item["PK"], "SK": item["SK"]},
            UpdateExpression="SET in_progress_expiration = :past",
            ExpressionAttributeValues={":past": 1},
        )


def _case_opened(aws_: Provisioned) -> list[tuple[str, str]]:
    opened = [b["detail"] for b in arrived(aws_, "enrichment-inbox") if b["detail-type"] == "CaseOpened.v1"]
    return sorted((d["case_id"], d["event_id"]) for d in opened)


def test_contacts_on_case_file_imported_killed_before_publishing_case_opened(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = imported("owner-k", case_ids=("case-k1", "case-k2"))
    Kill(monkeypatch, bus, "publish_entries")
    with pytest.raises(SystemExit):
        deliver(event)
    assert _case_opened(aws) == []  # both cases are stored, nothing announced yet
    assert case_repository.case_pointer("case-k1") and case_repository.case_pointer("case-k2")

    visibility_timeout_passes(store.table_name())
    assert deliver(event) == {"batchItemFailures": []}
    first = _case_opened(aws)
    assert [case for case, _ in first] == ["case-k1", "case-k2"]

    assert deliver(event) == {"batchItemFailures": []}  # a further re-delivery announces nothing again
    assert _case_opened(aws) == []


def test_contacts_on_enrichment_result_killed_between_two_points(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(imported("owner-e", case_ids=("case-e",), points=()))
    result = enriched("owner-e", (("phone", "+41 44 668 18 00"), ("email", "found@example.com")), case_id="case-e")
    real = case_repository.add_contact_point
    calls = {"n": 0}

    def killed_after_first(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise SystemExit("killed between the two points")
        return real(*args, **kwargs)

    monkeypatch.setattr(case_repository, "add_contact_point", killed_after_first)
    with pytest.raises(SystemExit):
        deliver(result)
    visibility_timeout_passes(store.table_name())
    assert deliver(result) == {"batchItemFailures": []}
    assert deliver(result) == {"batchItemFailures": []}
    status, page = CaseApi().call("GET", "/case-owners/owner-e/contact-points")
    assert status == 200
    assert sorted(p["value"] for p in page["items"]) == ["+41 44 668 18 00", "found@example.com"]


def test_an_api_write_killed_before_publishing_is_published_once_by_the_sweeper(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10: the publisher is killed between the write and the publish; the event still arrives once."""
    api = Api(aws)
    Kill(monkeypatch, bus, "publish_entries")
    with pytest.raises(SystemExit):
        api.call("POST", "/clients", {"legal_name": "Killed GmbH"})
    assert bus_events(aws, "notifications-inbox", "ClientRegistered.v1") == []
    later = datetime.now(UTC) + outbox.SWEEP_GRACE
    assert outbox.sweep(store.table_name(), now=later) == 1
    assert outbox.sweep(store.table_name(), now=later) == 0
    [registered] = bus_events(aws, "notifications-inbox", "ClientRegistered.v1")
    assert registered["legal_name"] == "Killed GmbH"
    clients = api.call("GET", "/clients").body["items"]
    assert [c["client_id"] for c in clients] == [registered["client_id"]]


def test_a_post_retried_with_its_idempotency_key_after_a_kill_creates_one_client_and_one_event(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = Api(aws)
    headers = {"Idempotency-Key": "create-acme-1"}
    Kill(monkeypatch, bus, "publish_entries")
    with pytest.raises(SystemExit):
        call_with_headers(api, "POST", "/clients", {"legal_name": "Acme AG"}, headers)
    visibility_timeout_passes(store.table_name())
    status, body = call_with_headers(api, "POST", "/clients", {"legal_name": "Acme AG"}, headers)
    assert status == 201, body
    again = call_with_headers(api, "POST", "/clients", {"legal_name": "Acme AG"}, headers)
    assert again == (201, body)  # replayed, not run again
    clients = api.call("GET", "/clients").body["items"]
    assert [c["client_id"] for c in clients] == [body["client_id"]]
    events = bus_events(aws, "notifications-inbox", "ClientRegistered.v1")
    assert [e["client_id"] for e in events] == [body["client_id"]]
    other = call_with_headers(api, "POST", "/clients", {"legal_name": "Other AG"}, headers)
    assert other[0] == 422 and other[1]["error"]["code"] == "idempotency_key_reused"


def call_with_headers(api: Api, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
    result = api.gateway().invoke(
        method,
        path,
        headers={"Authorization": "Bearer local-admin", "Content-Type": "application/json", **headers},
        body=json.dumps(body).encode(),
    )
    return int(result["statusCode"]), json.loads(result.get("body") or "null")


# ---- enrichment's schedule: the cost ledger and the published results agree after any crash ----------------


def test_enrichment_schedule_killed_after_paying_publishes_every_booked_result_on_the_retry(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENRICHMENT_DNS_CHECKS", "false")
    enrichment_uses.on_settings_changed(
        ClientSettingsChanged(
            correlation_id="c", client_id="c-paid", settings={"enrichment": {"granted": True, "attempts": 1}}
        )
    )
    # Five people the sandbox answers (its answers depend on the person; an error would not be paid for).
    people = [
        TraceSubject(first_name=f"Paid {i}", last_name="Kunde")
        for i in range(100)
        if SandboxProvider.outcome_for(f"Paid {i}|Kunde|None|None|1") != "error"
    ][:5]
    cases = [f"paid-{i}" for i in range(5)]
    for case_id, person in zip(cases, people, strict=True):
        enrichment_uses.on_case_owner_contacts_changed(
            CaseOwnerContactsChanged(
                correlation_id="c",
                client_id="c-paid",
                case_owner_id=f"owner-{case_id}",
                subject=person,
                contact_points=[],
            )
        )
        enrichment_uses.on_case_opened(
            CaseOpened(
                correlation_id="c",
                client_id="c-paid",
                case_owner_id=f"owner-{case_id}",
                case_id=case_id,
                opened_on=date(2026, 1, 1),
            )
        )
    receive_all(aws, "contacts-inbox")
    real = bus.publish_entries
    published = {"n": 0}

    def dies_at_the_fifth(entries: Any, **kw: Any) -> int:
        published["n"] += 1
        if published["n"] == 5:
            raise SystemExit("killed after paying and booking the fifth search, before publishing it")
        return real(entries, **kw)

    monkeypatch.setattr(bus, "publish_entries", dies_at_the_fifth)
    run = scheduled_event("rule", "eu-west-1", datetime(2026, 5, 1, 3, tzinfo=UTC))
    context = LambdaContext("enrichment", 300)
    with pytest.raises(SystemExit):
        enrichment_handlers.on_schedule(run, context)
    before_the_kill = _results(aws)
    assert len({e["case_id"] for e in before_the_kill}) == 4
    # EventBridge retries the scheduled invocation (same event): nothing is searched or paid again ...
    again = enrichment_handlers.on_schedule(run, context)
    assert again["searched"] == 0 and again["republished"] >= 1
    # ... and every settled paid attempt has its events, exactly once.
    delivered = before_the_kill + _results(aws)
    ledger = [line for case_id in cases for line in enrichment.ledger(case_id)]
    assert len(ledger) == 5 and all(line["status"] == "settled" for line in ledger)
    assert sorted(e["event_id"] for e in delivered) == sorted(str(i) for line in ledger for i in line["event_ids"])
    settled = {e["case_id"]: e for e in delivered if "outcome" in e}
    assert {line["PK"].removeprefix("CASE#"): str(line["cost"]) for line in ledger} == {
        case_id: e["cost"] for case_id, e in settled.items()
    }


def _results(aws_: Provisioned) -> list[dict[str, Any]]:
    """Ledger lines and traced points delivered to contacts since the last call."""
    envelopes = [json.loads(m["Body"]) for m in receive_all(aws_, "contacts-inbox")]
    wanted = ("EnrichmentAttemptSettled.v1", "ContactPointsTraced.v1")
    return [e["detail"] for e in envelopes if e["detail-type"] in wanted]


# ---- imports' publish phase ---------------------------------------------------------------------------------


def test_imports_publish_phase_killed_midway_publishes_every_case_file_on_the_retry(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    imports.register_client("c-kill", {"new_file_per_invoice": False})
    imports.drop(aws, "c-kill/debtors.csv", IMPORT_SAMPLE)
    [notification] = [m for m in imports.pending_drops(aws) if '"Records"' in m["Body"]]
    message = {"Body": notification["Body"], "MessageId": "m-kill", "ReceiptHandle": "r"}
    real = bus.publish_entries
    calls = {"n": 0}

    def dies_on_the_second(entries: Any, **kw: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise SystemExit("killed after staging, in the middle of the publish phase")
        return real(entries, **kw)

    # Two case owners an event and one event per flush, so the kill lands between two chunks of case files.
    monkeypatch.setattr(imports_pipeline, "MAX_CASE_FILES_PER_EVENT", 2)
    monkeypatch.setattr(imports_pipeline, "EVENTS_PER_FLUSH", 1)
    monkeypatch.setattr(bus, "publish_entries", dies_on_the_second)
    with pytest.raises(SystemExit):
        import_handlers.on_file_dropped(imports.drops_event(aws, [message]), imports.context(aws))
    job = imports.job_for(aws, "c-kill/debtors.csv")
    assert (job["status"], job["phase"]) == ("processing", "publish")
    first = [e["detail"] for e in imports.bus_events(aws) if e["detail-type"] == "CaseFileImported.v2"]
    assert [len(e["case_files"]) for e in first] == [2]

    # SQS delivers the message again after its visibility timeout, by which time the killed run's lease is over.
    aws_table = aws.names.table("imports")
    client(aws, "dynamodb").update_item(
        TableName=aws_table,
        Key={"PK": {"S": f"JOB#{job['import_id']}"}, "SK": {"S": "JOB"}},
        UpdateExpression="SET lease_until = :past",
        ExpressionAttributeValues={":past": {"N": "1"}},
    )
    assert import_handlers.on_file_dropped(imports.drops_event(aws, [message]), imports.context(aws)) == {
        "batchItemFailures": []
    }
    assert imports.job_for(aws, "c-kill/debtors.csv")["status"] == "completed"
    events = [e["detail"] for e in imports.bus_events(aws) if e["detail-type"] == "CaseFileImported.v2"]
    assert [len(e["case_files"]) for e in events] == [1]  # the retry resumed after the published chunk
    owners = sorted({f["case_owner"]["case_owner_id"] for e in first + events for f in e["case_files"]})
    assert len(owners) == 3  # every case owner of the file reached the bus
    # Contacts applies each case file once, however often its event is delivered (exactly once in effect).
    for detail in first + events + events:
        assert deliver(CaseFileImportedV2.model_validate(detail)) == {"batchItemFailures": []}
    for owner_id in owners:
        assert case_repository.get_owner(owner_id) is not None


def test_a_contact_action_killed_before_publishing_is_published_once_by_the_sweeper(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gate, "now", lambda: datetime(2026, 11, 30, 17, 0, tzinfo=UTC))  # noon in New York
    deliver(imported("owner-act", case_ids=("case-act",), points=(("phone", "+12125550123"),)))
    api = CaseApi()
    cp = point_id(api, "owner-act", "phone")
    points = "/case-owners/owner-act/contact-points"
    evidence = {"evidence": {"kind": "reason", "note": "confirmed by the debtor"}}
    assert api.call("POST", f"{points}/{cp}/validate", evidence)[0] == 200
    assert api.call("POST", f"{points}/{cp}/make-default")[0] == 200
    Kill(monkeypatch, bus, "publish_entries")
    with pytest.raises(SystemExit):
        api.call("POST", "/cases/case-act/actions", {"action": "call"})
    assert bus_events(aws, "notifications-inbox", "ContactActionRequested.v1") == []
    later = datetime.now(UTC) + outbox.SWEEP_GRACE
    assert outbox.sweep(store.table_name(), now=later) == 1
    [requested] = bus_events(aws, "notifications-inbox", "ContactActionRequested.v1")
    assert (requested["case_id"], requested["action"]) == ("case-act", "call")
    assert outbox.sweep(store.table_name(), now=later) == 0
