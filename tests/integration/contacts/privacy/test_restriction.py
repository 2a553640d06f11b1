"""Restriction (GDPR Art. 18) and objection (Art. 21) on moto's server, through the API and the bus: the contact
policy refuses, the restricted person leaves every list and client users' view, enrichment learns it from the
contacts snapshot and stops tracing, and ending the hold undoes exactly that."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from infra.provision import Provisioned
from services.contacts.policy import gate
from services.enrichment import repository as enrichment_repository
from services.enrichment import use_cases as enrichment
from shared.events import CaseOpened, CaseOwnerContactsChanged, ClientSettingsChanged, TraceSubject
from tests.integration.contacts.cases.support import deliver, imported
from tests.integration.contacts.support import Api, new_client
from tests.integration.support import receive_all

OWNER = "owner-de"
CASE = "case-de"
# Monday 30 November 2026, 11:00 in Berlin: inside every window.
MONDAY = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
POINTS = f"/case-owners/{OWNER}/contact-points"
COLLECTOR = "local-collector"


class Agency:
    """The contacts API as the tests below use it: (status, body), a collector by default, one client."""

    def __init__(self, aws: Provisioned) -> None:
        self.api = Api(aws)
        self.client_id = str(new_client(self.api, "Stadtwerke Beispiel GmbH")["client_id"])
        self.client_user = self.api.client_user(self.client_id)

    def call(
        self, method: str, path: str, body: Any = None, *, token: str = COLLECTOR, query: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        reply = self.api.call(method, path, body, token=token, query=query)
        return reply.status, reply.body


@pytest.fixture
def api(aws: Provisioned, monkeypatch: pytest.MonkeyPatch) -> Agency:
    monkeypatch.setattr(gate, "now", lambda: MONDAY)
    agency = Agency(aws)
    event = imported(OWNER, client_id=agency.client_id, case_ids=(CASE,), points=(("email", "erika@example.de"),))
    assert deliver(event) == {"batchItemFailures": []}
    (cp,) = [p["contact_point_id"] for p in agency.call("GET", POINTS)[1]["items"]]
    evidence = {"evidence": {"kind": "reason", "note": "confirmed by the debtor"}}
    assert agency.call("POST", f"{POINTS}/{cp}/validate", evidence)[0] == 200
    assert agency.call("POST", f"{POINTS}/{cp}/make-default")[0] == 200
    receive_all(aws, "enrichment-inbox")
    return agency


def _listed(api: Agency, token: str = COLLECTOR) -> list[str]:
    status, page = api.call("GET", f"/clients/{api.client_id}/cases", token=token)
    assert status == 200, page
    return [c["case_id"] for c in page["items"]]


def _snapshots(aws: Provisioned) -> list[dict[str, Any]]:
    bodies = [json.loads(m["Body"]) for m in receive_all(aws, "enrichment-inbox")]
    return [b["detail"] for b in bodies if b["detail-type"] == "CaseOwnerContactsChanged.v1"]


def _email(api: Agency, **body: Any) -> tuple[int, Any]:
    return api.call("POST", f"/cases/{CASE}/actions", {"action": "email", **body})


def _restrict(api: Agency) -> dict[str, Any]:
    hold = {"kind": "restriction", "reason": "debtor contests the accuracy of the address (Art. 18(1)(a))"}
    status, body = api.call("POST", f"/case-owners/{OWNER}/holds", hold)
    assert status == 201, body
    return dict(body)


def test_a_restriction_refuses_contact_hides_the_person_and_stops_enrichment(aws: Provisioned, api: Agency) -> None:
    assert _listed(api) == [CASE] == _listed(api, api.client_user)
    hold = _restrict(api)
    assert (hold["rule"], hold["allows"], hold["active"]) == ("processing_restricted", ["reply_to_debtor"], True)

    # The contact policy refuses chasing, manual or automatic (refused for good, not deferred: 409 naming the law).
    status, refused = _email(api)
    assert (status, refused["error"]["code"], refused["error"]["law"]) == (409, "processing_restricted", "GDPR Art. 18")
    status, automatic = _email(api, automatic=True)
    assert (status, automatic["error"]["code"]) == (409, "processing_restricted"), automatic
    assert _email(api, message_kind="reply_to_debtor")[0] == 202  # what the debtor asked for still goes

    # Gone from every list, and from client users' view; the agency still sees it, marked.
    assert _listed(api) == [] == _listed(api, api.client_user)
    assert api.call("GET", f"/cases/{CASE}", token=api.client_user)[0] == 404
    assert api.call("GET", f"/case-owners/{OWNER}", token=api.client_user)[0] == 404
    status, owner_file = api.call("GET", f"/case-owners/{OWNER}")
    assert status == 200 and owner_file["case_owner"]["restricted_since"] == "2026-11-30T10:00:00Z"
    assert [c["restricted"] for c in owner_file["cases"]] == [True]

    # A second restriction is refused while the first is active.
    status, again = api.call("POST", f"/case-owners/{OWNER}/holds", {"kind": "restriction", "reason": "again"})
    assert (status, again["error"]["code"]) == (409, "restriction_already_active")

    # A new case for the restricted person (the client sends the file again) stays out of the list too.
    second = imported(OWNER, client_id=api.client_id, case_ids=("case-de-2",), points=())
    second = second.model_copy(update={"matched_by": "email"})  # imports matched the file's row to the person
    assert deliver(second) == {"batchItemFailures": []}
    assert _listed(api) == []

    # Enrichment learns it from the snapshot in the hold's own transaction, and takes a due case out.
    snapshots = _snapshots(aws)
    assert snapshots and all(s["processing_restricted"] for s in snapshots), snapshots
    assert "erika@example.de" not in json.dumps(snapshots[-1]["subject"])  # data minimisation still holds

    # Ending it undoes exactly that.
    ended = api.call("POST", f"/case-owners/{OWNER}/holds/{hold['hold_id']}/end", {"reason": "address verified"})
    assert ended[0] == 200, ended
    assert sorted(_listed(api)) == [CASE, "case-de-2"]
    assert api.call("GET", f"/cases/{CASE}", token=api.client_user)[0] == 200
    assert _email(api)[0] == 202
    assert [s["processing_restricted"] for s in _snapshots(aws)] == [False]
    actions = [e["action"] for e in api.call("GET", f"/case-owners/{OWNER}/audit", query={"limit": "200"})[1]["items"]]
    assert {"policy.hold_set", "policy.hold_ended"} <= set(actions)


def test_an_objection_stops_chasing_and_tracing_but_keeps_the_person_listed(aws: Provisioned, api: Agency) -> None:
    status, hold = api.call("POST", f"/case-owners/{OWNER}/holds", {"kind": "objection", "reason": "Art. 21 letter"})
    assert status == 201 and hold["rule"] == "objection", hold
    status, refused = _email(api)
    assert (status, refused["error"]["code"], refused["error"]["law"]) == (409, "objection", "GDPR Art. 21")
    status, deferred = _email(api, automatic=True)  # the agency is weighing it: the workflow waits, daily re-check
    assert (status, deferred["status"]) == (202, "deferred"), deferred
    assert _email(api, message_kind="closing_fully_paid")[0] == 202
    assert _listed(api) == [CASE]
    assert [s["processing_restricted"] for s in _snapshots(aws)] == [True]


def test_enrichment_takes_a_due_case_out_when_the_restriction_arrives(aws: Provisioned, api: Agency) -> None:
    body = {"granted": True, "interval_days": 30, "attempts": 1}
    enrichment.on_settings_changed(
        ClientSettingsChanged(correlation_id="c", client_id=api.client_id, settings={"enrichment": body})
    )
    # Enrichment's copy before the restriction: the owner lacks every default, the case is due.
    enrichment.on_case_owner_contacts_changed(
        CaseOwnerContactsChanged(
            correlation_id="c",
            client_id=api.client_id,
            case_owner_id=OWNER,
            subject=TraceSubject(first_name="Max", last_name="Muster"),
            contact_points=[],
            occurred_at=datetime.now(UTC) - timedelta(hours=1),
        )
    )
    enrichment.on_case_opened(
        CaseOpened(
            correlation_id="c", client_id=api.client_id, case_owner_id=OWNER, case_id=CASE, opened_on=date(2026, 9, 1)
        )
    )
    assert [c.case_id for c in enrichment_repository.cases_in_index(api.client_id, "due")] == [CASE]

    _restrict(api)
    (snapshot,) = _snapshots(aws)
    enrichment.on_case_owner_contacts_changed(CaseOwnerContactsChanged.model_validate(snapshot))
    assert enrichment_repository.cases_in_index(api.client_id, "due") == []


def test_a_case_imported_while_the_restriction_is_set_stays_out_of_the_list(
    aws: Provisioned, api: Agency, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race: the import reads the owner (not restricted yet), the restriction commits (hiding the cases it
    read), then the import writes its new case with the list keys. The owner's flag decides at listing time."""
    from services.contacts.cases import repository, use_cases

    real_read = repository.read_owner
    raced: list[dict[str, Any]] = []

    def read_then_restricted(case_owner_id: str) -> Any:
        owner = real_read(case_owner_id)
        if not raced:  # the import's read; the agency restricts the person right after it
            monkeypatch.setattr(use_cases.repository, "read_owner", real_read)
            raced.append(_restrict(api))
        return owner

    monkeypatch.setattr(use_cases.repository, "read_owner", read_then_restricted)
    racing = imported(OWNER, client_id=api.client_id, case_ids=("case-de-race",), points=())
    assert deliver(racing.model_copy(update={"matched_by": "email"})) == {"batchItemFailures": []}
    (hold,) = raced
    case_item = repository.get_case_item(OWNER, "case-de-race")
    assert case_item is not None and "GSI1PK" in case_item  # written listed: the race happened

    assert _listed(api) == [] == _listed(api, api.client_user)
    status, owner_file = api.call("GET", f"/case-owners/{OWNER}")
    assert status == 200 and sorted(c["restricted"] for c in owner_file["cases"]) == [True, True]  # and repaired
    # Ending the restriction lists both again.
    ended = api.call("POST", f"/case-owners/{OWNER}/holds/{hold['hold_id']}/end", {"reason": "address verified"})
    assert ended[0] == 200, ended
    assert sorted(_listed(api)) == [CASE, "case-de-race"]
