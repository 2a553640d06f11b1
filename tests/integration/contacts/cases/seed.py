"""Cases with an agreed payment plan, written straight into the contacts table in the shapes the repository writes
(for the reminder schedule's tests and bench: thousands of imports and API calls would measure something else)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from services.contacts import store
from services.contacts.cases import settlement


def seed_planned_cases(client_id: str, keys: list[str], due: str) -> None:
    """One case owner per key with a default e-mail and a case in settlement whose one instalment is due."""
    now = datetime.now(UTC).isoformat()
    with store.table().batch_writer() as batch:
        for i in keys:
            owner, case, cp = f"owner-{i}", f"case-{i}", f"cp-{i}"
            o = f"OWNER#{owner}"
            batch.put_item(
                Item={
                    "PK": o,
                    "SK": "PROFILE",
                    "case_owner_id": owner,
                    "client_id": client_id,
                    "first_name": "Jürgen",
                    "last_name": f"Weiß {i}",
                    "language": "de",
                    "created_at": now,
                }
            )
            batch.put_item(
                Item={
                    "PK": o,
                    "SK": f"CASE#{case}",
                    "case_id": case,
                    "case_owner_id": owner,
                    "client_id": client_id,
                    "invoice_numbers": [f"R-{i}"],
                    "amount": Decimal("500.00"),
                    "open_amount": Decimal("500.00"),
                    "currency": "EUR",
                    "opened_on": "2026-10-01",
                    "status": "in_settlement",
                    "revision": 1,
                    "plan_id": f"plan-{i}",
                    "paid_amount": Decimal(0),
                    "plan_paid_from": Decimal(0),
                    "plan": [{"number": 1, "due_on": due, "amount": Decimal("250.00")}],
                    "GSI1PK": f"CLIENT#{client_id}#CASES",
                    "GSI1SK": f"2026-10-01#{case}",
                }
            )
            batch.put_item(Item={"PK": f"CASE#{case}", "SK": "POINTER", "case_owner_id": owner, "client_id": client_id})
            batch.put_item(
                Item={
                    "PK": o,
                    "SK": f"CP#email#{cp}",
                    "contact_point_id": cp,
                    "type": "email",
                    "value": f"debtor{i}@example.de",
                    "valid": True,
                    "qualification": "validated",
                    "is_default": True,
                    "source": "import",
                    "created_at": now,
                    "revision": 1,
                }
            )
            batch.put_item(Item={"PK": o, "SK": "DEFAULT#email", "contact_point_id": cp, "revision": 1})
            batch.put_item(
                Item={
                    "PK": f"PLANS#{settlement.plan_shard(case)}",
                    "SK": f"CASE#{case}",
                    "case_id": case,
                    "case_owner_id": owner,
                    "client_id": client_id,
                }
            )
