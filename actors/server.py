"""The Server actor: one per node (go-ethereum p2p/server.go ``Server.run``).

It owns the peer set and the admission checkpoints (:class:`node.admission.Admission`),
creates the Listener, the Dialer and one Peer actor per connection, publishes peer events
to subscribers, answers admin queries, and shuts the node down.

Supervision (Erlang/OTP one-for-one, node/supervision.py): the Listener and the Dialer are
permanent children restarted under their policy (intensity N in T seconds, exponential
backoff; past the intensity the node stops, as an OTP supervisor would); a Peer is temporary:
its death is a dropped connection, published, and static nodes are dialled again.  Deaths are
learnt from ``ChildActorExited`` (de-duplicated: a dead child's address no longer matches) and
from a periodic liveness sweep - each child's process in /proc, or a dead-letter probe while
its pid is unknown - because some notices are lost when several children die at once
(docs/thespian-facts.md §3).  Faults are injected with
:class:`messages.supervision.FaultRequest`.

Peer pool (``NodeConfig.peer_pool``): the Server keeps that many Peer actors started and idle
(state ``pooled``), and gives a new connection - inbound or dialled - to one of them, so the
fork (5-8 ms, docs/thespian-facts.md §5) and the new process's start-up are not on the connection's
path; it creates a Peer on demand only when the pool is empty.  The pool is refilled off that
path (:data:`POOL_REFILL_DELAY_S` after a Peer is taken, one fork per timer tick).  A pooled
Peer is an ordinary child of the Server with a record in ``peers`` (its pid taken from Thespian
at creation), so ChildActorExited and the /proc sweep cover it (the dead-letter probe starts
once it has a connection, see ``on_timer``); its death is published as ``actor_exited``
(``pooled``: true) and the pool refilled.  It never counts as a peer, a pending connection or
a disconnected peer at stop.  Off by default (config/model.py ``peer_pool``): with a pool, rare
lost messages were seen (a pooled Peer's PeerGone after the pool was forked during the node's
first dial, avoided by :data:`POOL_REFILL_DELAY_S`; a ``stopped`` event at shutdown) and
processes were left after shutdown: the Server and its pooled Peers held each other in
Thespian's exit drain (fixed: ``patch_drain_accepts_incoming`` in actors/adapter/thespian_patches.py;
with ``peer_pool: 2`` as the default of a scratch copy the node, supervision and interop tests
then passed 8 passes of 8, against about one pass in three failing before).  It stays off:
it takes the fork off a connection's path but not off the node's CPU, and the 100-client
burst measured the same rate with 8 pooled Peers as with none (bench/profile_burst.py
``--pool``, 3 alternating pairs).
"""

from __future__ import annotations

import os
import signal
import time

from thespian.actors import ActorExitRequest, ChildActorExited, ThespianWatch

from messages.admin import AdminResult, NodeInfoReply, PeersReply
from messages.admission import ADD_PEER, POST_HANDSHAKE, CheckpointReply
from messages.events import NodeEvent, Subscribed
from messages.lifecycle import NodeStarted, NodeStopped, StartDialer, StartFailed, StartListener
from messages.peer import (DialDone, DisconnectPeer, FdSent, Liveness, PeerDown, PeerInfoRequest, PeerStartInbound,
                           PeerStartOutbound, PeerUp, SlotFree)
from protocols import UnknownProtocolError, load_class, resolve
from rlpx.disc import DiscReason
from rlpx.enode import Enode, parse_enode
from rlpx.errors import EnodeError
from rlpx.keys import node_hash, node_id_from_private_key

from messages.supervision import FAULT_MODES, InjectFault

from .io import fd_handoff
from node.admission import Admission
from node.supervision import ChildSupervisor

from .io.procs import process_alive
from .base import NodeActor
from .dialer import Dialer
from .listener import Listener
from .peer import Peer
from .io.prefork import rehearse_connection

UNCLAIMED_TIMEOUT_S = 10.0
"""A socket held for a pooled Peer that has not fetched it within this time is closed, seconds."""

PEER_INFO_TIMEOUT_S = 2.0
"""How long admin_peers waits for the Peers' current entries before answering with what it has, seconds."""

STOP_TIMEOUT_S = 3.0
"""How long StopNode waits for peers to report their Disconnect before giving up, seconds."""

POOL_REFILL_DELAY_S = 0.25
"""The Peer pool is (re)filled this long after the node is ready or after the first Peer is
taken from a full pool, seconds, then one fork per timer tick until full.  A fork takes 5-8 ms
of the Server's time (docs/thespian-facts.md §5); the delay keeps the forks away from the connection
that was just handed over, whose handshake (~20-50 ms on loopback) then runs without them.
Measured: forking the pool at once while the node's first dial ran made that Peer's messages
to the Server (ActorPid, PeerGone) go missing in ~15 % of the runs of
tests/test_node_connect.py::test_static_nodes_from_config (Thespian 4.0.1; cause not found)."""

POOLED = "pooled"
"""_PeerRec.state of an idle Peer actor in the pool (started, not yet given a connection)."""


class _PeerRec:
    __slots__ = ("addr", "inbound", "conn_id", "dial_id", "static", "node_id", "seen_id", "state", "info", "remote",
                 "since", "pid")

    def __init__(self, addr, inbound, conn_id=None, dial_id=None, static=False, remote=()):
        self.addr = addr
        self.inbound = inbound
        self.conn_id = conn_id
        self.dial_id = dial_id
        self.static = static
        self.node_id: bytes | None = None  # set once checkpoint 1 is passed
        self.seen_id: bytes | None = None  # the identity from the handshake, even if rejected
        self.state = "handshake"  # -> connected (checkpoint 1) -> added (checkpoint 2)
        self.info: dict = {}
        self.remote = remote
        self.since = time.time()
        self.pid: int | None = None


class Server(NodeActor):
    """One devp2p node."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cfg = None
        self.peers: dict[int, _PeerRec] = {}
        self._next_key = 0
        self.subscribers: dict[str, tuple] = {}
        self.listener = None
        self.dialer = None
        self.launcher = None
        self.started = False
        self.stopping = False
        self.stop_requesters: list = []
        self.stop_done = False
        self.stop_reason = "requested"
        self.stopped_count = 0
        self.port = 0
        self.host = "127.0.0.1"
        self.static_nodes: list[str] = []
        self.pool: list[int] = []  # keys (in self.peers) of idle pooled Peers, oldest first
        self._seen: dict[str, int] = {}  # str(real address) -> key in self.peers (see _find)
        self.exiting = False  # ActorExitRequest received: create no more children
        self.inbox = None     # inbound hand-off socket (actors/io/fd_handoff.py) and its name
        self.inbox_name = b""
        self.held: dict[str, tuple[int, float]] = {}  # conn_id -> (fd, since) for a pooled Peer to fetch
        self.info_requests: dict[int, tuple] = {}  # GetPeers being answered: id -> (asker, Peer keys waited for)
        self._next_info_request = 0

    # -- start -------------------------------------------------------------------------
    def on_StartServer(self, msg, sender):
        cfg = self.cfg = msg.config
        self.launcher = sender
        self.dials_held = msg.hold_dials
        for sub in msg.subscribers:
            self.subscribers[str(sub)] = (sub, frozenset())
        try:
            for pc in cfg.protocols:
                # Import the Protocol actor classes here, once: every Peer is forked from this
                # process and inherits the loaded modules, instead of importing (and, without
                # .pyc files, compiling) them in each Peer when it starts its Protocol actors -
                # ~10 % of a Peer's CPU during the 100-client burst (bench/profile_burst.py).
                load_class(resolve(pc).actor)
            self.local_id = node_id_from_private_key(cfg.private_key)
            trusted = {parse_enode(u).node_id for u in cfg.trusted_nodes}
            for u in cfg.static_nodes:
                parse_enode(u)
        except (UnknownProtocolError, EnodeError) as exc:
            self.send(sender, StartFailed(cfg.name, str(exc)))
            return
        # the wire layer's one-time set-up, done here once instead of in every Peer forked from
        # this process (actors/io/prefork.py: PSS per peer 14.65 -> 12.1 MiB)
        rehearse_connection([(p.name, p.version, p.length) for p in map(resolve, cfg.protocols)])
        self.static_nodes = list(cfg.static_nodes)
        self.sup = {"listener": ChildSupervisor(cfg.supervision.listener),
                    "dialer": ChildSupervisor(cfg.supervision.dialer)}
        self.restart_info: dict = {}
        self.child_pids: dict[str, int] = {}
        self.injected: dict[str, str] = {}
        self.admission = Admission(self.local_id, cfg.max_peers, cfg.max_inbound_conns(), trusted,
                                   have_protocols=bool(cfg.protocols))
        self.host, self.port = cfg.listen_host, cfg.listen_port
        self.handleDeadLetters()
        if cfg.no_listen:
            self.port = 0
            self._ready()
        else:
            self.inbox, self.inbox_name = fd_handoff.inbox()
            self._start_listener()
        self.after("liveness", cfg.supervision.liveness_s)

    def _start_listener(self):
        self.child_pids.pop("listener", None)
        self.listener = self.createActor(Listener)
        self.sup["listener"].started()
        cfg = self.cfg
        if self.started and self.port:
            # a restarted Listener listens on the address the node announced
            from dataclasses import replace
            cfg = replace(cfg, listen_port=self.port)
        self.send(self.listener, StartListener(cfg, self.myAddress, self.inbox_name))

    def _start_dialer(self):
        self.child_pids.pop("dialer", None)
        self.dialer = self.createActor(Dialer)
        self.sup["dialer"].started()
        self.send(self.dialer, StartDialer(self.cfg, self.myAddress, self.local_id,
                                           tuple(self.static_nodes), tuple()))
        for rec in self.peers.values():
            if rec.node_id is not None:
                self.send(self.dialer, PeerUp(rec.node_id, dialed=not rec.inbound))

    def on_ListenerReady(self, msg, sender):
        self.host, self.port = msg.host, msg.port
        if not self.started:
            self._ready()

    def on_ListenerFailed(self, msg, sender):
        if not self.started:
            self.send(self.launcher, StartFailed(self.cfg.name, msg.error))
            self.send(self.listener, ActorExitRequest())
            self.listener = None
        else:
            self.log.error("node %s: listener cannot restart: %s", self.cfg.name, msg.error)

    def _ready(self):
        self.started = True
        if self.port and self.cfg.listen_port != self.port:
            # listen_port 0 = "pick one": Peers announce the real port in their Hello (go-ethereum
            # sends the bound port), otherwise remotes record our enode with port 0.
            from dataclasses import replace
            self.cfg = replace(self.cfg, listen_port=self.port)
        if not self.dials_held:
            self._start_dialer()
        enode = self.enode_url()
        self.send(self.launcher, NodeStarted(self.cfg.name, enode, self.local_id, self.port))
        self._publish("ready", {"enode": enode, "id": self.local_id.hex(), "listen_port": self.port})
        if self.cfg.peer_pool:
            self.after("pool", POOL_REFILL_DELAY_S)

    def on_BeginDialing(self, msg, sender):
        if self.dials_held and self.started and not (self.stopping or self.exiting):
            self.dials_held = False
            self._start_dialer()

    def enode_url(self) -> str:
        """Our ``enode://<128 hex id>@host:port`` URL, with the bound TCP port (0 with
        ``no_listen``); a wildcard or empty listen host is given as 127.0.0.1."""
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        return Enode(self.local_id, host, self.port, self.port).url()

    # -- connections -------------------------------------------------------------------
    def watch(self):
        return ThespianWatch([self.inbox.fileno()]) if self.inbox is not None else None

    def on_WatchMessage(self, msg, sender):
        """An accepted socket from the Listener (actors/io/fd_handoff.py) becomes a Peer.

        One per pass of Thespian's loop, so that the messages that arrived meanwhile (the new
        Peers' checkpoints) get their turn between forks.  Measured in the 100-client burst
        (bench/profile_burst.py, alternating runs): taking up to 8 per pass gave the same rate,
        but the first peer was added after 330-380 ms instead of 80-150 ms.
        """
        if self.inbox is None or self.inbox.fileno() not in msg.ready:
            return
        try:
            got = fd_handoff.receive_connection(self.inbox)
        except fd_handoff.HandoffError as exc:
            self.log.warning("node %s: %s", self.cfg.name, exc)
            return
        except OSError as exc:
            self.log.warning("node %s: inbound hand-off socket: %s", self.cfg.name, exc)
            return
        if got is not None:
            self._inbound(*got)

    def _inbound(self, conn_id: str, remote: tuple, fd: int) -> None:
        """Give the accepted socket ``fd`` to a Peer: a new Peer inherits it from the fork; an
        idle pooled one fetches it (FdRequest).  ``fd`` is closed here either way."""
        if self.stopping or self.exiting:
            os.close(fd)
            if self.listener is not None:
                self.send(self.listener, SlotFree(conn_id))
            return
        rec = self._take_pooled(True, conn_id=conn_id, remote=remote)
        if rec is not None:
            fd_handoff.hold(fd)  # not for the children forked meanwhile
            self.held[conn_id] = (fd, time.monotonic())
            self.send(rec.addr, PeerStartInbound(self.cfg, self.myAddress, conn_id, remote))
            return
        start = PeerStartInbound(self.cfg, self.myAddress, conn_id, remote, fd=fd)
        try:
            # the fork: the Peer inherits fd, and its start message (actors/adapter/fork_start.py)
            self._new_peer(True, start, conn_id=conn_id, remote=remote)
        except Exception as exc:  # noqa: BLE001 - e.g. fork() failing with EAGAIN/ENOMEM
            self.log.warning("node %s: inbound %s:%s dropped, no Peer could be started: %s",
                             self.cfg.name, remote[0], remote[1], exc)
            if self.listener is not None:
                self.send(self.listener, SlotFree(conn_id))
            return
        finally:
            os.close(fd)

    def on_FdRequest(self, msg, sender):
        """A pooled Peer fetches the socket held for its connection."""
        entry = self.held.pop(msg.conn_id, None)
        if entry is None:
            self.send(sender, FdSent(msg.conn_id, False, "unknown or expired connection"))
            return
        fd = entry[0]
        fd_handoff.release(fd)
        try:
            fd_handoff.send_fd(self.inbox, msg.path, fd)
        except OSError as exc:
            self.send(sender, FdSent(msg.conn_id, False, str(exc)))
        finally:
            os.close(fd)

    def _expire_held(self, max_age_s: float = UNCLAIMED_TIMEOUT_S) -> None:
        """Close sockets held for pooled Peers longer than ``max_age_s`` (the Peer died)."""
        now = time.monotonic()
        for conn_id, (fd, since) in list(self.held.items()):
            if now - since > max_age_s:
                del self.held[conn_id]
                fd_handoff.release(fd)
                os.close(fd)

    def _close_inbox(self) -> None:
        self._expire_held(max_age_s=-1.0)
        if self.inbox is not None:
            fd_handoff.release(self.inbox.fileno())
            self.inbox.close()
            self.inbox = None

    def on_DialRequest(self, msg, sender):
        try:
            enode = parse_enode(msg.enode)
        except EnodeError as exc:
            self.log.warning("node %s: bad dial request: %s", self.cfg.name, exc)
            return
        if self.stopping:
            self.send(sender, DialDone(enode.node_id, False, "node stopping"))
            return
        trusted = enode.node_id in self.admission.trusted
        start = PeerStartOutbound(self.cfg, self.myAddress, msg.enode, static=msg.static, trusted=trusted)
        kw = dict(dial_id=enode.node_id, static=msg.static, remote=enode.address)
        rec = self._take_pooled(False, **kw)
        if rec is not None:
            self.send(rec.addr, start)
        else:
            self._new_peer(False, start, **kw)

    def _add_rec(self, rec: _PeerRec) -> int:
        self._next_key += 1
        self.peers[self._next_key] = rec
        return self._next_key

    # -- the Peer pool -----------------------------------------------------------------
    def _new_peer(self, inbound: bool, start=None, **kw) -> tuple[int, _PeerRec]:
        """Fork a Peer actor and record it; its pid is known at once (NodeActor.child_pid).
        ``start``: its PeerStartInbound/PeerStartOutbound, handed over through the fork
        (actors/adapter/fork_start.py); None for a pooled Peer (it gets one when it is given a connection)."""
        addr = self.createActor(Peer, start=start)
        rec = _PeerRec(addr, inbound, **kw)
        rec.pid = self.child_pid(addr)
        return self._add_rec(rec), rec

    def _take_pooled(self, inbound: bool, **kw) -> _PeerRec | None:
        """The oldest idle pooled Peer, given the connection described by ``kw``; None if none."""
        while self.pool:
            key = self.pool.pop(0)
            rec = self.peers.get(key)
            if rec is None or rec.state != POOLED:
                continue  # died in the pool (being reaped)
            rec.inbound = inbound
            rec.conn_id, rec.dial_id = kw.get("conn_id"), kw.get("dial_id")
            rec.static, rec.remote = kw.get("static", False), kw.get("remote", ())
            rec.state = "handshake"
            rec.since = time.time()
            if not self.timers.is_set("pool"):
                self.after("pool", POOL_REFILL_DELAY_S)
            return rec
        return None

    def _refill_pool(self) -> None:
        """One fork per call while the pool is short; the rest on the next tick, so that
        messages queued meanwhile (connections, checkpoints) are not held up by a row of forks."""
        if self.stopping or self.exiting or self.cfg is None or len(self.pool) >= self.cfg.peer_pool:
            return
        key, rec = self._new_peer(False)
        rec.state = POOLED
        self.pool.append(key)
        if len(self.pool) < self.cfg.peer_pool:
            self.after("pool", 0.0)

    def _find(self, addr) -> int | None:
        """Key of the Peer record for ``addr``.  ActorAddress is unhashable and a freshly created
        child's address is a local placeholder whose str() changes, so compare with ``==``.

        A Peer's own messages carry its real address, whose str() is stable: a match found by
        the scan is remembered under it, so the next messages from that Peer (the second
        checkpoint, PeerInfoUpdate, PeerGone) cost one comparison instead of a scan of every
        record (~7 % of the Server's busy time with 100 Peers, bench/profile_burst.py)."""
        hint = self._seen.get(str(addr))
        if hint is not None:
            rec = self.peers.get(hint)
            if rec is not None and rec.addr == addr:
                return hint
            del self._seen[str(addr)]
        for key, rec in self.peers.items():
            if rec.addr == addr:
                if len(self._seen) > 4 * len(self.peers) + 64:
                    self._seen = {s: k for s, k in self._seen.items() if k in self.peers}
                self._seen[str(addr)] = key
                return key
        return None

    def on_CheckpointRequest(self, msg, sender):
        key = self._find(sender)
        rec = self.peers.get(key) if key is not None else None
        if rec is None:
            self.send(sender, CheckpointReply(msg.stage, int(DiscReason.REQUESTED)))
            return
        if self.stopping:
            reason = DiscReason.QUITTING
        elif msg.stage == POST_HANDSHAKE:
            rec.seen_id = msg.node_id
            reason = self.admission.post_handshake(msg.node_id, msg.inbound)
            if reason is None and rec.node_id is None:
                rec.node_id = msg.node_id
                rec.state = "connected"
                if self.dialer is not None:
                    self.send(self.dialer, PeerUp(msg.node_id, dialed=not rec.inbound))
        elif msg.stage == ADD_PEER:
            reason = self.admission.add_peer(msg.node_id, msg.inbound, msg.matched)
            if reason is None:
                rec.state = "added"
                rec.info = dict(msg.info or {})
                self._on_added(rec)
        else:
            reason = DiscReason.PROTOCOL_ERROR
        self.send(sender, CheckpointReply(msg.stage, None if reason is None else int(reason)))

    def _on_added(self, rec: _PeerRec):
        if rec.inbound and self.listener is not None:
            self.send(self.listener, SlotFree(rec.conn_id))
        if not rec.inbound and self.dialer is not None:
            self.send(self.dialer, DialDone(rec.dial_id, True))
        info = rec.info
        self.log.info("node %s: peer added %s %s %s (%s)", self.cfg.name, rec.node_id.hex()[:16],
                      "inbound from" if rec.inbound else "dialled", "%s:%s" % tuple(rec.remote[:2]),
                      info.get("name", ""))
        self._publish("peer_added", {
            "peer_id": rec.node_id.hex(), "name": info.get("name", ""), "caps": info.get("caps", []),
            "inbound": rec.inbound, "remote_address": info.get("network", {}).get("remoteAddress", ""),
            "offsets": info.get("offsets", []), "enode": info.get("enode", ""),
        })

    def on_PeerGone(self, msg, sender):
        key = self._find(sender)
        if key is not None:
            rec = self.peers.pop(key)
            self._peer_gone(rec, DiscReason(msg.reason), msg.remote_requested, msg.error, msg.stage, msg.cause)
        # the Peer waits for this, so that its exit notice never overtakes its PeerGone
        self.send(sender, ActorExitRequest())

    def _peer_gone(self, rec: _PeerRec, reason: DiscReason, remote: bool, error: str, stage: str = "",
                   cause: str = ""):
        who = (rec.node_id or rec.seen_id or rec.dial_id or b"").hex()[:16] or "?"
        where = "%s:%s" % tuple(rec.remote[:2]) if rec.remote else "?"
        if rec.state == "added":
            what = "peer removed"
        else:
            what = "dial failed" if not rec.inbound else "inbound connection ended"
            what += f" at {stage}" if stage else ""
        self.log.info("node %s: %s %s %s: %s (%s%s)", self.cfg.name, what, who, where, error or "-", reason.name,
                      ", remote requested" if remote else "")
        if rec.state == "added":
            self.admission.remove(rec.node_id)
            self._publish("peer_removed", {
                "peer_id": rec.node_id.hex(), "reason": reason.name, "reason_code": int(reason),
                "remote_requested": remote, "error": error, "cause": cause, "inbound": rec.inbound,
            })
        else:
            if rec.inbound and self.listener is not None:
                self.send(self.listener, SlotFree(rec.conn_id))
            if not rec.inbound:
                if self.dialer is not None:
                    self.send(self.dialer, DialDone(rec.dial_id, False, error))
                self._publish("dial_failed", {
                    "peer_id": rec.dial_id.hex(), "address": f"{rec.remote[0]}:{rec.remote[1]}",
                    "reason": reason.name, "reason_code": int(reason), "remote_requested": remote,
                    "error": error, "stage": stage, "cause": cause,
                })
            elif rec.seen_id is not None:
                self._publish("peer_rejected", {
                    "peer_id": rec.seen_id.hex(), "reason": reason.name, "reason_code": int(reason),
                    "remote_requested": remote, "error": error, "stage": stage, "cause": cause, "inbound": True,
                })
        for request_id, (_, waiting) in list(self.info_requests.items()):
            waiting.intersection_update(self.peers)  # rec's key is no longer there
            if not waiting:
                self._answer_peers(request_id)
        if rec.node_id is not None and self.dialer is not None:
            self.send(self.dialer, PeerDown(rec.node_id))
        if self.stopping and not self.peers:
            self._finish_stop()

    # -- supervision -------------------------------------------------------------------
    def on_ChildActorExited(self, msg, sender):
        self._child_gone(msg.childAddress, "exited")

    def on_DeadEnvelope(self, msg, sender):
        if isinstance(msg.deadMessage, Liveness):
            self._child_gone(msg.deadAddress, "found dead by liveness check")

    def _child_gone(self, addr, how: str):
        key = self._find(addr)
        if key is not None and self.peers[key].state == POOLED:
            # an idle pooled Peer died: no connection to report, nothing to wait for (it has no
            # Server address, so it sends no PeerGone); replace it
            self.peers.pop(key)
            if key in self.pool:
                self.pool.remove(key)
            if not self.stopping and not self.exiting:
                self._publish("actor_exited", {"actor": "peer", "peer_id": "", "cause": how, "pooled": True})
                if not self.timers.is_set("pool"):
                    self.after("pool", POOL_REFILL_DELAY_S)
            return
        if key is not None:
            if self.exiting:
                # the ActorSystem shuts down: Thespian stops every Peer, which says QUITTING to its
                # remote on the way out, and whose own PeerGone may come after its exit notice
                rec = self.peers.pop(key)
                self._peer_gone(rec, DiscReason.QUITTING, False, "node shutting down", cause="requested")
                return
            # A Peer that ends normally reports PeerGone and waits for our exit order (on_PeerGone),
            # so a Peer whose process is gone while its record is still here has crashed.
            self._reap(key, how)
            return
        if self.stopping or self.exiting:
            return  # stopping on purpose (StopNode, or the ActorSystem's shutdown): not a crash
        for slot in ("listener", "dialer"):
            child = getattr(self, slot)
            if child is not None and addr == child:
                pid = self.child_pids.get(slot)
                if pid and process_alive(pid):
                    return  # the current incarnation runs: a late or repeated notice about an old one
                self._supervise(slot, how)
                return

    def _supervise(self, slot: str, how: str):
        """The Listener or the Dialer died: restart it under its policy (node/supervision.py)."""
        setattr(self, slot, None)
        sup = self.sup[slot]
        cause = self.injected.pop(slot, None) or how
        decision = sup.exited(sup.incarnation, True, time.monotonic())
        if decision.action == "duplicate":
            return
        self._publish("actor_exited", {"actor": slot, "cause": cause})
        if decision.action == "restart":
            self.log.warning("node %s: %s %s; restarting in %.2f s (attempt %d)", self.cfg.name, slot, cause,
                             decision.delay_s, decision.attempt)
            self.restart_info[slot] = decision
            self.after(f"restart:{slot}", decision.delay_s)
        elif decision.action == "give_up":
            policy = self.cfg.supervision.listener if slot == "listener" else self.cfg.supervision.dialer
            self.log.error("node %s: %s failed %d times within %.1f s; giving up and stopping the node",
                           self.cfg.name, slot, decision.attempt, policy.within_s)
            self._publish("restart_limit_reached", {"actor": slot, "restarts": decision.attempt - 1,
                                                    "within_s": policy.within_s})
            # the failure goes to the parent: the node cannot run without it, so it stops
            self.stop_reason = "restart_limit"
            self.on_StopNode(None, None)

    def _restart(self, slot: str):
        if self.stopping or self.exiting or getattr(self, slot) is not None:
            return
        decision = self.restart_info.pop(slot, None)
        if slot == "listener":
            self._start_listener()
        else:
            self._start_dialer()
        self._publish("actor_restarted", {"actor": slot, "attempt": decision.attempt if decision else 0,
                                          "delay_s": decision.delay_s if decision else 0.0})

    # -- fault injection ---------------------------------------------------------------
    def on_FaultRequest(self, msg, sender):
        if self._not_running(sender):
            return
        if msg.mode not in FAULT_MODES:
            self.send(sender, AdminResult(False, f"unknown fault mode {msg.mode!r} (use {', '.join(FAULT_MODES)})"))
            return
        kind, _, rest = msg.target.partition(":")
        target, fault, label = None, InjectFault(msg.mode), msg.target
        if kind in ("listener", "dialer") and not rest:
            target = getattr(self, kind)
            self.injected[kind] = f"injected {msg.mode}"
        elif kind in ("peer", "protocol") and rest:
            prefix, _, proto = rest.partition(":")
            if kind == "protocol" and not proto:
                self.send(sender, AdminResult(False, "protocol target is protocol:<peer id prefix>:<name>"))
                return
            matches = [r for r in self.peers.values()
                       if r.state == "added" and r.node_id.hex().startswith(prefix.lower())]
            if len(matches) > 1:
                self.send(sender, AdminResult(False, f"peer id prefix {prefix!r} matches {len(matches)} peers"))
                return
            if matches:
                target = matches[0].addr
                if kind == "protocol":
                    fault = InjectFault(msg.mode, protocol=proto)
        else:
            self.send(sender, AdminResult(False, f"bad target {msg.target!r}: use listener, dialer, "
                                                 "peer:<id prefix> or protocol:<id prefix>:<name>"))
            return
        if target is None:
            self.send(sender, AdminResult(False, f"no such target: {msg.target}"))
            return
        self._publish("fault_injected", {"target": label, "mode": msg.mode})
        self.send(target, fault)
        self.send(sender, AdminResult(True))

    def on_ActorPid(self, msg, sender):
        """The Listener's and the Dialer's pid (a Peer's is known from its creation: NodeActor.child_pid)."""
        if msg.role in ("listener", "dialer") and getattr(self, msg.role) is not None \
                and getattr(self, msg.role) == sender:
            self.child_pids[msg.role] = msg.pid

    def _sweep(self):
        """Liveness: children whose process is gone although no ChildActorExited said so."""
        for rec in list(self.peers.values()):
            if not process_alive(rec.pid):
                self._child_gone(rec.addr, "found dead by liveness check")
        for slot in ("listener", "dialer"):
            child = getattr(self, slot)
            if child is not None and not process_alive(self.child_pids.get(slot)):
                self._child_gone(child, "found dead by liveness check")

    def _probe_unknown_pids(self):
        """The dead-letter probe (docs/thespian-facts.md §3: a Liveness message to a dead actor comes
        back as DeadEnvelope) for the children :meth:`_sweep` cannot check: those whose pid is
        not known yet (the Listener and the Dialer until their ActorPid arrives).  Every Peer's
        pid is known from its creation, so Peers are checked in /proc only: probing each of them
        every ``liveness_s`` was ~45 % of the Server's sends in the 100-client burst (cProfile, which
        slows the burst: fewer in a normal one), each one a wake-up and an ACK of that Peer.  What /proc cannot tell - a pid reused by
        another process between two sweeps - needs 32,768 forks (Linux pid_max default) within
        ``liveness_s``.  No message goes to a pooled Peer before the one that hands it a
        connection: measured (Thespian 4.0.1 + our transport patches), a probe sent to each new
        pooled Peer made the first dialling Peer's messages to the Server go missing in most runs
        of tests/test_node_connect.py::test_static_nodes_from_config."""
        probe = Liveness()
        for rec in self.peers.values():
            if rec.state != POOLED and not rec.pid:
                self.send(rec.addr, probe)
        for slot in ("listener", "dialer"):
            child = getattr(self, slot)
            if child is not None and not self.child_pids.get(slot):
                self.send(child, probe)

    def on_SupervisionEvent(self, msg, sender):
        self._publish(msg.kind, msg.data)

    def on_handler_error(self, msg, sender, exc):
        """The Server is the top of the node's tree: it logs and carries on, never crashes."""

    def _reap(self, key: int, how: str):
        rec = self.peers.pop(key)
        self._publish("actor_exited", {"actor": "peer", "peer_id": (rec.node_id or rec.dial_id or b"").hex(),
                                       "cause": how})
        self._peer_gone(rec, DiscReason.NETWORK_ERROR, False, f"peer actor {how}", cause="error")

    def on_timer(self, name):
        if name.startswith("restart:"):
            self._restart(name[len("restart:"):])
        elif name.startswith("peers:"):
            self._answer_peers(int(name[len("peers:"):]))
        elif name == "liveness":
            self._sweep()
            self._expire_held()
            self._probe_unknown_pids()
            if not self.stopping:
                self.after("liveness", self.cfg.supervision.liveness_s)
        elif name == "stop" and self.stopping:
            self._finish_stop()
        elif name == "pool":
            self._refill_pool()

    # -- events ------------------------------------------------------------------------
    def on_Subscribe(self, msg, sender):
        self.subscribers[str(msg.subscriber)] = (msg.subscriber, frozenset(msg.kinds))
        if msg.ack:
            self.send(sender, Subscribed(msg.subscriber))

    def on_Unsubscribe(self, msg, sender):
        self.subscribers.pop(str(msg.subscriber), None)

    def _publish(self, kind: str, data: dict):
        if not self.subscribers:
            return
        ev = NodeEvent(kind, self.cfg.name if self.cfg else "", time.time(), data)
        for addr, kinds in self.subscribers.values():
            if not kinds or kind in kinds:
                self.send(addr, ev)

    def on_ProtocolEvent(self, msg, sender):
        self._publish("protocol_event", {"peer_id": msg.peer_id.hex(), "protocol": msg.name,
                                         "kind": msg.kind, "data": msg.data})

    def on_MsgTraffic(self, msg, sender):
        kind = "msg_send" if msg.direction == "send" else "msg_recv"
        peer = msg.peer_id.hex()
        for code, size in msg.messages:
            self._publish(kind, {"peer_id": peer, "protocol": msg.protocol, "code": code, "size": size})

    def on_PeerInfoReply(self, msg, sender):
        key = self._find(sender)
        if key is not None:
            self.peers[key].info = msg.info
        request = self.info_requests.get(msg.request_id)
        if request is not None:
            request[1].discard(key)
            if not request[1]:
                self._answer_peers(msg.request_id)

    # -- admin -------------------------------------------------------------------------
    def _not_running(self, sender) -> bool:
        """Admin request to a Server that was never started (a globalName lookup created it)."""
        if self.cfg is not None:
            return False
        self.send(sender, AdminResult(False, "node is not running"))
        self.send(self.myAddress, ActorExitRequest())
        return True

    def on_GetPeers(self, msg, sender):
        """admin_peers: every added peer is asked for its entry as of now (its protocols' info
        included, go-ethereum p2p/server.go ``PeersInfo``); the answer goes out when all have
        replied, or after :data:`PEER_INFO_TIMEOUT_S` with the entries last known."""
        if self._not_running(sender):
            return
        keys = {key for key, rec in self.peers.items() if rec.state == "added"}
        self._next_info_request += 1
        request_id = self._next_info_request
        self.info_requests[request_id] = (sender, keys)
        if not keys:
            self._answer_peers(request_id)
            return
        for key in keys:
            self.send(self.peers[key].addr, PeerInfoRequest(request_id))
        self.after(f"peers:{request_id}", PEER_INFO_TIMEOUT_S)

    def _answer_peers(self, request_id: int) -> None:
        request = self.info_requests.pop(request_id, None)
        if request is None:
            return
        self.timers.cancel(f"peers:{request_id}")
        infos = [r.info for r in self.peers.values() if r.state == "added"]
        self.send(request[0], PeersReply(tuple(sorted(infos, key=lambda i: i.get("id", "")))))

    def on_GetNodeInfo(self, msg, sender):
        if self._not_running(sender):
            return
        cfg = self.cfg
        enode = self.enode_url()
        self.send(sender, NodeInfoReply({
            "id": node_hash(self.local_id).hex(),
            "name": cfg.name,
            "enode": enode,
            "enr": "",
            "ip": self.host,
            "ports": {"discovery": 0, "listener": self.port},
            "listenAddr": f"{self.host}:{self.port}",
            "protocols": {pc.name: {"version": pc.version} for pc in cfg.protocols},
        }))

    def on_AdminCommand(self, msg, sender):
        if self._not_running(sender):
            return
        try:
            enode = parse_enode(msg.enode)
        except EnodeError as exc:
            self.send(sender, AdminResult(False, str(exc)))
            return
        if msg.op == "add_peer":
            if msg.enode not in self.static_nodes:
                self.static_nodes.append(msg.enode)
            if self.dialer is not None:  # else it starts with self.static_nodes
                self.send(self.dialer, msg)
        elif msg.op == "remove_peer":
            self.static_nodes = [u for u in self.static_nodes if parse_enode(u).node_id != enode.node_id]
            if self.dialer is not None:
                self.send(self.dialer, msg)
            for rec in self.peers.values():
                if rec.node_id == enode.node_id or rec.dial_id == enode.node_id:
                    self.send(rec.addr, DisconnectPeer(int(DiscReason.REQUESTED)))
        elif msg.op == "add_trusted":
            self.admission.trusted.add(enode.node_id)
        elif msg.op == "remove_trusted":
            self.admission.trusted.discard(enode.node_id)
        else:
            self.send(sender, AdminResult(False, f"unknown admin operation {msg.op!r}"))
            return
        self.send(sender, AdminResult(True))

    # -- stop --------------------------------------------------------------------------
    def on_StopNode(self, msg, sender):
        """Disconnect every peer with QUITTING, stop the children, reply NodeStopped.  Also used
        without a sender when a child's restart limit is reached (escalation)."""
        if sender is not None:
            self.stop_requesters.append(sender)
        if not self.stopping:
            self.stopping = True
            if self.dialer is not None:
                self.send(self.dialer, ActorExitRequest())
                self.dialer = None
            for key in self.pool:
                rec = self.peers.pop(key, None)
                if rec is not None:
                    self.send(rec.addr, ActorExitRequest())
            self.pool.clear()
            self.timers.cancel("pool")
            self.stopped_count = len(self.peers)
            for rec in self.peers.values():
                self.send(rec.addr, DisconnectPeer(int(DiscReason.QUITTING)))
            if self.peers:
                self.after("stop", STOP_TIMEOUT_S)
        if self.stop_done or not self.peers:
            self._finish_stop()

    def _finish_stop(self):
        if not self.stop_done:
            self.stop_done = True
            self.timers.cancel("stop")
            if self.listener is not None:
                self.send(self.listener, ActorExitRequest())
                self.listener = None
            for rec in self.peers.values():
                self.send(rec.addr, ActorExitRequest())
            self._publish("stopped", {"peers_disconnected": self.stopped_count, "reason": self.stop_reason})
        for requester in self.stop_requesters:
            self.send(requester, NodeStopped(self.cfg.name if self.cfg else "", self.stopped_count))
        self.stop_requesters.clear()

    def on_ActorExitRequest(self, msg, sender):
        # Thespian stops the children after this handler, and their exit notices can still be
        # handled here: a child created now (a pool refill, a Listener/Dialer restart) would
        # outlive the Server and hold up ActorSystem.shutdown() for its 10 s limit.
        self.exiting = True
        self.timers.cancel("pool")
        self._close_inbox()

        # Thespian (actorManager._shutdownActor) asks only the children whose start-up it has
        # registered (EndpointConnected) to exit, then waits for all of them: a Peer forked a
        # moment ago - typically a pool refill - registers later, is never asked (a message to
        # it is held until it registers, and not sent once the Server is exiting), and the
        # Server never exits (seen in tests/test_node_admission.py teardowns).  A pooled Peer
        # has no connection to say goodbye on: SIGTERM it by pid (Thespian turns SIGTERM into
        # ActorExitRequest once the actor runs; before that the signal ends the process).
        # Peers with a connection are asked, as Thespian does, to send Disconnect(QUITTING).
        # Nor does the Server wait for a pooled Peer's exit notice: ChildActorExited is lost
        # when many children die at once (docs/thespian-facts.md §3), and with the pool a Server has
        # ~10 children dying together at shutdown; measured, 2 of 5 shutdowns of a four-node
        # test (tests/test_node_admission.py) left a Server whose children were all gone waiting
        # for a lost notice until ActorSystem.shutdown() gave up.  Telling Thespian ourselves
        # that the signalled pooled Peer has exited takes it off the list the exit waits for.
        # The same for a Peer whose process is already gone (its notice lost earlier: Thespian
        # would ask it to exit, and its failure handler for that request, a late-binding lambda
        # in actorManager._shutdownActor, drops the wrong child from the list).
        for rec in self.peers.values():
            if rec.state == POOLED and rec.pid:
                try:
                    os.kill(rec.pid, signal.SIGTERM)
                except OSError:
                    pass  # already gone
                self.send(self.myAddress, ChildActorExited(rec.addr))
            elif rec.pid and not process_alive(rec.pid):
                self.send(self.myAddress, ChildActorExited(rec.addr))
            else:
                self.send(rec.addr, ActorExitRequest())
