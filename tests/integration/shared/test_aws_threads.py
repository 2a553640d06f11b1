"""shared.aws hands each thread its own DynamoDB resource: boto3 builds condition expressions with one counter per
client, reset at each call, so threads sharing a resource could swap each other's placeholder names (the 10k
reminder bench failed with "Query condition missed key schema element: PK")."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from infra.provision import Provisioned
from shared import aws as shared_aws


def test_each_thread_queries_through_a_client_of_its_own(aws: Provisioned) -> None:
    name = aws.names.table("contacts")
    here = shared_aws.table(name)
    assert shared_aws.table(name) is here  # built once per thread

    with ThreadPoolExecutor(2) as pool:
        there: list[Any] = list(pool.map(lambda _: shared_aws.table(name), range(2)))
    clients = {id(t.meta.client) for t in (here, *there)}
    assert len(clients) == len({id(here), *(id(t) for t in there)}) >= 2
    assert here.meta.client is not there[0].meta.client  # one condition builder per client, so per thread


def test_a_new_threads_resource_comes_from_the_processs_one_session(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh boto3 session re-reads botocore's JSON models (~85 ms of CPU per build); the local dispatcher and the
    API start threads, so each new thread's resource is built from the one session the process already has."""
    name = aws.names.table("contacts")
    here = shared_aws.table(name)
    sessions: list[boto3.session.Session] = []
    real_init = boto3.session.Session.__init__

    def counted(self: boto3.session.Session, *args: Any, **kwargs: Any) -> None:
        sessions.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "__init__", counted)
    with ThreadPoolExecutor(3) as pool:
        there = list(pool.map(lambda _: shared_aws.table(name), range(3)))
    assert sessions == []
    assert all(t.meta.client is not here.meta.client for t in there)  # still a client per thread
    assert there[0].get_item(Key={"PK": "nobody", "SK": "nothing"}).get("Item") is None  # and it works
