"""One SIGTERM or Ctrl-C stops `finview up` within 5 s, even in the middle of an import, and leaves no port;
an in-process LocalStack stops without leaving its threads or ports behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

from bench.bench_imports_core import generated_csv
from infra.local.stack import LocalStack

pytestmark = pytest.mark.e2e


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def start_up(cwd: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "up", "--moto-port", "0", "--api-port", "0", "--dynamodb-port", "0"],
        cwd=cwd,
        env={**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    state = cwd / ".finview" / "stack.json"
    deadline = time.monotonic() + 120
    while not state.exists():
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "finview up did not start"
        time.sleep(0.1)
    time.sleep(0.2)
    return proc, json.loads(state.read_text())


def stop_and_check(proc: subprocess.Popen[bytes], info: dict[str, str], signum: int, cwd: Path) -> None:
    start = time.monotonic()
    proc.send_signal(signum)
    try:
        code = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"finview up was still running 5 s after {signal.Signals(signum).name}")
    assert code == 0, proc.stderr.read().decode() if proc.stderr else ""
    assert time.monotonic() - start < 5
    assert all(is_free(port_of(info[url])) for url in ("endpoint_url", "dynamodb_url", "api_url"))
    assert not (cwd / ".finview" / "stack.json").exists()


def test_ctrl_c_stops_an_idle_stack(tmp_path: Path) -> None:
    proc, info = start_up(tmp_path)
    stop_and_check(proc, info, signal.SIGINT, tmp_path)


def test_one_sigterm_stops_the_stack_in_the_middle_of_an_import(tmp_path: Path) -> None:
    proc, info = start_up(tmp_path)
    request = urllib.request.Request(
        f"{info['api_url']}/clients",
        data=json.dumps({"legal_name": "Stop GmbH"}).encode(),
        method="POST",
        headers={"Authorization": "Bearer local-admin", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        client_id = json.loads(resp.read())["client_id"]
    time.sleep(1.5)  # imports learns of the client from ClientCreated
    s3 = boto3.client("s3", endpoint_url=info["endpoint_url"], region_name=info["region"])
    bucket = f"finview-{info['stage']}-drops"
    s3.put_object(Bucket=bucket, Key=f"{client_id}/big.csv", Body=b"".join(generated_csv(5_000, seed=2)))
    time.sleep(3)  # the import is running (5,000 rows take far longer than this)
    stop_and_check(proc, info, signal.SIGTERM, tmp_path)


def test_an_in_process_stack_stops_without_threads_or_ports(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    stack = LocalStack(stage="stoptest", log_file=str(tmp_path / "lambda.log")).start()
    ports = (port_of(stack.endpoint_url), port_of(stack.dynamodb_url), port_of(stack.api_url))
    assert not any(is_free(p) for p in ports)
    busy = stack.stop()
    assert busy == []
    time.sleep(0.2)
    left = [
        t.name
        for t in set(threading.enumerate()) - before
        if t.is_alive()
        and not t.name.startswith(
            "ThreadPoolExecutor"  # the services' own worker pools: part of the warm "Lambda instance", idle
        )
    ]
    assert left == []
    assert all(is_free(p) for p in ports)
