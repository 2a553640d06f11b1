"""The daily payment-plan reminder schedule (contacts decides every reminder; the gate lets it out).

For each case with an agreed plan (the sharded ``PLANS#<n>`` index, never a table scan), the instalments whose
reminder window has opened (``payment_plan_reminder_days`` before the due date, the portfolio's override first)
and that the payments have not covered yet get one reminder each: a ``REMINDER#<plan>#<n>`` claim is written
(put-if-absent) in the same transaction as the gate's decision, so a schedule that fires twice, or two runs at
once, remind once, and a reminder whose request failed leaves no claim: the next run tries again.

What the run reads is passed on: per case one Query of its owner's partition (the case, the contact points, the
default pointers, the contact-policy items, the profile) for the message and the gate, and each client's settings
and contact rules once per run. The requests' events are published in batches: each shard writes them into the
outbox of its own cause with the gate's transaction and publishes every ``PUBLISH_EVERY`` (one PutEvents for ten
reminders, as EventBridge takes ten entries a call); a run that dies between leaves them to the outbox sweeper.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key

from services.contacts import store
from services.contacts.cases import debtor_messages, lifecycle, repository, settlement
from services.contacts.clients import domain as clients_domain
from services.contacts.clients.models import ClientSettings
from shared import outbox
from shared.events import Channel, new_id
from shared.observability import logger

log = logger("contacts")
PUBLISH_EVERY = 10  # PutEvents takes up to ten entries
# Which channel a reminder takes: the debtor's default e-mail, else an SMS to the default phone, else a letter.
CHANNEL_BY_DEFAULT: tuple[tuple[str, Channel], ...] = (
    ("email", "email"),
    ("phone", "sms"),
    ("postal_address", "letter"),
)


@dataclass
class ReminderRun:
    day: date
    cases: int = 0
    requested: int = 0
    already_reminded: int = 0
    held_back: int = 0
    failed: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    lookups: debtor_messages.ClientLookups = field(default_factory=debtor_messages.ClientLookups, repr=False)

    def count(self, name: str) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)


def planned_cases(shard: int) -> Iterator[dict[str, Any]]:
    yield from store.query_all(KeyConditionExpression=Key("PK").eq(f"PLANS#{shard}"))


def _reminder_days(settings: ClientSettings, portfolio: str | None) -> int:
    workflow = settings.workflow
    override = workflow.portfolio_overrides.get(portfolio) if portfolio else None
    return clients_domain.effective_workflow(workflow, override, portfolio or "").payment_plan_reminder_days


def _channel(defaults: dict[str, str]) -> Channel | None:
    return next((channel for kind, channel in CHANNEL_BY_DEFAULT if kind in defaults), None)


def remind_case(index: dict[str, Any], today: date, run: ReminderRun, correlation_id: str) -> int:
    """Request the reminders this case is due; the number requested (their events wait in the outbox)."""
    case_id, owner_id = str(index["case_id"]), str(index["case_owner_id"])
    owner = repository.read_owner(owner_id)  # the case, the points, the defaults, the policy: one Query
    item = owner.case(case_id)
    if item is None or item.get("status") != "in_settlement":
        return 0
    requested = 0
    run.count("cases")
    paid = Decimal(str(item.get("paid_amount", 0))) - Decimal(str(item.get("plan_paid_from", 0)))
    _, settings, _ = run.lookups.of(str(item["client_id"]))
    days = _reminder_days(settings, item.get("portfolio"))
    for instalment in lifecycle.instalments_to_remind(settlement.plan_of(item), paid, days, today):
        claim = {
            "PK": f"CASE#{case_id}",
            "SK": f"REMINDER#{item['plan_id']}#{instalment.number}",
            "due_on": instalment.due_on.isoformat(),
            "claimed_at": store.now(),
            "correlation_id": correlation_id,
        }
        channel = _channel(owner.defaults)
        try:
            if channel is None:
                raise LookupError("the case owner has no default e-mail, phone or postal address")
            outcome = debtor_messages.request_message(
                case_id,
                "payment_plan_reminder",
                channel,
                automatic=True,
                who=None,
                correlation_id=correlation_id,
                instalment=instalment,
                lookups=run.lookups,
                case_item=item,
                owner=owner,
                flush=False,
                claim=claim,
            )
        except Exception as error:  # one case's trouble must not stop the others' reminders (nothing was written)
            run.failed.append(f"{case_id}#{instalment.number}: {error}")
            log.warning("reminder not requested", extra={"case_id": case_id, "reason": str(error)})
            continue
        if outcome.status == "already_claimed":
            run.count("already_reminded")
        elif outcome.status == "requested":
            run.count("requested")
            requested += 1
        else:
            run.count("held_back")  # deferred or refused by the contact policy; its record says why
    return requested


def run_schedule(today: date | None = None, correlation_id: str | None = None, workers: int = 8) -> ReminderRun:
    today = today or datetime.now(UTC).date()
    correlation_id = correlation_id or f"reminders-{today.isoformat()}-{new_id()[:8]}"
    run = ReminderRun(today)

    def shard(n: int) -> None:
        waiting = 0
        with outbox.cause(f"{correlation_id}#shard-{n}"):
            for index in planned_cases(n):
                waiting += remind_case(index, today, run, correlation_id)
                if waiting >= PUBLISH_EVERY:
                    outbox.try_flush(store.table_name())
                    waiting = 0
            outbox.try_flush(store.table_name())

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(shard, range(settlement.PLAN_SHARDS)))
    log.info(
        "reminder schedule ran",
        extra={"day": today.isoformat(), "cases": run.cases, "requested": run.requested, "failed": len(run.failed)},
    )
    return run
