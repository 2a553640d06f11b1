"""The one source of truth for FinView's AWS resources.

Everything that exists in AWS is declared here once: the tables (one set per owning service), the bus and its
rules, one SQS queue + DLQ per consumer, the buckets and the drop bucket's notification, the schedules and the
Lambda functions with their triggers. ``infra.provision`` creates it in moto's server for the local stack and
tests; ``infra.template`` renders the same objects as a SAM template for AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from shared import events as ev

SERVICES = ("contacts", "imports", "enrichment", "notifications")
Service = Literal["contacts", "imports", "enrichment", "notifications"]


@dataclass(frozen=True)
class Index:
    name: str
    pk: str
    sk: str


@dataclass(frozen=True)
class Table:
    logical: str
    owner: Service
    env_var: str
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str = "expiration"
    pk: str = "PK"
    sk: str = "SK"


@dataclass(frozen=True)
class Queue:
    """A consumer's queue; its DLQ receives a message after ``max_receive_count`` failed deliveries."""

    logical: str
    owner: Service
    visibility_timeout: int = 180  # 6 x the consumer's timeout, as AWS advises for SQS-triggered Lambda
    max_receive_count: int = 3
    retention_seconds: int = 4 * 24 * 3600
    dlq_retention_seconds: int = 14 * 24 * 3600


@dataclass(frozen=True)
class Rule:
    """Bus rule: every catalogue event in ``events`` goes to ``queue``."""

    logical: str
    queue: str
    events: tuple[type[ev.Event], ...]

    def pattern(self) -> dict[str, list[str]]:
        return {
            "source": sorted({e.SOURCE for e in self.events}),
            "detail-type": sorted({e.DETAIL_TYPE for e in self.events}),
        }


@dataclass(frozen=True)
class Bucket:
    logical: str
    owner: Service
    env_var: str
    notify_queue: str | None = None  # ObjectCreated notifications go to this queue
    cors: bool = False


@dataclass(frozen=True)
class Trigger:
    kind: Literal["sqs", "schedule", "api"]
    queue: str | None = None
    batch_size: int = 10
    schedule: str | None = None


@dataclass(frozen=True)
class Function:
    """A Lambda function: ``handler`` is the attribute of the service's Chalice ``app.py``."""

    service: Service
    handler: str
    trigger: Trigger
    timeout: int = 30
    memory: int = 512
    continues_on_own_queue: bool = False  # a long run checkpoints and sends itself a continuation message

    @property
    def logical(self) -> str:
        return "".join(p.capitalize() for p in (self.service, *self.handler.split("_")))


@dataclass(frozen=True)
class Stack:
    tables: tuple[Table, ...]
    queues: tuple[Queue, ...]
    rules: tuple[Rule, ...]
    buckets: tuple[Bucket, ...]
    functions: tuple[Function, ...]
    local_only_queues: tuple[Queue, ...] = field(default=())

    def queue(self, logical: str) -> Queue:
        return next(q for q in (*self.queues, *self.local_only_queues) if q.logical == logical)

    def env_for(self, service: Service, names: Names) -> dict[str, str]:
        """The environment every function of ``service`` gets: only its own tables, the bus, its buckets."""
        env = {
            "EVENT_BUS_NAME": names.bus,
            "POWERTOOLS_SERVICE_NAME": service,
            "POWERTOOLS_METRICS_NAMESPACE": "FinView",
            "FINVIEW_STAGE": names.stage,
        }
        for t in self.tables:
            if t.owner == service:
                env[t.env_var] = names.table(t.logical)
        for b in self.buckets:
            if b.owner == service or (service == "imports" and b.logical == "drops"):
                env[b.env_var] = names.bucket(b.logical)
        if service == "notifications":
            env["DEFAULT_SENDER_EMAIL"] = names.sender_email
        return env


@dataclass(frozen=True)
class Names:
    """Physical names for one stage (``local``, ``test-…``, ``prod``)."""

    stage: str
    sender_email: str = "no-reply@finview.example"

    @property
    def bus(self) -> str:
        return f"finview-{self.stage}-bus"

    def table(self, logical: str) -> str:
        return f"finview-{self.stage}-{logical}"

    def queue(self, logical: str) -> str:
        return f"finview-{self.stage}-{logical}"

    def dlq(self, logical: str) -> str:
        return f"finview-{self.stage}-{logical}-dlq"

    def bucket(self, logical: str) -> str:
        return f"finview-{self.stage}-{logical}"

    def rule(self, logical: str) -> str:
        return f"finview-{self.stage}-{logical}"


STACK = Stack(
    tables=(
        Table("contacts", "contacts", "CONTACTS_TABLE", (Index("GSI1", "GSI1PK", "GSI1SK"),)),
        Table("imports", "imports", "IMPORTS_TABLE", (Index("GSI1", "GSI1PK", "GSI1SK"),)),
        Table("enrichment", "enrichment", "ENRICHMENT_TABLE", (Index("GSI1", "GSI1PK", "GSI1SK"),)),
        Table("notifications", "notifications", "NOTIFICATIONS_TABLE", (Index("GSI1", "GSI1PK", "GSI1SK"),)),
    ),
    queues=(
        Queue("contacts-inbox", "contacts"),
        Queue("imports-drops", "imports", visibility_timeout=5400),  # imports run up to 15 minutes
        Queue("imports-inbox", "imports"),
        Queue("enrichment-inbox", "enrichment"),
        Queue("notifications-inbox", "notifications"),
    ),
    rules=(
        Rule("to-contacts", "contacts-inbox", (ev.CaseFileImported, ev.EnrichmentResultFound)),
        Rule("to-imports", "imports-inbox", (ev.ClientRegistered, ev.ClientSettingsChanged, ev.CaseOwnersMerged)),
        Rule(
            "to-enrichment",
            "enrichment-inbox",
            (ev.ClientRegistered, ev.ClientSettingsChanged, ev.CaseOpened),
        ),
        Rule(
            "to-notifications",
            "notifications-inbox",
            (
                ev.ClientRegistered,
                ev.ClientUserCreated,
                ev.ClientUserRightsChanged,
                ev.ContactActionRequested,
                ev.ImportCompleted,
                ev.ImportFailed,
            ),
        ),
    ),
    buckets=(
        Bucket("drops", "imports", "DROP_BUCKET", notify_queue="imports-drops"),
        Bucket("attachments", "contacts", "ATTACHMENTS_BUCKET", cors=True),
    ),
    functions=(
        Function("contacts", "app", Trigger("api"), timeout=29),
        Function("contacts", "on_bus_events", Trigger("sqs", queue="contacts-inbox")),
        Function(
            "imports",
            "on_file_dropped",
            Trigger("sqs", queue="imports-drops", batch_size=1),
            timeout=900,
            memory=1769,  # one full vCPU: parsing and matching are CPU-bound (see services/imports/pipeline.py)
            continues_on_own_queue=True,
        ),
        Function("imports", "on_bus_events", Trigger("sqs", queue="imports-inbox")),
        Function("enrichment", "on_bus_events", Trigger("sqs", queue="enrichment-inbox")),
        Function("enrichment", "on_schedule", Trigger("schedule", schedule="rate(1 day)"), timeout=300),
        Function("notifications", "on_bus_events", Trigger("sqs", queue="notifications-inbox")),
    ),
    # The local stack taps every event into a queue so `finview demo` can show what went over the bus;
    # in AWS the bus archive (see the template) keeps them instead.
    local_only_queues=(Queue("bus-tap", "notifications", visibility_timeout=30, max_receive_count=1000),),
)

ALL_EVENTS_PATTERN = {"source": sorted({e.SOURCE for e in ev.CATALOGUE.values()})}
