"""The HTTP bureau adapter against a small bureau served on loopback by the test: every outcome and failure."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from services.enrichment.bureau import BureauSecret, HttpBureau
from services.enrichment.provider import ProviderError, ProviderUnavailable, SearchRequest
from shared.events import ContactPointType, PostalAddress, TraceSubject

API_KEY = "s3cret-key"


class FakeBureau(ThreadingHTTPServer):
    """Plays a bureau: the search reference's prefix picks the behaviour; every request is recorded."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, Any]] = []
        self.calls: Counter[str] = Counter()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/"


def _match(kind: str, value: str, score: int, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "value": value, "score": score, "source_record": "raw bureau data", **extra}


class _Handler(BaseHTTPRequestHandler):
    server: FakeBureau

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ref = body["reference"]
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        self.server.calls[ref] += 1
        if self.headers["Authorization"] != f"Bearer {API_KEY}":
            return self._send(401, {"error": "unauthorised"})
        kind = ref.split("-")[0]
        if kind == "slow":
            time.sleep(0.6)
        if kind == "busy" and self.server.calls[ref] == 1:
            return self._send(429, {"error": "slow down"}, {"Retry-After": "0"})
        if kind == "broken":
            return self._send(500, {"error": "internal"})
        if kind == "garbage":
            return self._send(200, {"unexpected": True})
        matches = {
            "found": [_match("phone", "+4915123456789", 87)],
            "busy": [_match("phone", "+4915123456789", 87)],
            "none": [],
            "several": [
                _match("phone", "+4917612345678", 55),
                _match("email", "e.m@web.de", 90),
                _match(
                    "postal_address",
                    "Hafenstraße 3, 20359 Hamburg",
                    70,
                    address={"street": "Hafenstraße 3", "postcode": "20359", "city": "Hamburg", "country": "DE"},
                ),
            ],
        }.get(kind, [])
        self._send(200, {"reference": ref, "matches": matches, "charge": {"amount": "0.80", "currency": "EUR"}})

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def bureau() -> Iterator[FakeBureau]:
    server = FakeBureau()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def adapter(server: FakeBureau, *, key: str = API_KEY, breaker: int = 3) -> HttpBureau:
    secret = BureauSecret(base_url=server.url, api_key=key, price_per_search=Decimal("0.80"))  # type: ignore[arg-type]
    return HttpBureau(secret, timeout_seconds=0.3, retries=2, backoff_seconds=0.01, breaker_threshold=breaker)


SUBJECT = TraceSubject(
    first_name="Erika",
    last_name="Mustermann",
    last_known_address=PostalAddress(street="Alter Weg 1", postcode="10115", city="Berlin", country="DE"),
)


def search(reference: str, *wanted: ContactPointType) -> SearchRequest:
    kinds: frozenset[ContactPointType] = frozenset(wanted or ("phone", "email", "postal_address"))
    return SearchRequest(reference, "c", "o", "k", 1, kinds, SUBJECT)


def test_found_maps_the_answer_and_sends_credentials_reference_and_only_what_is_needed(bureau: FakeBureau) -> None:
    result = adapter(bureau).search(search("found-1", "phone"))
    assert result.outcome == "found" and result.cost == Decimal("0.80") and result.provider == "bureau"
    assert [(c.point.type, c.point.value, c.confidence) for c in result.candidates] == [
        ("phone", "+4915123456789", Decimal("0.87"))
    ]
    sent = bureau.requests[0]
    assert sent["path"] == "/v1/searches" and sent["headers"]["Idempotency-Key"] == "found-1"
    assert sent["body"] == {
        "reference": "found-1",
        "wanted": ["phone"],
        "subject": {
            "first_name": "Erika",
            "last_name": "Mustermann",
            "last_known_address": {"street": "Alter Weg 1", "postcode": "10115", "city": "Berlin", "country": "DE"},
        },
    }


def test_nothing_found_is_a_billed_answer(bureau: FakeBureau) -> None:
    result = adapter(bureau).search(search("none-1"))
    assert result.outcome == "none" and result.candidates == () and result.cost == Decimal("0.80")


def test_several_candidates_best_first_unwanted_types_dropped(bureau: FakeBureau) -> None:
    result = adapter(bureau).search(search("several-1", "phone", "postal_address"))
    assert result.outcome == "several"
    assert [(c.point.type, c.confidence) for c in result.candidates] == [
        ("postal_address", Decimal("0.70")),
        ("phone", Decimal("0.55")),
    ]
    address = result.candidates[0].point.address
    assert address is not None and address.city == "Hamburg"


def test_429_is_retried_with_backoff_and_then_answers(bureau: FakeBureau) -> None:
    result = adapter(bureau).search(search("busy-1", "phone"))
    assert result.outcome == "found" and bureau.calls["busy-1"] == 2
    assert {r["headers"]["Idempotency-Key"] for r in bureau.requests} == {"busy-1"}


def test_500_is_retried_then_fails_unbilled(bureau: FakeBureau) -> None:
    with pytest.raises(ProviderError, match="HTTP 500"):
        adapter(bureau).search(search("broken-1"))
    assert bureau.calls["broken-1"] == 3  # the first try and two retries


def test_timeout_fails_at_once_without_a_second_paid_search_in_the_run(bureau: FakeBureau) -> None:
    started = time.monotonic()
    with pytest.raises(ProviderError, match="unreachable"):
        adapter(bureau).search(search("slow-1"))
    assert time.monotonic() - started < 0.55 and bureau.calls["slow-1"] == 1


def test_an_answer_off_the_contract_is_an_error(bureau: FakeBureau) -> None:
    with pytest.raises(ProviderError, match="contract"):
        adapter(bureau).search(search("garbage-1"))


def test_wrong_credentials_fail_without_retry(bureau: FakeBureau) -> None:
    with pytest.raises(ProviderError, match="HTTP 401"):
        adapter(bureau, key="wrong").search(search("found-2"))
    assert bureau.calls["found-2"] == 1


def test_breaker_opens_after_n_failures_in_a_run_and_the_bureau_is_not_called_again(bureau: FakeBureau) -> None:
    run = adapter(bureau, breaker=2)
    assert run.search(search("found-3")).outcome == "found"
    for ref in ("broken-2", "broken-3"):
        with pytest.raises(ProviderError):
            run.search(search(ref))
    before = len(bureau.requests)
    with pytest.raises(ProviderUnavailable):
        run.search(search("found-4"))
    assert len(bureau.requests) == before and run.breaker_open
    # The next run starts closed.
    assert adapter(bureau, breaker=2).search(search("found-5")).outcome == "found"


def test_a_success_closes_the_count_of_failures(bureau: FakeBureau) -> None:
    run = adapter(bureau, breaker=2)
    with pytest.raises(ProviderError):
        run.search(search("broken-4"))
    run.search(search("found-6"))
    with pytest.raises(ProviderError):
        run.search(search("broken-5"))
    assert not run.breaker_open
