"""infra.local.wsgi_server: the HTTP/1.1 server moto's process runs, as botocore and the local stack use it."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from infra.local.wsgi_server import WsgiServer

REGION = "eu-west-1"


@pytest.fixture
def echo() -> Iterator[WsgiServer]:
    """A WSGI app that answers with what it was given (and fails on /boom)."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("boom")
        body = environ["wsgi.input"].read()
        seen = [
            f"{k}={v}" for k, v in sorted(environ.items()) if k.startswith("HTTP_") or k in ("RAW_URI", "PATH_INFO")
        ]
        out = b"\n".join([f"{environ['REQUEST_METHOD']} len={len(body)}".encode(), body, *(s.encode() for s in seen)])
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(out)))])
        return [out]

    server = WsgiServer(app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def _exchange(server: WsgiServer, raw: bytes, *, wait_for: bytes = b"") -> bytes:
    with socket.create_connection((server.host, server.port), timeout=5) as conn:
        conn.sendall(raw)
        conn.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    return data


def test_keep_alive_chunked_bodies_head_and_close(echo: WsgiServer) -> None:
    raw = (
        b"POST /a%20b/c?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
        b"PUT /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nWiki\r\n6;ext=1\r\npedia \r\n0\r\nTrailer: x\r\n\r\n"
        b"HEAD /head HTTP/1.1\r\nHost: h\r\n\r\n"
        b"GET /last HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        b"GET /never HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    data = _exchange(echo, raw)
    responses = data.split(b"HTTP/1.1 200 OK\r\n")[1:]
    assert len(responses) == 4  # the request after "Connection: close" is not answered
    assert b"POST len=5\nhello\n" in responses[0] and b"PATH_INFO=/a b/c\n" in responses[0]
    assert b"RAW_URI=/a%20b/c?x=1" in responses[0] and b"Connection: keep-alive" in responses[0]
    assert b"PUT len=10\nWikipedia \n" in responses[1]
    head, _, body = responses[2].partition(b"\r\n\r\n")
    assert b"Content-Length: " in head and not body.startswith(b"HEAD")  # a HEAD answer has no body
    assert b"Connection: close" in responses[3] and b"/never" not in data


def test_expect_100_continue_is_answered_before_the_body(echo: WsgiServer) -> None:
    with socket.create_connection((echo.host, echo.port), timeout=5) as conn:
        conn.sendall(b"PUT /up HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        assert conn.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        conn.sendall(b"abc")
        assert b"PUT len=3\nabc" in conn.recv(65536)


def test_underscored_headers_are_dropped_and_a_failing_app_answers_500(echo: WsgiServer) -> None:
    data = _exchange(
        echo,
        b"GET /h HTTP/1.1\r\nHost: h\r\nX_Spoof: 1\r\nX-Real: 2\r\nX-Real: 3\r\nConnection: close\r\n\r\n",
    )
    assert b"HTTP_X_REAL=2,3" in data and b"SPOOF" not in data
    data = _exchange(echo, b"GET /boom HTTP/1.1\r\nHost: h\r\n\r\nGET /after HTTP/1.1\r\nHost: h\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 500 ") and b"GET len=0" in data  # and the connection served the next one


def test_s3_through_moto_on_this_server_keeps_keys_and_metadata(moto_endpoint: str) -> None:
    """The session's moto server runs on WsgiServer: S3's encoded keys and x-amz-meta-* spellings survive, and a
    large upload (botocore sends Expect: 100-continue above 1 MB) goes through without its 1 s wait."""
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION)
    bucket = f"wsgi-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    key = "drops/Kunde ÄÖ+100%/file;v=1.csv"
    s3.put_object(Bucket=bucket, Key=key, Body=b"a,b\n1,2\n", Metadata={"my_key": "x", "other-key": "y"})
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == b"a,b\n1,2\n"
    assert got["Metadata"] == {"my_key": "x", "other-key": "y"}
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
    big = uuid.uuid4().bytes * 100_000  # 1.6 MB
    s3.put_object(Bucket=bucket, Key="big", Body=big)
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == big
