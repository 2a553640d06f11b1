"""``finview up`` as its own process, as a user runs it: started, attached to, measured (RSS), stopped (SIGTERM)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3

from infra.definition import STACK, Names
from infra.local.stack import local_environment
from infra.provision import Provisioned, provision


def _one_status(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
        elif key == "Threads":
            out[key] = int(value)
    return out


def descendants(pid: int) -> list[int]:
    """The process's children, their children, …"""
    out: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return out
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:  # a thread that ended while we looked (moto's server has one per connection)
            continue
        for child in children:
            out.extend([int(child), *descendants(int(child))])
    return out


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS / VmHWM (peak) in MB and threads of a process with its descendants (``finview up`` runs moto's
    server as a child process): the sums, so the peak is an upper bound of the tree's peak."""
    total: dict[str, float] = {"VmRSS": 0.0, "VmHWM": 0.0, "Threads": 0, "first": 0.0}
    for n, p in enumerate([pid, *descendants(pid)]):
        try:
            one = _one_status(p)
        except FileNotFoundError:
            continue
        for key, value in one.items():
            total[key] += value
        if n == 0:
            total["first"] = one.get("VmRSS", 0.0)  # ``finview up`` itself; the rest is moto's process
    return total


class StackProcess:
    """``python -m infra.cli up --moto-port 0 --api-port 0`` in a fresh directory of its own."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="finview-up-")
        self.cwd = Path(self._dir.name)
        self.proc: subprocess.Popen[bytes] | None = None
        self.kept_log: Path | None = None
        self.endpoint_url = self.api_url = ""
        self.provisioned: Provisioned | None = None

    def start(self, timeout: float = 120) -> StackProcess:
        env = {**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "infra.cli", "up", "--moto-port", "0", "--api-port", "0", "--dynamodb-port", "0"],
            cwd=self.cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(self.cwd / "stderr.log").open("wb"),
        )
        state = self.cwd / ".finview" / "stack.json"
        deadline = time.monotonic() + timeout
        while not state.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"finview up did not start: {(self.cwd / 'stderr.log').read_text()[-2000:]}")
            time.sleep(0.2)
        time.sleep(0.2)
        info = json.loads(state.read_text())
        self.endpoint_url, self.api_url = info["endpoint_url"], info["api_url"]
        # the bench's own boto3 calls (reading the job, the queues) go to the same moto, with the same names
        self.provisioned = provision(
            self.endpoint_url, Names(info["stage"]), region=info["region"], dynamodb_url=info.get("dynamodb_url", "")
        )
        os.environ.update(local_environment(self.provisioned, log_file=None))
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        return self

    @property
    def pid(self) -> int:
        assert self.proc
        return self.proc.pid

    def status(self) -> dict[str, float]:
        return proc_status(self.pid)

    def client(self, service: str) -> Any:
        assert self.provisioned
        url = self.provisioned.tables_url if service == "dynamodb" else self.endpoint_url
        return boto3.client(service, endpoint_url=url, region_name=self.provisioned.region)

    def queue_depth(self) -> int:
        assert self.provisioned
        sqs = self.client("sqs")
        total = 0
        for q in STACK.queues:
            attrs = sqs.get_queue_attributes(
                QueueUrl=self.provisioned.queue_urls[q.logical],
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            total += int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])
        return total

    def wait_idle(self, timeout: float, settle: float = 3.0) -> float:
        """Wait until every consumer queue has stayed empty for ``settle`` s; returns when it first was empty."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            if self.queue_depth() == 0:
                quiet_since = quiet_since or time.perf_counter()
                if time.perf_counter() - quiet_since >= settle:
                    return quiet_since
            else:
                quiet_since = None
            time.sleep(0.25)
        raise TimeoutError(f"the stack's queues were not empty after {timeout} s")

    def api(self, method: str, path: str, body: Any = None, query: str = "") -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.api_url}{path}{'?' + query if query else ''}",
            data=data,
            method=method,
            headers={"Authorization": "Bearer local-admin", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw or b"null")
            except ValueError:  # a server fault's body need not be JSON: keep its text for the report
                return e.code, raw.decode(errors="replace")

    def keep_log(self) -> Path:
        """Keep ``finview up``'s stderr after ``stop`` removes the stack's directory: the path it will be copied to
        (the whole log, copied once the process has exited), with the functions' own log beside it (``lambda.log``:
        a handler's traceback, e.g. the API's answer to a 500, is written there, not to stderr)."""
        if self.kept_log is None:
            self.kept_log = Path(tempfile.mkdtemp(prefix="finview-up-log-")) / "stderr.log"
        return self.kept_log

    def stop(self, timeout: float = 30) -> float:
        """SIGTERM; seconds until the process exited."""
        assert self.proc
        start = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
            elapsed = time.perf_counter() - start
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            elapsed = float("inf")
        finally:
            if self.kept_log is not None:
                shutil.copyfile(self.cwd / "stderr.log", self.kept_log)
                handlers = self.cwd / ".finview" / "lambda.log"
                if handlers.exists():
                    shutil.copyfile(handlers, self.kept_log.with_name("lambda.log"))
                print(f"finview up's logs kept in {self.kept_log.parent}", file=sys.stderr)
            self._dir.cleanup()
        return elapsed
