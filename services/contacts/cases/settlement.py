"""Case lifecycle use cases: payments, the payment plan, closing (with the closing e-mail the client chose).

Each change is one transaction on the case item (optimistic revision) with its record and audit entry, then its
event (PaymentRecorded, PaymentPlanAgreed, CaseClosed). A case with an agreed plan is listed in a sharded index
(``PLANS#<n>``) that the daily reminder schedule reads, so the schedule never scans the table.
"""

from __future__ import annotations

import zlib
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from services.contacts import store
from services.contacts.cases import audit, cease_notices, debtor_messages, lifecycle, repository
from services.contacts.cases.models import (
    Case,
    CaseClosingIn,
    CaseClosingOut,
    Payment,
    PaymentIn,
    PaymentOut,
    PaymentPlan,
    PaymentPlanIn,
)
from services.contacts.cases.use_cases import case_item
from services.contacts.clients import repository as clients_repository
from services.contacts.clients.models import ClientSettings
from services.contacts.identity import Identity
from shared import bus
from shared.errors import Conflict, DomainError
from shared.events import CaseClosed, Instalment, PaymentPlanAgreed, PaymentRecorded, new_id
from shared.observability import logger

log = logger("contacts")
MAX_ATTEMPTS = 20
PLAN_SHARDS = 16


def plan_shard(case_id: str) -> int:
    return zlib.crc32(case_id.encode()) % PLAN_SHARDS


def _money(item: dict[str, Any], name: str, default: Decimal | None = None) -> Decimal:
    value = item.get(name)
    return Decimal(str(value)) if value is not None else (default if default is not None else Decimal(0))


def open_amount(item: dict[str, Any]) -> Decimal:
    return _money(item, "open_amount", _money(item, "amount"))


def plan_of(item: dict[str, Any]) -> list[Instalment]:
    return [Instalment.model_validate(i) for i in item.get("plan") or []]


def _case(item: dict[str, Any], changes: dict[str, Any]) -> Case:
    return Case.model_validate(store.clean({**item, **changes}))


def _commit_case_change(
    item: dict[str, Any],
    fields: dict[str, Any],
    who: Identity,
    action: str,
    correlation_id: str,
    *,
    puts: tuple[dict[str, Any], ...] = (),
    deletes: tuple[dict[str, str], ...] = (),
) -> bool:
    tx = repository.Tx()
    condition, values, names = repository.revision_condition(repository.revision(item))
    tx.update(
        {"PK": str(item["PK"]), "SK": str(item["SK"])},
        {**fields, "revision": repository.revision(item) + 1, "updated_at": store.now()},
        condition=condition,
        values=values,
        names=names,
    )
    for put in puts:
        tx.put(put, condition=None)
    for key in deletes:
        tx.delete(key, condition="attribute_exists(PK) OR attribute_not_exists(PK)")
    tx.audit(
        audit.entry(
            str(item["case_owner_id"]),
            audit.Actor.of(who),
            action,
            target_type="case",
            target_id=str(item["case_id"]),
            case_id=str(item["case_id"]),
            before={k: _plain(item.get(k)) for k in fields},
            after={k: _plain(v) for k, v in fields.items()},
            correlation_id=correlation_id,
        )
    )
    try:
        tx.commit()
    except repository.WriteConflict:
        return False
    return True


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def record_payment(
    case_id: str, body: PaymentIn, who: Identity, correlation_id: str, today: date | None = None
) -> PaymentOut:
    today = today or datetime.now(UTC).date()
    for _ in range(MAX_ATTEMPTS):
        item = case_item(case_id, who, change=True)
        lifecycle.check_active(str(item["status"]))
        currency = str(item["currency"])
        lifecycle.check_currency(body.currency, currency)
        outcome = lifecycle.apply_payment(open_amount(item), body.amount, currency, body.paid_on, today)
        paid = _money(item, "paid_amount") + body.amount
        payment = Payment(
            payment_id=new_id(),
            case_id=case_id,
            amount=body.amount,
            currency=currency,
            paid_on=body.paid_on,
            reference=body.reference,
            recorded_by=who.principal,
            recorded_at=datetime.now(UTC),
            overpaid=outcome.overpaid,
        )
        payment_item = {
            "PK": str(item["PK"]),
            "SK": f"PAYMENT#{case_id}#{payment.paid_on.isoformat()}#{payment.payment_id}",
            **payment.model_dump(mode="json"),
            "amount": payment.amount,
            "overpaid": payment.overpaid,
        }
        fields = {"open_amount": outcome.open_amount, "paid_amount": paid}
        if _commit_case_change(item, fields, who, "case.payment_recorded", correlation_id, puts=(payment_item,)):
            bus.publish(
                [
                    PaymentRecorded(
                        correlation_id=correlation_id,
                        client_id=str(item["client_id"]),
                        case_owner_id=str(item["case_owner_id"]),
                        case_id=case_id,
                        payment_id=payment.payment_id,
                        amount=payment.amount,
                        currency=currency,
                        paid_on=payment.paid_on,
                        reference=payment.reference,
                        open_amount=outcome.open_amount,
                    )
                ]
            )
            return PaymentOut(payment=payment, case=_case(item, fields))
    raise Conflict("concurrent_change", "the case kept changing meanwhile; read it again and retry")


def agree_plan(
    case_id: str, body: PaymentPlanIn, who: Identity, correlation_id: str, today: date | None = None
) -> PaymentPlan:
    today = today or datetime.now(UTC).date()
    instalments = [
        Instalment(number=i + 1, due_on=row.due_on, amount=row.amount) for i, row in enumerate(body.instalments)
    ]
    for _ in range(MAX_ATTEMPTS):
        item = case_item(case_id, who, change=True)
        lifecycle.check_active(str(item["status"]))
        currency = str(item["currency"])
        lifecycle.check_currency(body.currency, currency)
        lifecycle.check_plan(instalments, open_amount(item), currency, today)
        plan_id = new_id()
        plan = [i.model_dump(mode="json") | {"amount": i.amount} for i in instalments]
        # Payments before the plan do not pay its instalments: the plan counts what is paid from now on.
        fields = {
            "status": "in_settlement",
            "plan_id": plan_id,
            "plan": plan,
            "plan_paid_from": _money(item, "paid_amount"),
        }
        index = {
            "PK": f"PLANS#{plan_shard(case_id)}",
            "SK": f"CASE#{case_id}",
            "case_id": case_id,
            "case_owner_id": str(item["case_owner_id"]),
            "client_id": str(item["client_id"]),
        }
        if _commit_case_change(item, fields, who, "case.payment_plan_agreed", correlation_id, puts=(index,)):
            bus.publish(
                [
                    PaymentPlanAgreed(
                        correlation_id=correlation_id,
                        client_id=str(item["client_id"]),
                        case_owner_id=str(item["case_owner_id"]),
                        case_id=case_id,
                        plan_id=plan_id,
                        currency=currency,
                        instalments=instalments,
                    )
                ]
            )
            return PaymentPlan(plan_id=plan_id, case_id=case_id, currency=currency, instalments=instalments)
    raise Conflict("concurrent_change", "the case kept changing meanwhile; read it again and retry")


def client_settings(client_id: str) -> ClientSettings:
    stored = clients_repository.get_settings(client_id)
    return ClientSettings.model_validate(stored) if stored else ClientSettings()


def close_case(case_id: str, body: CaseClosingIn, who: Identity, correlation_id: str) -> CaseClosingOut:
    for _ in range(MAX_ATTEMPTS):
        item = case_item(case_id, who, change=True)
        status = str(item["status"])
        plan = plan_of(item)
        plan_total = sum((i.amount for i in plan), Decimal(0)) if plan else None
        paid_in_plan = _money(item, "paid_amount") - _money(item, "plan_paid_from")
        new_status = lifecycle.check_close(body.reason, status, open_amount(item), paid_in_plan, plan_total)
        fields = {"status": new_status, "closed_reason": body.reason, "closed_at": store.now()}
        index_key = {"PK": f"PLANS#{plan_shard(case_id)}", "SK": f"CASE#{case_id}"}
        if _commit_case_change(
            item,
            fields,
            who,
            "case.closed",
            correlation_id,
            deletes=(index_key,),
        ):
            bus.publish(
                [
                    CaseClosed(
                        correlation_id=correlation_id,
                        client_id=str(item["client_id"]),
                        case_owner_id=str(item["case_owner_id"]),
                        case_id=case_id,
                        reason=body.reason,
                        status=new_status,  # type: ignore[arg-type]
                        was_in_settlement=status == "in_settlement",
                        open_amount=open_amount(item),
                        currency=str(item["currency"]),
                    )
                ]
            )
            closing = _closing_email(item, body, who, correlation_id) or cease_notices.after_closing(
                item, body.reason, who, correlation_id
            )
            return CaseClosingOut(
                case=_case(item, fields),
                closing_message=(closing[0] or None) if closing else None,
                closing_message_status=closing[1] if closing else None,
            )
    raise Conflict("concurrent_change", "the case kept changing meanwhile; read it again and retry")


def _closing_email(
    item: dict[str, Any], body: CaseClosingIn, who: Identity, correlation_id: str
) -> tuple[str, str] | None:
    """Seed 001: the closing e-mail goes out only when the client's settings ask for this closing kind.
    (action id, status) of the request: requested, deferred or refused by the contact policy."""
    wants = client_settings(str(item["client_id"])).debtor_communication
    kind = lifecycle.closing_message(
        body.reason, wants.closing_email_on_full_payment, wants.closing_email_on_settlement_paid
    )
    if kind is None:
        return None
    try:
        outcome = debtor_messages.request_message(
            str(item["case_id"]),
            kind,
            "email",
            automatic=True,
            who=who,
            correlation_id=correlation_id,
            case_changes={"status": "paid", "open_amount": Decimal(0)},
        )
    except DomainError as refused:  # no e-mail to write to: the case is closed all the same
        log.warning("no closing e-mail", extra={"case_id": item["case_id"], "reason": refused.message})
        return "", "refused"
    return outcome.action_id, outcome.status
