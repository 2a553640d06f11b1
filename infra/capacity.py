"""How many copies of each function may run at once, sized from the DynamoDB write capacity each may use.

Every table is on-demand. A new on-demand table serves up to 4,000 write request units per second at once (AWS,
"initial throughput for on-demand capacity mode"); above that it adapts over minutes and throttles meanwhile. Each
table's 4,000 units are planned out here: every function that writes a table gets a share of it, and may run as many
copies as that share divided by what one copy writes per second at full speed. The API's share is kept for it, so a
1M-row drop (imports, then contacts' consumer of CaseFileImported) cannot take the contacts table from the API.

The template turns each figure into a ``<Function>Concurrency`` parameter (default and maximum = the figure here):
reserved concurrency for the API and the schedule, the SQS event source's maximum concurrency for the consumers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from infra.definition import STACK, Function, Stack

TABLE_WRITE_UNITS = 4_000
SQS_MINIMUM = 2  # the smallest maximum concurrency an SQS event source accepts


@dataclass(frozen=True)
class Plan:
    share: float  # of its service's table's write units
    writes_per_copy: int  # write units/s one copy may use at full speed
    cap: int | None = None  # a tighter limit than the table's, for the reason given
    why: str = ""

    def copies(self) -> int:
        by_table = math.floor(TABLE_WRITE_UNITS * self.share / self.writes_per_copy)
        return min(by_table, self.cap) if self.cap is not None else by_table


PLANS: dict[tuple[str, str], Plan] = {
    # A request writes at most one transaction of a few items: 20 units/s per copy is generous.
    ("contacts", "app"): Plan(share=0.25, writes_per_copy=20),
    # A batch of up to 100 CaseFileImported.v2 events, each up to 50 case owners with cases and contact points.
    # NOT what a copy can write: a new case owner costs ~23 write units (7 transactional puts of <= 1 KB: 14; its one
    # audit entry of ~2 KB: 4; the outbox delete: 1; two checks written back: 4; bench/RESULTS.md, sixth session),
    # and a copy writing ~10 owners per 100-item transaction could do ~200 owners/s, ~4,600 units/s: more than the
    # table's 4,000 alone. Holding this share needs a copy that paces its writes to ``writes_per_copy`` (or warm
    # throughput on the table); until then a 100k-row drop is throttled by DynamoDB and retried, not lost.
    ("contacts", "on_bus_events"): Plan(share=0.6, writes_per_copy=250),
    # Daily, the few people whose erasure is due: each a few hundred deletes at most.
    ("contacts", "erase_due"): Plan(
        share=0.05, writes_per_copy=100, cap=1, why="one daily run; a second copy would erase the same people"
    ),
    # Every minute, the outbox rows a dead writer left: a few deletes.
    ("contacts", "publish_outbox"): Plan(share=0.05, writes_per_copy=100, cap=1, why="one sweep at a time"),
    ("enrichment", "publish_outbox"): Plan(share=0.05, writes_per_copy=100, cap=1, why="one sweep at a time"),
    # Every 5 minutes, up to 100 deferred contacts, each one transaction of a few items.
    ("contacts", "release_deferred_contacts"): Plan(
        share=0.05, writes_per_copy=100, cap=1, why="one run at a time; a contact is released by exactly one run"
    ),
    # Staging rows in 25-item batches, bounded by parsing + matching on one vCPU (~1,500 rows/s, bench/RESULTS.md).
    ("imports", "on_file_dropped"): Plan(share=0.9, writes_per_copy=1_500),
    ("imports", "on_bus_events"): Plan(share=0.05, writes_per_copy=50),
    ("imports", "check_stuck_imports"): Plan(
        share=0.025, writes_per_copy=10, cap=1, why="a quarter-hourly check: one copy reads the few active imports"
    ),
    # Writes nothing to the table (reads the active jobs, sends continuations); one copy, or two sweeps would
    # send the same job two continuations (harmless: its lease lets one run at a time, but pointless).
    ("imports", "resume_orphaned_imports"): Plan(
        share=0.025, writes_per_copy=10, cap=1, why="a sweep every 5 minutes over the few active imports"
    ),
    ("enrichment", "on_bus_events"): Plan(share=0.45, writes_per_copy=100),
    ("enrichment", "on_schedule"): Plan(
        share=0.5, writes_per_copy=500, cap=1, why="one daily run: a second copy would search the same cases"
    ),
    ("notifications", "on_bus_events"): Plan(
        share=0.75, writes_per_copy=50, cap=3, why="SES sends 14 messages/s by default; one copy sends ~5/s"
    ),
    # Delivery notifications come no faster than the messages went out.
    ("notifications", "on_provider_outcomes"): Plan(
        share=0.25, writes_per_copy=50, cap=3, why="outcomes arrive at most as fast as SES sends (14/s)"
    ),
    # Daily, one reminder per instalment due: each a gate transaction of a few items.
    ("contacts", "on_reminder_schedule"): Plan(
        share=0.05, writes_per_copy=100, cap=1, why="one daily run; a second copy would remind the same instalments"
    ),
}


def plan(f: Function) -> Plan:
    try:
        return PLANS[(f.service, f.handler)]
    except KeyError:
        raise LookupError(
            f"{f.service}.{f.handler} has no concurrency plan: give it a share of its table in infra/capacity.py PLANS"
        ) from None


def concurrency(f: Function) -> int:
    """The most copies of ``f`` that may run at once (at least what its trigger accepts)."""
    copies = plan(f).copies()
    return max(copies, SQS_MINIMUM) if f.trigger.kind == "sqs" else max(copies, 1)


def table_use(stack: Stack = STACK) -> dict[str, int]:
    """Write units/s each service's table may see with every function at its concurrency."""
    use: dict[str, int] = {}
    for f in stack.functions:
        use[f.service] = use.get(f.service, 0) + concurrency(f) * plan(f).writes_per_copy
    return use
