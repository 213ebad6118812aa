"""The Http actor: a node's JSON-RPC, ``/metrics`` and ``/health`` endpoint (docs/operators.md).

It owns the HTTP server (actors/io/http_server.py: waitress on its own threads, serving
node/http_app.py) and carries what HTTP requests ask to the Server, tagging each question so
that answers arriving in any order complete the right request.  A permanent child of the
Server, restarted under ``supervision.http``; faults are injected with target ``http``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace

from thespian.actors import ThespianWatch

from messages.admin import AdminResult, MetricsReply, NodeInfoReply, PeersReply, StatusReply
from messages.lifecycle import HttpFailed, HttpReady
from messages.supervision import ActorPid
from node.http_app import HttpApp

from .base import NodeActor
from .io.http_server import Bridge, HttpServer


class Http(NodeActor):
    """One node's HTTP endpoint."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bridge: Bridge | None = None
        self.http: HttpServer | None = None
        self.server = None
        self.pending: dict[int, object] = {}  # tag -> Future of the HTTP request waiting for it
        self.next_tag = 0

    def watch(self):
        return ThespianWatch([self.bridge.fileno()]) if self.bridge is not None else None

    def on_StartHttp(self, msg, sender):
        cfg = msg.config
        self.server = msg.server
        self.send(msg.server, ActorPid(os.getpid(), "http"))
        logging.getLogger("jsonrpc.manager").disabled = True  # its errors go to the caller, not a traceback each
        bridge = Bridge()
        try:
            http = HttpServer(HttpApp(bridge.ask), cfg.http_host, cfg.http_port)
        except OSError as exc:
            bridge.close()
            self.send(sender, HttpFailed(f"cannot serve HTTP on {cfg.http_host}:{cfg.http_port}: "
                                         f"{exc.strerror or exc}"))
            return
        self.bridge, self.http = bridge, http
        http.start()
        self.log.info("node %s: HTTP JSON-RPC and metrics on http://%s:%d/", cfg.name, http.host, http.port)
        self.send(sender, HttpReady(http.host, http.port))

    def on_WatchMessage(self, msg, sender):
        if self.bridge is None:
            return
        for tag, fut in list(self.pending.items()):
            if fut.done():  # its HTTP request gave up waiting
                del self.pending[tag]
        for request, fut in self.bridge.take():
            if not fut.set_running_or_notify_cancel():
                continue
            self.next_tag += 1
            self.pending[self.next_tag] = fut
            self.send(self.server, replace(request, tag=self.next_tag))

    def _answer(self, msg) -> None:
        fut = self.pending.pop(msg.tag, None)
        if fut is not None and not fut.done():
            fut.set_result(msg)

    def on_PeersReply(self, msg: PeersReply, sender):
        self._answer(msg)

    def on_NodeInfoReply(self, msg: NodeInfoReply, sender):
        self._answer(msg)

    def on_AdminResult(self, msg: AdminResult, sender):
        self._answer(msg)

    def on_StatusReply(self, msg: StatusReply, sender):
        self._answer(msg)

    def on_MetricsReply(self, msg: MetricsReply, sender):
        self._answer(msg)

    def on_Liveness(self, msg, sender):
        pass

    def on_ActorExitRequest(self, msg, sender):
        if self.http is not None:
            self.http.close()
            self.http = None
        for fut in self.pending.values():
            if not fut.done():
                fut.set_result(AdminResult(False, "node is stopping"))
        self.pending.clear()
        if self.bridge is not None:
            self.bridge.close()
            self.bridge = None
