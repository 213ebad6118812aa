"""The Dialer actor (go-ethereum p2p/dial.go): keeps static nodes connected and fills dynamic
dial slots, using :class:`node.dial_scheduler.DialScheduler`.  It asks the Server to create a
Peer for each dial (:class:`messages.peer.DialRequest`) and learns the outcome from
:class:`messages.peer.DialDone`, :class:`messages.peer.PeerUp` and :class:`messages.peer.PeerDown`.

Enodes given by host name are resolved here before the scheduler's checks (go-ethereum
p2p/dial.go ``dialTask.resolve``): ``getaddrinfo`` runs in a small thread pool, so the actor never
blocks, and the answers are collected on a short poll timer; a name with no answer within
:data:`node.dial_scheduler.RESOLVE_TIMEOUT_S` counts as unresolved.  A name that does not
resolve is reported to the Server (:class:`messages.peer.DialUnresolved`), which publishes
``dial_failed`` with cause "resolve".
"""

from __future__ import annotations

import os
import socket
import time
from concurrent.futures import Future, ThreadPoolExecutor

from messages.admin import AdminResult
from messages.peer import DialRequest, DialUnresolved
from messages.supervision import ActorPid
from rlpx.enode import Enode
from rlpx.errors import EnodeError

from .base import NodeActor
from node.dial_scheduler import RESOLVE_TIMEOUT_S, DialScheduler

TICK_S = 1.0
"""Re-check interval while anything waits for its dial history to expire, seconds."""

RESOLVE_POLL_S = 0.01
"""Poll interval for name resolutions in flight, seconds."""

RESOLVER_THREADS = 4
"""Threads of the resolver pool (resolutions in flight at once)."""


def resolve_host(host: str, port: int) -> list[str]:
    """The IP addresses of ``host`` (system resolver, TCP), in the resolver's order.  Raises
    OSError (socket.gaierror) when it does not resolve.  Names under the reserved ``invalid``
    TLD fail at once, without asking the resolver (RFC 6761 section 6.4)."""
    if host.rstrip(".").lower().rpartition(".")[2] == "invalid":
        raise socket.gaierror(socket.EAI_NONAME, "reserved .invalid name (RFC 6761)")
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        ip = info[4][0]
        if ip not in seen:
            seen.append(ip)
    return seen


class Dialer(NodeActor):
    """Dial scheduling for one node.  ``clock`` (monotonic seconds) is what the scheduler and the
    resolve timeout are fed with (tests replace it)."""

    clock = staticmethod(time.monotonic)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sched: DialScheduler | None = None
        self.server = None
        self.pool: ThreadPoolExecutor | None = None
        self.resolving: dict[bytes, tuple[Future, float, str, int]] = {}  # node id -> (lookup, started, host, port)

    def on_StartDialer(self, msg, sender):
        cfg = msg.config
        self.server = msg.server
        self.send(msg.server, ActorPid(os.getpid(), "dialer"))
        t = cfg.timeouts
        self.sched = DialScheduler(msg.local_node_id, cfg.max_pending_peers, cfg.max_dialed_conns(),
                                   t.dial_history_s, t.dial_backoff_max_s, cfg.net_restrict)
        self.no_dial = cfg.no_dial
        for url in msg.static_nodes or cfg.static_nodes:
            self.sched.add_static(url)
        for url in cfg.dial_candidates:
            self.sched.add_candidate(url)
        self._schedule()

    def _schedule(self):
        if self.sched is None:
            return
        now = self.clock()
        for node_id, host, port in self.sched.resolve_due(now):
            if self.pool is None:
                self.pool = ThreadPoolExecutor(RESOLVER_THREADS, thread_name_prefix="resolve")
            self.resolving[node_id] = (self.pool.submit(resolve_host, host, port), now, host, port)
        for enode, static in self.sched.due(now):
            self.send(self.server, DialRequest(enode.url(), static=static))
        if self.resolving and not self.timers.is_set("resolve"):
            self.after("resolve", RESOLVE_POLL_S)
        nxt = self.sched.next_due(now)
        if nxt is not None:
            self.timers.set("tick", min(nxt, now + TICK_S))

    def _collect(self):
        """Hand the finished (or timed-out) resolutions to the scheduler."""
        now = self.clock()
        for node_id, (future, started, host, port) in list(self.resolving.items()):
            if future.done():
                exc = future.exception()
                addresses, error = (future.result(), "") if exc is None else ([], f"{exc}")
            elif now - started >= RESOLVE_TIMEOUT_S:
                future.cancel()
                addresses, error = [], f"no answer within {RESOLVE_TIMEOUT_S:g} s"
            else:
                continue
            del self.resolving[node_id]
            if self.sched.resolved(node_id, addresses, now) is None:
                error = f"cannot resolve {host}: {error or 'no address'}"
                self.log.info("dialer: %s", error)
                self.send(self.server, DialUnresolved(node_id, Enode(node_id, host, port, port).url(), error))
        self._schedule()

    def on_timer(self, name):
        if name == "resolve":
            self._collect()
        else:
            self._schedule()

    def on_DialDone(self, msg, sender):
        self.sched.dial_done(msg.node_id, msg.ok, self.clock())
        self._schedule()

    def on_PeerUp(self, msg, sender):
        self.sched.peer_up(msg.node_id, msg.dialed)
        self._schedule()

    def on_PeerDown(self, msg, sender):
        self.sched.peer_down(msg.node_id)
        self._schedule()

    def on_DialCandidates(self, msg, sender):
        """Nodes found by discovery (actors/discovery.py): dynamic dial candidates."""
        for url in msg.urls:
            try:
                self.sched.add_candidate(url)
            except EnodeError as exc:
                self.log.debug("dialer: discovery candidate %s: %s", url[:80], exc)
        self._schedule()

    def on_AdminCommand(self, msg, sender):
        try:
            if msg.op == "add_peer":
                self.sched.add_static(msg.enode)
            elif msg.op == "remove_peer":
                self.sched.remove_static(msg.enode)
        except EnodeError as exc:
            self.send(sender, AdminResult(False, str(exc)))
            return
        self._schedule()

    def on_Liveness(self, msg, sender):
        pass

    def on_ActorExitRequest(self, msg, sender):
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None
