"""A small HTTP/1.1 server for moto's WSGI app: one thread per keep-alive connection, nothing else.

Why not waitress (which served moto before): waitress reads and parses each request on its event-loop thread,
hands it to a worker thread, and the worker hands the response back to the loop through a pipe. For moto's
small requests that round trip, three threads taking the GIL in turn, cost ~40 % of moto's CPU per request
(py-spy, bench/bench_moto_requests.py). Here the connection's own thread reads the request, calls the app and
writes the answer; botocore keeps its connections alive, so a thread serves many requests.

It speaks what botocore and the local stack send: Content-Length or chunked request bodies, ``Expect:
100-continue`` (botocore waits up to a second for it before an S3 upload), keep-alive, HEAD. The WSGI environ
is the one moto expects from its own (werkzeug) server, RAW_URI included, and header names with underscores are
dropped as werkzeug and waitress drop them, except S3's ``x-amz-meta-*`` whose spelling moto preserves.
"""

from __future__ import annotations

import io
import logging
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_to_bytes

log = logging.getLogger("finview.local")

IDLE_TIMEOUT = 300.0  # seconds a kept-alive connection may sit unused (waitress's channel_timeout)
MAX_HEADER_LINE = 65536
MAX_HEADERS = 200

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class BadRequest(Exception):
    pass


class WsgiServer:
    """Serve ``app`` on ``host:port`` (0: any free port) from ``serve_forever`` until ``shutdown``."""

    def __init__(self, app: WsgiApp, host: str = "127.0.0.1", port: int = 0, ident: str = "amazon.com") -> None:
        self.app, self.ident = app, ident
        self.sock = socket.create_server((host, port), backlog=1024)
        self.host, self.port = self.sock.getsockname()[:2]
        self._stopping = False

    def serve_forever(self) -> None:
        while not self._stopping:
            try:
                conn, addr = self.sock.accept()
            except OSError:
                if self._stopping:
                    return
                raise
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve_connection, args=(conn, addr), daemon=True).start()

    def shutdown(self) -> None:
        self._stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _serve_connection(self, conn: socket.socket, addr: Any) -> None:
        conn.settimeout(IDLE_TIMEOUT)
        reader = conn.makefile("rb", buffering=65536)
        try:
            while self._serve_request(conn, reader, addr):
                pass
        except (OSError, BadRequest):  # the client went away, timed out or spoke nonsense: drop the connection
            pass
        finally:
            reader.close()
            conn.close()

    def _serve_request(self, conn: socket.socket, reader: Any, addr: Any) -> bool:
        """Serve one request; whether the connection stays open for the next."""
        line = reader.readline(MAX_HEADER_LINE + 1)
        if not line:
            return False
        if line in (b"\r\n", b"\n"):  # tolerated between requests (RFC 9112 2.2)
            return True
        try:
            method, target, version = line.decode("latin-1").rstrip("\r\n").split(" ")
        except ValueError:
            raise BadRequest(line) from None
        headers: list[tuple[str, str]] = []
        while True:
            line = reader.readline(MAX_HEADER_LINE + 1)
            if line in (b"\r\n", b"\n", b""):
                break
            if len(headers) >= MAX_HEADERS or len(line) > MAX_HEADER_LINE:
                raise BadRequest("headers")
            name, _, value = line.decode("latin-1").partition(":")
            if headers and name[:1] in (" ", "\t"):  # obsolete line folding
                headers[-1] = (headers[-1][0], headers[-1][1] + " " + line.decode("latin-1").strip())
                continue
            headers.append((name.strip(), value.strip()))
        environ = self._environ(method, target, version, headers, addr)
        if environ.get("HTTP_EXPECT", "").lower() == "100-continue":
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ["wsgi.input"] = io.BytesIO(self._body(reader, environ))
        keep_alive = _keep_alive(version, environ.get("HTTP_CONNECTION", ""))
        conn.sendall(self._respond(environ, method, keep_alive))
        return keep_alive

    def _environ(
        self, method: str, target: str, version: str, headers: list[tuple[str, str]], addr: Any
    ) -> dict[str, Any]:
        from moto.core.request import (
            PRESERVED_HEADER_NAMES_ENVIRON_KEY,
            environ_key_for_header,
            should_preserve_original_header_name,
        )

        path, _, query = target.partition("?")
        if path.startswith("/"):
            path = "/" + path.lstrip("/")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method.upper(),
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "RAW_URI": target,
            "REQUEST_URI": target,
            "SERVER_NAME": self.host,
            "SERVER_PORT": str(self.port),
            "SERVER_PROTOCOL": version,
            "SERVER_SOFTWARE": self.ident,
            "REMOTE_ADDR": addr[0],
            "REMOTE_PORT": str(addr[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
        }
        preserved: dict[str, str] = {}
        for name, value in headers:
            key = environ_key_for_header(name)
            if "_" in name:
                if not should_preserve_original_header_name(name):
                    continue  # as werkzeug and waitress: X_Foo must not pass for X-Foo
                preserved.setdefault(key, name)
            if key in environ and key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] += "," + value
            else:
                environ[key] = value
        environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = preserved
        return environ

    @staticmethod
    def _body(reader: Any, environ: dict[str, Any]) -> bytes:
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            parts = []
            while True:
                size_line = reader.readline(MAX_HEADER_LINE)
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise BadRequest("chunk size") from None
                if size == 0:
                    while reader.readline(MAX_HEADER_LINE) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                parts.append(reader.read(size))
                reader.readline(MAX_HEADER_LINE)
            body = b"".join(parts)
            environ["CONTENT_LENGTH"] = str(len(body))
            return body
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise BadRequest("content-length") from None
        body = reader.read(length) if length > 0 else b""
        if len(body) < length:
            raise BadRequest("short body")
        return body  # type: ignore[no-any-return]

    def _respond(self, environ: dict[str, Any], method: str, keep_alive: bool) -> bytes:
        started: list[Any] = []

        def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, response_headers]
            return lambda data: chunks.append(data)

        chunks: list[bytes] = []
        try:
            result = self.app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:
            log.error("moto's server failed on %s %s:\n%s", method, environ.get("RAW_URI"), traceback.format_exc())
            started[:] = ["500 Internal Server Error", [("Content-Type", "text/plain")]]
            chunks = [HTTPStatus.INTERNAL_SERVER_ERROR.phrase.encode()]
        status, response_headers = started
        body = b"".join(chunks)
        names = {name.lower() for name, _ in response_headers}
        lines = [f"HTTP/1.1 {status}"]
        lines += [f"{name}: {value}" for name, value in response_headers if name.lower() != "connection"]
        code = int(status[:3])
        bodiless = method == "HEAD" or code in (204, 304) or 100 <= code < 200
        if "content-length" not in names and not (code in (204, 304) or 100 <= code < 200):
            lines.append(f"Content-Length: {len(body)}")
        if "server" not in names:
            lines.append(f"Server: {self.ident}")
        if "date" not in names:
            lines.append(f"Date: {formatdate(usegmt=True)}")
        lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if bodiless else head + body


def _keep_alive(version: str, connection: str) -> bool:
    tokens = {t.strip().lower() for t in connection.split(",")}
    if version == "HTTP/1.1":
        return "close" not in tokens
    return "keep-alive" in tokens
