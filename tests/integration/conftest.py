"""Integration tests: one moto server on loopback per test session, a freshly provisioned stage per test.

Every test under this folder is marked ``integration`` (``pytest -m "not integration"`` skips them).
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from infra.definition import Names
from infra.local import fidelity
from infra.local.stack import local_environment, quiet_moto
from infra.local.wsgi_server import WsgiServer
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
    # served as moto's process serves it in the local stack (keep-alive, one thread per connection)
    server = WsgiServer(DomainDispatcherApplication(create_backend_app))
    threading.Thread(target=server.serve_forever, name="moto-server", daemon=True).start()
    yield f"http://{server.host}:{server.port}"
    server.shutdown()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Provisioned:
    """A fresh stage (own tables, bus, queues, buckets) on the session's moto server, env set as in Lambda."""
    stage = "t" + uuid.uuid4().hex[:8]
    provisioned = provision(moto_endpoint, Names(stage), region=REGION, overrides=LocalOverrides())
    for key, value in local_environment(provisioned, log_file=None).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    return provisioned


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Every AWS request this process makes during the test, counted by operation."""
    counted: Counter[str] = Counter()
    original = BaseClient._make_api_call

    def count(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        counted[operation] += 1
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", count)
    yield counted
