"""Integration tests of data protection across the services (GDPR Art. 15, 17, 18, 21).

Fixtures shared by the tests of this folder go here."""

from __future__ import annotations

from typing import Any

import pytest

from infra.provision import Provisioned
from tests.integration.privacy.support import world_of


@pytest.fixture
def world(aws: Provisioned) -> dict[str, Any]:
    """A person known to every service: imported with a case and an e-mail, a note, an attachment, a match
    profile, enrichment's copy and tracked case, a message."""
    return world_of(aws)
