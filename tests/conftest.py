"""Every test: fake AWS credentials, so nothing can reach real AWS, whatever the machine's configuration.

The tree mirrors the source: ``unit/<service>/…`` (no network: see unit/conftest.py), ``integration/<service>/…``
(moto's server on loopback: see integration/conftest.py) and ``e2e`` (the whole local stack).
"""

from __future__ import annotations

import os

import pytest

from tests.integration.support import REGION


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test ever talks to real AWS: fake credentials everywhere."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(var, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
