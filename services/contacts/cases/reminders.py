"""The daily payment-plan reminder schedule (contacts decides every reminder; the gate lets it out).

For each case with an agreed plan (the sharded ``PLANS#<n>`` index, never a table scan), the instalments whose
reminder window has opened (``payment_plan_reminder_days`` before the due date, the portfolio's override first)
and that the payments have not covered yet get one reminder each. A reminder's action id is derived from its
instalment (``reminder_action_id``), so its record (put-if-absent, first in the gate's transaction) is its claim: a
schedule that fires twice, or two runs at once, remind once, and a reminder whose request failed leaves no record:
the next run tries again.

Before, each reminder wrote a ``REMINDER#<plan>#<n>`` claim beside its record (one item and 2 write units more a
reminder). Those claims are still honoured while an instalment they guard can be reminded again
(``legacy_claims_until``): the first run that writes records as claims records its day, and instalments due up to
the longest reminder window after it are looked up among the old claims (one BatchGetItem a page, read before
deciding); later instalments can have no old claim.

Set at a time: each shard takes its cases a page at a time (``CASES_A_PAGE``). Per case one Query of its owner's
partition (the case, the contact points, the default pointers, the contact-policy items, the profile) feeds both the
message and the gate; each client's settings and contact rules are read once per run. The gate decides every
reminder of the page on its own, and the page's decisions (claim, history, record, audit, outbox row each) are
written together, as few TransactWriteItems as fit (``gate.request_contacts``): a reminder whose claim was there is
already reminded, one whose owner changed meanwhile is decided again on its own. The page's events are then
published from the outbox of the shard's cause as one ``ContactActionsRequested.v2`` (``shared.bus.packed``: each
member the ContactActionRequested the gate decided); a run that dies between leaves them to the outbox sweeper.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from services.contacts import store
from services.contacts.cases import debtor_messages, lifecycle, repository, settlement
from services.contacts.clients import domain as clients_domain
from services.contacts.clients.models import ClientSettings, WorkflowOverride, WorkflowSettings
from services.contacts.policy import gate
from shared import aws, dynamo, outbox
from shared.events import Channel, Instalment, new_id
from shared.observability import logger

log = logger("contacts")
# A page's decisions share TransactWriteItems (four items a reminder: record, history, audit, outbox row; at most
# 100 a request) and its events go out after it, ten a PutEvents.
CASES_A_PAGE = 20
_REMINDER_IDS = uuid.UUID("0b6f1f3e-52d4-4c59-9f0e-7d3a6c2b8e41")
# Where the first run that wrote records as claims recorded its day (``records_are_claims_since``).
RECORDS_ARE_CLAIMS = {"PK": "SCHEDULE#payment-plan-reminders", "SK": "RECORDS_ARE_CLAIMS"}

def _longest_reminder_days() -> int:
    """The most ``payment_plan_reminder_days`` a client's settings or a portfolio's override accept."""
    bounds = [
        int(m.le)
        for model in (WorkflowSettings, WorkflowOverride)
        for m in model.model_fields["payment_plan_reminder_days"].metadata
        if getattr(m, "le", None) is not None  # pydantic's ``le=`` bound
    ]
    return max(bounds)


# The longest reminder window a client can set, and a day for a run of the old code on the day of the change.
LONGEST_WINDOW = timedelta(days=_longest_reminder_days() + 1)
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
    _legacy_until: date | None = field(default=None, repr=False)

    def count(self, name: str) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)

    def legacy_claims_until(self) -> date:
        """Instalments due on or before this day may hold an old ``REMINDER#`` claim (read once a run)."""
        with self.lock:
            if self._legacy_until is None:
                self._legacy_until = records_are_claims_since(self.day) + LONGEST_WINDOW
            return self._legacy_until


def reminder_action_id(case_id: str, plan_id: str, number: int) -> str:
    """The action id of an instalment's reminder: the same for every run, so its record is its claim."""
    return str(uuid.uuid5(_REMINDER_IDS, f"payment_plan_reminder|{case_id}|{plan_id}|{number}"))


def records_are_claims_since(today: date) -> date:
    """The day the first run wrote records as claims (this one's, ``today``, when none did before)."""
    table = store.table()
    item = table.get_item(Key=RECORDS_ARE_CLAIMS, ConsistentRead=True).get("Item")
    if item is None:
        try:
            table.put_item(
                Item={**RECORDS_ARE_CLAIMS, "since": today.isoformat()}, ConditionExpression="attribute_not_exists(PK)"
            )
            return today
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            item = table.get_item(Key=RECORDS_ARE_CLAIMS, ConsistentRead=True)["Item"]  # another run's, just now
    return date.fromisoformat(str(item["since"]))


def legacy_claim_key(case_id: str, plan_id: str, number: int) -> dict[str, str]:
    return {"PK": f"CASE#{case_id}", "SK": f"REMINDER#{plan_id}#{number}"}


def legacy_claimed(keys: list[dict[str, str]]) -> set[tuple[str, str]]:
    """Which of these old claims exist (strongly consistent: a run of the old code that finished is seen)."""
    if not keys:
        return set()
    client_keys = [{"PK": {"S": k["PK"]}, "SK": {"S": k["SK"]}} for k in keys]
    found = dynamo.batch_get(aws.client("dynamodb"), store.table_name(), client_keys)
    return {(i["PK"]["S"], i["SK"]["S"]) for i in found}


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
    return remind_cases([index], today, run, correlation_id)


def remind_cases(indexes: list[dict[str, Any]], today: date, run: ReminderRun, correlation_id: str) -> int:
    """Request the reminders a page of cases is due, decided one by one and written together
    (``gate.request_contacts``: one TransactWriteItems for about twenty); the number requested (their events wait
    in the outbox)."""
    wanted: list[tuple[dict[str, Any], repository.OwnerRead, Channel | None, Instalment]] = []
    for index in indexes:
        case_id, owner_id = str(index["case_id"]), str(index["case_owner_id"])
        owner = repository.read_owner(owner_id)  # the case, the points, the defaults, the policy: one Query
        item = owner.case(case_id)
        if item is None or item.get("status") != "in_settlement":
            continue
        run.count("cases")
        paid = Decimal(str(item.get("paid_amount", 0))) - Decimal(str(item.get("plan_paid_from", 0)))
        try:
            _, settings, _ = run.lookups.of(str(item["client_id"]))
            days = _reminder_days(settings, item.get("portfolio"))
            due = lifecycle.instalments_to_remind(settlement.plan_of(item), paid, days, today)
        except Exception as error:  # one case's trouble must not stop the others' reminders (nothing was written)
            _failed(run, case_id, "", error)
            continue
        wanted.extend((item, owner, _channel(owner.defaults), instalment) for instalment in due)
    until = run.legacy_claims_until() if wanted else None
    old = legacy_claimed(
        [
            legacy_claim_key(str(item["case_id"]), str(item["plan_id"]), instalment.number)
            for item, _, _, instalment in wanted
            if until is not None and instalment.due_on <= until
        ]
    )
    asks: list[gate.Ask] = []
    labels: list[str] = []
    for item, owner, channel, instalment in wanted:
        case_id, plan_id = str(item["case_id"]), str(item["plan_id"])
        if tuple(legacy_claim_key(case_id, plan_id, instalment.number).values()) in old:
            run.count("already_reminded")  # claimed by a run before records were claims
            continue
        try:
            if channel is None:
                raise LookupError("the case owner has no default e-mail, phone or postal address")
            ask = debtor_messages.ask_for_reminder(
                item,
                owner,
                channel,
                instalment,
                reminder_action_id(case_id, plan_id, instalment.number),
                run.lookups,
                correlation_id,
            )
        except Exception as error:
            _failed(run, case_id, f"#{instalment.number}", error)
            continue
        asks.append(ask)
        labels.append(f"{case_id}#{instalment.number}")
    requested = 0
    for label, outcome in zip(labels, gate.request_contacts(asks), strict=True):
        if isinstance(outcome, Exception):
            _failed(run, label, "", outcome)
        elif outcome.status == "already_claimed":
            run.count("already_reminded")
        elif outcome.status == "requested":
            run.count("requested")
            requested += 1
        else:
            run.count("held_back")  # deferred or refused by the contact policy; its record says why
    return requested


def _failed(run: ReminderRun, case_id: str, which: str, error: Exception) -> None:
    run.failed.append(f"{case_id}{which}: {error}")
    log.warning("reminder not requested", extra={"case_id": case_id, "reason": str(error)})


def run_schedule(today: date | None = None, correlation_id: str | None = None, workers: int = 8) -> ReminderRun:
    today = today or datetime.now(UTC).date()
    correlation_id = correlation_id or f"reminders-{today.isoformat()}-{new_id()[:8]}"
    run = ReminderRun(today)

    def shard(n: int) -> None:
        page: list[dict[str, Any]] = []
        with outbox.cause(f"{correlation_id}#shard-{n}"):
            for index in planned_cases(n):
                page.append(index)
                if len(page) == CASES_A_PAGE:
                    if remind_cases(page, today, run, correlation_id):
                        outbox.try_flush(store.table_name())
                    page = []
            remind_cases(page, today, run, correlation_id)
            outbox.try_flush(store.table_name())

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(shard, range(settlement.PLAN_SHARDS)))
    log.info(
        "reminder schedule ran",
        extra={"day": today.isoformat(), "cases": run.cases, "requested": run.requested, "failed": len(run.failed)},
    )
    return run
