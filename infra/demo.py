"""The walking skeleton on the local stack: the four trigger kinds, end to end, printed as they happen."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.local.stack import LocalStack

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "debtors.csv"
ADMIN = "local-admin"


def call(stack: LocalStack, method: str, path: str, body: Any = None, token: str = ADMIN) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"{stack.api_url}{path}",
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def _wait_for(predicate: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError("the local stack did not get there in time")


def run(stack: LocalStack, out: Any = print) -> dict[str, Any]:
    """Run the scenario against a started stack; returns what happened (the e2e test checks it)."""
    out(f"local AWS (moto) at {stack.endpoint_url}; contacts API at {stack.api_url}")

    out("\n1) API → contacts: create a client, grant enrichment, add an operational user with platform access")
    status, client = call(
        stack, "POST", "/clients", {"legal_name": "Stadtwerke Beispiel GmbH", "registration_number": "HRB 12345"}
    )
    assert status == 201, client
    client_id = client["client_id"]
    status, _ = call(
        stack,
        "PUT",
        f"/clients/{client_id}/settings",
        {
            "enrichment": {"granted": True, "interval_days": 30, "attempts": 2, "monthly_budget": "50.00"},
            "imports": {"new_file_per_invoice": False, "match_on_client_case_number": False},
        },
    )
    assert status == 200
    status, user = call(
        stack,
        "POST",
        f"/clients/{client_id}/users",
        {
            "first_name": "Petra",
            "last_name": "Meyer",
            "email": "petra.meyer@stadtwerke.example",
            "operational": True,
            "platform_access": True,
        },
    )
    assert status == 201, user
    out(f"   client {client_id} created; user {user['email']} (operational) created")
    stack.wait_idle()

    out("\n2) S3 drop → imports → bus → contacts: drop samples/debtors.csv")
    key = f"{client_id}/{datetime.now(UTC):%Y%m%dT%H%M%S}-debtors.csv"
    assert stack.provisioned is not None
    stack.client("s3").put_object(Bucket=stack.provisioned.names.bucket("drops"), Key=key, Body=SAMPLE.read_bytes())
    stack.wait_idle()
    cases = _wait_for(lambda: call(stack, "GET", f"/clients/{client_id}/cases")[1]["items"])
    out(f"   {len(cases)} case(s) created:")
    for case in cases:
        out(
            f"   - {case['case_id']}  {case['invoice_numbers']}  {case['amount']} {case['currency']}"
            f"  opened {case['opened_on']}"
        )

    out("\n3) API → contacts: GET one case with its contact points")
    first = sorted(cases, key=lambda c: c["opened_on"])[0]
    status, case_file = call(stack, "GET", f"/cases/{first['case_id']}")
    assert status == 200, case_file
    owner = case_file["case_owner"]
    out(f"   case owner {owner.get('first_name')} {owner.get('last_name')}:")
    for cp in case_file["contact_points"]:
        out(f"   - {cp['type']:<15} {cp['value']:<45} {cp['qualification']}")

    out("\n   a collector confirms the phone (successful call) and makes it the default;")
    out("   then an automatic e-mail action on the case may only use the e-mail default, which does not exist yet:")
    owner_path = f"/case-owners/{owner['case_owner_id']}/contact-points"
    phone = next(cp for cp in case_file["contact_points"] if cp["type"] == "phone")
    email = next(cp for cp in case_file["contact_points"] if cp["type"] == "email")
    collector = "local-collector"
    evidence = {"evidence": {"kind": "successful_call", "note": "debtor answered, confirmed the number"}}
    status, _ = call(stack, "POST", f"{owner_path}/{phone['contact_point_id']}/validate", evidence, token=collector)
    assert status == 200
    status, _ = call(stack, "POST", f"{owner_path}/{phone['contact_point_id']}/make-default", {}, token=collector)
    assert status == 200
    action = {"action": "email", "automatic": True}
    status, refused = call(stack, "POST", f"/cases/{first['case_id']}/actions", action, token=collector)
    out(f"   - automatic e-mail without a default e-mail → {status} {refused['error']['code']}")
    reason = {"evidence": {"kind": "reason", "note": "debtor replied from this address"}}
    call(stack, "POST", f"{owner_path}/{email['contact_point_id']}/validate", reason, token=collector)
    call(stack, "POST", f"{owner_path}/{email['contact_point_id']}/make-default", {}, token=collector)
    status, sent = call(stack, "POST", f"/cases/{first['case_id']}/actions", action, token=collector)
    assert status in (200, 201, 202), sent
    out(f"   - after validating and defaulting the e-mail → {status}, sent to {sent['contact_point']['value']}")
    _, case_file = call(stack, "GET", f"/cases/{first['case_id']}")
    stars = {"pending": " ", "validated": "☆"}
    for cp in case_file["contact_points"]:
        star = "★" if cp["is_default"] else stars[cp["qualification"]]
        out(f"   {star} {cp['type']:<15} {cp['value']:<45} {cp['qualification']}{' + default' * cp['is_default']}")
    stack.wait_idle()

    out("\n4) schedule → enrichment → bus → contacts: fire the daily enrichment now")
    assert stack.dispatcher is not None
    result = stack.dispatcher.fire(stack.function("enrichment", "on_schedule"))
    stack.wait_idle()
    out(f"   enrichment searched {result['searched']} case(s), found something for {result['found']}")
    _, enriched = call(stack, "GET", f"/cases/{first['case_id']}")
    new_points = [cp for cp in enriched["contact_points"] if cp["source"] == "enrichment"]
    for cp in new_points:
        trace = cp.get("trace") or {}
        out(
            f"   + {cp['type']:<15} {cp['value']:<45} {cp['qualification']} "
            f"(traced by {trace.get('provider')}, confidence {trace.get('confidence')})"
        )
    month = datetime.now(UTC).strftime("%Y-%m")
    _, costs = call(stack, "GET", f"/clients/{client_id}/enrichment/costs?month={month}")
    out(f"   costs {month}: {costs['total']} EUR in {costs['attempts']} attempt(s), monthly budget {costs['budget']}")

    emails = _wait_for(lambda: stack.sent_emails() or None, timeout=10)
    out(f"\n5) e-mails SES recorded: {len(emails)}")
    for m in emails:
        out(f"   - to {', '.join(m['destinations']['ToAddresses'])}: {m['subject']!r}")
        if "report" in m["subject"]:
            # moto keeps the HTML part: show its text, one line per paragraph or table row.
            text = (" ".join(re.sub(r"<[^>]+>", " ", line).split()) for line in m["body"].splitlines())
            out("\n".join(f"       | {line}" for line in text if line))

    events = stack.drain_bus_tap()
    counts = Counter(e["detail-type"] for e in events)
    out(f"\n6) events on the bus: {len(events)}")
    for detail_type, n in sorted(counts.items()):
        out(f"   {n:>3} × {detail_type}")
    dlq = {k: v for k, v in stack.dlq_depths().items() if v}
    out(f"\nDLQ: {dlq or 'empty'}")
    return {
        "client_id": client_id,
        "cases": cases,
        "case_file": enriched,
        "emails": emails,
        "events": counts,
        "bus_events": events,
        "enriched_points": new_points,
        "dlq": dlq,
        "enrichment": result,
        "costs": costs,
    }
