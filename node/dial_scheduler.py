"""Dial scheduling as a plain class (go-ethereum p2p/dial.go ``dialScheduler``), driven by the
Dialer actor.  Times are monotonic seconds.

Rules:
* static nodes are kept connected: dialled whenever not connected, not being dialled, and
  their dial-history entry has expired (``dial_history_s``, 35 s in go-ethereum
  ``dialHistoryExpiration``);
* a node whose dials keep failing waits longer: ``dial_history_s * 2**(failures-1)``, capped at
  ``backoff_max_s`` (go-ethereum has no backoff here; added so a dead static node is not
  hammered every 35 s forever);
* dynamic candidates fill the free dial slots: twice the missing dialed peers
  (``max_dialed_conns``, max_peers / dial_ratio, minus dialed peers), at most ``max_pending``,
  minus the dynamic dials in flight (go-ethereum p2p/dial.go ``freeDialSlots``), since some of
  the dials fail;
* at most ``max_pending`` dials in flight (``MaxPendingPeers``);
* never dial ourselves, a connected node, a node being dialled, or one outside NetRestrict
  (p2p/dial.go ``checkDial``);
* a node given by host name (``enode://...@localhost:30303``) is resolved before any of these
  checks, as go-ethereum p2p/dial.go ``dialTask.resolve`` does (5 s, :data:`RESOLVE_TIMEOUT_S`),
  and dialled at the resolved address; NetRestrict applies to that address.  The address is
  resolved again after a failed dial.  The scheduler only says which names to resolve
  (:meth:`DialScheduler.resolve_due`) and takes the answers (:meth:`DialScheduler.resolved`);
  the Dialer actor runs the lookups off its thread.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from discovery.node_url import parse_node_url
from rlpx.enode import Enode

RESOLVE_TIMEOUT_S = 5.0
"""Longest wait for one name's resolution, seconds (go-ethereum resolves with a 5 s context)."""


def is_ip(host: str) -> bool:
    """True if ``host`` is an IPv4 or IPv6 literal (no resolution needed)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def pick_address(addresses) -> str | None:
    """The address to dial among ``addresses`` (IP strings, in resolver order): the first IPv4
    one, else the first (go-ethereum p2p/dial.go prefers IPv4 the same way); None if empty."""
    addresses = list(addresses)
    for a in addresses:
        if ":" not in a:
            return a
    return addresses[0] if addresses else None


@dataclass
class _Target:
    enode: Enode
    static: bool = False
    failures: int = 0
    not_before: float = 0.0
    ip: str | None = None      # the resolved address of a host name
    resolving: bool = False

    @property
    def named(self) -> bool:
        return not is_ip(self.enode.host)

    def address(self) -> str | None:
        """The IP to dial (None: a name not resolved yet)."""
        return self.ip if self.named else self.enode.host

    def dial_enode(self) -> Enode:
        e = self.enode
        return e if not self.named else Enode(e.node_id, self.ip, e.tcp_port, e.udp_port)


class DialScheduler:
    """Which nodes to dial now.  ``local_id`` is our 64-byte node id."""

    def __init__(self, local_id: bytes, max_pending: int, max_dialed: int, history_s: float,
                 backoff_max_s: float, net_restrict=()):
        self.local_id = local_id
        self.max_pending = max_pending
        self.max_dialed = max_dialed
        self.history_s = history_s
        self.backoff_max_s = backoff_max_s
        self.nets = [ipaddress.ip_network(n, strict=False) for n in net_restrict]
        self.static: dict[bytes, _Target] = {}
        self.dynamic: dict[bytes, _Target] = {}
        self.connected: set[bytes] = set()
        self.dialed_connected: set[bytes] = set()
        self.dialing: set[bytes] = set()

    # -- membership --------------------------------------------------------------------
    def add_static(self, url: str) -> bytes:
        """Add a static node (enode URL or enr: record); return its node id.  Raises EnodeError."""
        e = parse_node_url(url)
        t = self.static.get(e.node_id)
        if t is None:
            self.static[e.node_id] = _Target(e, static=True)
        else:
            if t.enode.host != e.host:
                t.ip = None
            t.enode = e
        return e.node_id

    def remove_static(self, url: str) -> bytes:
        """Remove a static node (enode URL or enr: record); return its node id.  Raises EnodeError."""
        e = parse_node_url(url)
        self.static.pop(e.node_id, None)
        return e.node_id

    def add_candidate(self, url: str) -> None:
        """Add a dynamic dial candidate (from config now; discovery later)."""
        e = parse_node_url(url)
        self.dynamic.setdefault(e.node_id, _Target(e))

    # -- notifications -----------------------------------------------------------------
    def peer_up(self, node_id: bytes, dialed: bool) -> None:
        """Record 64-byte ``node_id`` as connected, so it is not dialled; ``dialed`` (we dialled it)
        also makes it take a dialed-connection slot (go-ethereum p2p/dial.go ``peerAdded``)."""
        self.connected.add(node_id)
        if dialed:
            self.dialed_connected.add(node_id)

    def peer_down(self, node_id: bytes) -> None:
        """Record 64-byte ``node_id`` as disconnected, freeing its dialed slot if it had one
        (go-ethereum p2p/dial.go ``peerRemoved``); when it is dialled again is :meth:`check`'s call."""
        self.connected.discard(node_id)
        self.dialed_connected.discard(node_id)

    def dial_done(self, node_id: bytes, ok: bool, now: float) -> None:
        """A dial of ``node_id`` ended at monotonic ``now`` (s): no longer in flight (go-ethereum
        p2p/dial.go ``doneCh``).  ``ok`` resets the failure count; a failure pushes ``not_before``
        to at least ``now + min(backoff_max_s, history_s * 2**(failures-1))`` (our backoff, not geth's)."""
        self.dialing.discard(node_id)
        for table in (self.static, self.dynamic):
            t = table.get(node_id)
            if t is None:
                continue
            if ok:
                t.failures = 0
            else:
                self._failed(t, now)
                t.ip = None  # a name is resolved again before the next dial (go-ethereum dial.go)

    def _failed(self, t: _Target, now: float) -> None:
        t.failures += 1
        delay = min(self.backoff_max_s, self.history_s * 2 ** (t.failures - 1))
        t.not_before = max(t.not_before, now + delay)

    def resolved(self, node_id: bytes, addresses, now: float) -> str | None:
        """The name of ``node_id``'s enode resolved to ``addresses`` (IP strings; empty: it did
        not resolve, or not within :data:`RESOLVE_TIMEOUT_S`).  Returns the address chosen
        (:func:`pick_address`), or None: the failure counts as a failed dial (backoff)."""
        ip = pick_address(addresses)
        for table in (self.static, self.dynamic):
            t = table.get(node_id)
            if t is None or not t.resolving:
                continue
            t.resolving = False
            t.ip = ip
            if ip is None:
                self._failed(t, now)
        return ip

    # -- decisions ---------------------------------------------------------------------
    def check(self, t: _Target, now: float) -> str | None:
        """Why ``t`` cannot be dialled now (None = it can); a host name that is not resolved yet
        is "unresolved" (:meth:`resolve_due`)."""
        why = self._check_node(t, now)
        if why is not None:
            return why
        host = t.address()
        if host is None:
            return "resolving" if t.resolving else "unresolved"
        if self.nets:
            ip = ipaddress.ip_address(host.split("%")[0])
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
                ip = ip.ipv4_mapped
            if not any(ip in n for n in self.nets if n.version == ip.version):
                return "not in netrestrict list"
        return None

    def _check_node(self, t: _Target, now: float) -> str | None:
        nid = t.enode.node_id
        if nid == self.local_id:
            return "is self"
        if nid in self.connected:
            return "already connected"
        if nid in self.dialing:
            return "already dialing"
        if t.enode.tcp_port == 0:
            return "no TCP port"
        if t.not_before > now:
            return "recently dialed"
        return None

    def resolve_due(self, now: float) -> list[tuple[bytes, str, int]]:
        """Return [(node id, host name, tcp port)] to resolve now (names not resolved, of targets
        that pass every check but the address's), marking them as resolving."""
        out = []
        for t in (*self.static.values(), *self.dynamic.values()):
            if t.named and t.ip is None and not t.resolving and self._check_node(t, now) is None:
                t.resolving = True
                out.append((t.enode.node_id, t.enode.host, t.enode.tcp_port))
        return out

    def due(self, now: float) -> list[tuple[Enode, bool]]:
        """Return [(enode, static)] to dial now, marking them as dialling; a target given by
        name is returned with its resolved address as host."""
        out = []
        for t in list(self.static.values()):
            if len(self.dialing) >= self.max_pending:
                return out
            if self.check(t, now) is None:
                out.append(self._start(t, now))
        # go-ethereum dial.go freeDialSlots: twice the missing dialed peers, at most max_pending
        slots = min(2 * (self.max_dialed - len(self.dialed_connected)), self.max_pending)
        free = slots - sum(1 for n in self.dialing if n not in self.static)
        for t in list(self.dynamic.values()):
            if free <= 0 or len(self.dialing) >= self.max_pending:
                break
            if t.enode.node_id in self.static:
                continue
            if self.check(t, now) is None:
                out.append(self._start(t, now))
                free -= 1
        return out

    def _start(self, t: _Target, now: float) -> tuple[Enode, bool]:
        self.dialing.add(t.enode.node_id)
        t.not_before = now + self.history_s
        return t.dial_enode(), t.static

    def next_due(self, now: float) -> float | None:
        """Earliest time a currently blocked-by-history target may become dialable."""
        times = [t.not_before for t in (*self.static.values(), *self.dynamic.values())
                 if t.not_before > now and t.enode.node_id not in self.connected]
        return min(times) if times else None
