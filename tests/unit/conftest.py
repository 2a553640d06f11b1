"""Unit tests: pure code, no network. A test that opens a network socket fails (pytest-socket).

Anything that needs a server, even on loopback (moto, a fake HTTP service), belongs in tests/integration.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_network(socket_disabled: None) -> None:
    """pytest-socket's fixture: socket.socket raises SocketBlockedError for this test, restored afterwards."""
