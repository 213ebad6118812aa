"""The Dialer actor (go-ethereum p2p/dial.go): keeps static nodes connected and fills dynamic
dial slots, using :class:`node.dial_scheduler.DialScheduler`.  It asks the Server to create a
Peer for each dial (:class:`messages.peer.DialRequest`) and learns the outcome from
:class:`messages.peer.DialDone`, :class:`messages.peer.PeerUp` and :class:`messages.peer.PeerDown`.
"""

from __future__ import annotations

import os
import time

from messages.admin import AdminResult
from messages.peer import DialRequest
from messages.supervision import ActorPid
from rlpx.errors import EnodeError

from .base import NodeActor
from node.dial_scheduler import DialScheduler

TICK_S = 1.0
"""Re-check interval while anything waits for its dial history to expire, seconds."""


class Dialer(NodeActor):
    """Dial scheduling for one node."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sched: DialScheduler | None = None
        self.server = None

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
        now = time.monotonic()
        for enode, static in self.sched.due(now):
            self.send(self.server, DialRequest(enode.url(), static=static))
        nxt = self.sched.next_due(now)
        if nxt is not None:
            self.timers.set("tick", min(nxt, now + TICK_S))

    def on_timer(self, name):
        self._schedule()

    def on_DialDone(self, msg, sender):
        self.sched.dial_done(msg.node_id, msg.ok, time.monotonic())
        self._schedule()

    def on_PeerUp(self, msg, sender):
        self.sched.peer_up(msg.node_id, msg.dialed)
        self._schedule()

    def on_PeerDown(self, msg, sender):
        self.sched.peer_down(msg.node_id)
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
