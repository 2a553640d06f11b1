"""A local API Gateway (REST, Lambda proxy) in front of the contacts Chalice app.

Each HTTP request becomes the API Gateway proxy event AWS would send, including ``requestContext.authorizer``
as an authorizer would fill it; the tokens come from a bearer-token map instead of a JWT/Lambda authorizer.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote

from chalice.local import RouteMatcher
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from infra.definition import Function
from infra.local.fidelity import isolate_chalice_requests
from infra.local.lambda_runtime import ACCOUNT, context_for, resolve

DEFAULT_TOKENS: dict[str, dict[str, str]] = {
    "local-admin": {"principalId": "admin@agency.example", "role": "agency_admin"},
    "local-collector": {"principalId": "collector@agency.example", "role": "collector"},
}


def proxy_event(
    method: str,
    path: str,
    *,
    resource: str,
    path_params: Mapping[str, str] | None,
    headers: Mapping[str, str],
    query: Mapping[str, list[str]],
    body: bytes | None,
    authorizer: Mapping[str, str] | None,
    source_ip: str = "127.0.0.1",
    stage: str = "api",
) -> dict[str, Any]:
    """The API Gateway REST proxy event (payload 1.0) for one request."""
    text: str | None = None
    is_b64 = False
    if body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text, is_b64 = base64.b64encode(body).decode(), True
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": dict(query) or None,
        "pathParameters": dict(path_params) if path_params else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "accountId": ACCOUNT,
            "apiId": "local",
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent", "")},
            "authorizer": dict(authorizer) if authorizer else None,
        },
        "body": text,
        "isBase64Encoded": is_b64,
    }


class LocalApiGateway:
    def __init__(self, function: Function, region: str, stage: str, tokens: Mapping[str, Mapping[str, str]]) -> None:
        self.function = function
        self.region, self.stage = region, stage
        self.tokens = {**DEFAULT_TOKENS, **{k: dict(v) for k, v in tokens.items()}}
        chalice_app: Any = resolve(function)
        self._app = chalice_app
        self._matcher = RouteMatcher(list(chalice_app.routes))
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def authorizer_for(self, headers: Mapping[str, str]) -> dict[str, str] | None:
        auth = headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        return dict(self.tokens[token]) if token in self.tokens else None

    def invoke(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, list[str]] | None = None,
        body: bytes | None = None,
    ) -> dict[str, Any]:
        """Route one request through the Lambda handler; returns the proxy response dict."""
        headers = dict(headers or {})
        # Routed on the path as sent (percent-encoded), its parameters decoded afterwards, as API Gateway does:
        # an encoded '?', '#' or '/' inside a parameter stays inside it.
        try:
            match = self._matcher.match_route(path)
        except ValueError:
            return _error(404, "route_not_found", f"no route {method} {unquote(path)}")
        resource = match.route
        if method.upper() not in self._app.routes[resource]:
            return _error(405, "method_not_allowed", f"{method} is not allowed on {resource}")
        event = proxy_event(
            method.upper(),
            unquote(path),
            resource=resource,
            path_params={k: unquote(v) for k, v in (match.captured or {}).items()},
            headers=headers,
            query=query or {},
            body=body,
            authorizer=self.authorizer_for(headers),
        )
        # Concurrent requests are concurrent Lambda instances: infra.local.fidelity gives each its own request.
        isolate_chalice_requests()
        return self._app(event, context_for(self.function, self.region, self.stage))  # type: ignore[no-any-return]

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        raw_path = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(request.path)).split("?", 1)[0]
        result = self.invoke(
            request.method,
            raw_path,
            headers=dict(request.headers),
            query={k: request.args.getlist(k) for k in request.args},
            body=request.get_data(),
        )
        body = result.get("body") or ""
        payload = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
        response = Response(payload, status=result["statusCode"])
        for k, v in (result.get("headers") or {}).items():
            response.headers[k] = v
        for k, values in (result.get("multiValueHeaders") or {}).items():
            for v in values:
                response.headers.add(k, v)
        return response(environ, start_response)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = make_server(host, port, self.wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-apigw", daemon=True)
        self._thread.start()
        return f"http://{host}:{self._server.server_port}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._thread:
            self._thread.join(timeout=2)


def _error(status: int, code: str, message: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"error": {"code": code, "message": message, "field": None}}),
    }
