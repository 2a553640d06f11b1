"""The one source of truth for FinView's AWS resources.

Everything that exists in AWS is declared here once: the tables (one set per owning service), the bus and its
rules, one SQS queue + DLQ per consumer, the buckets and the drop bucket's notification, the deploy-time
parameters, the Lambda functions and the environment each one gets (``Stack.environment``). ``infra.provision``
creates it in moto's server for the local stack and tests; ``infra.template`` renders the same objects as a SAM
template for AWS.

The functions and their triggers are read from the services' Chalice apps (``services/<name>/app.py`` is the one
place that names a trigger: its queue and batch size, or its schedule); only their sizes are set here.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from chalice.app import ScheduledEventConfig, SQSEventConfig

from shared import events as ev
from shared.wiring import QUEUE_PREFIX

Service = Literal["contacts", "imports", "enrichment", "notifications"]
SERVICES: tuple[Service, ...] = ("contacts", "imports", "enrichment", "notifications")


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


# Copies of a person's data that are never erased on request but only expire (a queued event, the bus's archive,
# replay records, a client's file and its staged or rejected rows) must be gone within the month in which the agency
# answers an erasure request (GDPR Art. 12(3), 17): each lifetime plus the days AWS may take to act on an expiry
# (DynamoDB TTL and S3 lifecycle run "within days") fits in ANSWER_WINDOW_DAYS (tests/unit/infra/test_template.py).
ANSWER_WINDOW_DAYS = 30
EXPIRY_LAG_DAYS = 2
# The archive replays events after a consumer bug: a week is enough to notice one (every DLQ alarms at once), and a
# replayed event may then wait in a queue and its DLQ (14 days) within the month.
EVENT_ARCHIVE_DAYS = 7
# A client's file, its staged rows and its rejected rows: the import report is read within days.
IMPORT_FILE_DAYS = 21
# S3 server access logs name every object touched, and an attachment's key holds its uploaded file name, which can
# name the debtor: even the erasure's own DELETE is logged. A log object is written within a day of the access
# (S3 delivers "within a few hours", best effort), then kept this long: 1 + 21 + 1 (old version) + 2 days.
ACCESS_LOG_DAYS = 21
ACCESS_LOG_DELIVERY_DAYS = 1
# DynamoDB's point-in-time recovery keeps every table's past for this long (AWS's default is 35 days): an erased
# person stays restorable that long. Two weeks to notice a bad write; after a restore, erasures are run again.
TABLE_RECOVERY_DAYS = 14


@dataclass(frozen=True)
class Queue:
    """A consumer's queue; its DLQ receives a message after ``max_receive_count`` failed deliveries."""

    logical: str
    owner: Service
    # 6 x the consumer's timeout plus its batching window, as AWS advises for SQS-triggered Lambda
    visibility_timeout: int = 181
    max_receive_count: int = 3
    retention_seconds: int = 4 * 24 * 3600
    dlq_retention_seconds: int = 14 * 24 * 3600
    # A queue its owner's functions send to by name, given in this variable: an outbox that a system outside
    # FinView consumes (the dialer), or the drops queue the orphaned-imports sweeper re-queues jobs on.
    outbox_env_var: str | None = None


@dataclass(frozen=True)
class Topic:
    """An SNS topic that AWS services publish to (SES event destinations, SMS delivery status), delivered to the
    owner's ``queue`` as SNS notifications (not raw)."""

    logical: str
    owner: Service
    queue: str


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
    expire_days: int | None = None  # every object expires (and its old versions a day later)


@dataclass(frozen=True)
class Trigger:
    kind: Literal["sqs", "schedule", "api"]
    queue: str | None = None
    batch_size: int = 10
    schedule: str | None = None
    batching_window: int = 0  # seconds an SQS event source gathers records for one invocation (at most)


@dataclass(frozen=True)
class Parameter:
    """A deploy-time setting: a template parameter in AWS, its default (or a ``Names`` override) locally."""

    name: str  # the template parameter
    env_var: str
    services: tuple[Service, ...]
    default: str
    description: str
    pattern: str = ""  # what AWS accepts (AllowedPattern), and in words
    pattern_says: str = ""


@dataclass(frozen=True)
class Ref:
    """A value of a function's environment known once the stack exists; resolved by ``Stack.env_for`` (local)
    and ``infra.template._env_refs`` (AWS)."""

    kind: Literal[
        "bus", "stage", "table", "bucket", "parameter", "queue_name", "configuration_set", "sms_configuration_set"
    ]
    logical: str = ""


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
    topics: tuple[Topic, ...] = ()
    # Who sends e-mail and SMS through the stage's SES and End User Messaging configuration sets (their events go
    # to the delivery-feedback topic).
    ses_sender: Service | None = None

    parameters: tuple[Parameter, ...] = ()

    def queue(self, logical: str) -> Queue:
        return next(q for q in (*self.queues, *self.local_only_queues) if q.logical == logical)

    def function(self, service: str, handler: str) -> Function:
        return next(f for f in self.functions if f.service == service and f.handler == handler)

    def environment(self, service: str) -> dict[str, str | Ref]:
        """The one declaration of the environment every function of ``service`` gets: only its own tables and
        buckets, the bus and the parameters it reads. Locally ``env_for`` resolves it, in AWS the template."""
        env: dict[str, str | Ref] = {
            "EVENT_BUS_NAME": Ref("bus"),
            "POWERTOOLS_SERVICE_NAME": service,
            "POWERTOOLS_METRICS_NAMESPACE": "FinView",
            "FINVIEW_STAGE": Ref("stage"),
        }
        for t in self.tables:
            if t.owner == service:
                env[t.env_var] = Ref("table", t.logical)
        for b in self.buckets:
            if b.owner == service:
                env[b.env_var] = Ref("bucket", b.logical)
        for q in self.queues:
            if q.owner == service and q.outbox_env_var:
                env[q.outbox_env_var] = Ref("queue_name", q.logical)
        if service == self.ses_sender:
            env["SES_CONFIGURATION_SET"] = Ref("configuration_set")
            # SMS through AWS End User Messaging with this configuration set (its TEXT_* events go to the same
            # delivery-feedback topic); empty locally, where moto has no End User Messaging: SNS Publish instead.
            env["SMS_CONFIGURATION_SET"] = Ref("sms_configuration_set")
        for p in self.parameters:
            if service in p.services:
                env[p.env_var] = Ref("parameter", p.name)
        return env

    def local_parameter(self, name: str, names: Names) -> str:
        """A parameter's value on a local stage: the stage's override, else its default."""
        parameter = next(p for p in self.parameters if p.name == name)
        return names.parameters.get(parameter.name, parameter.default)

    def env_for(self, service: str, names: Names) -> dict[str, str]:
        """``environment(service)`` with the physical names of one local stage."""
        return {key: _local(value, names, self) for key, value in self.environment(service).items()}


def _local(value: str | Ref, names: Names, stack: Stack) -> str:
    if isinstance(value, str):
        return value
    if value.kind == "bus":
        return names.bus
    if value.kind == "stage":
        return names.stage
    if value.kind == "table":
        return names.table(value.logical)
    if value.kind == "bucket":
        return names.bucket(value.logical)
    if value.kind == "queue_name":
        return names.queue(value.logical)
    if value.kind == "configuration_set":
        return names.configuration_set
    if value.kind == "sms_configuration_set":
        return ""
    return stack.local_parameter(value.logical, names)


@dataclass(frozen=True)
class Names:
    """Physical names for one stage (``local``, ``test-…``, ``prod``)."""

    stage: str
    parameters: Mapping[str, str] = field(default_factory=dict)  # template parameter → value, else its default

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

    def topic(self, logical: str) -> str:
        return f"finview-{self.stage}-{logical}"

    @property
    def configuration_set(self) -> str:
        return f"finview-{self.stage}"


@dataclass(frozen=True)
class Sizing:
    timeout: int = 30
    memory: int = 512
    continues_on_own_queue: bool = False


# Sizes of the functions that differ from the default; every key must name a function an app wires.
SIZING: dict[tuple[str, str], Sizing] = {
    ("contacts", "app"): Sizing(timeout=29),
    # A batch of up to 100 CaseFileImported.v2 events is up to 5,000 case owners (50 an event, ~8 transactions of
    # 100 items each): minutes, not the default 30 s, and one full vCPU for building and serialising the items.
    ("contacts", "on_bus_events"): Sizing(timeout=300, memory=1769),
    # A batch of up to 100 records, a reminder page's ContactActionsRequested.v2 carrying up to 50 messages each
    # (one SendEmail per message): minutes at worst, not the default 30 s. Its claims' lease is longer still
    # (notifications.message_records.CLAIM_LEASE).
    ("notifications", "on_bus_events"): Sizing(timeout=300),
    # One full vCPU: parsing and matching are CPU-bound (see services/imports/pipeline.py).
    ("imports", "on_file_dropped"): Sizing(timeout=900, memory=1769, continues_on_own_queue=True),
    ("enrichment", "on_schedule"): Sizing(timeout=300),
    # A batch of up to 100 records, an import's CasesOpened.v2 and CaseOwnersContactsChanged.v2 carrying up to 50
    # cases or snapshots each: up to 5,000 handled set-at-a-time (the snapshots' offline checks included), as
    # contacts' consumer handles up to 5,000 case owners.
    ("enrichment", "on_bus_events"): Sizing(timeout=300, memory=1769),
    # A batch of deferred contacts, each decided and written like an API request.
    ("contacts", "release_deferred_contacts"): Sizing(timeout=120),
    # Erases each due person's records and files; a run cut short is finished by the next (resumable).
    ("contacts", "erase_due"): Sizing(timeout=300),
}


def app_triggers(service: str) -> dict[str, Trigger]:
    """The Lambda functions of one service's Chalice app (handler name → trigger), as its ``app.py`` wires them."""
    app = importlib.import_module(f"services.{service}.app").app
    triggers: dict[str, Trigger] = {"app": Trigger("api")} if app.routes else {}
    for source in app.event_sources:
        if isinstance(source, SQSEventConfig):
            queue = (source.queue or "").removeprefix(QUEUE_PREFIX)
            triggers[source.name] = Trigger(
                "sqs",
                queue=queue,
                batch_size=source.batch_size,
                batching_window=source.maximum_batching_window_in_seconds,
            )
        elif isinstance(source, ScheduledEventConfig):
            expression = source.schedule_expression
            text = expression if isinstance(expression, str) else expression.to_string()
            triggers[source.name] = Trigger("schedule", schedule=text)
        else:
            raise TypeError(f"services/{service}/app.py wires a {type(source).__name__}, which infra does not deploy")
    return triggers


def _wired_functions() -> Iterator[Function]:
    for service in SERVICES:
        for handler, trigger in app_triggers(service).items():
            sizing = SIZING.get((service, handler), Sizing())
            yield Function(
                service,
                handler,
                trigger,
                timeout=sizing.timeout,
                memory=sizing.memory,
                continues_on_own_queue=sizing.continues_on_own_queue,
            )


STACK = Stack(
    tables=(
        Table("contacts", "contacts", "CONTACTS_TABLE", (Index("GSI1", "GSI1PK", "GSI1SK"),)),
        Table("imports", "imports", "IMPORTS_TABLE", (Index("GSI1", "GSI1PK", "GSI1SK"),)),
        Table("enrichment", "enrichment", "ENRICHMENT_TABLE", (Index("GSI1", "GSI1PK", "GSI1SK"),)),
        Table("notifications", "notifications", "NOTIFICATIONS_TABLE", (Index("GSI1", "GSI1PK", "GSI1SK"),)),
    ),
    queues=(
        Queue("contacts-inbox", "contacts", visibility_timeout=6 * 300 + 1),  # its consumer's 300 s (SIZING)
        # imports run up to 15 minutes
        Queue("imports-drops", "imports", visibility_timeout=5400, outbox_env_var="IMPORTS_DROPS_QUEUE"),
        Queue("imports-inbox", "imports"),
        Queue("enrichment-inbox", "enrichment", visibility_timeout=6 * 300 + 1),  # its consumer's 300 s (SIZING)
        Queue("notifications-inbox", "notifications", visibility_timeout=6 * 300 + 1),  # its consumer's 300 s
        # SES and SMS delivery notifications (SNS → SQS), read into MessageDelivered / MessageBounced / …
        Queue("notifications-outcomes", "notifications"),
        # Call tasks for the call-centre software (the dialer), which consumes this queue itself.
        Queue("calls-outbox", "notifications", outbox_env_var="CALLS_QUEUE"),
    ),
    topics=(Topic("delivery-feedback", "notifications", queue="notifications-outcomes"),),
    ses_sender="notifications",
    rules=(
        Rule(
            "to-contacts",
            "contacts-inbox",
            (
                ev.CaseFileImported,
                ev.CaseFileImportedV2,
                ev.MatchReviewRequested,
                ev.EnrichmentResultFound,
                ev.ContactPointsTraced,
                ev.ContactPointsChecked,
                ev.ContactPointsCheckedV2,  # an enrichment batch's checks of an import's owners in one event
                ev.EnrichmentAttemptSettled,
                # What became of each message to a debtor: contacts keeps the case's messages from these, and
                # the outcomes feed the contact policy (contact-point validity, opt-outs).
                ev.MessageSent,
                ev.MessageDelivered,
                ev.MessageFailed,
                ev.MessageBounced,
                ev.MessageComplained,
                ev.SmsFailed,
                ev.OptOutReceived,
                # ... and the same, several in one event (a batch's: shared.bus packs them)
                ev.MessagesSentV2,
                ev.MessagesDeliveredV2,
                ev.MessagesFailedV2,
                ev.MessagesBouncedV2,
                ev.MessagesComplainedV2,
                ev.SmsesFailedV2,
                ev.OptOutsReceivedV2,
                # Each service's answer to a data subject's request (GDPR Art. 15).
                ev.ImportsSubjectAccessCompleted,
                ev.EnrichmentSubjectAccessCompleted,
                ev.NotificationsSubjectAccessCompleted,
                ev.ImportsSubjectErasureCompleted,
                ev.EnrichmentSubjectErasureCompleted,
                ev.NotificationsSubjectErasureCompleted,
            ),
        ),
        Rule(
            "to-imports",
            "imports-inbox",
            (
                ev.ClientRegistered,
                ev.ClientSettingsChanged,
                ev.CaseOwnersMerged,
                ev.SubjectAccessRequested,
                ev.SubjectErasureRequested,
            ),
        ),
        Rule(
            "to-enrichment",
            "enrichment-inbox",
            (
                ev.ClientRegistered,
                ev.ClientSettingsChanged,
                ev.CaseOpened,
                ev.CaseOwnerContactsChanged,
                # ... several in one event: a contacts batch's (an import's owners; shared.bus packs them)
                ev.CasesOpenedV2,
                ev.CaseOwnersContactsChangedV2,
                ev.CaseOwnersMerged,
                ev.SubjectAccessRequested,
                ev.SubjectErasureRequested,
            ),
        ),
        Rule(
            "to-notifications",
            "notifications-inbox",
            (
                ev.ClientRegistered,
                ev.ClientUserCreated,
                ev.ClientUserRightsChanged,
                ev.ContactActionRequested,
                ev.ContactActionsRequestedV2,  # a reminder schedule's page of them in one event
                ev.ImportCompleted,
                ev.ImportFailed,
                ev.EnrichmentBudgetReached,
                ev.SubjectAccessRequested,
                ev.SubjectErasureRequested,
            ),
        ),
    ),
    buckets=(
        # A client's file holds every debtor's row: once imported (its staged rows expire as soon), it goes.
        Bucket("drops", "imports", "DROP_BUCKET", notify_queue="imports-drops", expire_days=IMPORT_FILE_DAYS),
        Bucket("attachments", "contacts", "ATTACHMENTS_BUCKET", cors=True),
        # One PDF per letter for the print service (letters/<date>/<message_id>.pdf).
        Bucket("letters", "notifications", "LETTERS_BUCKET"),
        # A data subject's export (GDPR Art. 15): private, its link valid 24 h, the object gone after 2 days.
        Bucket("exports", "contacts", "EXPORTS_BUCKET", expire_days=2),
    ),
    functions=tuple(_wired_functions()),
    parameters=(
        # Contacts gives it to the built-in business unit and checks business units' own senders against it.
        Parameter(
            "SenderEmail",
            "DEFAULT_SENDER_EMAIL",
            ("contacts", "notifications"),
            "no-reply@finview.example",
            "From address of the default business unit and of clients without their own: an SES identity verified "
            "in this account and region (the address or its domain)",
            r"[^@\s]+@[^@\s]+\.[^@\s]+",
            "an e-mail address",
        ),
        Parameter(
            "SenderDomain",
            "SENDER_DOMAIN",
            ("contacts",),
            "",
            "a domain verified in SES from which business units may also send (empty: only SenderEmail's domain)",
            r"(([a-z0-9-]+\.)+[a-z]{2,})?",
            "a domain name such as agency.example, or nothing",
        ),
        Parameter(
            "UnsubscribeBaseUrl",
            "UNSUBSCRIBE_BASE_URL",
            ("notifications",),
            "https://app.finview.example/unsubscribe",
            "the web app's one-click unsubscribe page that every debtor e-mail links to (…?m=<message id>)",
        ),
        Parameter(
            "ActivationBaseUrl",
            "ACTIVATION_BASE_URL",
            ("notifications",),
            "https://app.finview.example",
            "the web app's address that invitation e-mails link to (…/activate?user=…)",
        ),
        Parameter(
            "EnrichmentProvider",
            "ENRICHMENT_PROVIDER",
            ("enrichment",),
            "sandbox",
            "the skip-tracing provider: sandbox (invented answers) or bureau (the HTTP bureau of the secret)",
        ),
        Parameter(
            "EnrichmentBureauSecret",
            "ENRICHMENT_BUREAU_SECRET",
            ("enrichment",),
            "",
            "name of the Secrets Manager secret with the bureau's base_url, api_key and price_per_search",
        ),
    ),
    # The local stack taps every event into a queue so `finview demo` can show what went over the bus;
    # in AWS the bus archive (see the template) keeps them instead.
    local_only_queues=(Queue("bus-tap", "notifications", visibility_timeout=30, max_receive_count=1000),),
)

ALL_EVENTS_PATTERN = {"source": sorted({e.SOURCE for e in ev.CATALOGUE.values()})}
