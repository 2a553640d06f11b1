"""Every test: fake AWS credentials, so nothing can reach real AWS, whatever the machine's configuration.

The tree mirrors the source: ``unit/<service>/…`` (no network: see unit/conftest.py), ``integration/<service>/…``
(moto's server on loopback: see integration/conftest.py) and ``e2e`` (the whole local stack).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from tests.integration.support import REGION

# Contacts are timed by the debtor's local hour: by default the contact policy's clock reads a weekday noon in
# Europe, so no test depends on the hour it runs at (the policy's own tests pin the times they are about).
POLICY_NOON = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test ever talks to real AWS: fake credentials everywhere."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(var, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(autouse=True)
def _daytime_contact_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.contacts.policy import gate

    monkeypatch.setattr(gate, "now", lambda: POLICY_NOON)


os.environ.setdefault("AWS_DEFAULT_REGION", REGION)

# The local dispatcher takes what a queue holds now instead of waiting out each consumer's batching window (1 s per
# hop would add up over the suite); tests/integration/infra/test_local_batches.py checks the window itself.
os.environ.setdefault("FINVIEW_LOCAL_BATCH_WINDOW", "0")
