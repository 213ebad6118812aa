"""The WSGI application of a node's HTTP endpoint: JSON-RPC at ``/``, ``/metrics``, ``/health``.

HTTP rules as go-ethereum's rpc/http.go ``validateRequest`` has them: POST only for JSON-RPC
(405 otherwise; a GET of ``/`` with no body is 200 and empty, geth's liveness answer), a body
of at most :data:`MAX_REQUEST_BYTES` (413), Content-Type ``application/json`` (415).  The
application holds no socket: actors/io/http_server.py serves it with waitress.
"""

from __future__ import annotations

import json

from messages.admin import GetMetrics, GetStatus, MetricsReply, StatusReply

from .prometheus import CONTENT_TYPE, exposition
from .rpc_api import NoAnswer, RpcApi

MAX_REQUEST_BYTES = 5 * 1024 * 1024
"""Largest JSON-RPC request body, bytes (go-ethereum rpc/http.go ``defaultBodyLimit``, 5 MiB)."""

JSON_TYPES = ("application/json", "application/json-rpc", "application/jsonrequest")
"""Accepted request Content-Types (go-ethereum rpc/http.go ``acceptedContentTypes``)."""


class HttpApp:
    """A WSGI callable over ``ask(request) -> reply`` (raises :class:`node.rpc_api.NoAnswer`)."""

    def __init__(self, ask):
        self.ask = ask
        self.rpc = RpcApi(ask)

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/") or "/"
        if path == "/metrics":
            return self._metrics(method, start_response)
        if path == "/health":
            return self._health(method, start_response)
        if path != "/":
            return _reply(start_response, "404 Not Found", b"not found\n")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _reply(start_response, "400 Bad Request", b"bad Content-Length\n")
        if method == "GET" and length == 0:
            return _reply(start_response, "200 OK", b"")
        if method != "POST":
            return _reply(start_response, "405 Method Not Allowed", b"method not allowed\n")
        if length > MAX_REQUEST_BYTES:
            return _reply(start_response, "413 Request Entity Too Large",
                          f"content length too large ({length} > {MAX_REQUEST_BYTES})\n".encode())
        ctype = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        if ctype not in JSON_TYPES:
            return _reply(start_response, "415 Unsupported Media Type",
                          b"invalid content type, only application/json is supported\n")
        body = environ["wsgi.input"].read(length) if length else b""
        out = self.rpc.handle(body)
        return _reply(start_response, "200 OK", out or b"", "application/json")

    def _metrics(self, method: str, start_response):
        if method != "GET":
            return _reply(start_response, "405 Method Not Allowed", b"method not allowed\n")
        try:
            reply = self.ask(GetMetrics())
        except NoAnswer as exc:
            return _reply(start_response, "503 Service Unavailable", f"node did not answer: {exc}\n".encode())
        if not isinstance(reply, MetricsReply):
            return _reply(start_response, "503 Service Unavailable", b"node is not running\n")
        return _reply(start_response, "200 OK", exposition(reply.families), CONTENT_TYPE)

    def _health(self, method: str, start_response):
        """``{"up", "peers", "listening"}``: 200 while the node runs, else 503."""
        if method != "GET":
            return _reply(start_response, "405 Method Not Allowed", b"method not allowed\n")
        try:
            status = self.ask(GetStatus())
        except NoAnswer:
            status = None
        if not isinstance(status, StatusReply):
            body = {"up": False, "peers": 0, "listening": False}
        else:
            body = {"up": status.running, "peers": status.peers, "listening": status.listening}
        code = "200 OK" if body["up"] else "503 Service Unavailable"
        return _reply(start_response, code, json.dumps(body).encode() + b"\n", "application/json")


def _reply(start_response, status: str, body: bytes, ctype: str = "text/plain; charset=utf-8"):
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]
