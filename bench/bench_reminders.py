"""The daily payment-plan reminder schedule through the local stack: N cases whose instalment is due in 3 days.

The schedule is fired once (contacts reads the plan index, claims one reminder per instalment, builds each
debtor message and publishes ContactActionRequested), the events go over the bus to notifications' queue, the
local dispatcher runs notifications (render in German, SES v2 SendEmail on moto, record, MessageSent) until moto's
SES has recorded all N e-mails. Reported: reminders per second end to end (goal ≥ 200/s), the schedule's own
rate, and a second firing (must request nothing). Baseline: bare SES SendEmail calls of a pre-rendered message
on the same moto server, one thread (the ceiling that moto's SES alone sets).

The cases are seeded straight into the contacts table in the shapes the repository writes (the bench measures
the schedule, not N imports and 2N API calls).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.client

from bench.harness import Report
from infra.demo import ADMIN, call
from infra.local.stack import LocalStack
from services.notifications import channels, messages, rendering
from tests.integration.contacts.cases.seed import seed_planned_cases
from tests.unit.notifications.samples import debtor_message

SENDER = "no-reply@finview.example"
PROBES = ("GetSendQuota", "GetQueueAttributes")  # the bench's own progress checks, not the chain's calls


def _sent(stack: LocalStack) -> int:
    """E-mails moto's SES has sent, through SES's own API (moto runs in a process of its own)."""
    ses = boto3.client(
        "ses",
        endpoint_url=stack.endpoint_url,
        region_name=stack.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    return int(ses.get_send_quota()["SentLast24Hours"])


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (``/proc/<pid>/stat``), in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _who(name: str | None = None) -> str:
    """Which part of the chain makes a call, by the thread it runs on: the dispatcher runs each consumer copy on
    ``invoke-<function>`` and polls on ``dispatch-…``; the schedule runs on the bench's thread and its pool."""
    name = name or threading.current_thread().name
    if name.startswith("invoke-"):
        return re.sub(r"-\d+$", "", name.removeprefix("invoke-"))  # one line per function, not per warm copy
    if name == "dispatch-bus-tap":
        return "local-only bus tap (not in AWS)"
    if name.startswith("dispatch-"):
        return "dispatcher (event source mapping)"
    return "contacts reminder schedule"


class ThreadCpu:
    """The CPU of this process's threads by part of the chain (``_who`` of the thread's name), read from
    ``/proc/self/task/<tid>/stat`` every ``every`` seconds (a thread that ends between two reads loses what it used
    since the last one: the schedule's pool threads, at most ``every`` s each). The main thread is left out: the
    bench measures its share itself (the schedule's start, then the bench's own progress checks)."""

    def __init__(self, every: float = 0.2) -> None:
        self.every = every
        self.start: dict[int, float] = {}
        self.last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-cpu", daemon=True)

    @staticmethod
    def _cpu(tid: int) -> float:
        with open(f"/proc/self/task/{tid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def sample(self) -> None:
        main = threading.main_thread().native_id
        for thread in threading.enumerate():
            tid = thread.native_id
            if tid is None or tid == main or thread is self._thread:
                continue
            try:
                self.last[tid] = (_who(thread.name), self._cpu(tid))
            except (FileNotFoundError, ProcessLookupError):
                continue

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def __enter__(self) -> ThreadCpu:
        self.sample()
        self.start = {tid: cpu for tid, (_, cpu) in self.last.items()}
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def by_part(self) -> defaultdict[str, float]:
        parts: defaultdict[str, float] = defaultdict(float)
        for tid, (who, cpu) in self.last.items():
            parts[who] += cpu - self.start.get(tid, 0.0)
        return parts


# DynamoDB's items per request, by how AWS bills them: a transaction's items at twice a plain write's units
ITEMS = {
    "TransactWriteItems": ("transaction items written", lambda p: len(p["TransactItems"])),
    "BatchWriteItem": ("items written", lambda p: sum(len(v) for v in p["RequestItems"].values())),
    "PutItem": ("items written", lambda p: 1),
    "UpdateItem": ("items written", lambda p: 1),
    "DeleteItem": ("items written", lambda p: 1),
    "BatchGetItem": ("items read (by key)", lambda p: sum(len(v["Keys"]) for v in p["RequestItems"].values())),
    "GetItem": ("items read (by key)", lambda p: 1),
}


_TAGS = {"S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS"}


def _wire(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _TAGS


def _value_size(value: Any) -> int:
    """DynamoDB's size of one attribute value (wire format or the Table resource's Python values): strings and
    binaries by their bytes, numbers ~1 byte per two digits + 1, lists and maps 3 bytes + 1 a member + the members."""
    if _wire(value):
        ((tag, inner),) = value.items()
        if tag == "M":
            return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in inner.items())
        if tag == "L":
            return 3 + sum(_value_size(v) + 1 for v in inner)
        if tag in ("SS", "NS", "BS"):
            return sum(_value_size({tag[0]: v}) for v in inner)
        if tag == "N":
            return len(str(inner).lstrip("-").replace(".", "")) // 2 + 1
        if tag in ("BOOL", "NULL"):
            return 1
        return len(inner.encode()) if isinstance(inner, str) else len(inner)
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, (int, float)) or type(value).__name__ == "Decimal":
        return len(str(value).lstrip("-").replace(".", "")) // 2 + 1
    if isinstance(value, dict):
        return 3 + sum(len(str(k).encode()) + _value_size(v) + 1 for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return 3 + sum(_value_size(v) + 1 for v in value)
    if isinstance(value, (set, frozenset)):
        return sum(_value_size(v) for v in value)
    return len(getattr(value, "value", value))  # boto3's Binary, bytes


def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills it: its attributes' names and values, in bytes."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _key_of(table: str, item: dict[str, Any]) -> tuple[str, str, str]:
    def plain(v: Any) -> str:
        return str(next(iter(v.values()))) if _wire(v) else str(v)

    return table, plain(item.get("PK")), plain(item.get("SK"))


class Units:
    """AWS's capacity units of the requests a run makes, as on-demand bills them (standard table class): a write 1
    WCU a started KB of the item (the larger of before and after), twice that in a transaction, once more for the
    GSI when the item carries its key (our GSIs project every attribute); a read 1 RCU a started 4 KB, strongly
    consistent, half eventually, a missing item still the minimum. What a request does not show (an update's or a
    delete's item) is the size this run last wrote at that key, else the request's own key and values (a lower
    bound: the seeded cases)."""

    def __init__(self) -> None:
        self.sizes: dict[tuple[str, str, str], tuple[int, bool]] = {}  # key → (size, carries a GSI key)
        self.lock = threading.Lock()

    def _write(self, table: str, kind: str, body: dict[str, Any]) -> float:
        item = body.get("Item") or body.get("Key") or {}
        key = _key_of(table, item)
        before, indexed = self.sizes.get(key, (0, False))
        if kind in ("Put", "PutRequest"):
            size, indexed = item_size(item), "GSI1PK" in item
            self.sizes[key] = (size, indexed)
        elif kind == "Update":
            values = body.get("ExpressionAttributeValues") or {}
            size = max(before, item_size(item) + sum(_value_size(v) for v in values.values()))
            self.sizes[key] = (size, indexed)
        elif kind in ("Delete", "DeleteRequest"):
            size = max(before, item_size(item))
            self.sizes.pop(key, None)
        else:  # ConditionCheck
            return math.ceil(max(before, item_size(item)) / 1024)
        units = math.ceil(max(size, 1) / 1024)
        return units * (2 if indexed else 1)

    def writes(self, operation: str, params: dict[str, Any]) -> float:
        with self.lock:
            if operation == "TransactWriteItems":
                return sum(
                    2 * self._write(str(op["TableName"]), kind, op)
                    for entry in params["TransactItems"]
                    for kind, op in entry.items()
                )
            if operation == "BatchWriteItem":
                return sum(
                    self._write(table, kind, op)
                    for table, requests in params["RequestItems"].items()
                    for request in requests
                    for kind, op in request.items()
                )
            verb = {"PutItem": "Put", "UpdateItem": "Update", "DeleteItem": "Delete"}.get(operation)
            return self._write(str(params["TableName"]), verb, params) if verb else 0.0

    @staticmethod
    def reads(operation: str, params: dict[str, Any], response: dict[str, Any]) -> float:
        def rcu(size: int, consistent: bool) -> float:
            return math.ceil(max(size, 1) / 4096) * (1.0 if consistent else 0.5)

        if operation == "GetItem":
            return rcu(item_size(response.get("Item") or {}), bool(params.get("ConsistentRead")))
        if operation == "BatchGetItem":
            total = 0.0
            for table, request in params["RequestItems"].items():
                found = (response.get("Responses") or {}).get(table, [])
                consistent = bool(request.get("ConsistentRead"))
                total += sum(rcu(item_size(i), consistent) for i in found)
                total += rcu(1, consistent) * max(0, len(request["Keys"]) - len(found))  # missing: the minimum
            return total
        if operation in ("Query", "Scan"):
            size = sum(item_size(i) for i in response.get("Items") or [])
            return rcu(size, bool(params.get("ConsistentRead")))
        return 0.0


@contextmanager
def counting_calls() -> Iterator[Counter[tuple[str, str]]]:
    """Every AWS call made in this process (the functions; moto serves them in its own process), by who made it
    and which operation: a botocore hook on every client, whatever session built it. DynamoDB's items are counted
    too, under ``("items", <kind>)`` (what AWS bills a request by), and its capacity units (``Units``) under
    ``("units", "write units" | "read units")``, both also by part."""
    calls: Counter[tuple[str, str]] = Counter()
    units = Units()
    lock = threading.Lock()
    original = botocore.client.BaseClient._make_api_call

    def counted(self: Any, operation_name: str, api_params: Any) -> Any:
        probe = threading.current_thread() is threading.main_thread() and operation_name in PROBES
        dynamodb = not probe and self.meta.service_model.service_name == "dynamodb"
        if not probe:
            who = _who()
            with lock:
                calls[(who, f"{self.meta.service_model.service_name}.{operation_name}")] += 1
                if operation_name in ITEMS and dynamodb:
                    kind, count = ITEMS[operation_name]
                    calls[("items", kind)] += count(api_params)
                    calls[("items by part", f"{who}: {operation_name}, {kind}")] += count(api_params)
            if dynamodb and (written := units.writes(operation_name, api_params)):
                with lock:
                    calls[("units", "write units")] += written  # type: ignore[assignment]
                    calls[("units by part", f"{who}: {operation_name}, write units")] += written  # type: ignore[assignment]
        response = original(self, operation_name, api_params)
        if dynamodb and (read := Units.reads(operation_name, api_params, response)):
            with lock:
                calls[("units", "read units")] += read  # type: ignore[assignment]
                calls[("units by part", f"{who}: {operation_name}, read units")] += read  # type: ignore[assignment]
        return response

    botocore.client.BaseClient._make_api_call = counted  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


_TALLIES = ("items", "items by part", "units", "units by part")  # not calls


def breakdown(calls: Counter[tuple[str, str]], n: int, cpu: dict[str, float] | None = None) -> str:
    """Calls per reminder, by part of the chain and operation, with the part's CPU per reminder in this process
    (a markdown list)."""
    by_who: dict[str, Counter[str]] = {}
    for (who, op), count in calls.items():
        if who in _TALLIES:
            continue  # DynamoDB's items, reported on their own
        by_who.setdefault(who, Counter())[op] += count
    for who in cpu or {}:
        by_who.setdefault(who, Counter())
    lines = []
    for who, ops in sorted(by_who.items(), key=lambda kv: -sum(kv[1].values())):
        detail = ", ".join(f"{op} {c / n:.2f}" for op, c in ops.most_common())
        used = f"{cpu.get(who, 0.0) / n * 1000:.1f} ms CPU; " if cpu is not None else ""
        lines.append(f"- {who}: {used}{sum(ops.values()) / n:.2f} calls ({detail})")
    return "\n".join(lines)


@contextmanager
def profiled(pids: dict[str, int]) -> Iterator[None]:
    """With ``BENCH_PROFILE=<dir>``: py-spy samples each process (``{name: pid}``) while the chain runs, into
    ``<dir>/<name>.txt`` (py-spy's raw format: one line per stack with its thread's name, and a count), so the
    profile holds the chain alone, not the stack's start, the seeding or the baseline. Without ``--gil``
    (``BENCH_PROFILE_FLAGS``) a thread waiting for the GIL after a system call is sampled as busy where it waits."""
    where = os.environ.get("BENCH_PROFILE")
    if not where:
        yield
        return
    os.makedirs(where, exist_ok=True)
    spy = shutil.which("py-spy", path=os.path.dirname(sys.executable)) or shutil.which("py-spy")
    if spy is None:
        raise RuntimeError("BENCH_PROFILE needs py-spy (pip install py-spy)")
    spies = [
        subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(pid),
                "--nonblocking",
                "--threads",
                "--format",
                "raw",
                "-r",
                "100",
                "-o",
                os.path.join(where, f"{name}.txt"),
                *os.environ.get("BENCH_PROFILE_FLAGS", "").split(),  # e.g. --gil: only the GIL holder's stacks
            ],
            stdout=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]
    time.sleep(1.0)  # py-spy attached before the chain starts
    try:
        yield
    finally:
        for proc in spies:
            proc.send_signal(signal.SIGINT)
        for proc in spies:
            proc.wait(60)


def run(report: Report, quick: bool) -> None:
    # BENCH_REMINDERS=2000: another size than the quick run's 300 or the full run's 10,000
    n = int(os.environ.get("BENCH_REMINDERS") or (300 if quick else 10_000))
    with LocalStack(stage="b" + uuid.uuid4().hex[:6], log_file="/dev/null") as stack:
        status, client = call(stack, "POST", "/clients", {"legal_name": "Stadtwerke Musterstadt GmbH"}, token=ADMIN)
        assert status == 201, client
        client_id = client["client_id"]
        due = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
        started = time.perf_counter()
        seed_planned_cases(client_id, [f"b-{i}" for i in range(n)], due)
        print(f"  seeded {n} cases in {time.perf_counter() - started:.1f} s", flush=True)

        language, data = messages.debtor_data(debtor_message("payment_plan_reminder", "de"))
        rendered = rendering.render("payment_plan_reminder", language, data)
        sample = min(n, 300)
        t0 = time.perf_counter()
        for i in range(sample):
            channels.send_email(
                sender_name="", sender_email=SENDER, reply_to=None, to=f"base{i}@example.de", rendered=rendered
            )
        baseline = sample / (time.perf_counter() - t0)
        time.sleep(1.0)  # the baseline e-mails' delivery notifications (the SES simulator looks every 0.5 s) …
        stack.wait_idle(timeout=120)  # … handled before the calls are counted

        assert stack.dispatcher is not None
        schedule = stack.function("contacts", "on_reminder_schedule")
        before = _sent(stack)
        motos = {"moto": stack.moto_pids[0], **({"moto-dynamodb": stack.moto_pids[1]} if stack.moto_pids[1:] else {})}
        pids = {"ours": os.getpid(), **motos}
        with profiled(pids), counting_calls() as calls, ThreadCpu() as threads:
            cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            t0, main0 = time.perf_counter(), time.thread_time()
            first: dict[str, Any] = stack.dispatcher.fire(schedule)
            scheduled, main1 = time.perf_counter() - t0, time.thread_time()
            deadline = t0 + 3600
            while _sent(stack) - before < n and time.perf_counter() < deadline:
                time.sleep(0.5)
            total = time.perf_counter() - t0
            delivered = _sent(stack) - before
            stack.wait_idle(timeout=120)  # the outcomes and contacts' read model of the last ones
            settled, main2 = time.perf_counter() - t0, time.thread_time()
            used = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        ours, moto = used["ours"], sum(used[name] for name in motos)
        second: dict[str, Any] = stack.dispatcher.fire(schedule)
        stack.wait_idle(timeout=120)
        extra = _sent(stack) - before - delivered

    parts = threads.by_part()
    parts["contacts reminder schedule"] += main1 - main0  # the schedule's start on the bench's thread
    parts["the bench's progress checks (not the chain)"] += main2 - main1
    print(f"  CPU in the functions' process and AWS calls, per reminder:\n{breakdown(calls, n, parts)}", flush=True)
    for tally in ("items", "units"):
        print(f"  DynamoDB {tally} per reminder, by part and operation:", flush=True)
        for what, count in sorted((what, c) for (who, what), c in calls.items() if who == f"{tally} by part"):
            print(f"- {what}: {count / n:.2f}", flush=True)
    everything = sum(count for (who, _), count in calls.items() if who not in _TALLIES)
    note = f"n={n}; schedule requested {first['requested']}, failed {first['failed']}; SES recorded {delivered}"
    report.add(
        "reminders delivered per second (schedule → bus → notifications → SES)",
        delivered / total,
        "msg/s",
        baseline="bare SES SendEmail, one thread",
        baseline_value=baseline,
        note=f"{note}; {total:.1f} s end to end; goal ≥ 200/s",
    )
    report.add(
        "schedule run: reminders requested per second",
        first["requested"] / scheduled,
        "msg/s",
        baseline="bare SES SendEmail, one thread",
        baseline_value=baseline,
        note=f"{scheduled:.1f} s for the contacts function alone (8 threads over 16 plan shards)",
    )
    report.add(
        "AWS calls per reminder end to end (every function, and the dispatcher's SQS calls)",
        everything / n,
        "calls",
        note="the breakdown by function and operation is printed above the table",
    )
    processes = [("the functions' process (our code, boto3, dispatcher)", ours), ("moto's processes", moto)]
    if "moto-dynamodb" in used:
        processes += [("of which moto's DynamoDB process", used["moto-dynamodb"])]
    for (who, kind), count in sorted(calls.items()):
        if who == "items":
            report.add(f"DynamoDB {kind} per reminder", count / n, "items", note="every function of the chain")
        elif who == "units":
            report.add(
                f"DynamoDB {kind} per reminder (AWS on-demand, bench.bench_reminders.Units)",
                count / n,
                "units",
                note="every function of the chain; a write unit costs 5 read units",
            )
    for name, cpu in processes:
        report.add(
            f"CPU per reminder, {name}",
            cpu / n * 1000,
            "ms",
            note=f"{cpu / settled:.2f} of a core over the {settled:.0f} s until the chain was idle",
        )
    report.add(
        "reminders/s the machine's 2 cores could carry at this CPU cost",
        2 / ((ours + moto) / n),
        "msg/s",
        note="both processes' CPU per reminder, with both cores busy and nothing else on the machine",
    )
    report.add(
        "second firing the same day: reminders requested",
        float(second["requested"]),
        "reminders",
        note=f"must be 0 (one reminder per instalment); already reminded {second['already_reminded']}; "
        f"e-mails sent after the first run: {extra}",
    )
