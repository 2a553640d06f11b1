"""Match keys and erasure on moto's server: a person imported under several name variants is found by keys that
their match profile does not keep (a matched row adds its keys to the owner, not its name to the profile). The keys
are recorded per owner as matching writes them, so an erasure removes the person from every one of them; a
neighbour sharing a key keeps it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.provision import Provisioned
from services.imports import repository
from services.imports import use_cases as imports
from services.imports.domain import DebtorLine, ImportSettings, validate
from services.imports.matching import Matcher, profile_keys, tag_for
from shared import aws as shared_aws
from shared.events import SubjectAccessRequested, SubjectErasureRequested

CLIENT = "client-variants"
ERIKA = {"email": "erika.mustermann@example.de", "birth_date": "1980-04-01", "postcode": "10115"}
VARIANTS = [("Erika", "Mustermann-Schmidt"), ("Erica", "Mustermann"), ("E.", "Mustermann")]


def line(**fields: Any) -> DebtorLine:
    return validate({"invoice_number": "INV", "amount": "1", "opened_on": "2026-01-01"} | fields)[0]


def _import(import_id: str, *rows: DebtorLine) -> list[str]:
    """Match ``rows`` as the pipeline does: one batch read, decided, written, forgotten."""
    matcher = Matcher(repository.DynamoMatchIndex(CLIENT), CLIENT, import_id, ImportSettings())
    decisions = matcher.match_batch([(n, row) for n, row in enumerate(rows, start=2)])
    matcher.flush()
    matcher.forget()
    return [d.case_owner_id for d in decisions]


def _match_items(aws_: Provisioned) -> list[dict[str, Any]]:
    table = shared_aws.table(aws_.names.table("imports"))
    items: list[dict[str, Any]] = []
    for page in shared_aws.client("dynamodb").get_paginator("scan").paginate(TableName=table.name):
        items += [i for i in page["Items"] if i["PK"]["S"].startswith(f"MATCH#{CLIENT}#")]
    return items


def test_erasure_removes_the_person_from_the_keys_of_every_name_variant(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    (erika,) = _import("import-1", line(first_name="Erika", last_name="Mustermann", phone="+49 30 1234567", **ERIKA))
    (neighbour,) = _import("import-2", line(first_name="Max", last_name="Beispiel", phone="+49 30 1234567"))
    later = _import("import-3", *(line(first_name=g, last_name=f, **ERIKA) for g, f in VARIANTS))
    assert later == [erika] * len(VARIANTS) and neighbour != erika

    # The gap this closes: the variants' name keys hold Erika, and her profile cannot rebuild them.
    recorded = repository.owner_match_keys(CLIENT, erika)
    profile = repository.DynamoMatchIndex(CLIENT).get_profiles([erika])[erika]
    assert {"name:erika mustermann schmidt", "name:erica mustermann"} <= recorded, recorded
    # Only what her profile does not name is recorded; the two together name every key that holds her.
    assert not recorded & profile_keys(profile)
    holding = {k for k, item in _keys_of(aws).items() if erika in item}
    assert holding <= recorded | profile_keys(profile), holding - recorded - profile_keys(profile)
    assert repository.keys_holding(CLIENT, erika, profile_keys(profile)) == holding
    # Only holders new since the batch read its keys are recorded: one record per row that added keys the profile
    # does not name. Of her first row (a new case owner) only the key of a postcode without a street: its profile
    # names the others (e-mail, phone, birth date, name).
    records = [i for i in _match_items(aws) if i["SK"]["S"].startswith("KEYS#") and erika in i["PK"]["S"]]
    assert len(records) == 1 + len(VARIANTS)
    first = next(r for r in records if r["SK"]["S"].startswith("KEYS#import-1#"))
    assert [k["S"] for k in first["keys"]["L"]] == ["name:erika mustermann|DE|10115"]

    # Export lists the keys; erasure removes her from each, the neighbour keeps the shared phone.
    published: list[Any] = []
    monkeypatch.setattr(imports.bus, "publish", published.extend)
    access = SubjectAccessRequested(
        correlation_id="c", request_id="r-1", client_id=CLIENT, case_owner_id=erika, case_ids=[]
    )
    imports.on_subject_access_requested(access)
    assert {k["key"] for e in published for k in e.section.get("match_keys", [])} == holding
    shared = {k for k, item in _keys_of(aws).items() if neighbour in item} & holding
    assert shared  # the phone
    erase = SubjectErasureRequested(
        correlation_id="c", request_id="r-2", client_id=CLIENT, case_owner_id=erika, case_ids=[]
    )
    imports.on_subject_erasure_requested(erase)
    left = json.dumps(_match_items(aws))
    assert erika not in left
    assert "mustermann" not in left and "erika" not in left and "erica" not in left
    assert published[-1].counts["match_keys"] == len(holding)
    kept = repository.DynamoMatchIndex(CLIENT).get_keys(shared)
    assert kept == {k: {neighbour: tag_for("import-2", 2)} for k in shared}
    assert repository.owner_match_keys(CLIENT, erika) == set()

    # Again (a redelivered request): nothing left to remove, nothing else touched.
    imports.on_subject_erasure_requested(erase)
    assert json.dumps(_match_items(aws)) == left

    # A new file with the person does not re-link: it starts a new case owner.
    (again,) = _import("import-4", line(first_name="Erica", last_name="Mustermann", **ERIKA))
    assert again != erika


def _keys_of(aws_: Provisioned) -> dict[str, dict[str, Any]]:
    """Every match key of the client as stored: key → its holders (low-level form)."""
    prefix = f"MATCH#{CLIENT}#"
    return {
        i["PK"]["S"].removeprefix(prefix): i["owners"]["M"]
        for i in _match_items(aws_)
        if i["SK"]["S"] == "KEY"
    }


def test_profiles_are_stored_before_the_keys_they_name(aws: Provisioned, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key is written only after the profile (or the record) that names it: writes stopped half-way leave no key
    holding an owner that an erasure could not find."""
    order: list[list[str]] = []
    put = repository.batch_put

    def recorded_put(items: Any) -> int:
        items = list(items)
        order.append(sorted({str(i["SK"]).split("#")[0] for i in items}))
        return put(items)

    monkeypatch.setattr(repository, "batch_put", recorded_put)
    _import("import-1", line(first_name="Erika", last_name="Mustermann", phone="+49 30 1234567", **ERIKA))
    _import("import-2", line(first_name="Erica", last_name="Mustermann", **ERIKA))
    # (her postcode without a street: a record; the variant matched adds no evidence: a record, no profile)
    assert order == [["KEYS", "PROFILE"], ["KEY"], ["KEYS"], ["KEY"]], order


def test_keys_written_before_they_were_recorded_are_recorded_by_the_migration(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.imports import backfill
    from services.imports.matching import OwnerProfile

    client, owner, other = "client-legacy", "owner-legacy", "owner-other"
    prefix = f"MATCH#{client}#"
    legacy = {  # as matching wrote them before: the keys, no records
        "email:erika@example.de": {owner: "import-0#2"},
        "name:erika mustermann": {owner: "import-0#2"},
        "name:erica mustermann": {owner: "import-0#7"},  # a variant the profile does not keep
        "phone:+49301234567": {owner: "import-0#2", other: "import-0#9"},
    }
    repository.batch_put({"PK": prefix + k, "SK": "KEY", "owners": v} for k, v in legacy.items())
    profile = OwnerProfile(owner, "import-0#2", identities={"erika|mustermann": "import-0#2"})
    repository.DynamoMatchIndex(client).put({}, {owner: profile})
    assert repository.owner_match_keys(client, owner) == set()

    table = aws.names.table("imports")
    runs = [backfill.backfill_key_records(table, budget_seconds=0, page_items=2)]
    while not runs[-1]["finished"]:
        runs.append(backfill.backfill_key_records(table, budget_seconds=0, page_items=2))
    assert len(runs) > 2 and runs[-1]["counts"]["keys_recorded"] >= 5
    assert repository.owner_match_keys(client, owner) == set(legacy)
    assert backfill.backfill_key_records(table)["finished"] is True  # again: nothing to do

    monkeypatch.setattr(imports.bus, "publish", lambda events: None)
    erase = SubjectErasureRequested(
        correlation_id="c", request_id="r-legacy", client_id=client, case_owner_id=owner, case_ids=[]
    )
    imports.on_subject_erasure_requested(erase)
    left = repository.DynamoMatchIndex(client).get_keys(legacy)
    assert left == {"phone:+49301234567": {other: "import-0#9"}}
