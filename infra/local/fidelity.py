"""Where moto's server behaves less like AWS than our code relies on, and the local stack corrects it.

moto (5.x) serves requests on threads without a lock around DynamoDB: a transaction checks and writes its items
one by one and restores a deep-copied snapshot when cancelled, so two concurrent transactions can both pass
their conditions, and a cancelled one can undo another's committed write. DynamoDB's transactions are
serializable. The local stack therefore runs moto's DynamoDB operations one at a time; our own concurrency
(threads, read-then-conditional-write races, retries) stays real.

Chalice keeps the request being handled on the app object, which is right in Lambda (one request per instance
at a time) but lets requests served on several threads of one process read each other's. The local stack serves
concurrent requests as concurrent Lambda instances would: each thread gets its own ``current_request``.

moto's DynamoDB costs O(table) per transaction and per query page, where DynamoDB's cost does not depend on the
table's size; ``scalable_dynamodb`` (below) makes both proportional to what the request touches.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import functools
import gc
import hashlib
import importlib
import inspect
import itertools
import json
import logging
import marshal as _marshal
import math
import os
import threading
import time
import types
import weakref
import zlib
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any

log = logging.getLogger("finview.local")

_OPERATIONS = (
    "put_item",
    "update_item",
    "delete_item",
    "get_item",
    "query",
    "scan",
    "batch_get_item",
    "batch_write_item",
    "transact_get_items",
    "transact_write_items",
    # these answer a table's description, whose ItemCount iterates the items: a write inserting a partition key
    # meanwhile failed the request with "dictionary changed size during iteration" (an HTTP 500, seen at 100k rows)
    "describe_table",
    "update_table",
    "delete_table",
)
_lock = threading.RLock()
_installed = False
_scalable_installed = False


def serialise_dynamodb() -> None:
    """Install once per process; idempotent."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.dynamodb.models import DynamoDBBackend

        def serialised(fn: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                with _lock:
                    _local.depth = getattr(_local, "depth", 0) + 1
                    try:
                        return fn(*args, **kwargs)
                    finally:
                        _local.depth -= 1
                        if not _local.depth and _packing_installed:
                            _pack_oldest()  # between operations only: no operation holds an item's attributes

            return wrapper

        for name in _OPERATIONS:
            setattr(DynamoDBBackend, name, serialised(getattr(DynamoDBBackend, name)))
        _installed = True


_requests_installed = False


def isolate_chalice_requests() -> None:
    """Make ``Chalice.current_request`` thread-local, once per process; idempotent."""
    global _requests_installed
    with _lock:
        if _requests_installed:
            return
        from chalice import Chalice

        local = threading.local()

        def get(self: Chalice) -> Any:
            return getattr(local, "request", None)

        def put(self: Chalice, request: Any) -> None:
            local.request = request

        Chalice.current_request = property(get, put)  # type: ignore[assignment,method-assign]
        _requests_installed = True


PINNED_EVENTS_SOURCES = {
    "EventTemplateParser.parse": "40a5a46a321811bb2643aaabb7b45c37f75644fcce9cb95524e729a43f0d97d7",
    # _matches_event calls moto's matching as its matches_event does, without the JSON round trip of the event
    # first: the matching only reads the event (pinned whole)
    "EventPattern.matches_event": "3e71eb7ff5903b5064a34f7e61379b35b5613ac7cf9602ec35d286138dd96c94",
    "EventPattern._flatten_dict": "26dca5bdb2739a2cd665d705a1e11e68fa152da25a7dda0eda3f1e53f3fd3b4a",
    "EventPattern._does_event_match": "3c96a8f9478ba99a02ffc69d0c8dbc27675b8fcf3a3f040c34a27dae6304cf97",
    "EventPattern._does_item_match_filters": "9bad5e597eeef2584c2ad30239e49b8a6a50f13da92b6c4619d08078c9d589d2",
    "EventPattern._does_item_match_named_filter": "0f01aab702fccc870d1db2e7e5ea290010e2aeeacd111ef67825d40ec4858774",
}
_events_installed = False


def events_sources() -> dict[str, str]:
    from moto.events.models import EventPattern
    from moto.events.utils import EventTemplateParser

    owners: dict[str, Any] = {"EventTemplateParser": EventTemplateParser, "EventPattern": EventPattern}
    return _source_hashes(_class_members(PINNED_EVENTS_SOURCES, owners))


def _matches_event(self: Any, event: dict[str, Any]) -> bool:
    """moto's ``EventPattern.matches_event`` without ``json.loads(json.dumps(event))`` first: the event moto builds
    for each rule is fresh and made of JSON values already (the entry's parsed ``Detail``, strings, numbers, the
    resources' list), so the round trip gave an equal copy that the matching only reads. It cost a serialisation
    and a parse of the whole event per rule of the bus (the reminder pages' packed events are ~30 KB)."""
    if not self._pattern:
        return True
    return bool(self._does_event_match(self._flatten_dict(event), self._pattern))


def cached_event_paths() -> bool:
    """moto's EventBridge builds a JSONPath parser (a yacc table) for each of 8 paths of every event it delivers to
    every target: a tenth of the local stack's moto time in an import. The paths are always the same few, and a
    parsed path is immutable: parse each once. And it matches each rule's pattern against a JSON round trip of
    the event (``_matches_event``): matched as it is. Installed once per process if moto is the pinned version."""
    global _events_installed
    with _lock:
        if _events_installed:
            return True
        import jsonpath_ng.ext
        import moto
        from moto.events.models import EventPattern

        if moto.__version__ != PINNED_MOTO or events_sources() != PINNED_EVENTS_SOURCES:
            log.warning("moto is not %s as pinned: local EventBridge parses its paths per event", PINNED_MOTO)
            return False
        # EventTemplateParser.parse imports ``parse`` from jsonpath_ng.ext at each call
        _ORIGINALS["jsonpath_ng.ext.parse"] = jsonpath_ng.ext.parse
        jsonpath_ng.ext.parse = functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parse)
        _ORIGINALS["EventPattern.matches_event"] = EventPattern.matches_event
        EventPattern.matches_event = _matches_event  # type: ignore[method-assign,assignment]
        _events_installed = True
        return True


# ---- EventBridge PutEvents: each entry's Detail parsed once, the default target input built, not templated -----
#
# For every entry moto 5.2's ``put_events`` parses the entry's Detail once to validate it and once more for each
# rule of the bus (matched or not), deep-copies a base event per rule, and for each target of a matched rule
# renders its input through ``EventTemplateParser.parse``: eight JSONPath look-ups, the detail and the whole event
# serialised, the filled template parsed back. Without an InputTransformer the template is always moto's default,
# so the result is the event's id, time, version, detail-type, source, region, resources and detail as they are
# (moto's JSON round trip gives an equal copy, and serialises to the same text). ``_put_events`` is moto's with
# the Detail parsed once for all the rules (the matching, the templates and the targets only read it; each rule
# still gets an event dict of its own); ``_event_input`` builds the default input directly when nothing in the
# event could have changed moto's text substitution (a ``<`` anywhere, a character JSON escapes in a string it
# pastes between quotes, a time that is not a finite number): anything else goes to moto's parser.

PINNED_PUT_EVENTS_SOURCES = {
    "EventsBackend.put_events": "c56f6ac1f932c70d3dbe82d2e85d4a6de2bdc2368dda47d755d3548481e46783",
    # what reads the event and the input built for a target: the template's only callers and reader
    "Rule.send_to_targets": "472e002e2dab8a599554a7d6c7ea0910625a5b39c7699b9ca4404255efcfc172",
    "Rule._send_to_sqs_queue": "026c873dd0091781a534906b49cab5aa18ae4664d6e9382da77c8d8b7649d2be",
    "EventTemplateParser._stringify": "ed44a617a21bf0dfa852608f65d74ff6968b0a48c685c13a6fb260b6e242de5e",
}
_put_events_installed = False
# the keys of the event moto's put_events builds for a rule, in its order
_EVENT_KEYS = frozenset(
    ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail", "ingestion-time")
)


def put_events_sources() -> dict[str, str]:
    from moto.events.models import EventsBackend, Rule
    from moto.events.utils import EventTemplateParser

    owners: dict[str, Any] = {"EventsBackend": EventsBackend, "Rule": Rule, "EventTemplateParser": EventTemplateParser}
    return _source_hashes(_class_members(PINNED_PUT_EVENTS_SOURCES, owners))


def _put_events(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """moto's ``EventsBackend.put_events``, with each entry's Detail parsed once for every rule of the bus."""
    import warnings

    from moto.events import models  # its clock and ids, as moto's put_events reads them
    from moto.events.exceptions import ValidationException

    if len(events) > 10:
        raise ValidationException(
            "1 validation error detected: "
            "Value '[PutEventsRequestEntry]' at 'entries' failed to satisfy constraint: "
            "Member must have length less than or equal to 10"
        )
    entries: list[dict[str, Any]] = []
    for event in events:
        if not event.get("Source"):
            entries.append(
                {
                    "ErrorCode": "InvalidArgument",
                    "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument.",
                }
            )
        elif not event.get("DetailType"):
            entries.append(
                {
                    "ErrorCode": "InvalidArgument",
                    "ErrorMessage": "Parameter DetailType is not valid. Reason: DetailType is a required argument.",
                }
            )
        elif not event.get("Detail"):
            entries.append(
                {
                    "ErrorCode": "InvalidArgument",
                    "ErrorMessage": "Parameter Detail is not valid. Reason: Detail is a required argument.",
                }
            )
        else:
            try:
                detail = json.loads(event["Detail"])
                if not isinstance(detail, dict):
                    warnings.warn(
                        f"EventDetail should be of type dict - types such as {type(detail)} are ignored by AWS",
                        stacklevel=2,
                    )
            except ValueError:
                entries.append({"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."})
                continue
            event_id = str(models.random.uuid4())
            entries.append({"EventId": event_id})
            event_bus = self.describe_event_bus(self._normalize_event_bus_arn(event.get("EventBusName")))
            # the text has no "<" (nor its escape): the default input can be built without moto's substitution
            text = event["Detail"]
            plain = detail if "<" not in text and "\\u003c" not in text.lower() else None
            for rule in event_bus.rules.values():
                event_msg = {
                    "version": "0",
                    "id": event_id,
                    "detail-type": event["DetailType"],
                    "source": event["Source"],
                    "account": self.account_id,
                    "time": event.get("Time", models.unix_time()),
                    "region": self.region_name,
                    "resources": event.get("Resources", []),
                    "detail": detail,
                    "ingestion-time": models.unix_time(),
                }
                outer, _local.plain_detail = getattr(_local, "plain_detail", None), plain
                try:
                    rule.send_to_targets(event_msg)
                finally:
                    _local.plain_detail = outer  # a target that is another bus put events of its own meanwhile
    return entries


def _plain_text(value: Any) -> bool:
    """A string moto's template takes between quotes and JSON reads back as it is."""
    return (
        type(value) is str
        and bool(value)
        and value.isprintable()
        and not ('"' in value or "\\" in value or "<" in value)
    )


def _finite(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _event_input(input_template: str | None, input_paths_map: dict[str, Any], event: Any) -> dict[str, Any]:
    """moto's ``EventTemplateParser.parse``; without an InputTransformer, for an event ``_put_events`` built from a
    Detail without ``<``, the default template's result built directly (the same keys, in its order, and values
    that serialise to the same text)."""
    if (
        not input_template
        and not input_paths_map
        and type(event) is dict
        and event.keys() == _EVENT_KEYS
        and event["detail"] is getattr(_local, "plain_detail", None)
        and type(event["detail"]) is dict
        and all(_plain_text(event[key]) for key in ("id", "detail-type", "source", "region"))
        and _finite(event["time"])
        and _finite(event["ingestion-time"])
        and type(event["account"]) is str
        and type(event["version"]) is str
        and type(event["resources"]) is list
        and all(type(r) is str and "<" not in r for r in event["resources"])
    ):
        return {
            "id": event["id"],
            "time": event["time"],
            "version": "0",
            "detail-type": event["detail-type"],
            "source": event["source"],
            "region": event["region"],
            "resources": list(event["resources"]),
            "detail": event["detail"],
        }
    return _ORIGINALS["EventTemplateParser.parse"](input_template, input_paths_map, event)  # type: ignore[no-any-return]


def _send_to_sqs_queue(self: Any, resource_id: str, event: dict[str, Any], group_id: str | None = None) -> None:
    """moto's ``Rule._send_to_sqs_queue``, the body made by ``_event_body``."""
    import warnings

    from moto.events import models
    from moto.sqs import sqs_backends

    if "time" in event:
        event["time"] = models.iso_8601_datetime_without_milliseconds(
            models.utcfromtimestamp(float(event["time"]))  # type: ignore[arg-type]
        )
    if group_id:
        queue_attr = sqs_backends[self.account_id][self.region_name].get_queue_attributes(
            queue_name=resource_id, attribute_names=["ContentBasedDeduplication"]
        )
        if queue_attr["ContentBasedDeduplication"] == "false":
            warnings.warn(
                "To let EventBridge send messages to your SQS FIFO queue, you must enable content-based deduplication.",
                stacklevel=2,
            )
            return
    sqs_backends[self.account_id][self.region_name].send_message(
        queue_name=resource_id, message_body=_event_body(event), group_id=group_id
    )


def _event_body(event: dict[str, Any]) -> str:
    """``json.dumps(event)``. The default input ``_event_input`` built ends with the entry's detail, which every
    target of every rule shares: serialised once per entry, and each body is the rest serialised around it
    (``json.dumps`` of a dict is its members' texts joined by ", " between braces, so the text is the same)."""
    detail = event.get("detail")
    if detail is None or detail is not getattr(_local, "plain_detail", None) or next(reversed(event)) != "detail":
        return json.dumps(event)
    cached = getattr(_local, "detail_text", None)  # (detail, its text): held, so its identity is not reused
    if cached is None or cached[0] is not detail:
        cached = _local.detail_text = (detail, json.dumps(detail))
    head = json.dumps({key: value for key, value in event.items() if key != "detail"})
    return f'{head[:-1]}, "detail": {cached[1]}}}' if head != "{}" else f'{{"detail": {cached[1]}}}'


def lean_put_events() -> bool:
    """Install once per process if moto is the pinned version; returns whether it is."""
    global _put_events_installed
    with _lock:
        if _put_events_installed:
            return True
        import moto
        from moto.events.models import EventsBackend, Rule
        from moto.events.utils import EventTemplateParser

        if moto.__version__ != PINNED_MOTO or put_events_sources() != PINNED_PUT_EVENTS_SOURCES:
            log.warning("moto is not %s as pinned: its PutEvents parses each Detail once per rule", PINNED_MOTO)
            return False
        _ORIGINALS["EventsBackend.put_events"] = EventsBackend.__dict__["put_events"]
        _ORIGINALS["EventTemplateParser.parse"] = EventTemplateParser.__dict__["parse"].__func__
        EventsBackend.put_events = _put_events  # type: ignore[method-assign]
        EventTemplateParser.parse = staticmethod(_event_input)  # type: ignore[method-assign,assignment]
        _ORIGINALS["Rule._send_to_sqs_queue"] = Rule.__dict__["_send_to_sqs_queue"]
        Rule._send_to_sqs_queue = _send_to_sqs_queue  # type: ignore[method-assign]
        _put_events_installed = True
        return True


PINNED_ROUTING_SOURCES = {
    "DomainDispatcherApplication.get_backend_for_host": (
        "1f41972c1e4e660fbf4e4ddfeeed2fdff56dc105a8f8e1bf015640f710ef511a"
    ),
    "list_of_moto_modules": "4f741a10b06500e840c3aaa1b4f02706e6f2bfbababc0e8a2a7b9c9d0e8957dc",
}
_routing_installed = False


def routing_sources() -> dict[str, str]:
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    return _source_hashes(
        {
            "DomainDispatcherApplication.get_backend_for_host": DomainDispatcherApplication.get_backend_for_host,
            "list_of_moto_modules": backends.list_of_moto_modules,
        }
    )


def cached_request_routing() -> bool:
    """moto's server finds the service of every request by listing its own package directory (a listdir and ~150
    stat calls) and matching the host against every service's URL patterns: the same answer for the same host, a
    few percent of each request. Both are remembered: the directory does not change while the server runs, and the
    host's service is a function of the host. Installed once per process if moto is the pinned version."""
    global _routing_installed
    with _lock:
        if _routing_installed:
            return True
        import moto
        from moto import backends
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication

        if moto.__version__ != PINNED_MOTO or routing_sources() != PINNED_ROUTING_SOURCES:
            log.warning("moto is not %s as pinned: its server routes each request from scratch", PINNED_MOTO)
            return False
        modules = tuple(backends.list_of_moto_modules())
        _ORIGINALS["list_of_moto_modules"] = backends.list_of_moto_modules
        backends.list_of_moto_modules = lambda: modules
        original = DomainDispatcherApplication.get_backend_for_host
        _ORIGINALS["DomainDispatcherApplication.get_backend_for_host"] = original
        known: dict[str | None, Any] = {}

        def get_backend_for_host(self: Any, host: str | None) -> Any:
            if host not in known:  # called under the dispatcher's own lock
                known[host] = original(self, host)
            return known[host]

        DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]
        _routing_installed = True
        return True


_logs_installed = False


def isolate_log_correlation() -> None:
    """Make powertools' correlation id per thread, once per process; idempotent.

    In Lambda each concurrent invocation is a process of its own, so the logger's keys are the invocation's. The
    local stack runs concurrent invocations (several copies of a consumer, the API's requests) as threads of one
    process, where ``Logger.set_correlation_id`` (shared keys) let one invocation stamp its correlation id on
    another's lines, and each invocation's ``clear_state`` wiped the others'. The thread-safe keys powertools
    keeps per thread carry it instead."""
    global _logs_installed
    with _lock:
        if _logs_installed:
            return
        from aws_lambda_powertools import Logger
        from aws_lambda_powertools.logging.formatter import THREAD_LOCAL_KEYS

        def set_correlation_id(self: Logger, value: str | None) -> None:
            if value is None:
                self.thread_safe_remove_keys(["correlation_id"])
            else:
                self.thread_safe_append_keys(correlation_id=value)

        def get_correlation_id(self: Logger) -> str | None:
            value = THREAD_LOCAL_KEYS.get().get("correlation_id")
            return None if value is None else str(value)

        Logger.set_correlation_id = set_correlation_id  # type: ignore[method-assign]
        Logger.get_correlation_id = get_correlation_id  # type: ignore[method-assign]
        _logs_installed = True


def install() -> None:
    # FINVIEW_MOTO_AS_IS=1 keeps moto's own DynamoDB and SQS costs: for benchmarks that measure the difference
    as_is = os.environ.get("FINVIEW_MOTO_AS_IS") == "1"
    if not as_is:
        scalable_dynamodb()  # first: the lock below wraps the backend methods it replaces
    serialise_dynamodb()
    transactions_once_per_token()  # DynamoDB's semantics, not a cost: installed as is too
    if not as_is:
        scalable_sqs()
        cached_event_paths()
        lean_put_events()
        cached_request_routing()
    # FINVIEW_MOTO_FAST_PATH=0 keeps moto's own cost per request (the bench compares both in one run)
    if not as_is and os.environ.get("FINVIEW_MOTO_FAST_PATH") != "0":
        lean_requests()
        request_ids_where_tagged()
        cached_update_expressions()
        cheaper_dynamo_types()
    if not as_is:
        weakly_tracked_models()
        packed_items()
        signed_once_per_subscription()
    isolate_chalice_requests()


# ---- DynamoDB at scale: transactions that snapshot only their items, queries that read only their page -------
#
# moto 5.2's ``transact_write_items`` deep-copies every table it touches, whole, before it starts (to restore it
# if the transaction is cancelled), and ``Table.query`` walks and sorts every item of the table for every page,
# with or without an index. Both make a local import quadratic in the table's size. The patches keep moto's own
# code for every semantic decision (conditions, update expressions, ordering, pagination, projections) and only
# change how much of the table it looks at:
#
# * a transaction snapshots the items it names (deep copies of those few ``Item`` objects) and puts them back if
#   it is cancelled; under the serialising lock nobody can observe the difference. moto refuses two operations on
#   one item, so each condition is still checked against the item as it was before the transaction.
# * ``Table.query`` hands moto's query code only the candidates of the page: the items of the queried partition
#   (base table) or of the queried GSI key (kept per index on every write), after the ExclusiveStartKey, in the
#   query's direction, up to where moto ends the page. moto then sorts, compares, paginates and projects them.
# * an update of a table without a stream (every table of the stack) does not deep-copy the item first: moto's
#   ``update_item`` copies it only to hand the old image to the table's stream.
# * a query page is copied as the undo log copies an item (``_undo_copy``), not deep-copied: moto copies the page so
#   that the response, serialised after the lock is released, reads the items as they were, and so that nothing
#   done to it reaches the store. A new Item and dict per item and a copy of every map, list and set give both:
#   a later write changes only those in place, and moto's handler and serializer only read the page. Its scalar
#   values are shared, as moto never changes one in place (pinned with ``executors.py``); deep copies of them were
#   ~15 % of moto's DynamoDB process in contacts' phase of an import. And each item of a page is sized once per
#   query (``_item_size``), not three times (to find the page's end here, twice more in moto's query loop).
#
# The patches are tied to the moto sources they were written against: on any other version they are not
# installed (moto's slow but correct behaviour stays, with a warning), and the pinning test fails.

PINNED_MOTO = "5.2.5"
# sha256 of inspect.getsource() of every moto function the patches replace or whose logic they mirror
PINNED_SOURCES = {
    "DynamoDBBackend.transact_write_items": "81db2cb7d94e39c90b3a2077e1f4bb41a449c558ef9b1b1e2910fdaa39978ad4",
    "DynamoDBBackend.update_item": "218984588dd689a5de81678ce11e6a40d05c91e7b6c21b44c4ed4122fe74aa9f",
    "Table.query": "002b4d00be6df07cf37f6cbe0132e5eb89455ae12a8e79b23db3fb492450f21e",
    "Table.put_item": "de23933013ef842639046c19bcf7e418bce0474d810f6719368be4cedce11d47",
    "Table.delete_item": "1594f7b07616c8cb8cdf0fbf58d6f54eeac83f25d7ac7b14e832a08e10efd8f9",
    "Table.all_items": "c80d2ee3c896acd0cab6ca35aaeae3ab3fb65858933f8a3403d4e027c240f31d",
    "Table._item_comes_before_dct": "6d70f41f7cb059f40e932e9c6c13cc57b6052c5d025c51235df414adf172bee1",
    "Table.sorted_items": "216dac1cd6b659d283e91006b809136623723efb90125b015e07052478724937",
    "Table._generate_attr_to_sort_by": "afef70e159fa8cb505cc030b323479b7ce105060c9eeecbce102247e41f302b2",
    # what reads a query page after Table.query returns it (the items' attrs, serialised outside the lock)
    "DynamoHandler.query": "681834c64038af93f0bf17657b7d24065f907f31e2d5cafb67f8cc15bb5e9f96",
    "Item.size": "9bc6ada96d33365c0a0abcb4faf534e1bdc7bfe0af0ef0c1c6671eccd5b80f45",
    # where moto changes a stored value in place (maps, lists and sets; never a scalar): what _undo_copy relies on
    "moto/dynamodb/parsing/executors.py": "a3321981850c93b668359f94e8ae00a25f490c75ce17a1b4d0102aff1e898942",
    "moto/dynamodb/parsing/validators.py": "345c1740c0c674a72a5ed56f5ea01ba385ccb69a1bf21f8c134b389d9b41a3e3",
    "moto/dynamodb/models/dynamo_type.py": "f405bdcb4af8349593933e431a37b284a32ac8d09aca76d6748e7f3c2fe65957",
}
stats = {"fast_queries": 0, "slow_queries": 0, "candidates": 0, "transactions": 0, "rollbacks": 0}
_ORIGINALS: dict[str, Callable[..., Any]] = {}


def _source_hashes(pinned: dict[str, Any]) -> dict[str, str]:
    """The sha256 of each pinned source as moto ships it: a function's original where we patched it (kept in
    ``_ORIGINALS`` under its pinned name), the function of a static method, class method or property, a module's
    whole file (patching does not change what ``inspect`` reads from it)."""
    out = {}
    for name, source in pinned.items():
        source = _ORIGINALS.get(name) or source
        if isinstance(source, staticmethod | classmethod):
            source = source.__func__
        elif isinstance(source, property):
            source = source.fget
        out[name] = hashlib.sha256(inspect.getsource(source).encode()).hexdigest()
    return out


def _class_members(pinned: Iterable[str], owners: dict[str, Any]) -> dict[str, Any]:
    """``Owner.name`` → the member as the owner's class body defines it."""
    members = {}
    for qualified in pinned:
        owner, name = qualified.split(".")
        members[qualified] = owners[owner].__dict__[name]
    return members


_local = threading.local()  # per thread: the candidates of the running query; inside a transaction or not


def moto_sources() -> dict[str, str]:
    """The hashes of the pinned moto functions as installed (the originals, when patched)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    owners: dict[str, Any] = {"DynamoDBBackend": DynamoDBBackend, "Table": Table, "DynamoHandler": DynamoHandler}
    owners["Item"] = Item
    pinned: dict[str, Any] = {}
    for qualified in PINNED_SOURCES:
        if qualified.endswith(".py"):  # a whole file
            pinned[qualified] = importlib.import_module(qualified.removesuffix(".py").replace("/", "."))
        else:
            owner, name = qualified.split(".")
            pinned[qualified] = getattr(owners[owner], name)
    return _source_hashes(pinned)


def scalable_dynamodb_applies() -> bool:
    import moto

    return bool(moto.__version__ == PINNED_MOTO and moto_sources() == PINNED_SOURCES)


def _same(a: Any, b: Any) -> bool:
    return a is b if a is None or b is None else bool(a == b)


class _GsiKeys:
    """One GSI of one table: the items under each GSI hash value, and their order (cached per hash value)."""

    def __init__(self, hash_attr: str, range_attr: str | None) -> None:
        self.hash_attr, self.range_attr = hash_attr, range_attr
        self.buckets: dict[Any, dict[tuple[Any, Any], Any]] = {}
        self.where: dict[tuple[Any, Any], tuple[Any, Any]] = {}  # base key -> (GSI hash, GSI range)
        self.order: dict[Any, tuple[list[tuple[Any, ...]], list[tuple[Any, Any]]]] = {}
        # GSI hash value -> the one object of it that ``where`` holds for every member: each member's own copy
        # (~195 B with its string) stayed alive in ``where`` after its item was packed (cases and enrichment's
        # records of one client share one value: ~140k items at 100k rows)
        self.hashes: dict[Any, Any] = {}

    def place(self, key: tuple[Any, Any], item: Any) -> None:
        new: tuple[Any, Any] | None = None
        # DynamoDB indexes an item only when it has every key attribute of the index
        if (
            item is not None
            and self.hash_attr in item.attrs
            and (self.range_attr is None or self.range_attr in item.attrs)
        ):
            new = (item.attrs[self.hash_attr], item.attrs[self.range_attr] if self.range_attr else None)
        old = self.where.get(key)
        if old is not None and (new is None or not _same(old[0], new[0])):
            self.buckets[old[0]].pop(key, None)
            if not self.buckets[old[0]]:
                del self.buckets[old[0]]
                del self.hashes[old[0]]
            self.order.pop(old[0], None)
            del self.where[key]
            old = None
        if new is not None:
            new = (self.hashes.setdefault(new[0], new[0]), new[1])
            self.buckets.setdefault(new[0], {})[key] = item
            if old is None or not _same(old[1], new[1]):  # a new member, or a new place in the order
                self.order.pop(new[0], None)
            self.where[key] = new

    def sort_values(self, table: Any, attrs: list[str], members: dict[tuple[Any, Any], Any]) -> Iterator[Any]:
        """(its values of ``attrs``, base key) for each member: moto's sort attributes of a query on this index
        (its keys and the table's), taken from what ``where`` and the base key hold, not from ``item.attrs``.
        Reading ``item.attrs`` unpacked every member of the GSI key in one operation (every case of a client:
        69,781 at 100k rows, on the first page of reading them back through the API), and the cached order kept
        the DynamoTypes of that unpacking alive after the items were packed again (~680 B a member)."""
        # the attribute's place in (GSI hash, GSI range, table hash, table range); the same name twice is the
        # same attribute, so the first place holds its value
        names = [self.hash_attr, self.range_attr, table.hash_key_attr, table.range_key_attr]
        places = [names.index(a) for a in attrs]
        where = self.where
        for key in members:
            held = (*where[key], *key)
            yield tuple([held[p] for p in places]), key


class _TableKeys:
    """What the query patch needs of one table, kept on every write: the sorted range keys of each partition
    (cached until the partition gains or loses a key) and the members of each GSI key."""

    def __init__(self, table: Any) -> None:
        self.sorted_ranges: dict[Any, list[Any]] = {}
        self.gsis: dict[str, _GsiKeys] = {}
        for index in table.global_indexes or []:
            hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
            ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
            if len(hashes) == 1 and len(ranges) <= 1:  # multi-attribute keys keep moto's own path
                self.gsis[index.name] = _GsiKeys(hashes[0], ranges[0] if ranges else None)
        if self.gsis:
            for item in _ORIGINALS["Table.all_items"](table):
                self.place(table, (item.hash_key, item.range_key))

    def place(self, table: Any, key: tuple[Any, Any]) -> None:
        item = _current(table, key)
        for gsi in self.gsis.values():
            gsi.place(key, item)


def _keys(table: Any) -> _TableKeys:
    keys: _TableKeys | None = table.__dict__.get("_finview_keys")
    if keys is None:
        keys = table.__dict__["_finview_keys"] = _TableKeys(table)
    return keys


def _current(table: Any, key: tuple[Any, Any]) -> Any:
    hash_key, range_key = key
    if table.range_key_attr is None:
        return table.items.get(hash_key)
    return table.items.get(hash_key, {}).get(range_key)


def _key_of(table: Any, attrs: Any) -> tuple[Any, Any] | None:
    """The (hash, range) DynamoTypes of an item or key in DynamoDB JSON; None when it names no key."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if not isinstance(attrs, dict) or table.hash_key_attr not in attrs:
        return None
    rng = None
    if table.range_key_attr is not None:
        if table.range_key_attr not in attrs:
            return None
        rng = DynamoType(attrs[table.range_key_attr])
    return DynamoType(attrs[table.hash_key_attr]), rng


class _Partition:
    """A partition of a table with a range key, where moto keeps a dict (range key -> Item): a partition of one
    item (every match key of an import, ~40 % of its items) holds its key and item in two slots (~56 bytes
    against a one-entry dict's ~200), and the dict moto would hold once a second key arrives. It answers every
    way moto and the patches above use a partition, by dict's rules (a key found by identity, else by ==, which
    agrees with a DynamoType's hash; a replaced item keeps the key object already held)."""

    __slots__ = ("_item", "_key", "_more")

    def __init__(self) -> None:
        self._key: Any = None  # None: empty, or see _more (keys are DynamoTypes, never None)
        self._item: Any = None
        self._more: dict[Any, Any] | None = None

    def _holds(self, key: Any) -> bool:
        held = self._key
        # a dict compares hashes first; DynamoType's hash is of what its == compares, so == alone decides alike
        return held is not None and (held is key or bool(held == key))

    def __len__(self) -> int:
        if self._more is not None:
            return len(self._more)
        return 0 if self._key is None else 1

    def __bool__(self) -> bool:
        return len(self) > 0

    def __contains__(self, key: Any) -> bool:
        return key in self._more if self._more is not None else self._holds(key)

    def __getitem__(self, key: Any) -> Any:
        if self._more is not None:
            return self._more[key]
        if self._holds(key):
            return self._item
        raise KeyError(key)

    def get(self, key: Any, default: Any = None) -> Any:
        if self._more is not None:
            return self._more.get(key, default)
        return self._item if self._holds(key) else default

    def __setitem__(self, key: Any, item: Any) -> None:
        if self._more is not None:
            self._more[key] = item
        elif self._key is None:
            self._key, self._item = key, item
        elif self._holds(key):
            self._item = item
        else:
            self._more = {self._key: self._item, key: item}
            self._key = self._item = None

    def pop(self, key: Any, *default: Any) -> Any:
        if self._more is not None:
            return self._more.pop(key, *default)
        if self._holds(key):
            item = self._item
            self._key = self._item = None
            return item
        if default:
            return default[0]
        raise KeyError(key)

    def __delitem__(self, key: Any) -> None:
        self.pop(key)

    def keys(self) -> Any:
        if self._more is not None:
            return self._more.keys()
        return () if self._key is None else (self._key,)

    def values(self) -> Any:
        if self._more is not None:
            return self._more.values()
        return () if self._key is None else (self._item,)

    def items(self) -> Any:
        if self._more is not None:
            return self._more.items()
        return () if self._key is None else ((self._key, self._item),)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.keys())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Partition):
            return dict(self.items()) == dict(other.items())
        return isinstance(other, dict) and dict(self.items()) == other

    __hash__ = None  # type: ignore[assignment]  # mutable, as a dict

    def __repr__(self) -> str:
        return f"_Partition({dict(self.items())!r})"


def _partitions_by_one(table: Any) -> None:
    """Make the partitions this table creates from now on ``_Partition``s (moto's own: ``defaultdict(dict)``)."""
    items = table.items
    if table.range_key_attr is not None and type(items) is defaultdict and items.default_factory is dict:
        items.default_factory = _Partition


def _put_item(self: Any, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    _partitions_by_one(self)
    key = _key_of(self, item_attrs)
    existed = key is not None and _current(self, key) is not None
    item = _ORIGINALS["Table.put_item"](self, item_attrs, *args, **kwargs)
    _share_keys(self, item)
    keys = _keys(self)
    if not existed:
        keys.sorted_ranges.pop(item.hash_key, None)
    keys.place(self, (item.hash_key, item.range_key))
    return item


def _share_keys(table: Any, item: Any) -> None:
    """Let a stored item hold the key objects the table's dicts hold (its partition's, and its own when it
    replaced an item), not equal copies made from its request: one copy of a partition's key for all its items,
    which matters once an item is packed and its keys are all that is left of it. Keys are never changed in
    place (DynamoDB refuses an update of a key attribute), so sharing them is safe."""
    if table.range_key_attr is None:
        return
    stored = _stored_key(table.items, item.hash_key)
    if stored is not item.hash_key:
        item.hash_key = stored
    partition = table.items.get(stored)
    if partition is not None:
        stored = _stored_key(partition, item.range_key)
        if stored is not item.range_key:
            item.range_key = stored
        if type(partition) is _Partition and partition._more is None and partition._key is item.range_key:
            partition._key = item.range_key = _common_range_key(item.range_key)


COMMON_RANGE_KEYS = 4096  # distinct short range keys shared by every partition's lone item
COMMON_UP_TO = 16  # characters: "KEY", "PROFILE", "POINTER", a date; not a case's or a point's own id
_common_ranges: dict[tuple[str, str], Any] = {}


def _common_range_key(key: Any) -> Any:
    """One object for a short range key that many partitions' lone items have: every match key's is "KEY"
    (~40 % of an import's items), each a DynamoType and a string of its own as parsed (~150 bytes). Exact type and
    spelling, as ``_is_key`` compares (a number "1.0" is not a "1")."""
    value = key.value
    if type(value) is not str or len(value) > COMMON_UP_TO:
        return key
    common = _common_ranges.get((key.type, value))
    if common is None:
        if len(_common_ranges) >= COMMON_RANGE_KEYS:
            return key
        common = _common_ranges[(key.type, value)] = key
    return common


def _stored_key(mapping: dict[Any, Any], key: Any) -> Any:
    """The key object ``mapping`` holds for a key equal to ``key`` (``key`` itself when it holds none)."""
    global _key_probe
    if _key_probe is None:
        _key_probe = _probe_class()
    probe = _key_probe(key)
    return probe.found if probe in mapping and probe.found is not None else key


_key_probe: type[Any] | None = None


def _probe_class() -> type[Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    class KeyProbe(DynamoType):  # type: ignore[misc]
        """Equal to the key it was made from, and remembers the stored key a dict compared it with: a dict lookup
        compares a stored key with the probe by ``stored == probe``, which Python answers by the probe's
        ``__eq__`` first, the probe's class being a subclass of the stored key's."""

        def __init__(self, key: Any) -> None:
            self.type, self.value, self._hash = key.type, key.value, hash(key)
            self.found: Any = None

        def __hash__(self) -> int:
            return self._hash  # type: ignore[no-any-return]

        def __eq__(self, other: object) -> bool:
            if type(other) is not DynamoType or not DynamoType.__eq__(other, self):
                return False
            if _is_key(other, self):  # the very value: a number key "1.0" stays apart from a stored "1"
                self.found = other
            return True

    return KeyProbe


def _delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
    item = _ORIGINALS["Table.delete_item"](self, hash_key, range_key)
    if item is not None:
        keys = _keys(self)
        keys.sorted_ranges.pop(hash_key, None)
        keys.place(self, (hash_key, range_key))
    return item


def _update_item(self: Any, table_name: str, key: Any, *args: Any, **kwargs: Any) -> Any:
    table = self.tables.get(table_name)
    # moto deep-copies the item before every update, only to hand the old image to the table's stream; a table
    # without a stream has nothing to hand it to (see _CopyWithoutTables.deepcopy)
    _local.no_stream_image = table is not None and table.stream_shard is None
    if _lean_on and getattr(_local, "in_transaction", False):
        # moto's transaction has just checked this Update's condition against this very item (it refuses a second
        # operation on it) and raised if it failed: its update_item would parse and check it again, for nothing
        kwargs["condition_expression"] = None
    try:
        return _ORIGINALS["DynamoDBBackend.update_item"](self, table_name, key, *args, **kwargs)
    finally:
        _local.no_stream_image = False
        # moto changes the stored Item in place (even part-way, when an expression fails): place it again always.
        table = self.tables.get(table_name)
        named = _key_of(table, key) if table is not None else None
        if named is not None:
            _keys(table).place(table, named)
            _changed(_current(table, named))


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's transaction, with an undo log of the items it names instead of deep copies of whole tables."""
    stats["transactions"] += 1
    before: dict[tuple[str, tuple[Any, Any]], Any] = {}
    for entry in transact_items if isinstance(transact_items, list) else ():
        for op_type, op in entry.items():
            table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            if table is None or op_type == "ConditionCheck":  # a check writes nothing: nothing to undo
                continue
            key = _key_of(table, op.get("Item" if op_type == "Put" else "Key"))
            if key is not None and (table.name, key) not in before:
                current = _current(table, key)
                # A Put stores a new Item and a Delete drops the stored one: neither changes the Item it replaces,
                # so that Item is its own undo. Only an Update changes the stored Item in place.
                if not _lean_on:  # moto_own_path(): the deep copy, for the tests that compare both
                    current = copy.deepcopy(current)
                elif op_type == "Update":
                    current = _undo_copy(current)
                before[(table.name, key)] = current
    _local.in_transaction = True
    try:
        _ORIGINALS["DynamoDBBackend.transact_write_items"](self, transact_items)
    except BaseException:
        stats["rollbacks"] += 1
        for (table_name, key), item in reversed(before.items()):
            _restore(self.tables[table_name], key, item)
        raise
    finally:
        _local.in_transaction = False


def _undo_copy(item: Any) -> Any:
    """What an Update of ``item`` cannot change: moto's deep copy of it, except that a scalar value (S, N, B, BOOL,
    NULL) is shared instead of copied. moto replaces a scalar, never changes one in place (its executors change
    maps, lists and sets in place, pinned with ``executors.py`` and ``dynamo_type.py``), so every dict and list
    the update could change is a new one here, and the item as it was costs a dict and its containers."""
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict

    if item is None:
        return None
    copied = object.__new__(type(item))
    copied.hash_key, copied.range_key = item.hash_key, item.range_key  # never changed in place (_share_keys)
    attrs = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.__init__(attrs)
    for name, value in item.attrs.items():
        dict.__setitem__(attrs, name, value if value.type in _SCALARS else _container_copy(value))
    copied.attrs = attrs
    return copied


_SCALARS = frozenset(("S", "N", "B", "BOOL", "NULL"))


def _container_copy(value: Any) -> Any:
    """moto's ``DynamoType.__deepcopy__`` of a map, list or set, its scalar members shared (see ``_undo_copy``)."""
    new = object.__new__(type(value))
    kind = new.type = value.type
    inner = value.value
    if kind == "M":
        new.value = {k: v if v.type in _SCALARS else _container_copy(v) for k, v in inner.items()}
    elif kind == "L":
        new.value = [v if v.type in _SCALARS else _container_copy(v) for v in inner]
    else:  # a set: its members are plain strings, as moto's copy has them
        new.value = list(inner)
    return new


def _restore(table: Any, key: tuple[Any, Any], item: Any) -> None:
    hash_key, range_key = key
    existed = _current(table, key) is not None
    if table.range_key_attr is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
    elif item is None:
        table.items.get(hash_key, {}).pop(range_key, None)
    else:
        table.items[hash_key][range_key] = item
    keys = _keys(table)
    if existed != (item is not None):
        keys.sorted_ranges.pop(hash_key, None)
    keys.place(table, key)


class _CopyWithoutTables:
    """``copy`` as moto's DynamoDB backend module sees it: inside a transaction, the "backup" moto makes of a
    whole table is the table itself (the undo log above replaces it); in an update of a table without a stream,
    the old image moto keeps for the stream record is the item itself (no stream reads it, and the pinned
    ``update_item`` uses its copy for nothing else); every other copy is a real one."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(x: Any, memo: dict[int, Any] | None = None) -> Any:
        from moto.dynamodb.models.dynamo_type import Item
        from moto.dynamodb.models.table import Table

        if isinstance(x, Table) and getattr(_local, "in_transaction", False):
            return x
        if (x is None or type(x) is Item) and getattr(_local, "no_stream_image", False):
            return x
        return copy.deepcopy(x, memo)


def _all_items(self: Any) -> list[Any]:
    candidates = getattr(_local, "candidates", None)
    if candidates is not None and candidates[0] is self:
        return list(candidates[1])
    return _ORIGINALS["Table.all_items"](self)  # type: ignore[no-any-return]


def _query(
    self: Any,
    hash_key: Any,
    range_comparison: str | None,
    range_objs: list[Any],
    limit: int | None,
    exclusive_start_key: dict[str, Any] | None,
    scan_index_forward: bool,
    projection_expressions: Any,
    index_name: str | None = None,
    consistent_read: bool = False,
    filter_expression: Any = None,
    hash_key_conditions: list[tuple[str, Any]] | None = None,
    range_key_conditions: list[tuple[str, str, list[Any]]] | None = None,
    **filter_kwargs: Any,
) -> Any:
    _local.page_sizes = {}  # see _item_size
    try:
        args: tuple[Any, ...] = (hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward)
        args += (projection_expressions, index_name, consistent_read, filter_expression)
        kwargs = {"hash_key_conditions": hash_key_conditions, "range_key_conditions": range_key_conditions}
        candidates = None
        if not filter_kwargs and len(range_key_conditions or ()) <= 1:
            candidates = _page_candidates(
                self,
                _Page(
                    hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward, index_name
                ),
                hash_key_conditions or [],
                range_key_conditions or [],
            )
        if candidates is None:
            stats["slow_queries"] += 1
            return _paged(self, *args, **kwargs, **filter_kwargs)
        stats["fast_queries"] += 1
        stats["candidates"] += len(candidates)
        _local.candidates = (self, candidates)
        try:
            return _paged(self, *args, **kwargs)
        finally:
            _local.candidates = None
    finally:
        _local.page_sizes = None


def _paged(table: Any, *args: Any, **kwargs: Any) -> Any:
    """moto's ``Table.query``, its page copied by ``_PageCopy``."""
    _local.query_page = _lean_on
    try:
        return _ORIGINALS["Table.query"](table, *args, **kwargs)
    finally:
        _local.query_page = False


def _item_size(self: Any) -> int:
    """moto's ``Item.size``, once per item and query: the page's end is found by sizing each candidate, and moto's
    query loop sizes each item it keeps twice more. Nothing changes an item during a query (the serialising lock is
    held); the memo holds each item it sized, so no other object takes its id meanwhile."""
    sizes = getattr(_local, "page_sizes", None)
    if sizes is None or not _lean_on:
        return _ORIGINALS["Item.size"](self)  # type: ignore[no-any-return]
    found = sizes.get(id(self))
    if found is None:
        found = sizes[id(self)] = (self, _ORIGINALS["Item.size"](self))
    return found[1]  # type: ignore[no-any-return]


class _PageCopy:
    """``copy`` as moto's table module sees it: the one deep copy in ``Table.query``, of the page's items, is
    ``_undo_copy`` of each (see the section's comment); every other copy is a real one."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(x: Any, memo: dict[int, Any] | None = None) -> Any:
        if getattr(_local, "query_page", False) and type(x) is list and memo is None:
            _local.query_page = False  # the page only: no copy made after it is this one
            return [_undo_copy(item) for item in x]
        return copy.deepcopy(x, memo)


class _Page:
    def __init__(
        self,
        hash_key: Any,
        comparison: str | None,
        values: list[Any],
        limit: int | None,
        start: dict[str, Any] | None,
        forward: bool,
        index_name: str | None,
    ) -> None:
        self.hash_key, self.comparison, self.values, self.limit = hash_key, comparison, values, limit
        self.start, self.forward, self.index_name = start, forward, index_name


def _page_candidates(
    table: Any,
    page: _Page,
    hash_conditions: list[tuple[str, Any]],
    range_conditions: list[tuple[str, str, list[Any]]],
) -> list[Any] | None:
    """The items moto's query loop reaches on this page, or None when moto must look at the whole table."""
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT

    keys = _keys(table)
    start = page.start
    sort_keys: list[Any]
    if page.index_name is None:
        if page.hash_key is None or table.range_key_attr is None:
            return None
        partition = table.items.get(page.hash_key, {})
        ordered = keys.sorted_ranges.get(page.hash_key)
        if ordered is None:
            ordered = keys.sorted_ranges[page.hash_key] = sorted(partition)
        sort_keys = ordered
        start_key: Any = None
        if start:
            if table.hash_key_attr not in start or table.range_key_attr not in start:
                return None
            if DynamoType(start[table.hash_key_attr]) != page.hash_key:
                return None
            start_key = DynamoType(start[table.range_key_attr])
        members: Any = partition
        range_attr = table.range_key_attr
    else:
        gsi = keys.gsis.get(page.index_name)
        if gsi is None or len(hash_conditions) != 1 or hash_conditions[0][0] != gsi.hash_attr:
            return None
        if page.comparison and gsi.range_attr is None:
            return None  # moto raises its own error for this
        value = hash_conditions[0][1]
        members = gsi.buckets.get(value, {})
        attrs = table._generate_attr_to_sort_by(
            [gsi.hash_attr, table.hash_key_attr], [gsi.range_attr, table.range_key_attr]
        )
        cached = gsi.order.get(value)
        if cached is None:
            pairs = sorted(gsi.sort_values(table, attrs, members), key=_first)
            cached = gsi.order[value] = ([p[0] for p in pairs], [p[1] for p in pairs])
        sort_keys, ordered = cached
        start_key = None
        if start:
            if any(a not in start for a in attrs):
                return None
            start_key = tuple(DynamoType(start[a]) for a in attrs)
        range_attr = gsi.range_attr
    if range_conditions:
        range_attr = range_conditions[-1][0]

    # moto skips every item "before or at" the start key in the query's direction
    lo, hi = 0, len(sort_keys)
    if start_key is not None:
        if page.forward:
            lo = bisect.bisect_right(sort_keys, start_key)
        else:
            hi = bisect.bisect_left(sort_keys, start_key)
    out: list[Any] = []
    matched = size = 0
    for i in range(lo, hi) if page.forward else range(hi - 1, lo - 1, -1):
        item = members[ordered[i]]
        item_size = item.size()
        # moto ends the page at the first item, matching or not, past the Limit or the 1 MB, and then says
        # that there is more (LastEvaluatedKey): that item is the last candidate
        if matched == page.limit or size + item_size > RESULT_SIZE_LIMIT:
            out.append(item)
            break
        if page.comparison:
            value = item.attrs.get(range_attr)
            if value is None or not value.compare(page.comparison, page.values):
                continue
        out.append(item)
        matched += 1
        size += item_size
    return out


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]


def scalable_dynamodb() -> bool:
    """Install the patches above once per process if moto is the pinned version; returns whether they are."""
    global _scalable_installed
    with _lock:
        if _scalable_installed:
            return True
        if _installed:
            raise RuntimeError("scalable_dynamodb() goes before serialise_dynamodb(), which wraps what it replaces")
        if not scalable_dynamodb_applies():
            log.warning("moto is not %s as pinned: local DynamoDB keeps moto's whole-table costs", PINNED_MOTO)
            return False
        import moto.dynamodb.models as backend_module
        import moto.dynamodb.models.table as table_module
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.models.dynamo_type import Item
        from moto.dynamodb.models.table import Table

        replacements: tuple[tuple[Any, str, Callable[..., Any]], ...] = (
            (DynamoDBBackend, "transact_write_items", _transact_write_items),
            (DynamoDBBackend, "update_item", _update_item),
            (Table, "query", _query),
            (Table, "put_item", _put_item),
            (Table, "delete_item", _delete_item),
            (Table, "all_items", _all_items),
            (Item, "size", _item_size),
        )
        for owner, name, replacement in replacements:
            _ORIGINALS[f"{owner.__name__}.{name}"] = getattr(owner, name)
            setattr(owner, name, functools.wraps(getattr(owner, name))(replacement))
        backend_module.copy = _CopyWithoutTables()  # type: ignore[assignment]
        table_module.copy = _PageCopy()  # type: ignore[assignment]
        _scalable_installed = True
        return True


# ---- SQS at depth: receive, delete and attributes at the cost of the batch, not of the queue -------------------
#
# moto 5.2 builds the list of every visible message of a queue for each ReceiveMessage, reads every queue
# attribute (three passes over all messages, each with a clock read per message) once per *received message* to
# check its retention, and walks the whole queue twice per deleted message. A queue a few tens of thousands of
# events deep (an import publishing faster than its consumer reads) then makes each receive and delete cost
# O(depth): the consumers slow down as the queue fills, and it fills faster. Sending is O(depth) too: moto reads
# every attribute of the queue (the three message counts included) to learn whether it deduplicates by content,
# so EventBridge's fan-out into a deep queue (the bus tap, a consumer's queue during an import) slows with it.
# SQS costs the same at any depth.

PINNED_SQS_SOURCES = {
    "Queue.messages": "03a531dbcbcf9aee2e61c7254c08946a499f5c57f2447a8f2e534aa85b067dea",
    "Queue.delete_message": "fa6fd5b9bd2cafb4aaacd79da7fc656e513e1513197c2939ff002f9ebfd4be46",
    "Queue.approximate_number_of_messages": "d357a9506a56d2f8f9f364aa1e0a4739182106db6dbcede0e0699c00d1406eec",
    "Queue.approximate_number_of_messages_delayed": "c3c1dadb0c42ed5f8f5e1fddc8384de67db2df9a4055504f10903bd0b55e8d2f",
    "Queue.approximate_number_of_messages_not_visible": "5dbecc4dda174358d2aefa96e4b769def47fd6bb2c315241c451e8518c3fabab",  # noqa: E501
    "SQSBackend.receive_message": "065f3e5e7d2144089ce3b5d16d9306243ccd2f3ee11b44beb851292fadb7652f",
    "SQSBackend.get_queue_attributes": "58417223da457b5a0aac5ccc31b6646ed9b22c3b276a0f0d9fd5f3f13bd797ec",
    "SQSBackend.is_message_valid_based_on_retention_period": "cca23b94a5f3af9d9c5af1c09ee5e615017bdf6bd032301cb321c06c7e595d4b",  # noqa: E501
    "Message.visible": "5129b573308de62a700c40541df76673710ff2303258839ac66990eb56f27f27",
    "SQSBackend.send_message": "bf161af09a9e6b860e3dd5d8f58ccc802623caa86883fab9b2ffb333f8f70330",
    "Queue.attributes": "40cb990b121628d535cecbcd0e0d333984024633b70a097489ae8611e1a59338",
    "Message.delayed": "e2fd48abf582683aa4630cbd95daef06deb9f6de33e002a89f8c3d8a3f334838",
    # a pure function of its string: remembered in moto's SQS models (``_cached_attribute_names``)
    "utils.camelcase_to_underscores": "084cdc5bab92db95a0ebd8d554c70b212a057d35825b08ca3b80b202d4965eb3",
}
_sqs_installed = False


def sqs_sources() -> dict[str, str]:
    from moto.core import utils
    from moto.sqs.models import Message, Queue, SQSBackend

    owners: dict[str, Any] = {"Queue": Queue, "SQSBackend": SQSBackend, "Message": Message, "utils": utils}
    return _source_hashes(_class_members(PINNED_SQS_SOURCES, owners))


class _VisibleMessages:
    """``Queue.messages`` without building the list: moto's receive loop stops after its batch."""

    def __init__(self, messages: list[Any]) -> None:
        from moto.core.utils import unix_time_millis

        self._messages, self._now = messages, unix_time_millis()

    def __iter__(self) -> Any:
        now = self._now
        # Message.visible is ``now > visible_at``, Message.delayed is ``now < delayed_until``
        return (m for m in self._messages if now > m.visible_at and not now < m.delayed_until)

    def __bool__(self) -> bool:
        return any(True for _ in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _queue_messages(self: Any) -> _VisibleMessages:
    return _VisibleMessages(self._messages)


def _visible(self: Any) -> int:
    if getattr(_local, "sending", False):
        return 0  # send_message reads the attributes only for ContentBasedDeduplication
    return len(self.messages)


def _not_visible(self: Any) -> int:
    from moto.core.utils import unix_time_millis

    if getattr(_local, "sending", False):
        return 0
    now = unix_time_millis()
    return sum(1 for m in self._messages if not now > m.visible_at)


def _delayed(self: Any) -> int:
    from moto.core.utils import unix_time_millis

    if getattr(_local, "sending", False):
        return 0
    now = unix_time_millis()
    return sum(1 for m in self._messages if now < m.delayed_until)


def _send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
    _local.sending = True
    try:
        return _ORIGINALS["SQSBackend.send_message"](self, *args, **kwargs)
    finally:
        _local.sending = False


def _delete_message(self: Any, receipt_handle: str) -> None:
    """moto's delete: the message that ever had this handle leaves the queue; one pass that stops there (the
    messages being deleted are those received last, near the front of the queue)."""
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    if receipt_handle in self.deleted_messages:
        return  # deleting twice is fine, as in SQS
    for i, message in enumerate(self._messages):
        if message.had_receipt_handle(receipt_handle):
            del self._messages[i]
            self.pending_messages.discard(message)
            self.deleted_messages.update(message.all_receipt_handles)
            return
    raise ReceiptHandleIsInvalid()


def _get_queue_attributes(self: Any, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
    """moto's, with the queue's attributes computed once (moto computes all of them three times per name)."""
    from moto.sqs.exceptions import InvalidAttributeName

    queue = self.get_queue(queue_name)
    if not attribute_names:
        return {}
    valid_names = ["All", *queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES]
    invalid_name = next((name for name in attribute_names if name not in valid_names), None)
    if invalid_name or invalid_name == "":
        raise InvalidAttributeName(invalid_name)
    everything = queue.attributes
    if "All" in attribute_names:
        return everything  # type: ignore[no-any-return]
    return {name: everything[name] for name in attribute_names if everything.get(name) is not None}


def _retained(self: Any, queue_name: str, message: Any) -> bool:
    from moto.core.utils import unix_time

    retention_period = int(self.get_queue(queue_name).message_retention_period)
    return bool(retention_period + message.sent_timestamp / 1000 > unix_time())


# moto's SQS has no lock either: a ReceiveMessage iterating a queue's pending set while a delete on another thread
# discards from it fails with "Set changed size during iteration" (an HTTP 500; six times in a 100k-row run), and
# two receives can both find one message visible and both deliver it. SQS hands a message to one receiver at a
# time. So the local stack runs moto's SQS operations one at a time; a long poll waits outside the lock, so a send
# meanwhile is not held up by it.
_sqs_lock = threading.RLock()
_SQS_SERIALISED = (
    "send_message",
    "send_message_batch",
    "delete_message",
    "delete_message_batch",
    "change_message_visibility",
    "change_message_visibility_batch",
    "purge_queue",
    "get_queue_attributes",
)


def _sqs_serialised(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _sqs_lock:
            return fn(*args, **kwargs)

    return wrapper


def _receive_message(
    self: Any,
    queue_name: str,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None = None,
) -> list[Any]:
    """moto's receive without its wait, under the lock, repeated until the long poll ends; the wait in between is
    moto's own (woken by a message added to the queue) and holds no lock."""
    import time

    receive = _ORIGINALS["SQSBackend.receive_message"]
    deadline = time.monotonic() + wait_seconds_timeout
    while True:
        with _sqs_lock:
            result: list[Any] = receive(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
        left = deadline - time.monotonic()
        if result or left <= 0:
            return result
        self.get_queue(queue_name).wait_for_messages(min(1.0, left))


def _cached_attribute_names() -> None:
    """Every message sent asks its queue whether it deduplicates by content through ``Queue.attributes``, which
    turns each of its ~15 attribute names into a Python name with ``camelcase_to_underscores`` (a loop over the
    name's characters): most of an SQS send's own cost (each event the bus delivers, each SES notice through SNS).
    The names are a handful and the function is pure: moto's SQS models remember its answers."""
    import moto.sqs.models as sqs_models

    _ORIGINALS["sqs.models.camelcase_to_underscores"] = sqs_models.camelcase_to_underscores
    sqs_models.camelcase_to_underscores = functools.lru_cache(maxsize=256)(  # type: ignore[assignment]
        sqs_models.camelcase_to_underscores
    )


def scalable_sqs() -> bool:
    """Install the SQS patches once per process if moto is the pinned version; returns whether they are."""
    global _sqs_installed
    with _lock:
        if _sqs_installed:
            return True
        import moto
        from moto.sqs.models import Queue, SQSBackend

        if moto.__version__ != PINNED_MOTO or sqs_sources() != PINNED_SQS_SOURCES:
            log.warning("moto is not %s as pinned: local SQS keeps moto's per-depth costs", PINNED_MOTO)
            return False
        for owner, name, replacement in (
            (Queue, "messages", property(_queue_messages)),
            (Queue, "approximate_number_of_messages", property(_visible)),
            (Queue, "approximate_number_of_messages_not_visible", property(_not_visible)),
            (Queue, "approximate_number_of_messages_delayed", property(_delayed)),
            (Queue, "delete_message", _delete_message),
            (SQSBackend, "get_queue_attributes", _get_queue_attributes),
            (SQSBackend, "send_message", _send_message),
            (SQSBackend, "is_message_valid_based_on_retention_period", _retained),
            (SQSBackend, "receive_message", _receive_message),
        ):
            _ORIGINALS[f"{owner.__name__}.{name}"] = owner.__dict__[name]
            setattr(owner, name, replacement)
        for name in _SQS_SERIALISED:  # after the replacements above: the lock wraps them too
            setattr(SQSBackend, name, _sqs_serialised(getattr(SQSBackend, name)))
        _cached_attribute_names()
        _sqs_installed = True
        return True


# ---- A transaction retried with its ClientRequestToken is answered once -------------------------------------------
#
# botocore gives every TransactWriteItems a ClientRequestToken and sends the same token when it retries (a 5xx, a
# reset connection, a read timeout). DynamoDB applies a token's transaction once for 10 minutes: a retry of one it
# applied succeeds without writing again, the same token with other parameters is refused
# (IdempotentParameterMismatchException). moto 5.2 ignores the token, so a retry after a transaction it applied runs
# it again: its conditions (`attribute_not_exists` on a new note, an outbox row) now fail and the use case sees a
# conflict it never had, an HTTP 500 through the API (seen once in 400 concurrent API writes at 10k rows).

TOKEN_WINDOW_S = 600.0  # DynamoDB's idempotency window for a ClientRequestToken
_tokens: OrderedDict[str, tuple[float, str, Any]] = OrderedDict()  # token → (when, the request's digest, answer)
_tokens_installed = False


def _transact_once(self: Any) -> Any:
    """moto's TransactWriteItems handler, answering a token it applied in the last 10 minutes without applying it
    again; under the DynamoDB lock, so a token's check and its transaction are one step."""
    token = self.body.get("ClientRequestToken")
    if not token:
        return _ORIGINALS["DynamoHandler.transact_write_items"](self)
    # botocore's retry sends the very bytes it sent first; another client's request is compared by its parameters
    raw = getattr(self, "raw_body", None)
    if not isinstance(raw, bytes | str) or not raw:
        raw = json.dumps(self.body.get("TransactItems"), sort_keys=True)
    digest = hashlib.sha256(raw.encode() if isinstance(raw, str) else raw).hexdigest()
    with _lock:
        now = time.monotonic()
        while _tokens and next(iter(_tokens.values()))[0] < now - TOKEN_WINDOW_S:
            _tokens.popitem(last=False)
        seen = _tokens.get(token)
        if seen is not None:
            if seen[1] != digest:
                raise _mismatch()
            return seen[2]
        answer = _ORIGINALS["DynamoHandler.transact_write_items"](self)
        _tokens[token] = (now, digest, answer)
        return answer


def _mismatch() -> Exception:
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException

    return DynamodbException(
        ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException",
        "The request uses the same client token as a previous, but non-identical request.",
    )


def transactions_once_per_token() -> bool:
    """Install once per process if moto is the pinned version (its handler reads ``self.body``)."""
    global _tokens_installed
    with _lock:
        if _tokens_installed:
            return True
        import moto
        from moto.dynamodb.responses import DynamoHandler

        if moto.__version__ != PINNED_MOTO:
            log.warning("moto is not %s as pinned: a retried transaction is applied again", PINNED_MOTO)
            return False
        _ORIGINALS["DynamoHandler.transact_write_items"] = DynamoHandler.transact_write_items
        DynamoHandler.transact_write_items = _transact_once  # type: ignore[method-assign]
        _tokens_installed = True
        return True


def installed() -> list[str]:
    """The corrections installed in this process (moto's server process reports them to the local stack)."""
    flags = {
        "serialised-dynamodb": _installed,
        "scalable-dynamodb": _scalable_installed,
        "scalable-sqs": _sqs_installed,
        "cached-event-paths": _events_installed,
        "lean-put-events": _put_events_installed,
        "cached-request-routing": _routing_installed,
        "lean-requests": _lean_installed,
        "request-ids-where-tagged": _response_ids_installed,
        "weakly-tracked-models": _tracking_installed,
        "packed-dynamodb-items": _packing_installed,
        "cached-update-expressions": _updates_installed,
        "cheaper-dynamo-types": _types_installed,
        "sns-signed-once-per-subscription": _sns_installed,
        "transactions-once-per-token": _tokens_installed,
        "isolated-chalice-requests": _requests_installed,
        "isolated-log-correlation": _logs_installed,
        "stored-items-frozen": bool(_freezing["installed"]),
    }
    return [name for name, on in flags.items() if on]


# ---- The cost of a request: what moto's server recomputes for every request, done once --------------------------
#
# Profiled under load (py-spy --gil on the moto process, bench/bench_moto_requests.py), moto 5.2 spends ~45 % of a
# DynamoDB/SQS/EventBridge request in its response serializer, and most of that in finding where each member of
# the output shape lives in the result: for every member of every structure (10 per DynamoDB AttributeValue) it
# builds an AttributePickerContext (joining the serializer's path into a string), instantiates six alias
# providers and tries each candidate key. For a plain ``dict`` the candidates depend only on the member's shape,
# its name and its parent shape, which live as long as moto's cached service model: they are computed once, by
# moto's own providers, and kept on the shape. Another ~4 % lists the handler class's methods (inspect.getmembers)
# to check that the action exists: a class's functions do not change while the server runs.
#
# moto's request parser and response serializer pick the method for each value of the request or response by
# ``getattr(self, f"_parse_{shape.type_name}", default)``: for a string (most values) that attribute does not
# exist, so each value costs a failed attribute lookup and an AttributeError. On a BatchWriteItem of 25 items that
# was a fifth of moto's CPU. The method of a (class, type) pair is looked up once. And moto's DynamoDB ``Item``
# re-adds the size of every attribute already stored each time it stores one (``LimitedSizeDict.__setitem__``):
# O(attributes²) per item written. Storing them and checking the total once refuses exactly the same items (the
# sizes only grow, so the running total passes the limit iff the final total does), with the same error.
# Every condition of a write is parsed twice (the handler validates it, the backend evaluates it), a third of a
# conditional TransactWriteItems: the syntax tree of an expression with the same names and values is the same,
# and moto never changes it after building it, so it is kept (a bounded cache, errors are not kept).
#
# Before that, each request crossed Flask (~15 % of a small request: a request context, Flask's debug-mode form
# helpers, signals, URL matching, CORS's after-request hook) only to reach one function: moto's
# ``convert_to_flask_response`` wrapper around the service's ``dispatch``. A signed JSON-protocol request to
# DynamoDB, SQS or EventBridge (``POST /`` with ``X-Amz-Target``, no Origin, so no CORS headers), and SES v2's
# SendEmail (``POST /v2/email/outbound-emails``, REST-JSON, a route without path parameters), now goes from
# ``DomainDispatcherApplication.__call__`` to that same wrapper's steps directly: moto's Request, the request
# recorder, the handler, the same Response class. The handler is found once per service (or route) through moto's
# own Flask routing; every other request (S3, SNS, SES v1, the moto API, CORS) keeps the whole path.

PINNED_REQUEST_SOURCES = {
    "dynamo_to_dict": "80f600124c13ddcb132c02448abeefffd2b43b353c7fcedaa2fa7ca67b3107c4",
    "ResponseSerializer.get_value": "5ac16904b91c293555159f2e4726b73cc5d7fb9c1c414a6d912d9e2f45da539e",
    "AttributePicker.__call__": "c15da8ec29c1afa44772407fe6280d59a519fcbf52216dc90eb31fb6fbb136ce",
    "AttributePicker.get_possible_keys": "cb284052c5ea7fe1b0534936022c95397d8ed8fb7630d51a445614127bc25c17",
    "XFormedAttributePicker.get_possible_keys": "f0d20f55f37fd8a1f74e7fae117327a99c8e14b0f9459a0059d3c8d3c6e50a41",
    "method_names_from_class": "9dbac89d082b655fee902c450e69de9dbadf9699ad06411298494984b55138c3",
    "convert_to_flask_response.__call__": "2c82766d05909ebb416d91eb9db685b57c639346d5eaea28e3a3a89c6607153e",
    "DomainDispatcherApplication.__call__": "7b12179deceda48da3436e5e5d98f2c368344f1907c849f70b08da1ff367bef6",
    "RequestParser._parse_shape": "86db10854efaf7e3818a4c4caa5d950837a5321e7f8e36ee2c7f3c5a47e0f9c0",
    "RequestParser._parse_list": "e2539182995b831ea551f1eb3d92f5b7eb0d85b9c4a33e9f81a5407b34fd4a80",
    "RequestParser._parse_map": "a9e8feb4d5519e24837f20fb213aab9716be576a5980ab2bfdf7becc2adab17b",
    "RequestParser._default_handle": "88c1ab7f9c988be8985903bd33db39d5e97423180beab34ee9cae7a61ef9b7f9",
    "BaseJSONParser._parse_structure": "2de165721ba4b69e183647dca9c845d553a6f077c004007ad676cec8f2b581dd",
    "JSONParser._do_parse": "77abadf4c188a20c0f3e8cf337cb249d98be8867066c0f260b2693b88465851c",
    "ResponseSerializer._serialize": "4eccca5bf02593efd2e425f7e1659871406ee6734ec1084ccd452885b7e89052",
    "ConditionExpressionParser.parse": "5c9b63c5f49ed5d5d644eb0ac7422fb3c2ac4bbd310374f4161686bc4e10c453",
    "Item.__init__": "d9c12b62cb921831aab9b2eb22ac24fbd600689064a0219ae3ffbe057ae4be74",
    "LimitedSizeDict.__setitem__": "d979580fdbe14f79f3216564e1385c4b3485db82bc88193326c467a037331e81",
    "DomainDispatcherApplication.infer_service_region_host": (
        "b4fac9b6aa6baef13071a246d6038ea1b0c5f3bc5ac6ca4b6d25ef9a51a2848e"
    ),
    # what the JSON serializer does with an AttributeValue, which _serialize's plain values skip
    "ResponseSerializer._serialize_type_structure": "f9b47068f40ce489e55e7a0bf78accec38597d27168dc3d095ac2fc18312d4a8",
    "ResponseSerializer._serialize_structure_member": (
        "437fdce43aa5ac844fb5fe22865b90d228b875b6b1787dc6bfdccad91968b3c0"
    ),
    "ResponseSerializer._default_serialize": "25ce8ddbb1a991c029a745f87eeaa360b697b69ba7295fb74143859a5233afb7",
    "BaseJSONSerializer._serialize_type_structure": "36873909cd0aeb4defa91cc9912c6e90a62d7d92ced6150ac7de92fd10a81967",
    "BaseJSONSerializer._serialize_type_map": "faa32d1fa9a8bfc9db0984b7973a5cc3297d35a2df33124748949b0908f6b6a9",
    "BaseJSONSerializer._serialize_type_list": "f87b14fe9166e099846349860a5e3c9d9984939d82ed0f67de07ad12e790cd26",
    "BaseJSONSerializer._serialize_type_string": "44954e02145012baee50de6592411c1376aad480ea3440a3b3ab6ce932bbf78d",
    # the condition parser whole: _parse_condition keeps its trees, whose value nodes alone hold a request's values
    "moto/dynamodb/comparisons.py": "db64ea9ba9afffaef9a9b1c0592cc9d99a143b159a2d8caa00089b5688c2732a",
}
_lean_installed = False


def request_sources() -> dict[str, str]:
    from moto.core import parse, serialize, utils
    from moto.dynamodb import comparisons
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import dynamo_to_dict
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    fns: dict[str, Any] = {
        "ResponseSerializer.get_value": serialize.ResponseSerializer.get_value,
        "AttributePicker.__call__": serialize.AttributePicker.__call__,
        "AttributePicker.get_possible_keys": serialize.AttributePicker.get_possible_keys,
        "XFormedAttributePicker.get_possible_keys": serialize.XFormedAttributePicker.get_possible_keys,
        "method_names_from_class": utils.method_names_from_class,
        "RequestParser._parse_shape": parse.RequestParser._parse_shape,
        "RequestParser._parse_list": parse.RequestParser._parse_list,
        "RequestParser._parse_map": parse.RequestParser._parse_map,
        "RequestParser._default_handle": parse.RequestParser._default_handle,
        "BaseJSONParser._parse_structure": parse.BaseJSONParser._parse_structure,
        "JSONParser._do_parse": parse.JSONParser._do_parse,
        "ResponseSerializer._serialize": serialize.ResponseSerializer._serialize,
        "Item.__init__": Item.__init__,
        "ConditionExpressionParser.parse": ConditionExpressionParser.parse,
        "LimitedSizeDict.__setitem__": LimitedSizeDict.__setitem__,
        "convert_to_flask_response.__call__": utils.convert_to_flask_response.__call__,
        "DomainDispatcherApplication.__call__": DomainDispatcherApplication.__call__,
        "DomainDispatcherApplication.infer_service_region_host": DomainDispatcherApplication.infer_service_region_host,
    }
    for owner in (serialize.ResponseSerializer, serialize.BaseJSONSerializer):
        for name in ("_serialize_type_structure", "_serialize_structure_member", "_default_serialize"):
            if name in owner.__dict__:
                fns[f"{owner.__name__}.{name}"] = owner.__dict__[name]
    for name in ("_serialize_type_map", "_serialize_type_list", "_serialize_type_string"):
        fns[f"BaseJSONSerializer.{name}"] = serialize.BaseJSONSerializer.__dict__[name]
    fns["dynamo_to_dict"] = dynamo_to_dict
    fns["moto/dynamodb/comparisons.py"] = comparisons  # the whole file
    return _source_hashes(fns)


_KEYS_ATTR = "_finview_member_keys"
_lean_on = True  # off only inside moto_own_path(), for tests and benches that compare both paths


@contextlib.contextmanager
def moto_own_path() -> Iterator[None]:
    """Serve requests by moto's own (Flask, full serializer) path while inside: to compare both in one process."""
    global _lean_on
    _lean_on = False
    try:
        yield
    finally:
        _lean_on = True


# Before the serializer, moto's DynamoDB handler turns its result into plain values (``dynamo_to_dict``): for every
# value of every item, a ladder of isinstance and hasattr checks (a quarter of a Query's handler, in cProfile). A
# DynamoType other than a binary one becomes {type: its value, converted}; a str, number, bool or None stays as it
# is; a list or a dict (moto's item dicts are dict subclasses without ``to_json``) is converted member by member.
# Those are taken by their exact type; anything else (binaries, datetimes, models with ``to_json``) goes to moto's.
_AS_THEY_ARE = frozenset((str, int, float, bool, type(None)))
_plain_dicts: dict[type[Any], bool] = {}  # class -> whether moto's dynamo_to_dict converts it as a dict


def _dynamo_to_dict(obj: Any) -> Any:
    """moto's ``dynamo_to_dict``, the same values, its checks done once per class."""
    if not _lean_on:
        return _ORIGINALS["dynamo_to_dict"](obj)
    kind = type(obj)
    if kind is _moto.DynamoType:
        value_type = obj.type
        if value_type != "B" and value_type != "BS":
            return {value_type: _dynamo_to_dict(obj.value)}
    elif kind in _AS_THEY_ARE:
        return obj
    elif kind is list:
        return [_dynamo_to_dict(v) for v in obj]
    else:
        as_dict = _plain_dicts.get(kind)
        if as_dict is None:
            as_dict = _plain_dicts[kind] = issubclass(kind, dict) and not hasattr(kind, "to_json")
        if as_dict:
            return {k: _dynamo_to_dict(v) for k, v in obj.items()}
    return _ORIGINALS["dynamo_to_dict"](obj)


def _serializer_get_value(self: Any, value: Any, key: str, shape: Any) -> Any:
    """moto's ``ResponseSerializer.get_value`` for a plain dict, with the candidate keys of the member computed
    once per shape; anything else (objects, dict subclasses, response transformers) takes moto's own path."""
    picker = self._value_picker
    if (
        not _lean_on
        or type(value) is not dict
        or not isinstance(picker, _moto.AttributePicker)
        or picker.response_transformers
        or picker.alias_providers is not _moto.DEFAULT_ALIAS_PROVIDERS
        or type(picker).get_possible_keys not in _PLAIN_KEY_FINDERS
    ):
        return _ORIGINALS["ResponseSerializer.get_value"](self, value, key, shape)
    per_shape = shape.__dict__.get(_KEYS_ATTR)
    if per_shape is None:
        per_shape = shape.__dict__[_KEYS_ATTR] = {}
    slot = (key, type(picker), getattr(shape, "parent", None))
    candidates = per_shape.get(slot)
    if candidates is None:
        context = _moto.AttributePickerContext(obj={}, key=key, shape=shape)
        candidates = per_shape[slot] = tuple(picker.get_possible_keys(context))
    for candidate in candidates:
        if "." in candidate:  # moto's get_value walks a dotted path
            found = _moto.get_value(value, candidate, _MISSING)
            if found is not _MISSING:
                return found
        elif candidate in value:
            return value[candidate]
    return None


_MISSING = object()
_PLAIN_KEY_FINDERS: set[Any] = set()


def lean_requests() -> bool:
    """Install the request-cost patches above once per process if moto is the pinned version."""
    global _lean_installed
    with _lock:
        if _lean_installed:
            return True
        import moto
        from moto.core import responses, serialize, utils

        if moto.__version__ != PINNED_MOTO or request_sources() != PINNED_REQUEST_SOURCES:
            log.warning("moto is not %s as pinned: its server serialises each response the long way", PINNED_MOTO)
            return False
        _import_moto_parts()
        _PLAIN_KEY_FINDERS.update(
            {serialize.AttributePicker.get_possible_keys, serialize.XFormedAttributePicker.get_possible_keys}
        )
        _ORIGINALS["ResponseSerializer.get_value"] = serialize.ResponseSerializer.get_value
        serialize.ResponseSerializer.get_value = _serializer_get_value  # type: ignore[method-assign]
        _ORIGINALS["method_names_from_class"] = utils.method_names_from_class
        responses.method_names_from_class = functools.lru_cache(maxsize=None)(utils.method_names_from_class)
        from moto.core import parse
        from moto.dynamodb.comparisons import ConditionExpressionParser
        from moto.dynamodb.models.dynamo_type import Item
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication

        for owner, name, replacement in (
            (parse.RequestParser, "_parse_shape", _parse_shape),
            (serialize.ResponseSerializer, "_serialize", _serialize),
            (Item, "__init__", _item_init),
            (ConditionExpressionParser, "parse", _parse_condition),
        ):
            _ORIGINALS[f"{owner.__name__}.{name}"] = owner.__dict__[name]
            setattr(owner, name, replacement)
        _ORIGINALS["DomainDispatcherApplication.__call__"] = DomainDispatcherApplication.__call__
        DomainDispatcherApplication.__call__ = _dispatch  # type: ignore[method-assign]
        import moto.dynamodb.responses as dynamodb_responses

        _ORIGINALS["dynamo_to_dict"] = dynamodb_responses.dynamo_to_dict
        dynamodb_responses.dynamo_to_dict = _dynamo_to_dict
        _lean_installed = True
        return True


# ---- A response's request id: written where moto's XML has one, not searched for in every body ----------------------
#
# moto 5.2 puts its request id into every response body with ``re.sub(r"(?<=<RequestId>).*(?=<\/RequestId>)", …)``
# (``BaseResponse._enrich_response``): a scan of the whole body, with a look-behind tried at every character, for
# the JSON bodies too, which never hold that tag. SQS's ReceiveMessage answers carry up to ten events of tens of
# KB each: a sixteenth of moto's non-DynamoDB process on the reminder chain. The look-behind needs the literal
# ``<RequestId>`` before a match, so a body without it (or one that is not a string, where moto's ``re.sub`` raises
# and is ignored) comes back unchanged: moto's substitution runs only on a string body holding the tag.

PINNED_RESPONSE_ID_SOURCES = {
    "BaseResponse._enrich_response": "86cd4a4051dd20e836fcc671792a66d3715be4c4f963705b2ae5f400bf0259d7",
}
_response_ids_installed = False


def response_id_sources() -> dict[str, str]:
    from moto.core.responses import BaseResponse

    return _source_hashes(_class_members(PINNED_RESPONSE_ID_SOURCES, {"BaseResponse": BaseResponse}))


def _enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
    """moto's ``BaseResponse._enrich_response``, its substitution only where it can change the body."""
    if isinstance(body, str) and "<RequestId>" in body:
        return _ORIGINALS["BaseResponse._enrich_response"](headers, body)  # type: ignore[no-any-return]
    if "status" in headers:
        headers["status"] = str(headers["status"])
    _moto.responses.gen_amzn_requestid_long(headers)  # moto's request id header, as its own sets it
    return headers, body


def request_ids_where_tagged() -> bool:
    """Install once per process if moto is the pinned version; returns whether it is."""
    global _response_ids_installed
    with _lock:
        if _response_ids_installed:
            return True
        import moto
        from moto.core.responses import BaseResponse

        if moto.__version__ != PINNED_MOTO or response_id_sources() != PINNED_RESPONSE_ID_SOURCES:
            log.warning("moto is not %s as pinned: it searches every response body for a request id", PINNED_MOTO)
            return False
        from moto.core import responses

        _moto.responses = responses
        _ORIGINALS["BaseResponse._enrich_response"] = BaseResponse.__dict__["_enrich_response"].__func__
        BaseResponse._enrich_response = staticmethod(_enrich_response)  # type: ignore[method-assign,assignment]
        _response_ids_installed = True
        return True


# X-Amz-Target prefix -> the service in the request's SigV4 credential scope (how moto routes it)
_JSON_TARGETS = {"DynamoDB_20120810": "dynamodb", "AmazonSQS": "sqs", "AWSEvents": "events"}
# REST-JSON routes without path parameters (POST, path -> the service in the credential scope): SES v2's
# SendEmail, every e-mail notifications sends
_REST_ROUTES = {"/v2/email/outbound-emails": "ses"}
_handlers: dict[str, Callable[..., Any]] = {}
stats["fast_requests"] = 0


def _direct_service(environ: dict[str, Any]) -> str | None:
    """The handler's key (the JSON service, or the REST route's service and path) of a request that can skip Flask;
    None when it takes moto's whole path."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    path: str = environ.get("PATH_INFO") or ""
    if (
        environ.get("REQUEST_METHOD") != "POST"
        or environ.get("QUERY_STRING")
        or "HTTP_ORIGIN" in environ  # CORS adds headers: Flask's path
    ):
        return None
    if target:
        service = _JSON_TARGETS.get(target.partition(".")[0]) if path == "/" else None
        key = service
    else:
        service = _REST_ROUTES.get(path)
        key = f"{service} {path}"
    try:  # as moto's infer_service_region_host reads it: "AWS4-HMAC-SHA256 Credential=key/date/region/service/..."
        scope = environ["HTTP_AUTHORIZATION"].split(",")[0].split()[1].split("/")
    except (KeyError, IndexError):
        return None
    if service is None or len(scope) != 5 or scope[3].lower() != service:
        return None
    return key


def _handler(app: Any, environ: dict[str, Any], service: str) -> Callable[..., Any] | None:
    """moto's handler for ``POST /`` of a service (or a REST route's path), found by its own Flask routing, once."""
    handler = _handlers.get(service)
    if handler is None:
        from moto.core.utils import convert_to_flask_response

        flask_app = app.get_application(environ)
        try:
            endpoint, args = flask_app.url_map.bind_to_environ(environ).match()
        except Exception:  # werkzeug's NotFound / MethodNotAllowed: let Flask answer it
            return None
        view = flask_app.view_functions.get(endpoint)
        if args or not isinstance(view, convert_to_flask_response):
            return None
        handler = _handlers[service] = view.callback
    return handler


def _dispatch(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
    service = _direct_service(environ) if _lean_on else None
    handler = _handler(self, environ, service) if service else None
    if handler is None:
        return _ORIGINALS["DomainDispatcherApplication.__call__"](self, environ, start_response)
    stats["fast_requests"] += 1
    # what convert_to_flask_response.__call__ does, with moto's Request made from the WSGI environ
    request = _moto.ServerRequest(environ)
    _moto.recorder._record_request(request)
    try:
        result = handler(request, request.raw_url, dict(request.headers))
    except _moto.ClientError as exc:
        result = 400, {}, exc.response["Error"]["Message"]
    if len(result) == 3:
        status, headers, content = result
    else:
        status, headers, content = 200, {}, result
    return _moto.Response(response=content, status=status, headers=headers)(environ, start_response)


def _server_request() -> type[Any]:
    from moto.core.request import Request

    class ServerRequest(Request):
        """moto's Request as its server makes it (``BackendRequest`` without Flask's parts)."""

        from_wsgi_server = True

    return ServerRequest


# What the patches above use of moto, flask and botocore, imported once (an import statement in a function that
# runs for every value of every response was a fifth of a Query's serialisation).
_moto = types.SimpleNamespace()


def _import_moto_parts() -> None:
    from botocore.exceptions import ClientError
    from flask import Response
    from moto.core.parse import JSONParser
    from moto.core.serialize import DEFAULT_ALIAS_PROVIDERS, AttributePicker, AttributePickerContext, JSONSerializer
    from moto.core.utils import get_value
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize
    from moto.moto_api import recorder

    _moto.__dict__.update(
        ClientError=ClientError,
        Response=Response,
        DEFAULT_ALIAS_PROVIDERS=DEFAULT_ALIAS_PROVIDERS,
        JSONParser=JSONParser,
        JSONSerializer=JSONSerializer,
        AttributePicker=AttributePicker,
        AttributePickerContext=AttributePickerContext,
        get_value=get_value,
        ItemSizeTooLarge=ItemSizeTooLarge,
        DynamoType=DynamoType,
        LimitedSizeDict=LimitedSizeDict,
        bytesize=bytesize,
        recorder=recorder,
        ServerRequest=_server_request(),
    )


_type_methods: dict[tuple[type[Any], str], Any] = {}


def _method_for(obj: Any, prefix: str, type_name: str) -> Any:
    """The function ``getattr(obj, prefix + type_name)`` would bind, or None; once per (class, type)."""
    slot = (type(obj), prefix + type_name)
    try:
        return _type_methods[slot]
    except KeyError:
        fn = _type_methods[slot] = getattr(type(obj), prefix + type_name, None)
        return fn


def _parse_shape(self: Any, shape: Any, node: Any) -> Any:
    """moto's ``RequestParser._parse_shape``: the ``_parse_<type>`` method, else ``_default_handle``."""
    if not _lean_on:
        return _ORIGINALS["RequestParser._parse_shape"](self, shape, node)
    plain = shape.__dict__.get(_PLAIN_ATTR)
    if plain is None:
        plain = shape.__dict__[_PLAIN_ATTR] = _is_attribute_value(shape)
    if plain and type(self) is _moto.JSONParser and self.MAP_TYPE is dict and _plain_value(node):
        return node
    fn = _method_for(self, "_parse_", shape.type_name)
    if fn is None:
        return self._default_handle(shape, node)
    return fn(self, shape, node)


# A DynamoDB AttributeValue without a binary value parses to itself: moto's JSON parser walks the ten members of
# its shape for every value (and for every value in a map or list), and returns, for each member present and not
# null, the string, number string, boolean or list of strings as it came (``_default_handle``), a map or list of
# values parsed the same way; only ``B``/``BS`` change (base64 decoded). So a value of one non-null member other
# than those (maps and lists checked all the way down) is returned as it is: a fifth of a BatchWriteItem's CPU.
_PLAIN_ATTR = "_finview_plain_attribute_value"
_AS_IS = frozenset(("S", "N", "NULL", "BOOL"))
_STRING_LISTS = frozenset(("SS", "NS"))
_ATTRIBUTE_VALUE_MEMBERS = {
    "S": "string",
    "N": "string",
    "B": "blob",
    "SS": "list",
    "NS": "list",
    "BS": "list",
    "M": "map",
    "L": "list",
    "NULL": "boolean",
    "BOOL": "boolean",
}


def _is_attribute_value(shape: Any) -> bool:
    """Whether ``shape`` is DynamoDB's AttributeValue, as the pinned parser and botocore's model have it."""
    if shape.type_name != "structure" or shape.name != "AttributeValue":
        return False
    members = shape.members
    if {name: m.type_name for name, m in members.items()} != _ATTRIBUTE_VALUE_MEMBERS:
        return False
    if any(m.serialization.get("name", name) != name for name, m in members.items()):
        return False
    return (
        members["SS"].member.type_name == "string"
        and members["NS"].member.type_name == "string"
        and members["M"].key.type_name == "string"
        and members["M"].value.name == "AttributeValue"
        and members["L"].member.name == "AttributeValue"
    )


def _plain_value(node: Any) -> bool:
    """Whether moto's parser would return this AttributeValue node unchanged (an equal copy)."""
    if type(node) is not dict or len(node) != 1:
        return False
    for kind, value in node.items():
        if value is None:
            return False
        if kind in _AS_IS:
            return True
        if kind == "M":
            return type(value) is dict and all(type(k) is str and _plain_value(v) for k, v in value.items())
        if kind == "L":
            return type(value) is list and all(_plain_value(v) for v in value)
        if kind in _STRING_LISTS:
            return type(value) is list
    return False


# The same for a response: moto's JSON serializer rebuilds each AttributeValue of an item member by member (a third
# of a Query page's CPU), and one of a single member that is a string, a number string, a boolean, a list of
# strings, or a map or list of such values, comes out equal to what went in (``str`` of a string is itself, a
# boolean is kept, maps keep their order). Only binary values change (base64 encoded), and a value of another
# Python type is converted, so only exact types are taken as they are.
def _plain_output(node: Any) -> bool:
    """Whether moto's JSON serializer would write this AttributeValue as an equal copy of it."""
    if type(node) is not dict or len(node) != 1:
        return False
    for kind, value in node.items():
        if kind == "S" or kind == "N":
            return type(value) is str
        if kind == "NULL" or kind == "BOOL":
            return type(value) is bool
        if kind == "M":
            return type(value) is dict and all(type(k) is str and _plain_output(v) for k, v in value.items())
        if kind == "L":
            return type(value) is list and all(_plain_output(v) for v in value)
        if kind in _STRING_LISTS:
            return type(value) is list and all(type(v) is str for v in value)
    return False


def _serialize(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
    """moto's ``ResponseSerializer._serialize``: the ``_serialize_type_<type>`` method, else ``_default_serialize``,
    with the serializer's path kept as moto keeps it."""
    if not _lean_on:
        return _ORIGINALS["ResponseSerializer._serialize"](self, serialized, value, shape, key)  # type: ignore[no-any-return]
    plain = shape.__dict__.get(_PLAIN_ATTR)
    if plain is None:
        plain = shape.__dict__[_PLAIN_ATTR] = _is_attribute_value(shape)
    if plain and type(self) is _moto.JSONSerializer and self.MAP_TYPE is dict and _plain_output(value):
        self._default_serialize(serialized, value, shape, key)  # what moto's walk of its members would build
        return None
    fn = _method_for(self, "_serialize_type_", shape.type_name)
    self.path.append(key or shape.name)
    if fn is None:
        self._default_serialize(serialized, value, shape, key)
    else:
        fn(self, serialized, value, shape, key)
    self.path.pop()
    return None


def _item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
    """moto's ``Item.__init__`` with the 405,000-byte check done once on the whole item."""
    if not _lean_on:
        return _ORIGINALS["Item.__init__"](self, hash_key, range_key, attrs)  # type: ignore[no-any-return]
    self.hash_key = hash_key
    self.range_key = range_key
    values = _moto.LimitedSizeDict()
    for name, value in attrs.items():
        dict.__setitem__(values, name, _moto.DynamoType(value))
    bytesize = _moto.bytesize
    if sum(bytesize(name) + value.size() for name, value in values.items()) > 405000:
        raise _moto.ItemSizeTooLarge
    self.attrs = values
    return None


_conditions: dict[tuple[Any, ...], tuple[Any, list[str], list[str], Any]] = {}
CONDITIONS_KEPT = 4096


def _condition_tree(self: Any) -> Any:
    """moto's ``ConditionExpressionParser.parse`` up to its syntax tree, step for step (pinned)."""
    nodes = self._lex_condition_expression()
    nodes = self._parse_paths(nodes)
    nodes = self._apply_functions(nodes)
    nodes = self._apply_comparator(nodes)
    nodes = self._apply_in(nodes)
    nodes = self._apply_between(nodes)
    nodes = self._apply_parens_and_booleans(nodes)
    node = nodes[0]
    self._assert_no_redundant_parentheses(node)
    return node


def _with_values(self: Any, node: Any) -> Any:
    """The tree with this request's value in each ``:value`` node, looked up as moto's parser looks it up. Only the
    nodes above a value node are new; a subtree without one is the kept tree's own (moto's ``_make_op_condition``
    reads a tree, never changes it), and a node is built as ``_replace`` builds it, without its detour through
    ``_make`` and a dict of changes (a fifth of an Update entry's condition check, twice a transaction entry)."""
    nonterminal, kind, text, value, children = node
    if kind == "EXPRESSION_ATTRIBUTE_VALUE":
        value = self._lookup_expression_attribute_value(text)
    elif not children:
        return node
    else:
        changed = [_with_values(self, child) for child in children]
        if all(new is old for new, old in zip(changed, children, strict=True)):
            return node
        children = changed
    return tuple.__new__(type(node), (nonterminal, kind, text, value, children))


def _parse_condition(self: Any) -> Any:
    """moto's ``ConditionExpressionParser.parse``, its syntax tree kept per (expression, names): a request's
    values are put into the kept tree's ``:value`` nodes, the only nodes that hold them (the parser's other steps
    look at a value node's kind only), and moto's own ``_make_op_condition`` builds the condition from it. A
    conditional write of each item with its own values (``#v = :v``) parsed its text again for every item."""
    original = _ORIGINALS["ConditionExpressionParser.parse"]
    if not _lean_on or not self.condition_expression:
        return original(self)
    names = self.expression_attribute_names
    key = (self.condition_expression, tuple(names.items()) if names else ())
    kept = _conditions.get(key)
    if kept is None:
        node = _condition_tree(self)  # raises on a bad expression or a missing name or value: nothing kept
        found_names, found_values = self._find_literals(node), self._find_expr_attr_values(node)
        op = None if found_values else self._make_op_condition(node)  # without values the condition is the same
        if len(_conditions) >= CONDITIONS_KEPT:
            _conditions.clear()
        _conditions[key] = kept = (node, found_names, found_values, op)
        stats["conditions_parsed"] += 1
    node, found_names, found_values, op = kept
    self.expr_attr_names_found.extend(found_names)
    self.expr_attr_values_found.extend(found_values)
    return op if op is not None else self._make_op_condition(_with_values(self, node))


stats["conditions_parsed"] = 0


# ---- moto's memory: the instances it keeps for its dashboard -------------------------------------------------------
#
# moto appends every instance of every model class to a class-level list, ``instances_tracked``, for its dashboard
# (``/moto-api/data.json``) and S3's reset: each DynamoDB Item ever built (every version of every item, and the
# copies of each transaction's undo log), each SQS message ever sent. The backends drop a deleted message or a
# replaced item; that list never does, for as long as the server runs. So the local stack's memory grew with every
# write and every event delivered, and a second import round added as much as the first. Here the list holds its
# instances weakly: what a backend still holds is listed as before, in creation order (the dashboard shows the live
# state; SES's sent messages, which the local stack reads there, are held by SES's backend), and what every backend
# dropped is freed. And the dashboard answers ``?service=ses`` with that service's models only: the local stack and
# the tests read SES's sent messages there, and the whole dashboard of a long test session took seconds per read.

PINNED_TRACKING_SOURCES = {
    "BaseModel.__new__": "08cf0ef20e88029a2eb91949492ce3281001a34b98143db186239962ad379eec",
    "InstanceTrackerMeta.__new__": "bee162e12b56986ce029664fd87c4dc5ce76de919f732a86bc665911539d68ee",
    "reset_model_data": "4a510e716295498976f53e61a8982c0f2834f352341149a3dbbb649292153ed1",
    "MotoAPIResponse.model_data": "6bd26e9787fa6e70e22666cb58a7f555e459ed26cad6480b297c627582471ee1",
}
_tracking_installed = False


def tracking_sources() -> dict[str, str]:
    from moto.core import model_instances
    from moto.core.base_backend import InstanceTrackerMeta
    from moto.core.common_models import BaseModel
    from moto.moto_api._internal.responses import MotoAPIResponse

    return _source_hashes(
        {
            "BaseModel.__new__": BaseModel.__dict__["__new__"],
            "InstanceTrackerMeta.__new__": InstanceTrackerMeta.__new__,
            "reset_model_data": model_instances.reset_model_data,
            "MotoAPIResponse.model_data": MotoAPIResponse.model_data,
        }
    )


class LiveInstances:
    """``instances_tracked`` as moto uses it (append, iterate), holding weak references: the live instances, in
    creation order. An instance that cannot be weakly referenced is kept, as moto keeps it."""

    __slots__ = ("__weakref__", "_refs")

    def __init__(self, existing: Any = ()) -> None:
        self._refs: dict[int, Callable[[], Any]] = {}
        for instance in existing:
            self.append(instance)

    def append(self, instance: Any) -> None:
        key = id(instance)
        try:
            self._refs[key] = weakref.ref(instance, functools.partial(_forget, weakref.ref(self), key))
        except TypeError:
            self._refs[key] = functools.partial(_held, instance)

    def __iter__(self) -> Iterator[Any]:
        for ref in list(self._refs.values()):
            instance = ref()
            if instance is not None:
                yield instance

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _forget(owner: Any, key: int, ref: Any) -> None:
    tracked = owner()
    if tracked is not None and tracked._refs.get(key) is ref:
        del tracked._refs[key]


def _held(instance: Any) -> Any:
    return instance


def _model_data(self: Any, request: Any, full_url: str, headers: Any) -> Any:
    """moto's dashboard data (its loop, as pinned); with ``?service=<name>``, of that service's models only."""
    from urllib.parse import parse_qs, urlparse

    from moto.core.model_instances import model_data

    wanted = parse_qs(urlparse(full_url).query).get("service")
    if not wanted:
        return _ORIGINALS["MotoAPIResponse.model_data"](self, request, full_url, headers)
    results: dict[str, dict[str, list[Any]]] = {}
    for service in sorted(s for s in model_data if s in wanted):
        models = model_data[service]
        results[service] = {}
        for name in sorted(models):
            results[service][name] = []
            for instance in models[name].instances_tracked:  # type: ignore[attr-defined]
                inst_result = {}
                for attr in dir(instance):
                    if not attr.startswith("_"):
                        try:
                            json.dumps(getattr(instance, attr))
                        except (TypeError, AttributeError, ValueError):
                            pass
                        else:
                            inst_result[attr] = getattr(instance, attr)
                results[service][name].append(inst_result)
    return 200, {"Content-Type": "application/javascript"}, json.dumps(results)


def weakly_tracked_models() -> bool:
    """Install once per process if moto is the pinned version; returns whether it is."""
    global _tracking_installed
    with _lock:
        if _tracking_installed:
            return True
        import moto
        from moto.core.common_models import BaseModel

        if moto.__version__ != PINNED_MOTO or tracking_sources() != PINNED_TRACKING_SOURCES:
            log.warning("moto is not %s as pinned: it keeps every model instance it ever made", PINNED_MOTO)
            return False

        from moto.dynamodb.models.dynamo_type import Item

        def new(cls: Any, *args: Any, **kwargs: Any) -> Any:
            instance = super(BaseModel, cls).__new__(cls)  # what BaseModel.__new__'s super().__new__(cls) calls
            if cls is Item:  # every version of every item: ~330 bytes each even weakly, and nobody lists them
                return instance
            tracked = cls.instances_tracked
            if not isinstance(tracked, LiveInstances):  # a new class, or moto's reset gave it a fresh list
                tracked = cls.instances_tracked = LiveInstances(tracked)
            tracked.append(instance)
            return instance

        _ORIGINALS["BaseModel.__new__"] = BaseModel.__dict__["__new__"]
        BaseModel.__new__ = staticmethod(new)  # type: ignore[method-assign,assignment]
        from moto.moto_api._internal.responses import MotoAPIResponse

        _ORIGINALS["MotoAPIResponse.model_data"] = MotoAPIResponse.model_data
        MotoAPIResponse.model_data = _model_data  # type: ignore[method-assign]
        _tracking_installed = True
        return True


# ---- moto's memory: DynamoDB items kept packed ---------------------------------------------------------------------
#
# moto keeps each stored item as an ``Item`` holding a dict of ``DynamoType`` objects, one per attribute and per
# nested value, each with its own copy of the strings parsed from the request: ~3.2 KB for a 10-attribute item
# whose DynamoDB JSON is ~380 bytes (measured with tracemalloc, 20,000 items). A 100k-row import stores ~2M items,
# so moto's process alone outgrew the local stack's memory budget several times over. Here an item's attributes are
# kept as one bytes object (``_pack``: its values, marshalled) once it has not been used for a while, and unpacked
# into moto's own ``DynamoType`` objects on the next access: moto's code sees the same ``item.attrs`` it always
# did. Packing happens only between DynamoDB operations (under the serialising lock, after the outermost one
# returns), so no operation ever holds attributes that are packed away under it; the ``PACKED_AFTER`` most recently
# unpacked items stay unpacked, so a working set costs nothing. Unpacking takes the same lock: a response being
# written outside it never races a write.

PINNED_PACKING_SOURCES = {
    "Item.__init__": "d9c12b62cb921831aab9b2eb22ac24fbd600689064a0219ae3ffbe057ae4be74",
    "Item.__deepcopy__": "7621d16ad7ce49d93f1da0ff2a799ec0ca57b34d30249ef65bc2557c2acc5168",
    "DynamoType.__init__": "7c6cde92e1149bfe3b61d6b5667a943232829bbbb9760c5bd0655479b8d570b9",
    "DynamoType.to_json": "62eaa03febd15b265a19d9b5e5431df5d4ab880af1124ca32ffb4a8ca9075410",
}
PACKED_AFTER = int(os.environ.get("FINVIEW_MOTO_UNPACKED_ITEMS", "20000"))  # items kept unpacked, newest first
_packing_installed = False
# id(item) -> item, oldest unpacking first; weakly, so a replaced or deleted item is freed at once
_unpacked: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
stats["packed"] = stats["unpacked"] = stats["packed_unchanged"] = 0

# Packed items go to a disk store (``_DiskStore``) unless FINVIEW_MOTO_PACKED_ON_DISK=0: the packed bytes were
# ~230 of the ~800 bytes moto held per packed item, and a 100k-row import stores ~1.4M items. A packed item's
# attributes are then the number of its row (an int); rows are numbered in the order they are first written, so
# the store appends (a row keyed by the item's address went to a random place of a file larger than SQLite's
# cache: a read and a write of a page per item, +17 % of a BatchWriteItem's CPU).
_disk: _DiskStore | None = None
_disk_writes = True  # False once the store failed to write: packed items stay in memory from then on
_last_row = 0  # rows are never renumbered nor reused
_freed: list[int] = []  # rows of freed items: deleted at the next packing
FREED_BATCH = 1024
PACK_SLACK = 64  # the window may hold PACKED_AFTER // PACK_SLACK items more before it is packed back (~1.6 %)
DISK_CACHE_KB = 2048  # SQLite's own page cache (in this process's memory); the kernel caches the rest


def packing_sources() -> dict[str, str]:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    return _source_hashes(
        {
            "Item.__init__": Item.__dict__["__init__"],
            "Item.__deepcopy__": Item.__deepcopy__,
            "DynamoType.__init__": DynamoType.__init__,
            "DynamoType.to_json": DynamoType.to_json,
        }
    )


def _plain(value: Any) -> dict[str, Any]:
    """A ``DynamoType`` as the DynamoDB JSON it was built from (``DynamoType(_plain(v)) == v``), raw values kept."""
    inner = value.value
    if isinstance(inner, dict):
        return {value.type: {name: _plain(v) for name, v in inner.items()}}
    if isinstance(inner, list) and value.type == "L":
        return {value.type: [_plain(v) for v in inner]}
    return {value.type: inner}


def _attrs(self: Any) -> Any:
    # One instance attribute holds either form, so Python keeps the instance's compact key-sharing layout
    found = self._finview_attrs
    if type(found) is not bytes and type(found) is not int:
        return found
    with _lock:
        found = self._finview_attrs
        if type(found) is bytes or type(found) is int:
            from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

            if type(found) is int:
                packed = _disk.read(found)  # type: ignore[union-attr]
                attrs = _from_disk_class()()  # its row stays until the item is packed again or freed
                attrs.row = found
            else:
                packed = found
                attrs = LimitedSizeDict.__new__(LimitedSizeDict)
                dict.__init__(attrs)
            for name, value in _unpack(self, packed, DynamoType):
                dict.__setitem__(attrs, name, value)
            self._finview_attrs = found = attrs
            _unpacked[id(self)] = self
            stats["unpacked"] += 1
        return found


def _set_attrs(self: Any, value: Any) -> None:
    row = _row_of(self)
    if row:
        _freed.append(row)  # the row no longer says what the item holds
    self._finview_attrs = value
    _unpacked[id(self)] = self


def _row_of(item: Any) -> int:
    """The item's row in the disk store (packed there, or unpacked from it since), else 0."""
    found = getattr(item, "_finview_attrs", None)
    if type(found) is int:
        return found
    if _from_disk_type is not None and isinstance(found, _from_disk_type):
        return found.row  # type: ignore[no-any-return]
    return 0


def _changed(item: Any) -> None:
    """Mark an item unpacked from the disk store as changed since: its row no longer says what it holds, and
    packing it again writes it. moto changes a stored item in place only in ``update_item`` (a transaction's
    Update included), which calls this whatever the outcome; every other write stores a new Item."""
    found = getattr(item, "_finview_attrs", None)
    if _from_disk_type is not None and type(found) is _from_disk_type:
        found.__class__ = _changed_type


def _item_freed(self: Any) -> None:
    """``Item.__del__``: the row of a freed item is deleted at the next packing (nothing reads it meanwhile: rows
    are never reused). Only appends: it may run on any thread, lock held or not."""
    row = _row_of(self)
    if row:
        _freed.append(row)


def _pack_oldest() -> None:
    """Pack the items unpacked longest ago, beyond the newest ``PACKED_AFTER`` (called with the lock held).

    In batches: once the window holds a ``PACK_SLACK``-th more than ``PACKED_AFTER``, all of the excess at once (a
    full window otherwise packed one item after every operation, each its own write to the disk store), and the
    rows of freed items once ``FREED_BATCH`` of them wait (they were deleted at every packing)."""
    if len(_freed) >= FREED_BATCH:
        _forget_freed()
    excess = len(_unpacked) - PACKED_AFTER
    if excess <= 0 or excess < PACKED_AFTER // PACK_SLACK:
        return
    try:
        oldest = list(itertools.islice(_unpacked.keys(), excess))
    except RuntimeError:
        # Another thread recorded an item meanwhile: moto's UpdateItem handler deep-copies the stored item outside
        # the lock, and the copy records itself here. The walk then failed with "dictionary changed size during
        # iteration", after this request's operation had been applied: moto answered 500, the client's retry of
        # the write it had applied found its condition failed, and the API answered 500 (one in 400 writes at
        # 10k rows). Packing is housekeeping: the next operation packs.
        return
    global _last_row
    packed: list[tuple[Any, int, bytes]] = []
    for key in oldest:
        item = _unpacked.pop(key, None)
        if item is None:
            continue
        attrs = item._finview_attrs
        if type(attrs) is bytes or type(attrs) is int:
            continue
        if type(attrs) is _from_disk_type and _scalable_installed:
            item._finview_attrs = attrs.row  # read, not changed: its row still says what it holds
            stats["packed_unchanged"] += 1
            continue
        try:
            body = _pack(item, attrs)
        except ValueError:  # a value marshal cannot hold: the item stays as moto keeps it
            continue
        packed.append((item, _row_of(item), body))  # a changed item keeps its row
    if _disk is not None and _disk_writes and packed:
        rows = []
        for _item, row, body in packed:
            if not row:
                _last_row += 1
                row = _last_row
            rows.append((row, body))
        try:
            _disk.write(rows)
        except Exception:  # a full or failing disk: keep the bytes in memory from now on
            log.exception("moto's packed items stay in memory: the disk store failed")
            _close_disk()
        else:
            for (item, _, _), (row, _) in zip(packed, rows, strict=True):
                item._finview_attrs = row
            stats["packed"] += len(packed)
            return
    for item, row, body in packed:
        if row:
            _freed.append(row)
        item._finview_attrs = body
    stats["packed"] += len(packed)


def _forget_freed() -> None:
    rows: list[int] = []
    while _freed:
        rows.append(_freed.pop())
    if rows and _disk is not None:
        try:
            _disk.delete(rows)
        except Exception:  # housekeeping: a row left behind is never read (rows are not reused)
            log.exception("moto's disk store kept rows of freed items")


_from_disk_type: type[Any] | None = None
_changed_type: type[Any] | None = None


def _from_disk_class() -> type[Any]:
    """moto's ``LimitedSizeDict`` as the attributes of an item unpacked from the disk store: its type says that
    the item still has a row there, and whether the item changed since (no attribute more per item)."""
    global _from_disk_type, _changed_type
    if _from_disk_type is None:
        from moto.dynamodb.models.dynamo_type import LimitedSizeDict

        class FromDisk(LimitedSizeDict):  # type: ignore[misc]
            __slots__ = ("row",)

            def __init__(self) -> None:
                dict.__init__(self)

        class ChangedSinceRead(FromDisk):  # type: ignore[misc]
            __slots__ = ()  # the same layout: an instance's class is switched to it in place

        _from_disk_type, _changed_type = FromDisk, ChangedSinceRead
    return _from_disk_type


class _DiskStore:
    """The packed items beyond the window, one row each, numbered as first written: in a SQLite file in this
    process's temp directory, as DynamoDB Local keeps its items. What the kernel caches of the file is page
    cache, not this process's memory; SQLite's own cache is capped. The file is unlinked as soon as it is open, so
    it goes with the process however that ends; it holds nothing that must outlive it (moto's tables are in
    memory). No journal, no sync: the file is never read by another process or after a crash."""

    def __init__(self) -> None:
        import sqlite3
        import tempfile

        fd, path = tempfile.mkstemp(prefix="finview-moto-items-", suffix=".sqlite")
        os.close(fd)
        try:
            self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        finally:
            os.unlink(path)
        for pragma in ("journal_mode = OFF", "synchronous = OFF", f"cache_size = -{DISK_CACHE_KB}"):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.execute("CREATE TABLE packed (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")

    def read(self, key: int) -> bytes:
        row = self.db.execute("SELECT body FROM packed WHERE id = ?", (key,)).fetchone()
        if row is None:
            raise LookupError(f"moto's disk store has no row {key}")
        return row[0]  # type: ignore[no-any-return]

    def write(self, rows: list[tuple[int, bytes]]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO packed (id, body) VALUES (?, ?)", rows)

    def delete(self, rows: list[int]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("DELETE FROM packed WHERE id = ?", [(i,) for i in rows])

    def rows(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM packed").fetchone()[0])


def _open_disk() -> None:
    global _disk
    if _disk is None and os.environ.get("FINVIEW_MOTO_PACKED_ON_DISK", "1") != "0":
        try:
            _disk = _DiskStore()
        except Exception:  # no temp directory to write: packed items stay in memory
            log.exception("moto's packed items stay in memory: no disk store")


def _close_disk() -> None:
    """Stop writing to the disk store; the items it holds are still read from it."""
    global _disk_writes
    _disk_writes = False


def packed_form(item: Any) -> bytes | None:
    """The packed bytes of a stored item (from memory or the disk store), or None while it is unpacked."""
    found = getattr(item, "_finview_attrs", None)
    if type(found) is bytes:
        return found
    if type(found) is int and _disk is not None:
        with _lock:
            return _disk.read(found)
    return None


# The packed form. What items of one kind share is kept once, not in every item: an item's attribute names and
# types, in order (its *shape*, numbered in ``_shapes``), and its key attributes, whose values the ``Item`` holds
# anyway (``hash_key``, ``range_key``). The bytes hold the rest: the plain values, marshalled, and compressed when
# that saves a fifth (an audit entry's text, a staged row). 475 → 193 bytes on average for the items of an import
# (bench/bench_moto_items.py). The first byte says which form follows:
_PLAIN, _COMPRESSED, _WHOLE = 0, 1, 2  # + shape number + values; + shape number + zlib(values); + the whole item
_HASH, _RANGE = "hash", "range"  # in a shape: this attribute is the item's hash (range) key, held by the Item
MAX_SHAPES = 65536  # numbered in two bytes; an item of a new shape past that is packed whole
COMPRESS_FROM = 128  # bytes of marshalled values; below that zlib's header eats what it saves
_shapes: dict[tuple[tuple[str, str], ...], int] = {}
_shape_list: list[tuple[tuple[str, str], ...]] = []


def _is_key(value: Any, key: Any) -> bool:
    """Whether an attribute is the item's key as stored, to the very value (a number "1.0" is not a key "1")."""
    return (
        key is not None
        and value.type == key.type
        and type(value.value) is type(key.value)
        and bool(value.value == key.value)
    )


def _pack(item: Any, attrs: dict[str, Any]) -> bytes:
    shape = []
    values = []
    for name, value in attrs.items():
        if _is_key(value, item.hash_key):
            shape.append((name, _HASH))
        elif _is_key(value, item.range_key):
            shape.append((name, _RANGE))
        else:
            shape.append((name, value.type))
            inner = value.value
            if isinstance(inner, dict):
                inner = {k: _plain(v) for k, v in inner.items()}
            elif isinstance(inner, list) and value.type == "L":
                inner = [_plain(v) for v in inner]
            values.append(inner)
    key = tuple(shape)
    number = _shapes.get(key)
    if number is None:
        if len(_shape_list) >= MAX_SHAPES:
            return bytes((_WHOLE,)) + _marshal.dumps({name: _plain(value) for name, value in attrs.items()})
        number = _shapes[key] = len(_shape_list)
        _shape_list.append(key)
    packed = _marshal.dumps(tuple(values))
    if len(packed) >= COMPRESS_FROM:
        compressed = zlib.compress(packed, 1)
        if len(compressed) * 5 <= len(packed) * 4:
            return bytes((_COMPRESSED,)) + number.to_bytes(2, "little") + compressed
    return bytes((_PLAIN,)) + number.to_bytes(2, "little") + packed


def _unpack(item: Any, packed: bytes, dynamo_type: type[Any]) -> Iterator[tuple[str, Any]]:
    """The (name, DynamoType) pairs of a packed item, in their order."""
    form = packed[0]
    if form == _WHOLE:
        for name, value in _marshal.loads(packed[1:]).items():
            yield name, dynamo_type(value)
        return
    shape = _shape_list[int.from_bytes(packed[1:3], "little")]
    body = packed[3:] if form == _PLAIN else zlib.decompress(packed[3:])
    values = iter(_marshal.loads(body))
    for name, kind in shape:
        if kind == _HASH:
            yield name, dynamo_type(item.hash_key)  # a copy, as moto's attrs and keys are distinct objects
        elif kind == _RANGE:
            yield name, dynamo_type(item.range_key)
        else:
            yield name, dynamo_type({kind: next(values)})


def packed_items() -> bool:
    """Install once per process if moto is the pinned version; returns whether it is."""
    global _packing_installed
    with _lock:
        if _packing_installed:
            return True
        import moto
        from moto.dynamodb.models.dynamo_type import Item

        if moto.__version__ != PINNED_MOTO or packing_sources() != PINNED_PACKING_SOURCES:
            log.warning("moto is not %s as pinned: its DynamoDB items stay unpacked", PINNED_MOTO)
            return False
        if "__del__" in Item.__dict__:
            log.warning("moto's Item has a __del__ of its own: its DynamoDB items stay unpacked")
            return False
        _open_disk()
        Item.attrs = property(_attrs, _set_attrs)  # type: ignore[assignment]
        Item.__del__ = _item_freed  # type: ignore[attr-defined]
        _packing_installed = True
        return True


# ---- moto's DynamoDB items and the cycle collector ------------------------------------------------------------------
#
# Every stored ``Item`` (with its key ``DynamoType``s and its partition) is an object the cycle collector tracks: ~3
# per item, ~4M after a 100k-row import. Python runs a full collection whenever the objects promoted to its oldest
# generation since the last one reach a quarter of those that survived it, and a full collection walks every
# tracked object: the whole store, again and again, to find the few cycles a request leaves behind (a stored item
# is never part of one). ``stored_items_frozen`` moves what survives a full collection to the collector's permanent
# generation (``gc.freeze``), so the next full collections walk only what was made since. Frozen objects are still
# freed by reference counting the moment nothing holds them (a replaced or deleted item); only a cycle among them
# waits for the next *whole* walk: once the partial ones have cost ``PARTIAL_PER_WHOLE`` times the CPU the last
# whole walk did, a full collection unfreezes everything first and walks it all, as Python's own would. Whole walks
# so take at most a fifth of the collector's time (seconds each at ~1M items, every thread of the process waiting),
# and still come round.

PARTIAL_PER_WHOLE = 4
_freezing: dict[str, float] = {"installed": 0, "whole_cost": 0.0, "partial_cost": 0.0, "started": 0.0, "whole": 0}
stats["full_collections"] = stats["whole_walks"] = 0


def _around_full_collection(phase: str, info: dict[str, Any]) -> None:
    if info.get("generation") != 2:
        return
    now = time.thread_time()  # the collecting thread's CPU: a collection holds the GIL throughout
    if phase == "start":
        stats["full_collections"] += 1
        _freezing["started"] = now
        _freezing["whole"] = _freezing["partial_cost"] >= PARTIAL_PER_WHOLE * _freezing["whole_cost"]
        if _freezing["whole"]:
            gc.unfreeze()  # this collection walks (and frees) everything
            stats["whole_walks"] += 1
    elif phase == "stop":
        spent = now - _freezing["started"]
        if _freezing["whole"]:
            _freezing["whole_cost"], _freezing["partial_cost"] = spent, 0.0
        else:
            _freezing["partial_cost"] += spent
        gc.freeze()


def stored_items_frozen() -> bool:
    """Install once per process, in moto's processes only: their store is what survives, and it holds no cycles.
    Not in `finview up` (infra.cli), whose functions drop cycles they held while a collection ran, nor where our own
    code freezes objects (imports' stage does, around a file). Returns whether it is installed."""
    with _lock:
        if not _freezing["installed"]:
            gc.callbacks.append(_around_full_collection)
            _freezing["installed"] = 1
        return True


# ---- Update expressions: parsed once per text, copied without deepcopy -------------------------------------------
#
# For every UpdateItem, and every Update of a transaction, moto 5.2 tokenises and parses the update expression
# twice (the handler, to list the names and values it uses; the backend, to validate it), deep-copies the tree for
# its validator and walks the copy with ten processors, each of which rebuilds its node-type table for every node
# it visits. The tree of one text is always the same, and moto never changes the tree it parsed (the validator
# works on its copy), so the parsed tree is kept per text (a bounded cache; a text that does not parse raises each
# time, nothing kept). The copy is made node by node (``_clone``: the same classes, attributes and parent links as
# ``copy.deepcopy`` gives for a parsed tree, whose leaves are strings, ints and bools); anything else in a tree falls
# back to deepcopy. And each processor's node-type table is built once per processor instead of once per node:
# ``_processing_map`` returns the same bound methods every time for every processor of this moto. moto's own
# validation, evaluation and errors are unchanged. The copy and the walk work out once per node class what moto
# checked with ABC ``isinstance`` at every node: whether it is a node, which entry of a processor's table it takes,
# and whether it is an action whose values the resolving processor resolves (40 → 3 ABC checks in validating
# ``SET checks = :c``, 206 → 17 in a four-action update).

# the whole of validators.py and ast_nodes.py (every processor's _processing_map, the traverser, the nodes) and
# the parser's entry point, as moto's files have them (patching does not change what inspect reads from the files)
PINNED_UPDATE_SOURCES = {
    "moto/dynamodb/parsing/validators.py": "345c1740c0c674a72a5ed56f5ea01ba385ccb69a1bf21f8c134b389d9b41a3e3",
    "moto/dynamodb/parsing/ast_nodes.py": "ab97413e907e4054c861e7c91b5f1cde6d56a702ddc58b720d275caec351cfe4",
    "UpdateExpressionParser.make": "2c00ed96d6e191f243b449166e75bfb38f307b2e19405bc0981847061e0dbee3",
}
UPDATES_KEPT = 4096
stats["update_expressions_parsed"] = stats["update_expressions_reused"] = 0
_updates: dict[str, Any] = {}
_updates_installed = False
_ATOMS = (str, int, bool, type(None))


def _parsing_modules() -> tuple[Any, Any, Any]:
    from moto.dynamodb.parsing import ast_nodes, expressions, validators  # moto's files say "type: ignore"

    return ast_nodes, expressions, validators


def update_sources() -> dict[str, str]:
    ast_nodes, expressions, validators = _parsing_modules()
    return _source_hashes(
        {
            "moto/dynamodb/parsing/validators.py": validators,
            "moto/dynamodb/parsing/ast_nodes.py": ast_nodes,
            "UpdateExpressionParser.make": expressions.UpdateExpressionParser.make,
        }
    )


def _parse_update(cls: Any, expression_str: str) -> Any:
    """moto's ``UpdateExpressionParser.make``, the tree kept per text (the callers never change it)."""
    original = _ORIGINALS["UpdateExpressionParser.make"]
    if not _lean_on:
        return original(cls, expression_str)
    tree = _updates.get(expression_str)
    if tree is None:
        tree = original(cls, expression_str)  # raises on a bad expression: nothing kept
        if len(_updates) >= UPDATES_KEPT:
            _updates.clear()
        _updates[expression_str] = tree
        stats["update_expressions_parsed"] += 1
    else:
        stats["update_expressions_reused"] += 1
    return tree


def _clone(node: Any, parent: Any) -> Any:
    """What ``copy.deepcopy`` makes of a node of a parsed tree: the same classes and attributes, new nodes, each
    linked to its new parent."""
    new = object.__new__(type(node))
    attrs = new.__dict__
    attrs.update(node.__dict__)
    if len(attrs) != 3:  # more than moto's type, children and parent: deepcopy would copy what this shares
        raise _NotPlain
    attrs["parent"] = parent
    children = node.children
    if children is not None:
        copied = []
        for child in children:
            cls = type(child)
            is_node = _is_node.get(cls)
            if is_node is None:  # moto's Node is an ABC: checked once per class
                is_node = _is_node[cls] = isinstance(child, _moto.AstNode)
            copied.append(_clone(child, new) if is_node else child if cls in _ATOMS else copy.deepcopy(child))
        attrs["children"] = copied
    return new


def _validator_init(
    self: Any,
    expression: Any,
    expression_attribute_names: dict[str, str],
    expression_attribute_values: dict[str, dict[str, Any]],
    item: Any,
    table: Any,
) -> None:
    """moto's ``Validator.__init__`` with the tree copied by ``_clone``."""
    original = _ORIGINALS["Validator.__init__"]
    if not _lean_on or expression.parent is not None:
        return original(self, expression, expression_attribute_names, expression_attribute_values, item, table)  # type: ignore[no-any-return]
    try:
        tree = _clone(expression, None)
    except _NotPlain:
        return original(self, expression, expression_attribute_names, expression_attribute_values, item, table)  # type: ignore[no-any-return]
    self.expression_attribute_names = expression_attribute_names
    self.expression_attribute_values = expression_attribute_values
    self.item = item
    self.table = table
    plan = _plain_sets(expression) if type(self) is _moto.UpdateValidator else None
    if plan is not None and (
        type(expression_attribute_values) is not dict
        or (type(expression_attribute_names) is not dict and any(p[0] for p in plan))
    ):
        plan = None
    checked = (expression, tuple((expression_attribute_names or {}).items()), tuple(table.table_key_attrs))
    if plan is not None and checked in _plain_checked:
        # a plain SET that passed the three checks with these names and keys, among moto's processors as pinned:
        # none of them is needed (_validate)
        self.processors = ()
        self.node_to_validate = tree
        self.__dict__[_PLAN_ATTR] = plan
        return None
    processors = self.get_ast_processors()
    # the first three check the expression alone (clauses, overlapping paths, key attributes): once they passed for
    # this tree with these names and this table's keys, they pass again; they only ever return the node they got
    first = tuple(type(p) for p in processors[:3])
    if first == _moto.ExpressionChecks:
        if checked not in _checked:
            for processor in processors[:3]:
                tree = processor.traverse(tree)
            if len(_checked) >= UPDATES_KEPT:
                _checked.clear()
            _checked.add(checked)
        processors = processors[3:]
        if plan is not None and tuple(type(p) for p in processors) == _moto.PlainPasses:
            if len(_plain_checked) >= UPDATES_KEPT:
                _plain_checked.clear()
            _plain_checked.add(checked)
            self.__dict__[_PLAN_ATTR] = plan  # validated in one pass (_validate)
    self.processors = processors
    self.node_to_validate = tree
    return None


_plain_checked: set[tuple[Any, ...]] = set()
_checked: set[tuple[Any, ...]] = set()


class _NotPlain(Exception):
    """A tree node with attributes moto's nodes do not have."""


_MAP_ATTR, _TYPES_ATTR = "_finview_processing_map", "_finview_node_types"


def _processing_map_of(self: Any) -> dict[Any, Any]:
    found = self.__dict__.get(_MAP_ATTR)
    if found is None:
        found = self.__dict__[_MAP_ATTR] = self._processing_map()
    return found  # type: ignore[no-any-return]


def _nodes_to_be_processed(self: Any) -> tuple[Any, ...]:
    """moto's ``DepthFirstTraverser.nodes_to_be_processed``, the processor's table built once."""
    if not _lean_on:
        return _ORIGINALS["DepthFirstTraverser.nodes_to_be_processed"](self)  # type: ignore[no-any-return]
    found = self.__dict__.get(_TYPES_ATTR)
    if found is None:
        found = self.__dict__[_TYPES_ATTR] = tuple(_processing_map_of(self))
    return found  # type: ignore[no-any-return]


def _process(self: Any, node: Any) -> Any:
    """moto's ``DepthFirstTraverser.process``, the processor's table built once."""
    if not _lean_on:
        return _ORIGINALS["DepthFirstTraverser.process"](self, node)
    for class_key, processor in _processing_map_of(self).items():
        if isinstance(node, class_key):
            return processor(node)
    return None


_is_node: dict[type[Any], bool] = {}
_handled: dict[tuple[type[Any], type[Any]], Any] = {}  # (processor class, node class) -> the map's key, or None


def _traverse(self: Any, node: Any, child_id: int = -1) -> Any:
    """moto's ``DepthFirstTraverser.traverse_node_recursively``, step for step: children first, in order (with the
    processor's hook before each, when it has one), then the node itself if the processor's table names its class,
    put in its parent's place. What is a node, and which entry of the table a class takes (the first it is an
    instance of, as ``process`` finds it), is worked out once per class instead of by ABC checks at every node."""
    if not _lean_on:
        return _ORIGINALS["DepthFirstTraverser.traverse_node_recursively"](self, node, child_id)
    defined = type(self).pre_processing_of_child
    hook: Any = None
    if defined is _moto.ResolvingHook:
        hook = functools.partial(_resolving_from_value, self)
    elif defined is not _moto.NoHook:
        hook = self.pre_processing_of_child
    return _walk(self, node, child_id, _processing_map_of(self), hook)


_is_action: dict[type[Any], bool] = {}


def _resolving_from_value(self: Any, parent_node: Any, child_id: int) -> None:
    """``ExpressionAttributeResolvingProcessor.pre_processing_of_child``, step for step: a SET, REMOVE, DELETE or
    ADD action resolves from its second child on (its first is the path it writes). Whether a class is such an
    action is worked out once per class: moto's check of four ABCs ran for every child of every node."""
    cls = type(parent_node)
    action = _is_action.get(cls)
    if action is None:
        action = _is_action[cls] = isinstance(parent_node, _moto.ResolvingActions)
    if action:
        self.resolving = child_id != 0


def _walk(self: Any, node: Any, child_id: int, table: dict[Any, Any], hook: Any) -> Any:
    cls = type(node)
    is_node = _is_node.get(cls)
    if is_node is None:
        is_node = _is_node[cls] = isinstance(node, _moto.AstNode)
    if not is_node:
        return node
    parent_node = node.parent
    children = node.children
    if children is not None:
        for i, child_node in enumerate(children):
            if hook is not None:
                hook(node, i)
            _walk(self, child_node, i, table, hook)
    slot = (type(self), cls)
    try:
        key = _handled[slot]
    except KeyError:
        key = _handled[slot] = next((k for k in table if isinstance(node, k)), None)
    if key is not None:
        node = table[key](node)
        node.parent = parent_node
        if parent_node:
            parent_node.children[child_id] = node
    return node


# A plain SET (every action ``SET <attribute> = :value``: one top-level attribute, spelled out or a #placeholder, set
# to one value) is what the stack's hot Updates are (the checks written back, a message's outcome, a lease): 1.38
# Update entries a row of an import, one a reminder. After the three checks of the expression alone (kept above),
# moto walks such a tree with seven more processors: the values' pass (each value a DynamoType), the names' pass
# (each #placeholder defined, each spelled-out name not a reserved word; a top-level path always resolves, to the
# attribute or to a creatable one), the type check of the table's key attributes (by the path's raw spelling, as
# moto compares it), the empty-key-value check, and three passes that change nothing without a function, an
# operator or a nested path. For a plain tree those are one pass over its actions, in moto's order (every value
# before any name, every type check before any empty-value check), raising moto's own exceptions; the validated
# tree is the one moto makes (each value node replaced by its DDBTypedValue), which moto's normalize and executor
# then apply. Once a text has passed the three checks with the same names and keys, its processors are not even
# built. The seven walks were a sixth of a transaction of the checks written back (py-spy, in-process).
_PlainSet = tuple[bool, str, str]  # (the path is a #placeholder, its spelling, the value's placeholder)
_plans: dict[int, tuple[Any, tuple[_PlainSet, ...] | None]] = {}  # id(tree) -> (tree, its plan or None)
_PLAN_ATTR = "_finview_plain_sets"
_not_reserved: set[str] = set()
stats["plain_sets"] = 0


def _plain_sets(tree: Any) -> tuple[_PlainSet, ...] | None:
    """The actions of a plain SET tree, in moto's order; None for any other tree. Exact classes only."""
    found = _plans.get(id(tree))
    if found is not None and found[0] is tree:
        return found[1]
    plan = _plan_of(tree)
    if len(_plans) >= UPDATES_KEPT:
        _plans.clear()
    _plans[id(tree)] = (tree, plan)  # the tree kept alive with it: its id stays its own
    return plan


def _plan_of(tree: Any) -> tuple[_PlainSet, ...] | None:
    if type(tree) is not _moto.UpdateExpression or len(tree.children) != 1:
        return None
    clause: Any = tree.children[0]
    if type(clause) is not _moto.SetClause or len(clause.children) != 1:
        return None
    plan: list[_PlainSet] = []
    actions: Any = clause.children[0]
    while actions is not None:  # SetActions => SetAction | SetAction , SetActions
        if type(actions) is not _moto.SetActions or len(actions.children) not in (1, 2):
            return None
        step = _plain_set(actions.children[0]) if type(actions.children[0]) is _moto.SetAction else None
        if step is None:
            return None
        plan.append(step)
        actions = actions.children[1] if len(actions.children) == 2 else None
    return tuple(plan)


def _plain_set(action: Any) -> _PlainSet | None:
    if action.children is None or len(action.children) != 2:
        return None
    path, value = action.children
    if (
        type(path) is not _moto.Path
        or type(value) is not _moto.Value
        or len(path.children) != 1
        or len(value.children) != 1
    ):
        return None
    leaf, operand = path.children[0], value.children[0]
    if type(leaf) not in (_moto.Attribute, _moto.AttributeName) or type(operand) is not _moto.AttributeValue:
        return None
    spelling, placeholder = leaf.children, operand.children
    if len(spelling) != 1 or len(placeholder) != 1 or type(spelling[0]) is not str or type(placeholder[0]) is not str:
        return None
    return type(leaf) is _moto.AttributeName, spelling[0], placeholder[0]


def _validate(self: Any) -> Any:
    """moto's ``Validator.validate``; a plain SET tree (see above) in one pass."""
    plan = self.__dict__.get(_PLAN_ATTR)
    if plan is None or not _lean_on:
        return _ORIGINALS["Validator.validate"](self)
    stats["plain_sets"] += 1
    values, names = self.expression_attribute_values, self.expression_attribute_names
    typed = []
    for _, _, placeholder in plan:  # ExpressionAttributeValueProcessor
        try:
            target = values[placeholder]
        except KeyError:
            raise _moto.ValueNotDefined(attribute_value=placeholder) from None
        typed.append(_moto.UpdateDynamoType(target))
    for is_placeholder, spelling, _ in plan:  # ExpressionAttributeResolvingProcessor, a path's first child
        if is_placeholder:
            if spelling not in names:
                raise _moto.NameNotDefined(spelling)
        elif spelling not in _not_reserved:
            _moto.PathResolver.raise_exception_if_keyword(spelling)  # raises for a reserved word: nothing kept
            _not_reserved.add(spelling)
    definitions = self.table.attr
    for (_, spelling, _), value in zip(plan, typed, strict=True):  # TypeMismatchValidator
        for definition in definitions:
            if definition["AttributeName"] == spelling and definition["AttributeType"] != value.type:
                raise _moto.TypeMismatch(spelling, definition["AttributeType"], value.type)
    key_attributes = self.table.attribute_keys
    for (_, spelling, _), value in zip(plan, typed, strict=True):  # EmptyStringKeyValueValidator
        if not value.value and value.type in ["S", "B"] and spelling in key_attributes:
            raise _moto.EmptyKey(key_in_index=True)
    tree = self.node_to_validate  # _validator_init's copy: each value node becomes its DDBTypedValue, as in moto's
    actions = tree.children[0].children[0]
    for value in typed:
        action = actions.children[0]
        node = _moto.DDBTypedValue(value)
        node.parent = action
        action.children[1] = node
        actions = actions.children[1] if len(actions.children) == 2 else None
    return tree


def cached_update_expressions() -> bool:
    """Install the update-expression patches above once per process if moto is the pinned version."""
    global _updates_installed
    with _lock:
        if _updates_installed:
            return True
        import moto

        if moto.__version__ != PINNED_MOTO or update_sources() != PINNED_UPDATE_SOURCES:
            log.warning("moto is not %s as pinned: it parses and copies each update expression per item", PINNED_MOTO)
            return False
        ast_nodes, expressions, validators = _parsing_modules()
        _moto.AstNode = ast_nodes.Node
        _moto.ExpressionChecks = (
            validators.ActionCountValidator,
            validators.OverlappingPathsValidator,
            validators.UpdateHashRangeKeyValidator,
        )
        parser = expressions.UpdateExpressionParser
        _ORIGINALS["UpdateExpressionParser.make"] = parser.__dict__["make"].__func__
        parser.make = classmethod(_parse_update)  # type: ignore[method-assign,assignment]
        _ORIGINALS["Validator.__init__"] = validators.Validator.__init__
        validators.Validator.__init__ = _validator_init  # type: ignore[method-assign]
        _ORIGINALS["Validator.validate"] = validators.Validator.validate
        validators.Validator.validate = _validate  # type: ignore[method-assign]
        _moto.__dict__.update(
            UpdateValidator=validators.UpdateExpressionValidator,
            PlainPasses=(
                validators.ExpressionAttributeValueProcessor,
                validators.ExpressionAttributeResolvingProcessor,
                validators.UpdateExpressionFunctionEvaluator,
                validators.NoneExistingPathChecker,
                validators.ExecuteOperations,
                validators.TypeMismatchValidator,
                validators.EmptyStringKeyValueValidator,
            ),
            UpdateExpression=ast_nodes.UpdateExpression,
            SetClause=ast_nodes.UpdateExpressionSetClause,
            SetActions=ast_nodes.UpdateExpressionSetActions,
            SetAction=ast_nodes.UpdateExpressionSetAction,
            Path=ast_nodes.UpdateExpressionPath,
            Value=ast_nodes.UpdateExpressionValue,
            Attribute=ast_nodes.ExpressionAttribute,
            AttributeName=ast_nodes.ExpressionAttributeName,
            AttributeValue=ast_nodes.ExpressionAttributeValue,
            DDBTypedValue=ast_nodes.DDBTypedValue,
            UpdateDynamoType=validators.DynamoType,
            ValueNotDefined=validators.ExpressionAttributeValueNotDefined,
            NameNotDefined=validators.ExpressionAttributeNameNotDefined,
            PathResolver=validators.ExpressionPathResolver,
            TypeMismatch=validators.InvalidAttributeTypeError,
            EmptyKey=validators.EmptyKeyAttributeException,
        )
        traverser = ast_nodes.DepthFirstTraverser
        _moto.NoHook = traverser.pre_processing_of_child
        _moto.ResolvingHook = validators.ExpressionAttributeResolvingProcessor.pre_processing_of_child
        _moto.ResolvingActions = (
            validators.UpdateExpressionSetAction,
            validators.UpdateExpressionRemoveAction,
            validators.UpdateExpressionDeleteAction,
            validators.UpdateExpressionAddAction,
        )
        for name, replacement in (
            ("nodes_to_be_processed", _nodes_to_be_processed),
            ("process", _process),
            ("traverse_node_recursively", _traverse),
        ):
            _ORIGINALS[f"DepthFirstTraverser.{name}"] = traverser.__dict__[name]
            setattr(traverser, name, replacement)
        _updates_installed = True
        return True


# ---- SNS: one signing certificate per subscription, not one per message ------------------------------------------
#
# moto 5.2 signs every notification it delivers (to SQS, HTTP, Lambda subscribers) as SNS does, but builds and
# signs a new X.509 certificate for each message as well, and keeps every certificate's PEM for ever in the
# backend's ``_message_public_keys``: two RSA signatures per notification (~2 ms of CPU, a sixth of moto's process
# on the reminder chain, where each e-mail's outcome crosses SNS to SQS) and a PEM (~1 KB) kept per message. SNS
# signs each message with a certificate it publishes once per region and rotates rarely: the ``SigningCertURL`` of
# every notification is the same. Each subscription's certificate (its key is moto's per-subscription key) is now
# built once and published once; every message is still signed with that key, over the same string, and verifies
# against the certificate at its ``SigningCertURL`` (with its Subject, if any, signed too, as SNS does).

PINNED_SNS_SOURCES = {
    "Subscription.get_post_data": "dc591399b4d078f5ea6be038b58a14d8f86e08e2ae3e837256146caf1af8c380",
}
_sns_installed = False
_CERT_ATTR = "_finview_signing_cert"  # on a subscription: (the certificate's key name, its PEM)


def sns_sources() -> dict[str, str]:
    from moto.sns.models import Subscription

    return _source_hashes({"Subscription.get_post_data": Subscription.get_post_data})


def _signing_cert(subscription: Any, key: Any) -> tuple[str, bytes]:
    """The subscription's certificate (moto's own subject, issuer and validity), built on its first message."""
    found = subscription.__dict__.get(_CERT_ATTR)
    if found is None:
        import cryptography.x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.x509 import Name, NameAttribute
        from cryptography.x509.oid import NameOID
        from moto.core.utils import utcnow
        from moto.moto_api._internal import mock_random

        issuer = [
            NameAttribute(NameOID.COUNTRY_NAME, "US"),
            NameAttribute(NameOID.ORGANIZATION_NAME, "Amazon"),
            NameAttribute(NameOID.COMMON_NAME, "Amazon RSA 2048 M01"),
        ]
        cert = (
            cryptography.x509.CertificateBuilder()
            .subject_name(Name([NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")]))
            .issuer_name(Name(issuer))
            .public_key(key.public_key())
            .serial_number(cryptography.x509.random_serial_number())
            .not_valid_before(utcnow())
            .not_valid_after(utcnow() + timedelta(days=365))
            .sign(key, hashes.SHA256())
        )
        name = f"SimpleNotificationService-{str(mock_random.uuid4()).replace('-', '')}.pem"
        found = subscription.__dict__[_CERT_ATTR] = (name, cert.public_bytes(serialization.Encoding.PEM))
    return found  # type: ignore[no-any-return]


def _sns_post_data(
    self: Any, message: str, message_id: str, subject: str | None, message_attributes: dict[str, Any] | None = None
) -> dict[str, Any]:
    """moto's ``Subscription.get_post_data`` with the subscription's certificate built once (``_signing_cert``)."""
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.utils import iso_8601_datetime_with_milliseconds
    from moto.sns.models import sns_backends

    key = self.private_key()
    key_name, pem = _signing_cert(self, key)
    timestamp = iso_8601_datetime_with_milliseconds()
    # SNS's canonical string includes the Subject when there is one (moto's leaves it out: such a notification did
    # not verify by AWS's documented procedure)
    string_to_sign = (
        f"Message\n{message}\nMessageId\n{message_id}\n"
        + (f"Subject\n{subject}\n" if subject else "")
        + f"Timestamp\n{timestamp}\nTopicArn\n{self.topic.arn}\nType\nNotification\n"
    )
    signature = key.sign(string_to_sign.encode("UTF-8"), padding.PKCS1v15(), hashes.SHA256())
    region = self.topic.sns_backend.region_name
    # served by moto's PEM route from the default account's backend (a reset backend gets it again)
    sns_backends[DEFAULT_ACCOUNT_ID][region]._message_public_keys.setdefault(key_name, pem)
    post_data: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": self.topic.arn,
        "Message": message,
        "Timestamp": timestamp,
        "SignatureVersion": "2",
        "Signature": base64.b64encode(signature).decode("utf-8"),
        "SigningCertURL": f"https://sns.{region}.amazonaws.com/{key_name}",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:"
        f"us-east-1:{self.account_id}:{self.topic.name}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
    }
    if subject:
        post_data["Subject"] = subject
    if message_attributes:
        post_data["MessageAttributes"] = message_attributes
    return post_data


def signed_once_per_subscription() -> bool:
    """Install once per process if moto is the pinned version; returns whether it is."""
    global _sns_installed
    with _lock:
        if _sns_installed:
            return True
        import moto
        from moto.sns.models import Subscription

        if moto.__version__ != PINNED_MOTO or sns_sources() != PINNED_SNS_SOURCES:
            log.warning("moto is not %s as pinned: its SNS builds a certificate per message", PINNED_MOTO)
            return False
        _ORIGINALS["Subscription.get_post_data"] = Subscription.__dict__["get_post_data"]
        Subscription.get_post_data = _sns_post_data  # type: ignore[method-assign]
        _sns_installed = True
        return True


# ---- DynamoType: built and sized without the detours -------------------------------------------------------------
#
# moto builds a ``DynamoType`` for every value of every item it stores (and every nested value), through three
# method calls a value (``is_list``, ``is_map``, two lists made to read a one-key dict), and sizes every item it
# stores by ``DynamoType.size``, which sizes each value of a map by sizing a fresh copy of it (copies of copies,
# down the nesting): together a third of moto's CPU in a TransactWriteItems of an import's items (py-spy). The two
# below do what the pinned ones do, step for step: the same attributes in the same order, the same sizes (each
# branch of ``size`` in its order; a value's copy has the value's size), the same errors for anything else
# (moto's own code runs for every input they do not recognise).

PINNED_TYPE_SOURCES = {
    "DynamoType.__init__": "7c6cde92e1149bfe3b61d6b5667a943232829bbbb9760c5bd0655479b8d570b9",
    "DynamoType.size": "f7c111fca25b4c5ecea8b4d570d210aef1dcf5b9c52fa3250a27f1bfdd85966b",
    "DynamoType.is_number": "1acd1246a6710316d16875d433fed3666fcd0733b750bb9871550b732f5b2d08",
    "DynamoType.is_set": "01b70f096bc58dfa5df2a01f4246df586629b2f8f929152b76aea5d7be6c7961",
    "DynamoType.is_list": "9cc3570f1cb8448b64a7c6b31cbc7f6a6f60970347078f715a48b06f62062eaa",
    "DynamoType.is_map": "6e6551375b6c2ac0c2f3c1543f7aa61a883b936ed04e76f85075b91d1e1f2ed7",
    "bytesize": "b0dce378c1ce66af675fdd42153ec1ea12f3461e60c4cddaf756613f816b580b",
    "DynamoType.__hash__": "4d37bb816dede3221cef85255e0338002372cbad3899909b4b2a7532f7197f05",
    "DynamoType.__eq__": "48f12362c49f00c1138f550163b14b9c2f3bf0a50f0f907f426510a0417052c1",
    "DynamoType.cast_value": "135da387dfcc7c1ca4930a6d64b5c474519422983cc2a4d03b37b716d090ae0c",
}
_types_installed = False
_SETS = ("SS", "NS", "BS")


def type_sources() -> dict[str, str]:
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import bytesize

    return _source_hashes(
        {
            "DynamoType.__init__": DynamoType.__init__,
            "DynamoType.size": DynamoType.size,
            "DynamoType.is_number": DynamoType.is_number,
            "DynamoType.is_set": DynamoType.is_set,
            "DynamoType.is_list": DynamoType.is_list,
            "DynamoType.is_map": DynamoType.is_map,
            "bytesize": bytesize,
            "DynamoType.__hash__": DynamoType.__hash__,
            "DynamoType.__eq__": DynamoType.__eq__,
            "DynamoType.cast_value": DynamoType.__dict__["cast_value"],
        }
    )


def _dynamo_type_init(self: Any, type_as_dict: Any) -> None:
    """moto's ``DynamoType.__init__`` for a non-empty dict or a DynamoType (anything else: moto's own)."""
    kind = type(type_as_dict)
    if kind is dict and type_as_dict and _lean_on:
        self.type, value = next(iter(type_as_dict.items()))  # the first (only) member, as moto's list(...)[0]
    elif kind is _moto.DynamoType and _lean_on:
        self.type, value = type_as_dict.type, type_as_dict.value
    else:
        return _ORIGINALS["DynamoType.__init__"](self, type_as_dict)  # type: ignore[no-any-return]
    new = _moto.DynamoType
    if self.type == "L":
        value = [new(v) for v in value]
    elif self.type == "M":
        value = {k: new(v) for k, v in value.items()}
    self.value = value
    return None


def _dynamo_type_size(self: Any) -> int:
    """moto's ``DynamoType.size``, without sizing copies."""
    if not _lean_on:
        return _ORIGINALS["DynamoType.size"](self)  # type: ignore[no-any-return]
    return _size_of(self)


def _size_of(value: Any) -> int:
    kind, inner = value.type, value.value
    if kind == "N":
        return len(str(inner))
    if kind in _SETS:  # each member sized as DynamoType({"S"/"N"/"B": member}) sizes
        sub = kind[0]
        return sum(len(str(v)) if sub == "N" else 1 if isinstance(v, bool) else _moto.bytesize(v) for v in inner)
    if kind == "L":
        return sum(v.size() for v in inner)
    if kind == "M":
        dynamo_type = _moto.DynamoType
        return sum(
            _moto.bytesize(k) + (_size_of(v) if type(v) is dynamo_type else dynamo_type(v).size())
            for k, v in inner.items()
        )
    if isinstance(inner, bool):
        return 1
    return _moto.bytesize(inner)  # type: ignore[no-any-return]


# moto hashes and compares a value by its ``cast_value``, a property that asks five ``is_*`` methods before it hands
# back a string's value as it is: every key of every item looked up (four times a transaction entry: the undo log,
# the transaction's read, update_item's, the index) and every ``=`` of a condition paid for it. For a string, a
# binary or a boolean the cast value is the value itself; every other type keeps moto's own.
_CAST_AS_IS = frozenset(("S", "B", "BOOL"))


def _dynamo_type_hash(self: Any) -> int:
    """moto's ``DynamoType.__hash__``, ``hash((type, cast_value))``: the very same number."""
    kind = self.type
    if kind in _CAST_AS_IS and _lean_on:
        return hash((kind, self.value))
    return _ORIGINALS["DynamoType.__hash__"](self)  # type: ignore[no-any-return]


def _dynamo_type_eq(self: Any, other: Any) -> Any:
    """moto's ``DynamoType.__eq__``, ``self.type == other.type and self.cast_value == other.cast_value``."""
    kind = self.type
    if kind in _CAST_AS_IS and _lean_on:
        return kind == other.type and self.value == other.value  # other's type is kind: its cast value is its value
    return _ORIGINALS["DynamoType.__eq__"](self, other)


def cheaper_dynamo_types() -> bool:
    """Install the two above once per process if moto is the pinned version; returns whether they are."""
    global _types_installed
    with _lock:
        if _types_installed:
            return True
        import moto

        if moto.__version__ != PINNED_MOTO or type_sources() != PINNED_TYPE_SOURCES:
            log.warning("moto is not %s as pinned: its DynamoType builds and sizes values the long way", PINNED_MOTO)
            return False
        _import_moto_parts()
        from moto.dynamodb.models.dynamo_type import DynamoType

        for name, replacement in (
            ("__init__", _dynamo_type_init),
            ("size", _dynamo_type_size),
            ("__hash__", _dynamo_type_hash),
            ("__eq__", _dynamo_type_eq),
        ):
            _ORIGINALS[f"DynamoType.{name}"] = DynamoType.__dict__[name]
            setattr(DynamoType, name, replacement)
        _types_installed = True
        return True
