"""Contacts API latency per route: the Lambda handler invoked in-process with real API Gateway proxy events.

Twice: against moto's server on loopback (every DynamoDB call is an HTTP round trip, as to DynamoDB) and against
moto's in-process mock (``mock_aws``: no HTTP, no server thread); the ratio server/mock is what the loopback HTTP
hop costs. Both still include moto's own work (it serialises every response in Python), so each call's time spent
inside boto3 calls is also measured: what remains is our code's own share (routing, pydantic, the use cases).
moto's TransactWriteItems deep-copies the whole table, so its write latency grows with the table; the bench keeps
one case owner of a realistic size instead of piling up hundreds.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.client import BaseClient
from moto import mock_aws
from moto.server import ThreadedMotoServer

from bench.harness import Report, percentile
from infra.definition import SERVICES, Names
from infra.local import fidelity
from infra.local.stack import quiet_moto
from infra.provision import LocalOverrides, provision

REGION = "eu-west-1"
OWNER = "bench-owner"
CASE = "bench-case"


@contextmanager
def environment(endpoint_url: str | None) -> Iterator[None]:
    """Provision a fresh stage at ``endpoint_url`` (None: moto's in-process mock) and set the functions' env."""
    saved = dict(os.environ)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    try:
        p = provision(endpoint_url, Names("b" + uuid.uuid4().hex[:8]), region=REGION, overrides=LocalOverrides())  # type: ignore[arg-type]
        for service in SERVICES:
            for key, value in p.function_env(service).items():
                if value is not None:
                    os.environ[key] = value
        if endpoint_url is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def backend(kind: str) -> Iterator[None]:
    if kind == "server":
        quiet_moto()
        fidelity.install()  # as the local stack runs it
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            with environment(f"http://{host}:{port}"):
                yield
        finally:
            server.stop()
    else:
        with mock_aws(), environment(None):
            yield


def measure(n: int) -> dict[str, tuple[list[float], list[float]]]:
    """Seconds per call of each route, on a case owner of a realistic size (6 contact points)."""
    from tests.integration.contacts.cases.support import Api, deliver, imported

    warmup = 3
    points = (
        ("email", "max@example.com"),
        ("email", "m.muster@firma.example"),
        ("phone", "+41441234567"),
        ("phone", "+41791234567"),
        ("phone", "+41447654321"),
        ("postal_address", "Hauptstrasse 1, 3000 Bern"),
    )
    assert deliver(imported(OWNER, case_ids=(CASE,), points=points))["batchItemFailures"] == []
    api = Api()
    base = f"/case-owners/{OWNER}/contact-points"

    def ok(method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> Any:
        status, reply = api.call(method, path, body, query=query)
        assert status < 300, (method, path, status, reply)
        return reply

    phones = [p["contact_point_id"] for p in ok("GET", base, query={"type": "phone"})["items"]]
    pair = itertools.cycle(phones[:2])
    for cp in phones[:2]:
        ok("POST", f"{base}/{cp}/validate", {"evidence": {"kind": "successful_call"}})

    # Validation needs a pending point: each timed validate is preceded by an untimed cancel-validation.
    validated = phones[2]
    ok("POST", f"{base}/{validated}/validate", {"evidence": {"kind": "successful_call"}})

    def pending_again() -> None:
        ok("POST", f"{base}/{validated}/cancel-validation")

    routes: dict[str, Callable[[], object]] = {
        "GET /cases/{id}": lambda: ok("GET", f"/cases/{CASE}"),
        "GET contact-points": lambda: ok("GET", base),
        "POST validate": lambda: ok("POST", f"{base}/{validated}/validate", {"evidence": {"kind": "inbound_call"}}),
        "POST make-default": lambda: ok("POST", f"{base}/{next(pair)}/make-default"),
        "POST notes": lambda: ok("POST", f"/cases/{CASE}/notes", {"text": "Called, left a message"}),
    }
    return {
        name: timed(fn, n, warmup, pending_again if name == "POST validate" else None) for name, fn in routes.items()
    }


class AwsClock(threading.local):
    seconds = 0.0


aws_clock = AwsClock()


@contextmanager
def clocked_aws_calls() -> Iterator[None]:
    """Add the time of every boto3 API call (request, backend, response parsing) to ``aws_clock``."""
    original = BaseClient._make_api_call

    def timed_call(self: Any, operation: str, params: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(self, operation, params)
        finally:
            aws_clock.seconds += time.perf_counter() - start

    BaseClient._make_api_call = timed_call  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def timed(
    fn: Callable[[], object], n: int, warmup: int, reset: Callable[[], None] | None = None
) -> tuple[list[float], list[float]]:
    """Per call: total seconds, and seconds outside boto3 calls (our own code); ``reset`` runs untimed before."""
    for _ in range(warmup):
        if reset:
            reset()
        fn()
    totals, own = [], []
    for _ in range(n):
        if reset:
            reset()
        aws_clock.seconds = 0.0
        start = time.perf_counter()
        fn()
        total = time.perf_counter() - start
        totals.append(total)
        own.append(total - aws_clock.seconds)
    return totals, own


def run(report: Report, quick: bool) -> None:
    n = 40 if quick else 100
    results: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
    with clocked_aws_calls():
        for kind in ("mock", "server"):
            with backend(kind):
                results[kind] = measure(n)
    for route in results["server"]:
        (server, server_own), (mock, _) = results["server"][route], results["mock"][route]
        for p in (50, 99):
            report.add(
                f"{route} p{p} (moto server)",
                percentile(server, p) * 1000,
                "ms",
                baseline="same route, in-process mock_aws",
                baseline_value=percentile(mock, p) * 1000,
                note=f"n={n}; mock p{p} = {percentile(mock, p) * 1000:.1f} ms",
            )
        report.add(
            f"{route} p50 our code only (moto server)",
            percentile(server_own, 50) * 1000,
            "ms",
            baseline="whole call p50 (moto server)",
            baseline_value=percentile(server, 50) * 1000,
            note="time outside boto3 calls; ratio = our share",
        )
