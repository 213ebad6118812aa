"""The Node Discovery v4 protocol as a plain state machine (devp2p discv4.md, EIP-868; go-ethereum
p2p/discover/v4_udp.go, table.go, lookup.go).  No sockets, no logging, no clock of its own: an
actor feeds it datagrams and ticks and sends what it returns.

Driving it::

    d = Discv4(key, ip, udp, tcp, record, rng, now, bootnodes=..., net_restrict=..., seeds=...)
    d.start(now)
    loop:  d.on_datagram(data, (ip, port), now)   # each received UDP datagram
           d.on_tick(now)                         # at d.next_deadline() (or any time)
           send every (datagram, (ip, port)) of d.take_outgoing(), in order
           handle d.take_events()

Times.  ``now`` is float seconds on one monotonic clock (the actor's ``time.monotonic()``).
Packet expirations are UNIX seconds, so the machine keeps ``wall_offset``: UNIX time is ``now +
wall_offset``.  Give it to the constructor (tests do); left None, it is taken once, in the
constructor, as ``time.time() - now`` - the only time the machine reads a clock.

State, per go-ethereum (``db`` there is p2p/enode/nodedb.go; here it is kept in memory, per node
id and IP, as nodedb keys it):

* *last pong received* (:attr:`Discv4.pongs`): set by a Pong that matches a Ping we sent
  (``verifyPong`` -> ``UpdateLastPongReceived``).  A node whose last pong is less than
  :data:`BOND_EXPIRATION_S` (24 h, ``bondExpiration``) old is *bonded* (``checkBond``): only then
  are its FindNode and ENRRequest answered (``verifyFindnode``, ``verifyENRRequest``:
  the amplification defence), and its Ping is not pinged back (``handlePing``);
* *last ping received* (:attr:`Discv4.pings`): set by every valid Ping (``handlePing`` ->
  ``UpdateLastPingReceived``).  Before we send FindNode or ENRRequest to a node we want it to
  have bonded with us, so when its last ping is older than 24 h we ping it first
  (``ensureBond``) and send the request once it has pinged us back (so it holds our Pong), or
  :data:`RESP_TIMEOUT_S` after its Pong (go-ethereum sleeps ``respTimeout`` there); if our Ping
  goes unanswered the request is given up (go-ethereum sends it anyway; a node that does not
  answer a Ping will not answer it).

Replies are matched as go-ethereum's ``pending``/``handleReply`` do: by sender id, sender IP
and packet type, within :data:`RESP_TIMEOUT_S` (500 ms, ``respTimeout``); a Pong must also quote
the hash of our Ping (``sendPing``'s matcher), an ENRResponse that of our ENRRequest
(``RequestENR``).  A FindNode stays pending until 16 nodes arrived (``findnode``: ``nreceived >=
bucketSize``) or it times out; a timeout after some nodes is an answer.  Anything unmatched is
"unsolicited" (``errUnsolicitedReply``).

Every datagram: from an IP outside ``net_restrict`` it is dropped unread ("netrestrict"; a rule of
this project: go-ethereum applies NetRestrict only to nodes it learns, ``nodeFromRPC``); a
:class:`discovery.v4wire.PacketError` is counted by its ``kind``; an expired packet
(:func:`discovery.v4wire.expired`, every type but ENRResponse, which has no expiration) is
"expired" (``verifyPing`` ... ``Expired``).

Nodes learnt from Neighbors pass go-ethereum ``nodeFromRPC``: UDP port above 1024
(``errLowPort``), :func:`node.netutil.check_relay_ip` relative to the sender's IP, inside
``net_restrict``, an id on the curve; others are skipped and counted ("skipped_neighbor").  They
are added to the table as seen (``handleTrackRequest`` adds a query's found nodes) and fed to the
lookup.  A node that pings us is added as verified when bonded, else when it answers our Ping
back (``handlePing``, ``addInboundNode``); a bootnode or seed when it answers our Ping.

Lookups (lookup.go, :class:`node.kademlia.Lookup`): ``alpha`` = 3 FindNode in flight, seeded
with the 16 closest table nodes.  A *refresh* (table.go ``doRefresh``) pings the bootnodes and
seeds that are not in the table (``loadSeedNodes``; ``setFallbackNodes`` keeps bootnodes as the
fallback), waits for those pings, then runs a self lookup and 3 random lookups, one after
another.  The first refresh is made by :meth:`Discv4.start`; the next comes 15 to 30 min after
one ends (``nextRefreshTime``: half of ``RefreshInterval`` 30 min plus a random part of the other
half), or after :data:`LOW_TABLE_REFRESH_S` when the table then holds fewer than
:data:`LOW_TABLE_NODES` nodes (go-ethereum's lookup iterator asks for a refresh when a lookup
starts on an empty table, ``lookupFailed``, waiting at most a minute).

FindNode failures are counted per (id, IP) (:attr:`Discv4.find_fails`): after
:data:`MAX_FINDNODE_FAILURES` in a row the node leaves the table (table.go
``handleTrackRequest``).

Revalidation pings come from :meth:`node.kademlia.KademliaTable.next_to_revalidate` and share
the pending-Ping map; a Pong with a higher ``enr_seq`` than the record we hold makes us request
the record (table_reval.go), as does the first Pong of a node whose record we do not hold.

Counters (:attr:`Discv4.counters`): ``in.<name>`` / ``out.<name>`` packets by type (``ping``,
``pong``, ``findnode``, ``neighbors``, ``enrrequest``, ``enrresponse``), ``bad.<kind>`` dropped
packets (a PacketError kind, "expired", "unsolicited", "unbonded", "wrong_sender",
"netrestrict"), ``skipped_neighbor``, and ``ingress_bytes`` / ``egress_bytes`` (datagram bytes,
go-ethereum p2p/discover/metrics.go ``discover/ingress``, ``discover/egress``).

Events (:meth:`Discv4.take_events`): ``("node_added", node)``, ``("node_removed", node)`` with
node = ``{"id": hex, "ip": str, "udp": int, "tcp": int}``, table entries only (not
replacements); ``("bad_packet", {"kind": str, "from": "ip:port"})``; ``("lookup_done",
{"target": hex, "found": int, "seconds": float})``.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Optional, Sequence

from discovery import v4wire
from discovery.enr import Record
from rlpx.errors import NodeKeyError
from rlpx.keys import node_id_from_private_key, public_key_from_node_id

from . import kademlia
from .netutil import address, check_relay_ip, net_contains

RESP_TIMEOUT_S = 0.5
"""Seconds to wait for a reply (go-ethereum v4_udp.go ``respTimeout``, 500 ms)."""

BOND_EXPIRATION_S = kademlia.BOND_EXPIRATION_S
"""A pong (or ping) older than this, 24 h in seconds, is no bond (v4_udp.go ``bondExpiration``)."""

REFRESH_INTERVAL_S = 30 * 60.0
"""go-ethereum discover/common.go ``RefreshInterval`` default, 30 min; refreshes come every half
of it plus a random part of the other half (table.go ``nextRefreshTime``)."""

LOW_TABLE_NODES = kademlia.BUCKET_SIZE
"""A table with fewer nodes than this after a refresh is near-empty: the next refresh comes after
:data:`LOW_TABLE_REFRESH_S` (this project's rule, see the module doc)."""

LOW_TABLE_REFRESH_S = 10.0
"""Seconds from a refresh to the next when the table is near-empty."""

RANDOM_LOOKUPS = 3
"""Random lookups in a refresh after the self lookup (table.go ``doRefresh``: ``for i := 0; i < 3``)."""

MAX_LOW_TABLE_REFRESH_S = REFRESH_INTERVAL_S / 2
"""The near-empty refresh delay doubles after each such refresh up to this, 15 min, and is reset
when the table holds :data:`LOW_TABLE_NODES` again (this project's rule: a small private network
is not refreshed every 10 s for ever)."""

MAX_BOND_RECORDS = 65536
"""Most (id, IP) pairs kept in each of :attr:`Discv4.pongs` and :attr:`Discv4.pings`; the oldest
go first.  go-ethereum keeps them in its node database on disk (p2p/enode/nodedb.go) and expires
them after 24 h (``dbNodeExpiration``); here they are in memory, so they are bounded too, since
any number of node ids can ping us."""

PRUNE_INTERVAL_S = 60.0
"""Seconds between passes that forget bonds older than 24 h (nodedb.go ``expireNodes`` runs every
``dbCleanupCycle``, 1 h; more often here, it is cheap) and records of nodes neither in the table nor
bonded."""

MAX_FINDNODE_FAILURES = 5
"""A table node whose FindNode failed this many times in a row is deleted, when its bucket holds
at least a quarter of :data:`node.kademlia.BUCKET_SIZE` entries (table.go ``handleTrackRequest``);
above it, :meth:`Discv4._ensure_bond` pings before the next FindNode (v4_udp.go
``maxFindnodeFailures``, ``ensureBond``)."""

MIN_NEIGHBOR_UDP_PORT = 1025
"""A Neighbors node's UDP port must be above 1024 (v4_udp.go ``nodeFromRPC``, ``errLowPort``)."""

_NAMES = {v4wire.PING: "ping", v4wire.PONG: "pong", v4wire.FIND_NODE: "findnode",
          v4wire.NEIGHBORS: "neighbors", v4wire.ENR_REQUEST: "enrrequest", v4wire.ENR_RESPONSE: "enrresponse"}


@dataclass(eq=False)
class _PingWait:
    node: kademlia.Node
    hash: bytes
    deadline: float
    purposes: set = field(default_factory=set)  # "boot", "pingback", "reval", "ensure"


@dataclass(eq=False)
class _FindWait:
    run: "_LookupRun"
    node_id: bytes
    ip: str
    deadline: float
    nodes: list = field(default_factory=list)
    received: int = 0


@dataclass(eq=False)
class _EnrWait:
    hash: bytes
    deadline: float


@dataclass(eq=False)
class _BondWait:
    node: kademlia.Node
    actions: list = field(default_factory=list)  # ("findnode", run) or ("enr",)
    ready_at: Optional[float] = None


@dataclass(eq=False)
class _LookupRun:
    lookup: kademlia.Lookup
    started: float
    refresh: bool


def _hex(b: bytes) -> str:
    return b.hex()


class Discv4:
    """The discv4 node of the 32-byte private ``key``, at ``ip`` (text) with discovery port
    ``udp`` and RLPx port ``tcp``; ``record`` our ENR (its seq goes into Ping and Pong, it answers
    ENRRequest); ``rng`` all randomness (random targets, refresh times, the table's choices);
    ``now`` the monotonic clock, seconds; ``bootnodes`` and ``seeds`` :class:`node.kademlia.Node`
    to bond with at each refresh (those outside ``net_restrict`` are ignored, as table.go
    ``setFallbackNodes`` filters bootnodes); ``net_restrict`` ``ipaddress`` networks (None: any);
    ``wall_offset`` UNIX time minus ``now``, seconds (see the module doc).

    Raises :class:`rlpx.errors.NodeKeyError` for a key that is not a valid private key and
    :class:`discovery.v4wire.EncodeError` for an ``ip`` that is not an address."""

    def __init__(self, key: bytes, ip: str, udp: int, tcp: int, record: Record, rng: random.Random,
                 now: float, bootnodes: Sequence[kademlia.Node] = (), net_restrict=None,
                 seeds: Sequence[kademlia.Node] = (), wall_offset: Optional[float] = None):
        self.key = key
        self.id = node_id_from_private_key(key)
        self.ip, self.udp, self.tcp = ip, udp, tcp
        self.endpoint = v4wire.Endpoint.of(ip, udp, tcp)
        self.record = record
        self.rng = rng
        self.net_restrict = list(net_restrict) if net_restrict is not None else None
        self.wall_offset = time.time() - now if wall_offset is None else float(wall_offset)
        self.bootnodes = [n for n in bootnodes if net_contains(self.net_restrict, n.ip)]
        self.seeds = [n for n in seeds if net_contains(self.net_restrict, n.ip)]
        self.table = kademlia.KademliaTable(self.id, rng)
        self.records: dict[bytes, Record] = {}
        self.counters: dict[str, int] = {}
        self.pongs: dict[tuple[bytes, str], float] = {}   # (id, ip) -> last pong received
        self.pings: dict[tuple[bytes, str], float] = {}   # (id, ip) -> last ping received
        self.find_fails: dict[tuple[bytes, str], int] = {}  # (id, ip) -> FindNode failures in a row
        self._out: list[tuple[bytes, tuple[str, int]]] = []
        self._events: list[tuple[str, dict]] = []
        self._ping_waits: dict[tuple[bytes, str], _PingWait] = {}
        self._find_waits: dict[tuple[bytes, str], list[_FindWait]] = {}
        self._enr_waits: dict[tuple[bytes, str], _EnrWait] = {}
        self._bond_waits: dict[tuple[bytes, str], _BondWait] = {}
        self._lookups: list[_LookupRun] = []
        self._refresh_at: Optional[float] = None
        self._refreshing = False
        self._boot_pending: set[tuple[bytes, str]] = set()
        self._refresh_queue: list[bytes] = []
        self._known: dict[bytes, tuple] = {}  # table entries as last reported: id -> (ip, udp, tcp)
        self._last_refresh: Optional[float] = None   # when the last refresh began
        self._low_backoff = LOW_TABLE_REFRESH_S
        self._prune_at = now + PRUNE_INTERVAL_S

    # ------------------------------------------------------------------ the interface

    def start(self, now: float) -> None:
        """Begin: ping the bootnodes and seeds, then (when those pings are answered or timed
        out) the self lookup and random lookups of the first refresh."""
        self._begin_refresh(now)
        self._drive(now)
        self._sync_events()

    def on_datagram(self, data: bytes, addr: tuple[str, int], now: float) -> None:
        """One received UDP datagram ``data`` (bytes) from ``addr`` (ip text, port)."""
        self.counters["ingress_bytes"] = self.counters.get("ingress_bytes", 0) + len(data)
        addr_ip = address(addr[0])
        ip = str(addr_ip) if addr_ip is not None else str(addr[0])
        port = int(addr[1])
        src = (ip, port)
        if not net_contains(self.net_restrict, ip):
            self._bad("netrestrict", src)
            return
        try:
            packet, sender, digest = v4wire.decode(data)
        except v4wire.PacketError as exc:
            self._bad(exc.kind, src)
            return
        self._count(f"in.{_NAMES[packet.TYPE]}")
        if not isinstance(packet, v4wire.ENRResponse) and v4wire.expired(packet.expiration, now + self.wall_offset):
            self._bad("expired", src)
            return
        if sender == self.id:
            return
        handler = {
            v4wire.Ping: self._on_ping, v4wire.Pong: self._on_pong, v4wire.FindNode: self._on_findnode,
            v4wire.Neighbors: self._on_neighbors, v4wire.ENRRequest: self._on_enr_request,
            v4wire.ENRResponse: self._on_enr_response,
        }[type(packet)]
        handler(packet, sender, digest, src, now)
        self._drive(now)
        self._sync_events()

    def on_tick(self, now: float) -> None:
        """Time has passed: reply timeouts, bond waits, revalidation pings, lookups, refresh."""
        self._expire(now)
        for key, w in list(self._bond_waits.items()):
            if w.ready_at is not None and w.ready_at <= now:
                self._run_bond_wait(key, now)
        for e in self.table.next_to_revalidate(now):
            self._ping(kademlia.Node(e.node_id, e.ip, e.udp, e.tcp), "reval", now)
        if not self._refreshing and self._refresh_at is not None and self._refresh_at <= now:
            self._begin_refresh(now)
        if now >= self._prune_at:
            self._prune(now)
            self._prune_at = now + PRUNE_INTERVAL_S
        self._drive(now)
        self._sync_events()

    def next_deadline(self) -> Optional[float]:
        """The earliest time :meth:`on_tick` has something to do (monotonic seconds); never None
        in practice (the prune pass comes every :data:`PRUNE_INTERVAL_S`)."""
        times = [w.deadline for w in self._ping_waits.values()]
        times += [w.deadline for ws in self._find_waits.values() for w in ws]
        times += [w.deadline for w in self._enr_waits.values()]
        times += [w.ready_at for w in self._bond_waits.values() if w.ready_at is not None]
        reval = self.table.next_revalidation_at()
        if reval is not None:
            times.append(reval)
        if not self._refreshing and self._refresh_at is not None:
            times.append(self._refresh_at)
        times.append(self._prune_at)
        return min(times) if times else None

    def take_outgoing(self) -> list[tuple[bytes, tuple[str, int]]]:
        """The datagrams to send, ``(bytes, (ip, port))``, in order; the buffer is emptied."""
        out, self._out = self._out, []
        return out

    def take_events(self) -> list[tuple[str, dict]]:
        """The events since the last call, in order (see the module doc); the buffer is emptied."""
        out, self._events = self._events, []
        return out

    def set_record(self, record: Record) -> None:
        """Our record changed: later Ping and Pong carry its seq, ENRRequest gets it."""
        self.record = record

    def lookup(self, target_id: Optional[bytes], now: float) -> None:
        """Start a lookup for the 64-byte node id ``target_id`` (None: a random one), alongside
        any running; it ends with a ``lookup_done`` event.  ValueError for a target that is not
        64 bytes."""
        target = self.rng.randbytes(64) if target_id is None else bytes(target_id)
        if len(target) != 64:
            raise ValueError("a lookup target is a 64-byte node id")
        if len(self.table) == 0 and not self._refreshing and (
                self._last_refresh is None or now - self._last_refresh >= LOW_TABLE_REFRESH_S):
            self._begin_refresh(now)  # lookup.go lookupIterator: an empty table asks for a refresh
        self._start_lookup(target, now, refresh=False)
        self._drive(now)
        self._sync_events()

    def candidates(self, n: int) -> list[kademlia.Node]:
        """Up to ``n`` random live table nodes (answered a ping), for the dialer, each with its
        ENR in ``enr`` when we hold one (None otherwise); those with a record come first, since
        the dialer's eth filter needs it."""
        pool = [e for e in self.table.random_nodes(len(self.table)) if e.live]
        pool.sort(key=lambda e: e.node_id not in self.records)  # stable: random within each group
        return [kademlia.Node(e.node_id, e.ip, e.udp, e.tcp, self.records.get(e.node_id))
                for e in pool[:max(0, n)]]

    # ------------------------------------------------------------------ sending

    def _wall(self, now: float) -> float:
        return now + self.wall_offset

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    def _bad(self, kind: str, src: tuple[str, int]) -> None:
        self._count(f"bad.{kind}")
        self._events.append(("bad_packet", {"kind": kind, "from": f"{src[0]}:{src[1]}"}))

    def _send(self, packet, addr: tuple[str, int]) -> bytes:
        datagram, digest = v4wire.encode(packet, self.key)
        self._out.append((datagram, (addr[0], addr[1])))
        self._count(f"out.{_NAMES[packet.TYPE]}")
        self.counters["egress_bytes"] = self.counters.get("egress_bytes", 0) + len(datagram)
        return digest

    def _ping(self, node: kademlia.Node, purpose: str, now: float) -> None:
        """Ping ``node`` for ``purpose``, or add the purpose to the Ping already pending there
        (v4_udp.go ``sendPing``, ``makePing``: ``to`` has TCP port 0)."""
        key = (node.node_id, node.ip)
        w = self._ping_waits.get(key)
        if w is None:
            ping = v4wire.Ping(from_=self.endpoint, to=v4wire.Endpoint.of(node.ip, node.udp, 0),
                               expiration=v4wire.expiration_for(self._wall(now)), enr_seq=self.record.seq)
            digest = self._send(ping, (node.ip, node.udp))
            w = self._ping_waits[key] = _PingWait(node, digest, now + RESP_TIMEOUT_S)
        w.purposes.add(purpose)

    def _ensure_bond(self, node: kademlia.Node, action: tuple, now: float) -> None:
        """Do ``action`` once ``node`` holds a bond with us (v4_udp.go ``ensureBond``)."""
        key = (node.node_id, node.ip)
        last = self.pings.get(key)
        if last is not None and now - last < BOND_EXPIRATION_S \
                and self.find_fails.get(key, 0) <= MAX_FINDNODE_FAILURES:
            self._do(node, action, now)
            return
        w = self._bond_waits.get(key)
        if w is None:
            w = self._bond_waits[key] = _BondWait(node)
            pong = self.pongs.get(key)
            if pong is not None and now - pong < RESP_TIMEOUT_S:
                # it answered a Ping of ours just now: no second Ping, only ensureBond's wait
                w.ready_at = pong + RESP_TIMEOUT_S
            else:
                self._ping(node, "ensure", now)
        w.actions.append(action)

    def _run_bond_wait(self, key, now: float) -> None:
        w = self._bond_waits.pop(key, None)
        if w is not None:
            for action in w.actions:
                self._do(w.node, action, now)

    def _fail_bond_wait(self, key) -> None:
        w = self._bond_waits.pop(key, None)
        if w is None:
            return
        for action in w.actions:
            if action[0] == "findnode":
                action[1].lookup.on_timeout(w.node.node_id)

    def _do(self, node: kademlia.Node, action: tuple, now: float) -> None:
        key = (node.node_id, node.ip)
        if action[0] == "findnode":
            run = action[1]
            packet = v4wire.FindNode(target=run.lookup.target, expiration=v4wire.expiration_for(self._wall(now)))
            self._send(packet, (node.ip, node.udp))
            self._find_waits.setdefault(key, []).append(_FindWait(run, node.node_id, node.ip, now + RESP_TIMEOUT_S))
        elif action[0] == "enr" and key not in self._enr_waits:
            packet = v4wire.ENRRequest(expiration=v4wire.expiration_for(self._wall(now)))
            digest = self._send(packet, (node.ip, node.udp))
            self._enr_waits[key] = _EnrWait(digest, now + RESP_TIMEOUT_S)

    def _want_enr(self, node: kademlia.Node, enr_seq: Optional[int], now: float) -> None:
        """Request ``node``'s record if we hold none or an older one than ``enr_seq`` (EIP-868;
        table_reval.go requests it on a higher seq).  A Pong without enr-seq (a pre-EIP-868
        node) asks for nothing."""
        if enr_seq is None:
            return
        held = self.records.get(node.node_id)
        if held is not None and held.seq >= enr_seq:
            return
        key = (node.node_id, node.ip)
        if key in self._enr_waits:
            return
        w = self._bond_waits.get(key)
        if w is not None and any(a[0] == "enr" for a in w.actions):
            return
        self._ensure_bond(node, ("enr",), now)

    # ------------------------------------------------------------------ handlers

    @staticmethod
    def _stamp(times: dict, key, value) -> None:
        """Set ``times[key] = value`` keeping the dict in update order (oldest first), at most
        :data:`MAX_BOND_RECORDS` long (the oldest dropped)."""
        times.pop(key, None)
        times[key] = value
        while len(times) > MAX_BOND_RECORDS:
            del times[next(iter(times))]

    def _prune(self, now: float) -> None:
        """Forget bonds older than 24 h and records of nodes neither in the table nor bonded."""
        for times in (self.pongs, self.pings):
            while times:
                key = next(iter(times))
                if now - times[key] < BOND_EXPIRATION_S:
                    break
                del times[key]
        keep = {k[0] for k in self.pongs}
        for nid in [n for n in self.records if n not in keep and not self.table.contains(n)]:
            del self.records[nid]

    def _is_bonded(self, key, now: float) -> bool:
        last = self.pongs.get(key)
        return last is not None and now - last < BOND_EXPIRATION_S

    def _on_ping(self, ping: v4wire.Ping, sender: bytes, digest: bytes, src, now: float) -> None:
        """v4_udp.go ``handlePing``: Pong to the address seen, ping back when not bonded."""
        ip, port = src
        pong = v4wire.Pong(to=v4wire.Endpoint.of(ip, port, ping.from_.tcp), ping_hash=digest,
                           expiration=v4wire.expiration_for(self._wall(now)), enr_seq=self.record.seq)
        self._send(pong, src)
        node = kademlia.Node(sender, ip, port, ping.from_.tcp, self.records.get(sender))
        key = (sender, ip)
        if self._is_bonded(key, now):
            self.table.add_verified(node, now)
        else:
            self._ping(node, "pingback", now)
        self._stamp(self.pings, key, now)
        if key in self._bond_waits:  # it has our Pong now: what waited for the bond may go
            self._run_bond_wait(key, now)

    def _on_pong(self, pong: v4wire.Pong, sender: bytes, digest: bytes, src, now: float) -> None:
        """v4_udp.go ``verifyPong``: only an answer to our Ping; it makes the bond."""
        key = (sender, src[0])
        w = self._ping_waits.get(key)
        if w is None or w.hash != pong.ping_hash:
            self._bad("unsolicited", src)
            return
        del self._ping_waits[key]
        self._stamp(self.pongs, key, now)
        node = kademlia.Node(w.node.node_id, w.node.ip, w.node.udp, w.node.tcp, self.records.get(sender))
        if w.purposes & {"boot", "pingback"}:
            self.table.add_verified(node, now)
        if "reval" in w.purposes:
            self.table.revalidated(sender, True, now)
        if "boot" in w.purposes:
            self._boot_done(key, now)
        bw = self._bond_waits.get(key)
        if bw is not None and bw.ready_at is None:
            bw.ready_at = now + RESP_TIMEOUT_S
        self._want_enr(node, pong.enr_seq, now)

    def _on_findnode(self, req: v4wire.FindNode, sender: bytes, digest: bytes, src, now: float) -> None:
        """v4_udp.go ``verifyFindnode``/``handleFindnode``: bonded senders only; the 16 closest
        (live preferred), those passing CheckRelayIP, in Neighbors of at most 12."""
        if not self._is_bonded((sender, src[0]), now):
            self._bad("unbonded", src)
            return
        closest = self.table.closest(req.target, kademlia.BUCKET_SIZE, prefer_live=True)
        nodes = [v4wire.Node.of(e.ip, e.udp, e.tcp, e.node_id) for e in closest
                 if check_relay_ip(src[0], e.ip) is None]
        for chunk in v4wire.split_neighbors(nodes):
            self._send(v4wire.Neighbors(nodes=chunk, expiration=v4wire.expiration_for(self._wall(now))), src)

    def _on_neighbors(self, packet: v4wire.Neighbors, sender: bytes, digest: bytes, src, now: float) -> None:
        """v4_udp.go ``verifyNeighbors`` and ``findnode``'s matcher, ``nodeFromRPC``."""
        key = (sender, src[0])
        waits = self._find_waits.get(key)
        if not waits:
            self._bad("unsolicited", src)
            return
        w = waits[0]
        for rn in packet.nodes:
            w.received += 1
            n = self._node_from_rpc(src[0], rn)
            if n is None:
                self._count("skipped_neighbor")
            else:
                w.nodes.append(n)
        if w.received >= kademlia.BUCKET_SIZE:
            waits.pop(0)
            if not waits:
                del self._find_waits[key]
            self._find_done(w, answered=True, now=now)

    def _node_from_rpc(self, sender_ip: str, rn: v4wire.Node) -> Optional[kademlia.Node]:
        addr = rn.address
        if addr is None or rn.udp < MIN_NEIGHBOR_UDP_PORT:
            return None
        addr = address(addr)  # IPv4-mapped unmapped
        if check_relay_ip(sender_ip, addr) is not None or not net_contains(self.net_restrict, addr):
            return None
        try:
            public_key_from_node_id(rn.node_id)
        except (NodeKeyError, ValueError):
            return None
        return kademlia.Node(rn.node_id, str(addr), rn.udp, rn.tcp)

    def _find_done(self, w: _FindWait, answered: bool, now: float) -> None:
        """A FindNode ended: its nodes go to the table as seen (table.go ``handleTrackRequest``)
        and to the lookup; no packet at all is a failed query for the lookup (lookup.go
        ``query``); no usable node counts as a FindNode failure of that node."""
        key = (w.node_id, w.ip)
        if w.nodes:  # lookup.go query: success is len(r) > 0, the nodes that passed nodeFromRPC
            self.find_fails.pop(key, None)
        else:
            fails = self.find_fails.pop(key, 0) + 1
            self._stamp(self.find_fails, key, fails)
            bucket = self.table.bucket_index(w.node_id)
            if fails >= MAX_FINDNODE_FAILURES and self.table.contains(w.node_id) \
                    and len(self.table.entries(bucket)) >= kademlia.BUCKET_SIZE // 4:
                self.table.delete(w.node_id, now)
        for n in w.nodes:
            self.table.add_seen(n, now)
        if answered or w.received:
            w.run.lookup.on_reply(w.node_id, w.nodes)
        else:
            w.run.lookup.on_timeout(w.node_id)

    def _on_enr_request(self, req: v4wire.ENRRequest, sender: bytes, digest: bytes, src, now: float) -> None:
        """v4_udp.go ``verifyENRRequest``/``handleENRRequest``: bonded senders only."""
        if not self._is_bonded((sender, src[0]), now):
            self._bad("unbonded", src)
            return
        self._send(v4wire.ENRResponse(request_hash=digest, record=self.record), src)

    def _on_enr_response(self, resp: v4wire.ENRResponse, sender: bytes, digest: bytes, src, now: float) -> None:
        """v4_udp.go ``RequestENR``: it must quote our request and be the sender's own record
        (EIP-868); an older record than the one held is ignored."""
        key = (sender, src[0])
        w = self._enr_waits.get(key)
        if w is None or w.hash != resp.request_hash:
            self._bad("unsolicited", src)
            return
        del self._enr_waits[key]
        if resp.record.node_id != sender:
            self._bad("wrong_sender", src)
            return
        held = self.records.get(sender)
        if held is not None and resp.record.seq < held.seq:
            return
        self.records[sender] = resp.record
        e = self.table.get(sender)
        if e is not None:
            e.enr = resp.record

    # ------------------------------------------------------------------ time

    def _expire(self, now: float) -> None:
        for key, w in list(self._ping_waits.items()):
            if w.deadline > now:
                continue
            del self._ping_waits[key]
            if "reval" in w.purposes:
                self.table.revalidated(key[0], False, now)
            if "ensure" in w.purposes:
                self._fail_bond_wait(key)
            if "boot" in w.purposes:
                self._boot_done(key, now)
        for key, waits in list(self._find_waits.items()):
            due = [w for w in waits if w.deadline <= now]
            if not due:
                continue
            rest = [w for w in waits if w.deadline > now]
            if rest:
                self._find_waits[key] = rest
            else:
                del self._find_waits[key]
            for w in due:
                self._find_done(w, answered=False, now=now)
        for key, w in list(self._enr_waits.items()):
            if w.deadline <= now:
                del self._enr_waits[key]

    # ------------------------------------------------------------------ lookups and refresh

    def _begin_refresh(self, now: float) -> None:
        """table.go ``doRefresh``: bond with the bootnodes and seeds not in the table first."""
        self._refreshing = True
        self._refresh_at = None
        self._last_refresh = now
        self._boot_pending = set()
        for n in list(self.bootnodes) + list(self.seeds):
            if n.node_id == self.id or self.table.contains(n.node_id):
                continue
            self._boot_pending.add((n.node_id, n.ip))
            self._ping(n, "boot", now)
        if not self._boot_pending:
            self._begin_lookups(now)

    def _boot_done(self, key, now: float) -> None:
        if key in self._boot_pending:
            self._boot_pending.discard(key)
            if not self._boot_pending and self._refreshing and not self._refresh_queue \
                    and not any(r.refresh for r in self._lookups):
                self._begin_lookups(now)

    def _begin_lookups(self, now: float) -> None:
        self._refresh_queue = [self.id] + [self.rng.randbytes(64) for _ in range(RANDOM_LOOKUPS)]
        self._next_refresh_lookup(now)

    def _next_refresh_lookup(self, now: float) -> None:
        if self._refresh_queue:
            self._start_lookup(self._refresh_queue.pop(0), now, refresh=True)
            return
        self._refreshing = False
        if len(self.table) < LOW_TABLE_NODES:
            self._refresh_at = now + self._low_backoff
            self._low_backoff = min(2 * self._low_backoff, MAX_LOW_TABLE_REFRESH_S)
        else:
            self._low_backoff = LOW_TABLE_REFRESH_S
            half = REFRESH_INTERVAL_S / 2
            self._refresh_at = now + half + self.rng.uniform(0.0, half)

    def _start_lookup(self, target: bytes, now: float, refresh: bool) -> None:
        seeds = [e.node() for e in self.table.closest(target, kademlia.BUCKET_SIZE)]
        self._lookups.append(_LookupRun(kademlia.Lookup(target, self.id, seeds), now, refresh))

    def _drive(self, now: float) -> None:
        """Send the FindNode queries lookups ask for; end the lookups that are done."""
        progress = True
        while progress:
            progress = False
            for run in list(self._lookups):
                for nid in run.lookup.asks():
                    self._ensure_bond(run.lookup.node(nid), ("findnode", run), now)
                if run.lookup.done():
                    self._lookups.remove(run)
                    self._events.append(("lookup_done", {"target": _hex(run.lookup.target),
                                                         "found": len(run.lookup.result()),
                                                         "seconds": now - run.started}))
                    if run.refresh:
                        self._next_refresh_lookup(now)
                    progress = True

    # ------------------------------------------------------------------ events

    def _sync_events(self) -> None:
        """node_added / node_removed for table entries changed since the last call; an entry
        whose endpoint changed is reported removed (old endpoint) and added (new one)."""
        current = {e.node_id: e for e in self.table.all_entries()}
        for nid in [n for n in self._known if n not in current]:
            self._events.append(("node_removed", self._info(nid, self._known.pop(nid))))
        for nid, e in current.items():
            where = (e.ip, e.udp, e.tcp)
            old = self._known.get(nid)
            if old == where:
                continue
            if old is not None:
                self._events.append(("node_removed", self._info(nid, old)))
            self._events.append(("node_added", self._info(nid, where)))
            self._known[nid] = where

    @staticmethod
    def _info(nid: bytes, where: tuple) -> dict:
        return {"id": _hex(nid), "ip": where[0], "udp": where[1], "tcp": where[2]}
