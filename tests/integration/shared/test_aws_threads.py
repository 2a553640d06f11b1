"""shared.aws hands each thread its own DynamoDB resource: boto3 builds condition expressions with one counter per
client, reset at each call, so threads sharing a resource could swap each other's placeholder names (the 10k
reminder bench failed with "Query condition missed key schema element: PK")."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

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
