"""The Discovery actor: owns a node's discv4 UDP socket and drives :class:`node.discv4.Discv4`
(devp2p discv4.md; go-ethereum p2p/discover/v4_udp.go ``ListenV4``).

* The socket is bound at the listen host and ``discovery_port`` (0: the TCP listen port, as
  go-ethereum's ``discport`` defaults to it).  Every datagram read goes to the state machine;
  what it wants sent is sent at once; its next deadline is this actor's ``tick`` timer.
* The node database (:class:`actors.io.nodedb.NodeDB`, ``node_db``; in memory without one)
  seeds the table at start and keeps the table's nodes, written every :data:`PERSIST_S` and at
  exit; nodes unseen for 24 h expire, hourly once a bond exists (go-ethereum
  p2p/enode/nodedb.go ``dbNodeExpiration``, ``dbCleanupCycle``).  One Discovery actor owns the
  file.
* Live table nodes go to the Server as :class:`messages.discovery.DialCandidates` (each once),
  every :data:`CANDIDATES_S`, for the Dialer's dynamic slots; with eth, only those whose record
  carries an ``eth`` entry our chain accepts (:mod:`node.dial_filter`).
* Bad packets are counted by kind; each kind has at most one log line (and one ``discovery``
  ``bad_packet`` event) per second, with the count of those held back.
* Supervised by the Server like the Listener and the Dialer (restart policy
  ``supervision.discovery``); faults are injected with target ``discovery``.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import random
import socket
import time

from thespian.actors import ThespianWatch

from discovery.enr import parse_text
from discovery.node_url import parse_node_url
from messages.discovery import DialCandidates, DiscoveryFailed, DiscoveryInfo, DiscoveryReady
from messages.events import DiscoveryEventRecord
from messages.supervision import ActorPid
from node import kademlia
from node.dial_filter import dial_filter
from node.discv4 import Discv4
from node.inbound_handshakes import RateLimit
from rlpx.errors import EnodeError

from .base import NodeActor
from .io.nodedb import DB_CLEANUP_CYCLE_S, SEED_COUNT, SEED_MAX_AGE_S, NodeDB

READS_PER_WAKE = 256
"""Datagrams read per readiness notice at most, so timers still run under a flood."""

CANDIDATES_S = 1.0
"""Interval at which newly found table nodes go to the Server as dial candidates, seconds."""

CANDIDATES_PER_ROUND = 32
"""Nodes asked of the table per candidates round."""

PERSIST_S = 30.0
"""Interval at which the table's nodes are written to the node database, seconds."""



class Discovery(NodeActor):
    """discv4 for one node."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sock: socket.socket | None = None
        self.machine: Discv4 | None = None
        self.db: NodeDB | None = None
        self.server = None
        self.name = ""
        self.offered: set[bytes] = set()
        self.filter = None  # node/dial_filter.py: which found nodes may be dialled
        self.limits: dict[str, RateLimit] = {}
        self.expired_at = float("-inf")  # when the node database was last expired (unix seconds)

    def watch(self):
        return ThespianWatch([self.sock.fileno()]) if self.sock is not None else None

    # -- start ---------------------------------------------------------------------------
    def on_StartDiscovery(self, msg, sender):
        cfg = msg.config
        self.server, self.name = msg.server, cfg.name
        self.send(msg.server, ActorPid(os.getpid(), "discovery"))
        host = cfg.listen_host or "0.0.0.0"
        port = cfg.discovery_port or msg.tcp_port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind((host, port))
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            self.send(sender, DiscoveryFailed(f"cannot bind UDP {host}:{port}: {exc.strerror or exc}"))
            return
        try:
            bootnodes = [_table_node(u) for u in cfg.bootstrap_nodes]
        except (EnodeError, ValueError) as exc:
            sock.close()
            self.send(sender, DiscoveryFailed(f"bootstrap node: {exc}"))
            return
        try:
            self.filter = dial_filter(cfg)
        except ValueError as exc:
            self.log.warning("discovery %s: no dial filter, every found node is a candidate: %s", self.name, exc)
            self.filter = None
        self.sock = sock
        now = time.monotonic()
        self.db = NodeDB(cfg.node_db or "")  # "" / None: in memory
        if self.db.reset_reason:
            self.log.warning("discovery %s: node database %s recreated: %s", self.name, cfg.node_db,
                             self.db.reset_reason)
        seeds = [kademlia.Node(nid, ip, udp, tcp) for nid, ip, udp, tcp, _ in
                 self.db.seeds(SEED_COUNT, SEED_MAX_AGE_S, time.time())]
        advertised = cfg.nat_ip or ("127.0.0.1" if host in ("0.0.0.0", "::") else host)
        nets = [ipaddress.ip_network(n, strict=False) for n in cfg.net_restrict] or None
        self.machine = Discv4(cfg.private_key, advertised, sock.getsockname()[1], msg.tcp_port,
                              parse_text(msg.record), random.Random(), now, bootnodes=bootnodes,
                              net_restrict=nets, seeds=seeds)
        self.machine.start(now)
        self._pump(now)
        self.send(sender, DiscoveryReady(host, sock.getsockname()[1]))
        self._publish("ready", {"udp_port": sock.getsockname()[1], "bootnodes": len(bootnodes), "seeds": len(seeds)})
        self.after("candidates", CANDIDATES_S)
        self.after("persist", PERSIST_S)

    # -- socket --------------------------------------------------------------------------
    def on_WatchMessage(self, msg, sender):
        if self.sock is None:
            return
        now = time.monotonic()
        for _ in range(READS_PER_WAKE):
            try:
                data, addr = self.sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:  # e.g. ECONNREFUSED from an earlier sendto's ICMP error
                if exc.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH):
                    continue
                raise
            self.machine.on_datagram(data, (addr[0], addr[1]), now)
        self._pump(now)

    def _pump(self, now: float) -> None:
        """Send what the machine queued, publish its events, arm its next deadline."""
        for data, addr in self.machine.take_outgoing():
            try:
                self.sock.sendto(data, addr)
            except OSError as exc:
                self.machine.counters["send_errors"] = self.machine.counters.get("send_errors", 0) + 1
                self.log.debug("discovery %s: sendto %s: %s", self.name, addr, exc)
        for kind, data in self.machine.take_events():
            if kind == "bad_packet":
                limit = self.limits.setdefault(data.get("kind", "?"), RateLimit(1))
                ok, held = limit.allow(now)
                if not ok:
                    continue
                data = {**data, "suppressed": held}
                self.log.info("discovery %s: dropped %s packet from %s%s", self.name, data.get("kind"),
                              data.get("from"), f" ({held} more held back)" if held else "")
            elif kind == "node_added" and self.db is not None:
                self._remember(data)
            self._publish(kind, data)
        deadline = self.machine.next_deadline()
        if deadline is not None:
            self.timers.set("tick", deadline)

    def _remember(self, data: dict) -> None:
        node_id = bytes.fromhex(data["id"])
        record = self.machine.records.get(node_id)
        self.db.update_node(node_id, data["ip"], data["udp"], data["tcp"], record.encode() if record else None)

    def _publish(self, kind: str, data: dict) -> None:
        self.send(self.server, DiscoveryEventRecord(kind, data))

    # -- timers --------------------------------------------------------------------------
    def on_timer(self, name):
        if self.machine is None:
            return
        now = time.monotonic()
        if name == "tick":
            self.machine.on_tick(now)
        elif name == "candidates":
            self._offer()
            self.after("candidates", CANDIDATES_S)
        elif name == "persist":
            self._persist()
            self.after("persist", PERSIST_S)
        self._pump(now)

    def _offer(self) -> None:
        urls = []
        for node in self.machine.candidates(CANDIDATES_PER_ROUND):
            if node.node_id in self.offered or not node.tcp:
                continue
            if self.filter is not None and not self.filter(node.enr):
                continue  # e.g. no eth entry our chain accepts (yet: the record may still come)
            self.offered.add(node.node_id)
            urls.append(f"enode://{node.node_id.hex()}@{_url_host(node.ip)}:{node.tcp}"
                        + (f"?discport={node.udp}" if node.udp != node.tcp else ""))
        if urls:
            self.send(self.server, DialCandidates(tuple(urls)))

    def _persist(self) -> None:
        if self.db is None:
            return
        wall, bonded = time.time(), 0
        for entry in self.machine.table.all_entries():
            node = entry.node()
            record = self.machine.records.get(node.node_id)
            self.db.update_node(node.node_id, node.ip, node.udp, node.tcp, record.encode() if record else None)
            if self.machine.table.is_bonded(node.node_id, time.monotonic()):
                self.db.set_last_pong(node.node_id, node.ip, wall)
                bonded += 1
        # hourly, and only once we are bonded to someone, as go-ethereum's nodedb expirer starts
        # after the first bond: a node offline for a day keeps its seeds
        if bonded and wall - self.expired_at >= DB_CLEANUP_CYCLE_S:
            self.db.expire(wall)
            self.expired_at = wall

    # -- admin ---------------------------------------------------------------------------
    def on_GetDiscoveryInfo(self, msg, sender):
        m = self.machine
        if m is None:
            self.send(sender, DiscoveryInfo(0, (), {}, 0))
            return
        self.send(sender, DiscoveryInfo(len(m.table), tuple(m.table.bucket_sizes()), dict(m.counters), len(m.records)))

    def on_Liveness(self, msg, sender):
        pass

    def on_ActorExitRequest(self, msg, sender):
        if self.machine is not None and self.db is not None:
            try:
                self._persist()
            except Exception as exc:  # noqa: BLE001 - exiting anyway; one line
                self.log.warning("discovery %s: node database not written at exit: %s", self.name, exc)
        if self.db is not None:
            self.db.close()
            self.db = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _table_node(url: str) -> kademlia.Node:
    """A bootstrap node (``enode://`` or ``enr:``) as a table node: its UDP port is the enode's
    discport (or port), an ENR's ``udp`` (a bootnode's record needs no ``tcp``).  Raises
    EnodeError or ValueError (RecordError) for a bad URL or record."""
    if url.startswith("enr:"):
        record = parse_text(url)
        if record.ip and record.udp:
            return kademlia.Node(record.node_id, record.ip, record.udp, record.tcp or 0, record)
        if record.ip6 and record.udp6:
            return kademlia.Node(record.node_id, record.ip6, record.udp6, record.tcp6 or 0, record)
        raise ValueError(f"record of {record.node_id.hex()[:16]}... has no IP and UDP port")
    enode = parse_node_url(url)
    return kademlia.Node(enode.node_id, enode.host, enode.udp_port, enode.tcp_port)


def _url_host(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip
