"""Integration tests: one moto server on loopback per test session, a freshly provisioned stage per test.

Every test under this folder is marked ``integration`` (``pytest -m "not integration"`` skips them).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from infra.definition import Names
from infra.local import fidelity
from infra.local.stack import local_environment, quiet_moto
from infra.provision import LocalOverrides, Provisioned, provision
from tests.integration.support import REGION

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    quiet_moto()
    fidelity.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Provisioned:
    """A fresh stage (own tables, bus, queues, buckets) on the session's moto server, env set as in Lambda."""
    stage = "t" + uuid.uuid4().hex[:8]
    provisioned = provision(moto_endpoint, Names(stage), region=REGION, overrides=LocalOverrides())
    for key, value in local_environment(provisioned, log_file=None).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    return provisioned
