"""The Server actor: one per node (go-ethereum p2p/server.go ``Server.run``), a thin shell.

It creates the Spawner, the Listener, the Dialer, the Discovery actor (with ``discovery`` on;
the node is ready once its UDP socket is bound) and the Http actor (with ``http``), has the
Spawner fork one Peer actor per connection (actors/spawner.py), and carries out what its plain
parts decide: the connections, their checkpoints and endings (:class:`node.peer_table.PeerTable`),
the permanent children's restarts (:class:`node.children.Children`), fault targets
(:mod:`node.faults`), the static and trusted sets (:mod:`node.admin_ops`), admin_peers and
metrics questions (:mod:`node.info_requests`, :mod:`node.metrics`), the events
(:mod:`messages.events` records, sent to subscribers).

Supervision (docs/supervision.md): the Spawner, the Listener, the Dialer and the Discovery actor
are restarted under their policy, past it the node stops; a Peer is temporary, its death a
dropped connection.  Deaths are learnt from ``ChildActorExited`` (a Peer's through the
Spawner's PeerExited) and from a periodic liveness sweep (/proc, or a dead-letter probe while a
pid is unknown), because some notices are lost when several children die at once
(docs/thespian-facts.md §3).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

from thespian.actors import ActorExitRequest, ThespianWatch

from discovery.node_url import parse_node_url
from messages.admin import AdminResult, MetricsReply, NodeInfoReply, PeersReply, StatusReply
from messages.discovery import DialCandidates, DiscoveryInfo, GetDiscoveryInfo, StartDiscovery
from messages.admission import CheckpointReply
from messages.events import (SUPERVISION_RECORDS, ActorExited, ActorRestarted, DialFailed, FaultInjected,
                             HandshakeFailed, MsgRecv, MsgSend, NodeEvent, ProtocolEventRecord, Ready, Stopped,
                             Subscribed)
from messages.lifecycle import NodeStarted, NodeStopped, StartDialer, StartFailed, StartHttp, StartListener
from messages.peer import (DialDone, DialUnresolved, DisconnectPeer, EvictPending, Liveness, PeerDown,
                           PeerInfoRequest, PeerStartInbound, PeerStartOutbound, PeerUp, SlotFree)
from messages.spawner import ListenPort, PeerExited, PeerSpawned, SpawnFailed, SpawnPeer, StartSpawner
from node.admin_ops import StaticAndTrusted
from node.admission import Admission
from node.children import Children
from node.faults import FaultError, plan_fault
from node.inbound_handshakes import RateLimit
from node.info_requests import InfoRequests
from node.local_record import enr_for, protocol_entries
from node.protocol_options import node_infos
from node.metrics import NodeMetrics
from node.peer_table import ADDED, PeerTable, added_event
from protocols.registry import UnknownProtocolError, load_class, resolve
from rlpx.disc import DiscReason
from rlpx.enode import Enode
from rlpx.errors import EnodeError
from rlpx.keys import node_hash, node_id_from_private_key

from .base import NodeActor
from .dialer import Dialer
from .discovery import Discovery
from .http import Http
from .io import fd_handoff, spawn_link
from .io.prefork import rehearse_connection
from .io.procs import process_alive
from .listener import Listener
from .spawner import Spawner

STOP_TIMEOUT_S = 3.0
"""How long StopNode waits for peers to report their Disconnect before giving up, seconds."""

PEER_INFO_TIMEOUT_S = 2.0
"""How long admin_peers waits for the Peers' current entries before answering with what it has, seconds."""

MAX_CANDIDATES = 1024
"""Dial candidates from discovery the Server keeps for a new Dialer, at most (the newest)."""

SLOTS = ("spawner", "listener", "dialer", "discovery", "http")
"""The Server's permanent children (the Discovery actor only with ``discovery`` on, the Http
actor only with ``http``)."""


EVICTED_KEPT = 1024
"""Evicted conn_ids remembered while their hand-off may still be queued (oldest forgotten first)."""


class Server(NodeActor):
    """One devp2p node."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cfg = None
        self.table: PeerTable | None = None
        self.children: Children | None = None
        self.subscribers: dict[str, tuple] = {}
        self.spawner = None
        self.link = None  # the Server's end of the spawn link (actors/io/spawn_link.py)
        self.listener = None
        self.dialer = None
        self.discovery = None
        self.http = None
        self.http_addr = ""  # "host:port" the Http actor serves ("" without one)
        self.metrics = NodeMetrics()
        self.last_discovery = None  # the DiscoveryInfo of the last metrics scrape
        self.udp_port = 0  # the Discovery actor's bound UDP port (0: no discovery)
        self.discovery_info_waiters: list = []
        # every dial candidate discovery has offered (it offers each node once), so that a Dialer
        # started later (dials held until all nodes of the file are ready) or restarted has them
        self.candidates: dict[str, None] = {}
        self.launcher = None
        self.started = False
        self.dials_held = False
        self.stopping = False
        self.exiting = False  # ActorExitRequest received: create no more children
        self.stop_requesters: list = []
        self.stop_done = False
        self.stop_reason = "requested"
        self.stopped_count = 0
        self.port = 0
        self.host = "127.0.0.1"
        self.record = None  # our node record (discovery.enr.Record), made when first asked for
        self.record_entries = None  # what the protocols add to it (the eth fork id), read once
        self.book: StaticAndTrusted | None = None  # static nodes and trusted ids (admin_addPeer & co)
        self.protocol_infos = None  # admin_nodeInfo's protocols (node_protocols), read once
        self.inbox = None  # inbound hand-off socket (actors/io/fd_handoff.py) and its name
        self.handoff_log_limit = RateLimit(1)  # log lines about refused hand-off datagrams
        self.inbox_name = b""
        self.info = InfoRequests()  # GetPeers / GetMetrics being answered
        self.evicted: dict[str, str] = {}  # conn_id -> why, evicted (EvictPending) before its hand-off arrived

    # -- start -------------------------------------------------------------------------
    def on_StartServer(self, msg, sender):
        cfg = self.cfg = msg.config
        self.launcher = sender
        self.dials_held = msg.hold_dials
        for sub in msg.subscribers:
            self.subscribers[str(sub)] = (sub, frozenset())
        try:
            for pc in cfg.protocols:
                # imported once here: every Peer is forked from this process and inherits the
                # modules, instead of importing them itself (~10 % of a Peer's CPU in the burst)
                load_class(resolve(pc).cls)
            self.local_id = node_id_from_private_key(cfg.private_key)
            trusted = {parse_node_url(u).node_id for u in cfg.trusted_nodes}
            for u in cfg.static_nodes:
                parse_node_url(u)
        except (UnknownProtocolError, EnodeError) as exc:
            self.send(sender, StartFailed(cfg.name, str(exc)))
            return
        # the wire layer's one-time set-up, once here instead of in every Peer (actors/io/prefork.py)
        rehearse_connection([(p.name, p.version, p.length) for p in map(resolve, cfg.protocols)])
        self.children = Children({"spawner": cfg.supervision.spawner, "listener": cfg.supervision.listener,
                                  "dialer": cfg.supervision.dialer, "discovery": cfg.supervision.discovery,
                                  "http": cfg.supervision.http})
        self.table = PeerTable(Admission(self.local_id, cfg.max_peers, cfg.max_inbound_conns(), trusted,
                                         have_protocols=bool(cfg.protocols)))
        # the admin operations change the very set admission reads
        self.book = StaticAndTrusted(list(cfg.static_nodes), self.table.admission.trusted)
        self.host, self.port = cfg.listen_host, cfg.listen_port
        self.handleDeadLetters()
        self._start_spawner()
        if cfg.no_listen:
            self.port = 0
            self._start_http_or_ready()
        else:
            self.inbox, self.inbox_name = fd_handoff.inbox()
            self._start_listener()
        self.after("liveness", cfg.supervision.liveness_s)

    def _start_spawner(self):
        """Fork the Spawner (actors/spawner.py), which inherits its end of a new spawn link."""
        if self.link is not None:
            fd_handoff.release(self.link.fileno())
            self.link.close()
        ours, theirs = spawn_link.pair()
        fd_handoff.hold(ours.fileno())  # no other child may keep our end open
        try:
            self.spawner = self.createActor(Spawner, start=StartSpawner(self.cfg, theirs.fileno()))
        finally:
            theirs.close()
        self.link = ours
        self.children.started("spawner", self.spawner)
        self.children.set_pid("spawner", self.spawner, self.child_pid(self.spawner))

    def _start_listener(self):
        self.listener = self.createActor(Listener)
        self.children.started("listener", self.listener)
        # a restarted Listener listens on the address the node announced
        cfg = replace(self.cfg, listen_port=self.port) if self.started and self.port else self.cfg
        self.send(self.listener, StartListener(cfg, self.myAddress, self.inbox_name))

    def _start_dialer(self):
        self.dialer = self.createActor(Dialer)
        self.children.started("dialer", self.dialer)
        self.send(self.dialer, StartDialer(self.cfg, self.myAddress, self.local_id, tuple(self.book.static_nodes)))
        if self.candidates:
            self.send(self.dialer, DialCandidates(tuple(self.candidates)))
        for rec in self.table:
            if rec.node_id is not None:
                self.send(self.dialer, PeerUp(rec.node_id, dialed=not rec.inbound))

    def _start_discovery(self):
        self.discovery = self.createActor(Discovery)
        self.children.started("discovery", self.discovery)
        # a restarted Discovery actor binds the UDP port the node announced
        cfg = replace(self.cfg, discovery_port=self.udp_port) if self.udp_port else self.cfg
        self.send(self.discovery, StartDiscovery(cfg, self.myAddress, self.port, self.enr_text()))

    def _start_http(self):
        self.http = self.createActor(Http)
        self.children.started("http", self.http)
        cfg = self.cfg
        if self.http_addr:  # a restarted Http actor serves the port the node announced
            cfg = replace(cfg, http_port=int(self.http_addr.rpartition(":")[2]))
        self.send(self.http, StartHttp(cfg, self.myAddress))

    def _start_http_or_ready(self):
        """Start-up's last step: the Http actor (ready once it serves), if configured."""
        if self.cfg.http_port is not None:
            self._start_http()
        else:
            self._ready()

    def on_HttpReady(self, msg, sender):
        self.http_addr = f"{msg.host}:{msg.port}"
        if not self.started:
            self._ready()

    def on_HttpFailed(self, msg, sender):
        if not self.started:
            self.send(self.launcher, StartFailed(self.cfg.name, msg.error))
            for slot in ("http", "discovery", "listener"):
                child = getattr(self, slot)
                if child is not None:
                    self.send(child, ActorExitRequest())
                    setattr(self, slot, None)
        else:
            self.log.error("node %s: http cannot restart: %s", self.cfg.name, msg.error)

    def on_ListenerReady(self, msg, sender):
        self.host, self.port = msg.host, msg.port
        if not self.started:
            if self.cfg.discovery:
                self._start_discovery()  # ready once its UDP socket is bound (go-ethereum Server.Start)
            else:
                self._start_http_or_ready()

    def on_DiscoveryReady(self, msg, sender):
        self.udp_port = msg.udp_port
        if not self.started:
            self._start_http_or_ready()

    def on_DiscoveryFailed(self, msg, sender):
        if not self.started:
            self.send(self.launcher, StartFailed(self.cfg.name, msg.error))
            self.send(self.discovery, ActorExitRequest())
            self.discovery = None
            if self.listener is not None:
                self.send(self.listener, ActorExitRequest())
                self.listener = None
        else:
            self.log.error("node %s: discovery cannot restart: %s", self.cfg.name, msg.error)

    def on_DiscoveryEventRecord(self, msg, sender):
        """An event of the Discovery actor (already rate-limited there), published as it is."""
        self._publish(msg)

    def on_DialCandidates(self, msg, sender):
        """Nodes found by discovery: to the Dialer's dynamic candidates, and kept for a Dialer that
        starts later or is restarted (the Discovery actor does not offer a node twice); the oldest
        forgotten past :data:`MAX_CANDIDATES`."""
        for url in msg.urls:
            self.candidates.pop(url, None)
            self.candidates[url] = None
        while len(self.candidates) > MAX_CANDIDATES:
            del self.candidates[next(iter(self.candidates))]
        if self.dialer is not None:
            self.send(self.dialer, msg)

    def on_GetDiscoveryInfo(self, msg, sender):
        if self.discovery is None:
            self.send(sender, DiscoveryInfo(0, (), {}, 0))
            return
        self.discovery_info_waiters.append(sender)
        self.send(self.discovery, msg)

    def on_DiscoveryInfo(self, msg, sender):
        if not self.discovery_info_waiters:
            return
        waiter = self.discovery_info_waiters.pop(0)
        if isinstance(waiter, tuple):  # ("metrics", request id): a scrape of ours
            self.last_discovery = msg
            self._info_arrived(waiter[1], "discovery")
        else:
            self.send(waiter, msg)

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
            # sends the bound port), otherwise remotes record our enode with port 0
            self.cfg = replace(self.cfg, listen_port=self.port)
            if self.link is not None:
                try:
                    spawn_link.send(self.link, ListenPort(self.port))
                except (spawn_link.LinkFull, spawn_link.LinkClosed) as exc:
                    self.log.warning("node %s: Spawner not told the listen port: %s", self.cfg.name, exc)
        if not self.dials_held:
            self._start_dialer()
        enode = self.enode_url()
        self.send(self.launcher, NodeStarted(self.cfg.name, enode, self.local_id, self.port, self.http_addr))
        self._publish(Ready(enode, self.local_id.hex(), self.port, self.http_addr))

    def on_BeginDialing(self, msg, sender):
        if self.dials_held and self.started and not (self.stopping or self.exiting):
            self.dials_held = False
            self._start_dialer()

    def enode_url(self) -> str:
        """Our ``enode://<128 hex id>@host:port`` URL, with the bound TCP port (0 with
        ``no_listen``) and the discovery UDP port as ``discport`` when it differs; the host is
        ``nat: extip:<IP>`` when given (go-ethereum ``--nat extip``), else the listen host, a
        wildcard or empty one given as 127.0.0.1."""
        host = self.cfg.nat_ip or (self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1")
        return Enode(self.local_id, host, self.port, self.udp_port or self.port).url()

    def enr_text(self) -> str:
        """Our node record as ``enr:...`` (node/local_record.py), the bound TCP port as ``tcp``
        and ``udp``, and the protocols' entries (eth: the fork id at our head, read once: the
        chain does not change while the node runs); the same record while nothing changes, seq + 1 when the port does.  "" (and a
        warning) if it cannot be made."""
        try:
            if self.record_entries is None:
                self.record_entries = protocol_entries(self.cfg)
            self.record = enr_for(self.cfg, self.port, self.record_entries.get("eth"), old=self.record,
                                  udp_port=self.udp_port or self.cfg.discovery_port or None)
        except ValueError as exc:  # RecordError is a ValueError
            self.log.warning("node %s: no node record: %s", self.cfg.name, exc)
            return ""
        return self.record.text()

    # -- connections -------------------------------------------------------------------
    def watch(self):
        fds = [s.fileno() for s in (self.inbox, self.link) if s is not None]
        return ThespianWatch(fds) if fds else None

    def on_WatchMessage(self, msg, sender):
        """The Spawner's answers; and an accepted socket from the Listener (actors/io/fd_handoff.py)
        goes to the Spawner for its Peer, one per pass of Thespian's loop, so the messages that
        arrived meanwhile (the new Peers' checkpoints) get their turn in between
        (docs/performance.md)."""
        if self.link is not None and self.link.fileno() in msg.ready:
            self._link_readable()
        if self.inbox is None or self.inbox.fileno() not in msg.ready:
            return
        try:
            got = fd_handoff.receive_connection(self.inbox)
        except fd_handoff.HandoffError as exc:
            ok, held_back = self.handoff_log_limit.allow(time.monotonic())
            if ok:  # anyone on the host may write to the inbox: at most one line a second
                more = f" ({held_back} more refused since the last line)" if held_back else ""
                self.log.warning("node %s: %s%s", self.cfg.name, exc, more)
            return
        except OSError as exc:
            self.log.warning("node %s: inbound hand-off socket: %s", self.cfg.name, exc)
            return
        if got is not None:
            self._inbound(got)

    def _inbound(self, got: fd_handoff.Inbound) -> None:
        """Give the accepted socket ``got.fd``, whose auth the Listener answered, to a new Peer,
        which inherits it from the fork and resumes at checkpoint 1 with the session's secrets;
        the fd is closed here either way."""
        conn_id, remote, fd = got.conn_id, got.remote, got.fd
        try:
            if self.stopping or self.exiting:
                self._free_slot(conn_id)
                return
            if conn_id in self.evicted:
                self.log.info("node %s: inbound %s:%s %s (before its Peer started)", self.cfg.name, remote[0],
                              remote[1], self.evicted.pop(conn_id))
                self.metrics.ended(True, False, DiscReason.TOO_MANY_PEERS, False, "handshake", "evicted")
                return
            try:
                # to the Spawner, whose fork the Peer inherits fd from (actors/spawner.py)
                self._new_peer(True, PeerStartInbound(None, self.myAddress, conn_id, remote, fd=-1,
                                                      secrets=got.secrets, leftover=got.leftover, unsent=got.unsent),
                               fd, conn_id=conn_id, remote=remote)
            except Exception as exc:  # noqa: BLE001 - e.g. fork() failing with EAGAIN/ENOMEM
                self.log.warning("node %s: inbound %s:%s dropped, no Peer could be started: %s",
                                 self.cfg.name, remote[0], remote[1], exc)
                self._free_slot(conn_id)
        finally:
            os.close(fd)

    def on_EvictPending(self, msg: EvictPending, sender):
        """The Listener gave this inbound connection's slot to a new valid auth (node/inbound_handshakes.py):
        its Peer, if not yet added, ends with TOO_MANY_PEERS; one not forked yet never is."""
        for rec in self.table:
            if rec.inbound and rec.conn_id == msg.conn_id:
                if rec.state != ADDED:
                    self._to_peer(rec, DisconnectPeer(int(DiscReason.TOO_MANY_PEERS), msg.error))
                return
        # its hand-off datagram is still queued (the two travel apart): no fork for it
        self.evicted[msg.conn_id] = msg.error or "evicted"
        while len(self.evicted) > EVICTED_KEPT:
            del self.evicted[next(iter(self.evicted))]

    def on_DialRequest(self, msg, sender):
        try:
            enode = parse_node_url(msg.enode)
        except EnodeError as exc:
            self.log.warning("node %s: bad dial request: %s", self.cfg.name, exc)
            return
        if self.stopping:
            self.send(sender, DialDone(enode.node_id, False, "node stopping"))
            return
        trusted = enode.node_id in self.table.admission.trusted
        start = PeerStartOutbound(None, self.myAddress, msg.enode, static=msg.static, trusted=trusted)
        try:
            self._new_peer(False, start, dial_id=enode.node_id, static=msg.static, remote=enode.address)
        except Exception as exc:  # noqa: BLE001 - no Spawner, or its link full
            self.log.warning("node %s: dial %s not started: %s", self.cfg.name, enode.node_id.hex()[:8], exc)
            self.send(sender, DialDone(enode.node_id, False, f"no Peer could be started: {exc}"))

    def on_HandshakeFailed(self, msg: HandshakeFailed, sender):
        """An inbound handshake failed before the remote's identity was known: the Listener sends
        the event record (already rate-limited there), published as it is."""
        self.metrics.handshake_failed(msg.stage, msg.cause, msg.suppressed)
        self._publish(msg)

    def on_DialUnresolved(self, msg: DialUnresolved, sender):
        """A dial that never began: its enode's host name did not resolve (node/dial_scheduler.py)."""
        try:
            where = "%s:%d" % parse_node_url(msg.enode).address
        except EnodeError:
            where = "?"
        self.log.info("node %s: dial failed %s %s: %s (resolve)", self.cfg.name, msg.node_id.hex()[:8], where,
                      msg.error)
        reason = DiscReason.NETWORK_ERROR
        self.metrics.ended(False, False, reason, False, "connect", "resolve")
        self._publish(DialFailed(msg.node_id.hex(), where, reason.name, int(reason), False, msg.error, "connect",
                                 "resolve"))

    def _new_peer(self, inbound: bool, start, fd: int | None = None, **kw):
        """Record a new connection and ask the Spawner for its Peer (``start`` without the config,
        which the Spawner has; ``fd``: an inbound connection's socket, sent along).  The record's
        address comes with the Peer's first message (on_FromNewPeer), its pid with PeerSpawned.
        Raises RuntimeError (no Spawner), spawn_link.LinkFull or LinkClosed; no record is left."""
        if self.link is None:
            raise RuntimeError("no Spawner is running")
        rec = self.table.new(None, inbound, **kw)
        try:
            spawn_link.send(self.link, SpawnPeer(rec.key, replace(start, config=None)), fd)
        except Exception:
            self.table.remove(rec)
            raise
        return rec

    def _link_readable(self) -> None:
        """The Spawner's answers (messages/spawner.py)."""
        try:
            got = spawn_link.receive(self.link)
        except spawn_link.LinkClosed:
            # the Spawner is gone: its exit notice (or the liveness sweep) restarts it
            fd_handoff.release(self.link.fileno())
            self.link.close()
            self.link = None
            self._unspawned("the Spawner exited")
            return
        for msg, fd in got:
            if fd is not None:
                os.close(fd)
            rec = self.table.by_key(getattr(msg, "key", None))
            if rec is None:
                continue
            if isinstance(msg, PeerSpawned):
                rec.pid = msg.pid
            elif isinstance(msg, SpawnFailed):
                self.log.warning("node %s: %s %s dropped, no Peer could be started: %s", self.cfg.name,
                                 "inbound" if rec.inbound else "dial", rec.where, msg.error)
                self._ended(rec, DiscReason.NETWORK_ERROR, False, f"no Peer could be started: {msg.error}",
                            cause="error")
            elif isinstance(msg, PeerExited):
                self._peer_died(rec, "exited")

    def _unspawned(self, why: str) -> None:
        """End the records whose Peer never introduced itself: with the Spawner gone, none will."""
        for rec in self.table:
            if rec.addr is None:
                self._ended(rec, DiscReason.NETWORK_ERROR, False, why, cause="error")

    def on_FromNewPeer(self, msg, sender):
        """A Peer's first message: its record learns the Peer's address, and what was held for it
        goes out; then ``msg.msg`` is handled as if sent alone."""
        rec = self.table.by_key(msg.key)
        if rec is not None and rec.addr is None:
            self.table.bind(rec, sender)
            held, rec.outbox = rec.outbox, []
            for m in held:
                self.send(sender, m)
        self.deliver(msg.msg, sender)

    def _to_peer(self, rec, msg) -> None:
        """Send ``msg`` to ``rec``'s Peer, or hold it until the Peer's address is known."""
        if rec.addr is None:
            rec.outbox.append(msg)
        else:
            self.send(rec.addr, msg)

    def _free_slot(self, conn_id) -> None:
        if self.listener is not None and conn_id is not None:
            self.send(self.listener, SlotFree(conn_id))

    def on_CheckpointRequest(self, msg, sender):
        rec = self.table.find(sender)
        if rec is None:
            self.send(sender, CheckpointReply(msg.stage, int(DiscReason.REQUESTED)))
            return
        outcome = self.table.checkpoint(rec, msg.stage, msg.node_id, msg.inbound, msg.matched, msg.info,
                                        stopping=self.stopping)
        if outcome.connected and self.dialer is not None:
            self.send(self.dialer, PeerUp(msg.node_id, dialed=not rec.inbound))
        if outcome.added:
            if rec.inbound:
                self._free_slot(rec.conn_id)
            elif self.dialer is not None:
                self.send(self.dialer, DialDone(rec.dial_id, True))
            self.log.info("node %s: peer added %s %s %s (%s)", self.cfg.name, rec.who,
                          "inbound from" if rec.inbound else "dialled", rec.where, rec.info.get("name", ""))
            self.metrics.added(rec.inbound, msg.setup_s)
            self._publish(added_event(rec))
        self.send(sender, CheckpointReply(msg.stage, None if outcome.reason is None else int(outcome.reason)))

    def on_PeerGone(self, msg, sender):
        rec = self.table.find(sender)
        if rec is not None:
            self.metrics.retire(msg.traffic)
            rec.traffic = None
            self._ended(rec, DiscReason(msg.reason), msg.remote_requested, msg.error, msg.stage, msg.cause)
        # the Peer waits for this, so that its exit notice never overtakes its PeerGone
        self.send(sender, ActorExitRequest())

    def _ended(self, rec, reason: DiscReason, remote: bool, error: str, stage: str = "", cause: str = ""):
        """``rec``'s connection is over: log, count, publish, free its slot or dial, tell the Dialer."""
        ended = self.table.end(rec, reason, remote, error, stage, cause)
        self.log.info("node %s: %s", self.cfg.name, ended.log)
        self.metrics.ended(rec.inbound, ended.was_added, reason, remote, stage, cause)
        if rec.traffic is not None:  # its PeerGone never came: what it last reported
            self.metrics.retire(rec.traffic)
        if ended.event is not None:
            self._publish(ended.event)
        if ended.free_slot is not None:
            self._free_slot(ended.free_slot)
        if ended.dial_done is not None and self.dialer is not None:
            self.send(self.dialer, DialDone(ended.dial_done[0], False, ended.dial_done[1]))
        for request_id in self.info.gone(rec.key):
            self._answer_info(request_id)
        if ended.peer_down is not None and self.dialer is not None:
            self.send(self.dialer, PeerDown(ended.peer_down))
        if self.stopping and not len(self.table):
            self._finish_stop()

    # -- supervision -------------------------------------------------------------------
    def on_ChildActorExited(self, msg, sender):
        self._child_gone(msg.childAddress, "exited")

    def on_DeadEnvelope(self, msg, sender):
        if isinstance(msg.deadMessage, Liveness):
            self._child_gone(msg.deadAddress, "found dead by liveness check")

    def _child_gone(self, addr, how: str):
        rec = self.table.find(addr)
        if rec is not None:
            self._peer_died(rec, how)
            return
        if self.stopping or self.exiting:
            return  # stopping on purpose (StopNode, or the ActorSystem's shutdown): not a crash
        slot = self.children.which(addr)
        if slot is not None:
            self._supervise(slot, how)

    def _peer_died(self, rec, how: str):
        """``rec``'s Peer process is gone (``how``) without its PeerGone."""
        if self.exiting:
            # the ActorSystem shuts down: Thespian stops every Peer, which says QUITTING to
            # its remote on the way out, and whose own PeerGone may come after its exit notice
            self._ended(rec, DiscReason.QUITTING, False, "node shutting down", cause="requested")
            return
        # a Peer that ends normally reports PeerGone and waits for our exit order, so a Peer
        # whose process is gone while its record is still here has crashed
        self._publish(ActorExited("peer", how, peer_id=(rec.node_id or rec.dial_id or b"").hex()))
        self._ended(rec, DiscReason.NETWORK_ERROR, False, f"peer actor {how}", cause="error")

    def _supervise(self, slot: str, how: str):
        """The Spawner, the Listener, the Dialer or the Discovery actor died: restart it under its
        policy, or stop the node."""
        setattr(self, slot, None)
        if slot == "spawner":  # its Peers die with it (actors/spawner.py); unborn ones never start
            self._unspawned("the Spawner exited")
        if slot == "discovery":  # its answers to open questions will not come
            waiters, self.discovery_info_waiters = self.discovery_info_waiters, []
            for waiter in waiters:
                if isinstance(waiter, tuple):
                    self._info_arrived(waiter[1], "discovery")
                else:
                    self.send(waiter, DiscoveryInfo(0, (), {}, 0))
        outcome = self.children.exited(slot, how, time.monotonic())
        for event in outcome.events:
            self._publish(event)
        decision = outcome.decision
        if decision.action == "restart":
            self.log.warning("node %s: %s %s; restarting in %.2f s (attempt %d)", self.cfg.name, slot,
                             outcome.events[0].cause, decision.delay_s, decision.attempt)
            self.after(f"restart:{slot}", decision.delay_s)
        elif decision.action == "give_up":
            self.log.error("node %s: %s failed %d times within %.1f s; giving up and stopping the node",
                           self.cfg.name, slot, decision.attempt, self.children.slots[slot].sup.policy.within_s)
            # the failure goes to the parent: the node cannot run without it, so it stops
            self.stop_reason = "restart_limit"
            self.on_StopNode(None, None)

    def _restart(self, slot: str):
        if self.stopping or self.exiting or getattr(self, slot) is not None:
            return
        event = self.children.restarted(slot)
        {"spawner": self._start_spawner, "listener": self._start_listener, "dialer": self._start_dialer,
         "discovery": self._start_discovery, "http": self._start_http}[slot]()
        self._publish(event)

    def on_ActorPid(self, msg, sender):
        """The Listener's and the Dialer's pid (a Peer's is known from its creation)."""
        if msg.role in SLOTS:
            self.children.set_pid(msg.role, sender, msg.pid)

    def _sweep(self):
        """Liveness: children whose process is gone although no ChildActorExited said so; the
        dead-letter probe (a Liveness message comes back as DeadEnvelope) for those whose pid is
        not known yet."""
        for rec in self.table:
            if rec.pid is None:
                if rec.addr is not None:
                    self.send(rec.addr, Liveness())
            elif not process_alive(rec.pid):
                self._peer_died(rec, "found dead by liveness check")
        for slot in SLOTS:
            child = getattr(self, slot)
            if child is None:
                continue
            pid = self.children.slots[slot].pid
            if pid is None:
                self.send(child, Liveness())
            elif not process_alive(pid):
                self._child_gone(child, "found dead by liveness check")

    def on_SupervisionEvent(self, msg, sender):
        cls = SUPERVISION_RECORDS.get(msg.kind)
        if cls is not None:
            self._publish(cls(**msg.data))

    def on_handler_error(self, msg, sender, exc):
        """The Server is the top of the node's tree: it logs and carries on, never crashes."""

    def on_timer(self, name):
        if name.startswith("restart:"):
            self._restart(name[len("restart:"):])
        elif name.startswith("peers:"):
            self._answer_info(int(name[len("peers:"):]))
        elif name == "liveness":
            self._sweep()
            if not self.stopping:
                self.after("liveness", self.cfg.supervision.liveness_s)
        elif name == "stop" and self.stopping:
            self._finish_stop()

    # -- fault injection ---------------------------------------------------------------
    def on_FaultRequest(self, msg, sender):
        if self._not_running(sender):
            return
        try:
            plan = plan_fault(msg.target, msg.mode, {slot: getattr(self, slot) for slot in SLOTS}, self.table)
        except FaultError as exc:
            self.send(sender, AdminResult(False, str(exc)))
            return
        if plan.slot is not None:
            self.children.inject(plan.slot, msg.mode)
        self._publish(FaultInjected(msg.target, msg.mode))
        self.send(plan.addr, plan.fault)
        self.send(sender, AdminResult(True))

    # -- events ------------------------------------------------------------------------
    def on_Subscribe(self, msg, sender):
        self.subscribers[str(msg.subscriber)] = (msg.subscriber, frozenset(msg.kinds))
        if msg.ack:
            self.send(sender, Subscribed(msg.subscriber))

    def on_Unsubscribe(self, msg, sender):
        self.subscribers.pop(str(msg.subscriber), None)

    def _publish(self, record) -> None:
        """Send the event ``record`` (messages.events) to every subscriber that wants its kind."""
        if isinstance(record, ActorRestarted):
            self.metrics.restarted(record.actor)
        if not self.subscribers:
            return
        ev = NodeEvent.of(record, self.cfg.name if self.cfg else "", time.time())
        for addr, kinds in self.subscribers.values():
            if not kinds or ev.kind in kinds:
                self.send(addr, ev)

    def on_ProtocolEvent(self, msg, sender):
        self._publish(ProtocolEventRecord(msg.peer_id.hex(), msg.name, msg.kind, msg.data))

    def on_MsgTraffic(self, msg, sender):
        record = MsgSend if msg.direction == "send" else MsgRecv
        peer = msg.peer_id.hex()
        for code, size in msg.messages:
            self._publish(record(peer, msg.protocol, code, size))

    # -- admin -------------------------------------------------------------------------
    def _not_running(self, sender, tag: int = 0) -> bool:
        """Admin request to a Server that was never started (a globalName lookup created it)."""
        if self.cfg is not None:
            return False
        self.send(sender, AdminResult(False, "node is not running", tag))
        self.send(self.myAddress, ActorExitRequest())
        return True

    def on_GetPeers(self, msg, sender):
        """admin_peers: every peer is asked for its entry as of now (its protocols' info
        included, go-ethereum p2p/server.go ``PeersInfo``); the answer goes out when all have
        replied, or after :data:`PEER_INFO_TIMEOUT_S` with the entries last known."""
        if not self._not_running(sender, msg.tag):
            self._ask_peers(sender, "peers", msg.tag)

    def on_GetMetrics(self, msg, sender):
        """/metrics: every peer is asked for its traffic (not its protocols' info), discovery
        for its table; answered as :meth:`on_GetPeers` is."""
        if not self._not_running(sender, msg.tag):
            self._ask_peers(sender, "metrics", msg.tag)

    def _ask_peers(self, sender, kind: str, tag: int) -> None:
        peers = self.table.added()
        waiting = {rec.key for rec in peers}
        if kind == "metrics" and self.discovery is not None:
            waiting.add("discovery")
        request_id = self.info.new(sender, kind, tag, waiting)
        if "discovery" in waiting:
            self.discovery_info_waiters.append(("metrics", request_id))
            self.send(self.discovery, GetDiscoveryInfo())
        if not waiting:
            self._answer_info(request_id)
            return
        for rec in peers:
            self._to_peer(rec, PeerInfoRequest(request_id, protocols=kind == "peers"))
        self.after(f"peers:{request_id}", PEER_INFO_TIMEOUT_S)

    def on_PeerInfoReply(self, msg, sender):
        rec = self.table.find(sender)
        if rec is not None:
            rec.info = msg.info
            rec.traffic = msg.traffic
            self._info_arrived(msg.request_id, rec.key)

    def _info_arrived(self, request_id: int, key) -> None:
        if self.info.arrived(request_id, key):
            self._answer_info(request_id)

    def _answer_info(self, request_id: int) -> None:
        request = self.info.close(request_id)
        if request is None:
            return
        self.timers.cancel(f"peers:{request_id}")
        added = self.table.added()
        if request.kind == "peers":
            infos = [rec.info for rec in added]
            self.send(request.asker, PeersReply(tuple(sorted(infos, key=lambda i: i.get("id", ""))), request.tag))
            return
        inbound = sum(1 for rec in added if rec.inbound)
        live = [rec.traffic for rec in self.table if rec.traffic is not None]
        families = self.metrics.families(inbound, len(added) - inbound, live,
                                         self.last_discovery if self.cfg.discovery else None)
        self.send(request.asker, MetricsReply(families, request.tag))

    def on_GetStatus(self, msg, sender):
        """net_peerCount, net_listening, /health: answered at once."""
        if self._not_running(sender, msg.tag):
            return
        added = self.table.added()
        running = self.started and not self.stopping
        self.send(sender, StatusReply(running, running and self.listener is not None, len(added),
                                      sum(1 for rec in added if rec.inbound), msg.tag))

    def on_GetNodeInfo(self, msg, sender):
        if self._not_running(sender, msg.tag):
            return
        cfg = self.cfg
        self.send(sender, NodeInfoReply({
            "id": node_hash(self.local_id).hex(),
            "name": cfg.name,
            "enode": self.enode_url(),
            "enr": self.enr_text(),
            "ip": self.host,
            "ports": {"discovery": self.udp_port, "listener": self.port},
            "listenAddr": f"{self.host}:{self.port}",
            "protocols": self.node_protocols(),
        }, msg.tag))

    def node_protocols(self) -> dict:
        """admin_nodeInfo ``protocols`` (node/protocol_options.py ``node_infos``), built once: the
        chain does not change while the node runs.  Only the versions (and a warning) if a
        protocol's details cannot be read."""
        if self.protocol_infos is None:
            try:
                self.protocol_infos = node_infos(self.cfg)
            except ValueError as exc:
                self.log.warning("node %s: admin_nodeInfo without protocol details: %s", self.cfg.name, exc)
                self.protocol_infos = {pc.name: {"version": pc.version} for pc in self.cfg.protocols}
        return self.protocol_infos

    def on_AdminCommand(self, msg, sender):
        if self._not_running(sender, msg.tag):
            return
        outcome = self.book.apply(msg.op, msg.enode)
        if outcome.error:
            self.send(sender, AdminResult(False, outcome.error, msg.tag))
            return
        if outcome.to_dialer and self.dialer is not None:  # else it starts with the book's static nodes
            self.send(self.dialer, replace(msg, enode=outcome.enode))
        if outcome.disconnect is not None:
            for rec in self.table.for_node(outcome.disconnect):
                self._to_peer(rec, DisconnectPeer(int(DiscReason.REQUESTED)))
        self.send(sender, AdminResult(True, tag=msg.tag))

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
            self.stopped_count = len(self.table) if self.table is not None else 0
            for rec in self.table or ():
                self._to_peer(rec, DisconnectPeer(int(DiscReason.QUITTING)))
            if self.stopped_count:
                self.after("stop", STOP_TIMEOUT_S)
        if self.stop_done or self.table is None or len(self.table) == 0:
            self._finish_stop()

    def _finish_stop(self):
        if not self.stop_done:
            self.stop_done = True
            self.timers.cancel("stop")
            if self.listener is not None:
                self.send(self.listener, ActorExitRequest())
                self.listener = None
            for rec in self.table or ():
                self._to_peer(rec, ActorExitRequest())
            for slot in ("discovery", "http", "spawner"):
                child = getattr(self, slot)
                if child is not None:
                    self.send(child, ActorExitRequest())
                    setattr(self, slot, None)
            self._publish(Stopped(self.stopped_count, self.stop_reason))
        for requester in self.stop_requesters:
            self.send(requester, NodeStopped(self.cfg.name if self.cfg else "", self.stopped_count))
        self.stop_requesters.clear()

    def on_ActorExitRequest(self, msg, sender):
        # Thespian stops the children after this handler, and their exit notices can still be
        # handled here: a child created now (a Listener/Dialer restart) would outlive the Server
        self.exiting = True
        if self.inbox is not None:
            fd_handoff.release(self.inbox.fileno())
            self.inbox.close()
            self.inbox = None
        # the Peers are the Spawner's children, which Thespian stops with it; each is also told
        # here, so that it says QUITTING at once; one whose process is gone has ended
        for rec in self.table or ():
            if rec.pid and not process_alive(rec.pid):
                self._peer_died(rec, "exited")
            elif rec.addr is not None:
                self.send(rec.addr, ActorExitRequest())
