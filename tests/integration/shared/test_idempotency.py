"""Idempotency keys of API writes (shared.idempotency) against moto's DynamoDB: replay, body binding, scope,
refusals not stored, a request still running."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from infra.provision import Provisioned
from shared import consumer, idempotency
from shared.api import ApiError


class Counter:
    def __init__(self, status: int = 201) -> None:
        self.calls, self.status = 0, status

    def __call__(self) -> idempotency.Answer:
        self.calls += 1
        return self.status, json.dumps({"client_id": f"c-{self.calls}"})


def _run(
    aws: Provisioned,
    run: Callable[[], idempotency.Answer],
    key: str = "k-1",
    body: bytes = b'{"a":1}',
    who: str = "admin",
) -> idempotency.Answer:
    scope = idempotency.scope(who, "POST", "/clients")
    return idempotency.replay_or_run("contacts", aws.names.table("contacts"), key, scope, body, run)


def test_a_retry_with_the_same_key_replays_the_first_answer(aws: Provisioned) -> None:
    run = Counter()
    first = _run(aws, run)
    assert _run(aws, run) == first == (201, '{"client_id": "c-1"}')
    assert run.calls == 1


def test_the_same_key_with_another_body_is_refused(aws: Provisioned) -> None:
    _run(aws, Counter())
    with pytest.raises(ApiError) as refused:
        _run(aws, Counter(), body=b'{"a":2}')
    assert (refused.value.status, refused.value.code) == (422, "idempotency_key_reused")


def test_keys_are_scoped_to_the_caller(aws: Provisioned) -> None:
    run = Counter()
    _run(aws, run, who="admin")
    _run(aws, run, who="collector")
    assert run.calls == 2


def test_a_refused_request_is_not_stored_and_runs_again(aws: Provisioned) -> None:
    run = Counter(status=409)
    assert _run(aws, run)[0] == 409
    assert _run(aws, run)[0] == 409
    assert run.calls == 2


def test_a_retry_while_the_first_still_runs_gets_409(aws: Provisioned) -> None:
    inner: list[ApiError] = []

    def slow() -> idempotency.Answer:
        try:
            _run(aws, Counter())
        except ApiError as exc:
            inner.append(exc)
        return 201, "{}"

    _run(aws, slow)
    assert [(e.status, e.code) for e in inner] == [(409, "idempotency_in_progress")]


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "bad\nkey"])
def test_malformed_keys_are_refused(aws: Provisioned, key: str) -> None:
    with pytest.raises(ApiError) as refused:
        _run(aws, Counter(), key=key)
    assert refused.value.code == "invalid_idempotency_key"


def test_keys_still_replay_in_a_process_that_consumed_bus_events_first(aws: Provisioned) -> None:
    """powertools configures a persistence layer once: when the bus consumer's (keyed on event_id) was shared with
    the API's, a keyed POST after any consumed event silently ran twice (the local stack runs both in one process)."""
    seen: list[str] = []
    handle = consumer._once("contacts", aws.names.table("contacts"), lambda event: seen.append(event["event_id"]), None)
    handle(event={"event_id": "e-1"})
    handle(event={"event_id": "e-1"})
    run = Counter()
    _run(aws, run)
    _run(aws, run)
    assert (seen, run.calls) == (["e-1"], 1)
