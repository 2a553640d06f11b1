"""moto's server in a process of its own, with the local stack's fidelity patches installed in that process.

Why: in one interpreter, moto's server and every handler share one GIL, so a busy import ran at the speed of one
core, the server side of each request (werkzeug, moto) and its client side (botocore, our code) taking turns. In
its own process moto uses the other core, as AWS's services do not run inside the Lambda's process either.

The child prints ``port <n>`` as its first line (or ``error <errno> <message>`` when it cannot bind), then reads
commands from stdin, one a line:

- ``ses-feedback <topic-arn> <region>``: start SES's delivery notifications (``infra.local.ses_feedback`` reads
  moto's SES backend in memory, so it runs here, beside it);
- ``patches``: answer ``patches <name> …``, the fidelity corrections installed here (``fidelity.installed()``).

When its stdin closes (the parent stopped it, or died), it exits at once: ``os._exit`` frees moto's whole data set
in one go instead of object by object (seconds after a big import), and nothing is left behind.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from infra.local import fidelity, memory
from infra.local.wsgi_server import WsgiServer

START_TIMEOUT = 60.0  # importing moto and binding; seconds on a loaded 2-core machine
STOP_TIMEOUT = 3.0
SERVER_THREADS = 64


def quiet_moto() -> None:
    for name in ("werkzeug", "waitress", "moto", "botocore.credentials"):
        logging.getLogger(name).setLevel(logging.ERROR)


def serve(port: int) -> int:
    """The child: moto's server on 127.0.0.1:``port`` (0: any free port) until stdin closes."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    # Ctrl-C in a terminal reaches the whole process group: the parent stops this process by closing our stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    quiet_moto()
    fidelity.install()
    fidelity.stored_items_frozen()
    app = DomainDispatcherApplication(create_backend_app)
    try:
        run, bound = _server(app, port)
    except OSError as exc:
        print(f"error {exc.errno or 0} {exc.strerror or exc}", flush=True)
        return 2
    threading.Thread(target=run, name="moto-server", daemon=True).start()
    memory.trim_periodically(threading.Event())  # until os._exit below (infra.local.memory)
    print(f"port {bound}", flush=True)
    feedback = None
    for line in sys.stdin:
        command, *args = line.split()
        if command == "ses-feedback" and feedback is None:
            from infra.local.ses_feedback import SesFeedback

            feedback = SesFeedback(args[0], args[1])
            feedback.start()
        elif command == "patches":
            print("patches", *fidelity.installed(), flush=True)
    sys.stdout.flush()
    os._exit(0)


def _server(app: Any, port: int) -> tuple[Callable[[], None], int]:
    """The HTTP server for moto's app, and its port. moto's own server (werkzeug's) closes the connection after
    every response, so each request cost a new TCP connection and a new thread, on both sides; both servers here
    keep connections alive, as AWS's endpoints do. ``infra.local.wsgi_server`` serves each connection on its
    own thread; ``FINVIEW_MOTO_FAST_PATH=0`` keeps waitress (the bench compares the two in one run)."""
    if os.environ.get("FINVIEW_MOTO_FAST_PATH") == "0":
        from waitress.server import create_server

        # every poller holds a thread for its long poll (up to 1 s), hence the many threads
        server = create_server(
            app,
            host="127.0.0.1",
            port=port,
            threads=SERVER_THREADS,
            connection_limit=1000,
            channel_timeout=300,
            ident="amazon.com",
        )
        return server.run, server.effective_port  # type: ignore[union-attr]
    lean = WsgiServer(app, port=port)
    return lean.serve_forever, lean.port


class MotoProcess:
    """The parent's handle on the child: started, told things, stopped (its port is free when stop returns)."""

    def __init__(self, port: int = 0, env: dict[str, str] | None = None) -> None:
        self.port, self.env = port, env
        self.proc: subprocess.Popen[str] | None = None
        self.endpoint_url = ""

    def start(self) -> MotoProcess:
        return self.launch().started()

    def launch(self) -> MotoProcess:
        """Start the child without waiting for it (``started`` waits): two servers import moto side by side."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "infra.local.moto_process", "--port", str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=memory.child_environment(self.env),  # glibc reads it at start: two arenas (infra.local.memory)
            text=True,
            bufsize=1,
        )
        return self

    def started(self) -> MotoProcess:
        """Wait until the launched child listens; raises ``OSError`` (and stops it) when it cannot."""
        assert self.proc and self.proc.stdout
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT)
        first = self.proc.stdout.readline().split(maxsplit=2) if ready else []
        if first[:1] == ["port"]:
            self.endpoint_url = f"http://127.0.0.1:{first[1]}"
            return self
        self.stop()
        if first[:1] == ["error"]:
            code = int(first[1])
            raise OSError(code, first[2] if len(first) > 2 else os.strerror(code))
        raise OSError(errno.ETIMEDOUT, f"moto's server did not start within {START_TIMEOUT:.0f} s")

    def tell(self, *words: str) -> None:
        assert self.proc and self.proc.stdin
        self.proc.stdin.write(" ".join(words) + "\n")
        self.proc.stdin.flush()

    def patches(self) -> list[str]:
        """The fidelity corrections installed in moto's process."""
        assert self.proc and self.proc.stdout
        self.tell("patches")
        words = self.proc.stdout.readline().split()
        assert words[:1] == ["patches"], words
        return words[1:]

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.moto_process")
    parser.add_argument("--port", type=int, default=0)
    return serve(parser.parse_args(argv).port)


if __name__ == "__main__":
    sys.exit(main())
