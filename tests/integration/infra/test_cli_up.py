"""`finview up` on a port someone else holds: it stops at once, names the port, and exits non-zero."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port with a listening socket on it, as another program would hold it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def _up(*args: str) -> subprocess.CompletedProcess[str]:
    # Before the fix, a held moto port left `finview up` waiting forever for a server that never started.
    return subprocess.run([sys.executable, "-m", "infra.cli", "up", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("option", ["--moto-port", "--api-port"])
def test_up_on_a_held_port_fails_fast_naming_the_port(held_port: int, option: str) -> None:
    other = "--api-port" if option == "--moto-port" else "--moto-port"
    result = _up(option, str(held_port), other, "0")
    assert result.returncode != 0
    assert f"port {held_port} ({option}) is already in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert "contacts API:" not in result.stdout  # nothing was started


def test_up_refuses_the_same_port_for_both_servers(held_port: int) -> None:
    result = _up("--moto-port", "4999", "--api-port", "4999")
    assert result.returncode == 2
    assert "both 4999" in result.stderr


def test_up_refuses_the_same_port_for_dynamodb_and_another_server() -> None:
    result = _up("--moto-port", "0", "--api-port", "4998", "--dynamodb-port", "4998")
    assert result.returncode == 2
    assert "--api-port and --dynamodb-port are both 4998" in result.stderr
