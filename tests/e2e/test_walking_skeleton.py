"""The walking skeleton through the whole local stack: S3 drop, API, schedule and bus consumers, end to end."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra import demo, demo_debtors
from infra.definition import STACK, Names
from infra.local.stack import LocalStack
from shared.observability import logger
from shared.redaction import RedactingFormatter
from tests import aws_calls
from tests.integration.support import unpacked

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Path]]:
    log_file = tmp_path_factory.mktemp("logs") / "lambda.log"
    saved = dict(os.environ)
    try:
        with LocalStack(stage="e2e", log_file=str(log_file)) as stack, aws_calls.recording() as calls:
            result = demo.run(stack, out=lambda *_: None)
            result["debtors"] = demo_debtors.run(stack, result["client_id"], result["cases"], out=lambda *_: None)
            assert stack.dispatcher
            ran = {c.function for c in calls}
            for fn in STACK.functions:  # the schedules the demo does not fire (they run every few minutes)
                if fn.trigger.kind == "schedule" and fn not in ran:
                    stack.dispatcher.fire(fn)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    yield {**result, "aws_calls": calls}, log_file


def test_s3_drop_becomes_cases_with_contact_points(run: tuple[dict[str, Any], Path]) -> None:
    result, _ = run
    cases = result["cases"]
    assert len(cases) == 3  # Anna's two invoices merge into one case file; the broken row is rejected
    assert sorted(len(c["invoice_numbers"]) for c in cases) == [1, 1, 2]
    types = {cp["type"] for cp in result["case_file"]["contact_points"]}
    assert {"email", "phone", "postal_address"} <= types


def test_schedule_enriches_the_old_cases_with_a_pending_contact_point(run: tuple[dict[str, Any], Path]) -> None:
    result, _ = run
    # Two cases are older than the 30-day interval; the one opened days ago is not searched (it would cost money).
    assert result["enrichment"]["searched"] == 2
    # The first case's owner has a default e-mail and phone by now: only an address was looked for.
    assert [(cp["type"], cp["qualification"]) for cp in result["enriched_points"]] == [("postal_address", "pending")]
    trace = result["enriched_points"][0]["trace"]
    assert trace["provider"] == "sandbox" and trace["attempt"] == 1
    assert result["case_file"]["case"]["address_traced"]["provider"] == "sandbox"
    costs = result["costs"]
    assert (costs["attempts"], costs["total"], costs["budget"]) == (2, "0.90", "50.00")


def test_user_creation_and_import_send_emails_through_ses(run: tuple[dict[str, Any], Path]) -> None:
    result, _ = run
    mine = [m for m in result["emails"] if m["destinations"]["ToAddresses"] == ["petra.meyer@stadtwerke.example"]]
    assert sorted(m["subject"].split(":")[0] for m in mine) == ["Import report", "Your access to FinView"]
    report = next(m for m in mine if "report" in m["subject"])
    assert "<tr><td>Rows rejected</td><td>1</td></tr>" in report["body"]


def test_the_automatic_email_action_used_the_default_email_only_once_it_existed(
    run: tuple[dict[str, Any], Path],
) -> None:
    result, _ = run
    to_debtor = [m for m in result["emails"] if m["destinations"]["ToAddresses"] == ["jean.dupont@example.fr"]]
    assert len(to_debtor) == 1
    defaults = {cp["type"] for cp in result["case_file"]["contact_points"] if cp["is_default"]}
    assert defaults == {"email", "phone"}


def test_events_went_over_the_bus_and_nothing_is_dead(run: tuple[dict[str, Any], Path]) -> None:
    result, _ = run
    counts = result["events"]
    # the three case owners of the file in one CaseFileImported.v2 (no v1 any more), each case opened once, the
    # three announced together in one CasesOpened.v2 (shared.bus.packed)
    assert counts["CaseFileImported.v2"] == 1 and "CaseFileImported.v1" not in counts
    assert counts["CasesOpened.v2"] == 1 and "CaseOpened.v1" not in counts
    members = unpacked(result["bus_events"])
    opened = Counter(e["detail"]["case_id"] for e in members if e["detail-type"] == "CaseOpened.v1")
    assert len(opened) == 3 and set(opened.values()) == {1}
    assert counts["ImportCompleted.v1"] == 1 and counts["ClientUserCreated.v1"] == 1
    assert counts["EnrichmentAttemptSettled.v1"] == 2 and counts["ContactPointsTraced.v1"] == 2
    assert counts["ContactActionRequested.v1"] == 1
    assert counts["NotificationSent.v1"] == 3
    assert result["dlq"] == {}


def test_correlation_id_runs_from_the_s3_drop_through_every_event_to_the_email(
    run: tuple[dict[str, Any], Path],
) -> None:
    result, log_file = run
    events = result["bus_events"]
    completed = next(e for e in events if e["detail-type"] == "ImportCompleted.v1")
    correlation = completed["detail"]["correlation_id"]
    chain = {e["detail-type"] for e in unpacked(events) if e["detail"]["correlation_id"] == correlation}
    assert {"CaseFileImported.v2", "CaseOpened.v1", "ImportCompleted.v1", "NotificationSent.v1"} <= chain
    lines = [json.loads(line) for line in log_file.read_text().splitlines() if line.startswith("{")]
    sent = [rec for rec in lines if rec.get("message") == "e-mail sent" and rec.get("kind") == "import_report"]
    assert sent and all(rec["correlation_id"] == correlation for rec in sent)
    services = {rec["service"] for rec in lines if rec.get("correlation_id") == correlation}
    assert {"imports", "contacts", "notifications"} <= services


def test_finview_up_serves_fires_enrichment_on_demand_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "up", "--moto-port", "0", "--api-port", "0", "--dynamodb-port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    state = tmp_path / ".finview" / "stack.json"
    try:
        deadline = time.monotonic() + 60
        while not state.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert state.exists(), proc.stdout.read() if proc.stdout else ""
        api_url = json.loads(state.read_text())["api_url"]
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{api_url}/clients/nope")
        assert err.value.code == 401
        assert json.loads(err.value.read())["error"]["code"] == "unauthenticated"
        enrich = subprocess.run(
            [sys.executable, "-m", "infra.cli", "enrich", "--now"],
            cwd=tmp_path,
            timeout=60,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert enrich.returncode == 0, enrich.stderr
        ran = json.loads(enrich.stdout.strip().splitlines()[-1])
        assert (ran["searched"], ran["found"], ran["failed"]) == (0, 0, 0)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert not state.exists()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_german_and_french_debtors_get_their_messages_in_their_language(run: tuple[dict[str, Any], Path]) -> None:
    debtors = run[0]["debtors"]
    first, second = debtors["schedule_runs"]
    assert (first["requested"], second["requested"], second["already_reminded"]) == (1, 0, 1)
    [reminder] = debtors["german_reminders"]
    assert reminder["subject"].startswith("Erinnerung: Rate 1 fällig am")
    assert (
        "Informationen nach § 13a" in debtors["german_body"]
        and "Hanseatischen Oberlandesgerichts" in debtors["german_body"]
    )
    [closing] = debtors["french_closing"]
    assert closing["subject"] == "Dossier K-1002 entièrement réglé" and "Bonjour Jean Dupont" in debtors["french_body"]
    # a debtor in France gets no RDG block (not a bare "13a": the random unsubscribe id may hold it)
    assert "§ 13a" not in debtors["french_body"] and "(RDG)" not in debtors["french_body"]


def test_the_case_messages_show_template_language_and_outcome_including_a_bounce(
    run: tuple[dict[str, Any], Path],
) -> None:
    debtors = run[0]["debtors"]
    templates = {m["template"]: m["status"] for messages in debtors["messages"].values() for m in messages}
    assert templates["de/payment_plan_reminder"] == "delivered"
    assert templates["fr/closing_fully_paid"] == "delivered"
    assert [b["outcome"] for b in debtors["bounced"]] == ["permanent bounce: smtp; 550 5.1.1 user unknown"]
    assert debtors["bounce_point"]["valid"] is False  # the contact policy turned the bounced e-mail invalid


def test_every_aws_call_of_every_function_is_granted_by_its_own_policy(run: tuple[dict[str, Any], Path]) -> None:
    """The least-privilege policies (infra.permissions) cover what each function's code really calls."""
    calls: list[aws_calls.Call] = run[0]["aws_calls"]
    assert {c.function.logical for c in calls} == {f.logical for f in STACK.functions}  # every function ran
    assert aws_calls.refused(calls, Names("e2e")) == []


def test_the_log_of_the_whole_run_holds_no_debtor_s_personal_data(run: tuple[dict[str, Any], Path]) -> None:
    """Every Lambda of the demo logged through the redacting formatter (shared.redaction): none of the debtors'
    names, e-mails, phones or streets of samples/debtors.csv, nor the demo's own addresses, is in the log."""
    result, log_file = run
    lines = log_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) > 50, "the demo logged (almost) nothing: the check below would prove nothing"
    services = {json.loads(line).get("service") for line in lines}
    assert {"contacts", "imports", "enrichment", "notifications"} <= services
    assert all(isinstance(logger(s).registered_formatter, RedactingFormatter) for s in services)
    rows = list(csv.DictReader(demo.SAMPLE.read_text(encoding="utf-8").splitlines(), delimiter=";"))
    personal = {
        value
        for row in rows
        for field in ("first_name", "last_name", "email", "phone", "street")
        if (value := row[field]) and row["first_name"] != "Broken"
    }
    personal |= {cp["value"] for cp in result["case_file"]["contact_points"]}
    personal |= {digits for phone in list(personal) if phone.startswith("+") for digits in [phone.replace(" ", "")]}
    text = "\n".join(lines)
    assert sorted(p for p in personal if p in text) == []
