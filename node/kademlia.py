"""The discv4 Kademlia table and the node lookup, as plain state machines (go-ethereum
p2p/discover/table.go, table_reval.go, lookup.go), driven by a discovery actor.  No sockets,
no clocks: every time is passed in as ``now``, float seconds on one monotonic clock; all
randomness comes from the ``random.Random`` given to the table (seed it in tests).

Shapes: a *node id* is the 64-byte public key (rlpx.keys); its *hash* is keccak256(node id), 32
bytes (:func:`rlpx.keys.node_hash`), and every distance is between hashes (discv4.md, "Node
Identities": "The 'distance' between two node keys is the bitwise exclusive or on the hashes of
the public keys, taken as the number").  A *target* may be given as a node id (64 bytes, hashed
here) or as a hash (32 bytes, used as is); anything else is a :class:`ValueError`.

The table (go-ethereum p2p/discover/table.go, constants at the top of that file):

* :data:`BUCKET_SIZE` k = 16 live entries per bucket (``bucketSize``);
* :data:`N_BUCKETS` = 256 // 15 = 17 buckets (``nBuckets = hashBits / 15``), only for the
  upper log distances (table.go ``bucketAtDistance``): a distance ``d <= BUCKET_MIN_DISTANCE``
  (239, ``bucketMinDistance = hashBits - nBuckets``) goes to bucket 0, any other to bucket
  ``d - 239 - 1``, so bucket 0 holds distances 0..240 and bucket ``i >= 1`` distance
  ``240 + i`` (bucket 16: 256, half of all nodes); a random node is in bucket 0 with
  probability 2**-16;
* each bucket keeps up to :data:`MAX_REPLACEMENTS` = 10 replacements (``maxReplacements``):
  nodes seen while the bucket was full, newest first; a new one pushes out the oldest
  (``pushNode``);
* IP limits (``bucketIPLimit, bucketSubnet = 2, 24`` and ``tableIPLimit, tableSubnet = 10,
  24``, counted with p2p/netutil ``DistinctNetSet``): at most 2 addresses of one /24 in a bucket
  and 10 in the whole table, entries and replacements both counted (``addIP`` is called for
  both).  An IPv6 address is keyed on its first 24 bits too, as ``ip.Prefix(24)`` does there.
  LAN addresses are exempt, as in ``Table.addIP``: netutil ``AddrIsLAN`` is loopback,
  RFC 1918 / RFC 4193 private, or link-local unicast (IPv4-mapped addresses unmapped first).
  So on 127.0.0.0/8, where our tests and local nets run, no IP limit applies; pass
  ``lan_exempt=False`` to enforce them there.  A node without a usable IP (invalid or
  unspecified) is refused, as ``addIP`` does;
* ourselves is never added (``handleAddNode``);
* a node seen (:meth:`KademliaTable.add_seen`: found in a Neighbors reply, or a seed) goes to the
  end of its bucket if there is room and its IP fits, else to the replacements
  (``handleAddNode`` / ``addReplacement``); one already present is left as it is (go-ethereum
  updates a found node only if its ENR sequence number advances, which a discv4 Neighbors
  entry never has);
* a node verified (:meth:`KademliaTable.add_verified`: it answered our ping, or pinged us
  after the bond) moves to the front of its bucket: entries are "sorted by time of last
  contact, most recently active first" (``bucket`` in table.go; Kademlia's least-recently-seen
  eviction order).  Its endpoint is updated as ``bumpInBucket`` does for inbound contact,
  within the IP limits; a node not yet in the table is added as :meth:`add_seen` would, put
  in front and marked live.  go-ethereum 1.17 appends instead of moving to the front; the order matters only
  to :meth:`KademliaTable.entries` here, since answers are by distance;
* :meth:`KademliaTable.delete` removes an entry and promotes a random replacement in its place
  (``deleteInBucket``, ``rand.Intn(len(b.replacements))``).

Revalidation (go-ethereum p2p/discover/table_reval.go), kept with its two lists: a node enters
the *fast* list when added; each list has a next time, ``now + uniform(0, interval)``, drawn
again each time it comes due (``schedule``), interval :data:`PING_INTERVAL_S` 3 s for fast
(``Config.PingInterval`` default, common.go) and 3 times that for slow
(``slowRevalidationFactor``).  When a list is due, one random node of it without a check in
flight is to be pinged (:meth:`KademliaTable.next_to_revalidate`).  The answer
(:meth:`KademliaTable.revalidated`): a pong adds one liveness check, marks the node live and
moves it to the slow list; no pong divides its checks by 3 (integer division), and at 0 the
node is deleted (and replaced), else it goes back to the fast list.  Simplified: no ENR
request on a higher sequence number (the actor may do that and call :meth:`add_verified`), and
the node is drawn uniformly among those without a check in flight (go-ethereum's ``get`` makes
3 x len random picks and may come back empty-handed).

Not here: the node database (go-ethereum p2p/enode/nodedb.go, with seeds and
``dbNodeExpiration``, 24 h), find-node failure counts (``maxFindnodeFailures``), refresh
timing; :data:`BOND_EXPIRATION_S` and :meth:`KademliaTable.is_bonded` cover the bond check of
v4_udp.go ``checkBond`` for nodes in the table only.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field

from rlpx.keys import HASH_SIZE, NODE_ID_SIZE, node_hash

HASH_BITS = 8 * HASH_SIZE
"""Bits in a node hash, 256 (table.go ``hashBits = len(common.Hash{}) * 8``)."""

ALPHA = 3
"""Kademlia concurrency factor: queries in flight in a lookup (table.go ``alpha``)."""

BUCKET_SIZE = 16
"""Live entries per bucket, Kademlia's k (table.go ``bucketSize``); also a lookup's result size."""

MAX_REPLACEMENTS = 10
"""Replacements kept per bucket (table.go ``maxReplacements``)."""

N_BUCKETS = HASH_BITS // 15
"""Number of buckets, 17 (table.go ``nBuckets = hashBits / 15``)."""

BUCKET_MIN_DISTANCE = HASH_BITS - N_BUCKETS
"""Log distance 239: this and every smaller distance go to bucket 0, and so does 240, the
first distance above it (table.go ``bucketMinDistance``, ``bucketAtDistance``)."""

BUCKET_IP_LIMIT, BUCKET_SUBNET = 2, 24
"""At most 2 addresses of one /24 in a bucket (table.go ``bucketIPLimit, bucketSubnet``)."""

TABLE_IP_LIMIT, TABLE_SUBNET = 10, 24
"""At most 10 addresses of one /24 in the table (table.go ``tableIPLimit, tableSubnet``)."""

PING_INTERVAL_S = 3.0
"""Revalidation interval of the fast list, seconds (discover/common.go ``PingInterval``
default, 3 s)."""

SLOW_REVALIDATION_FACTOR = 3
"""The slow list's interval is this times :data:`PING_INTERVAL_S` (table_reval.go
``slowRevalidationFactor``)."""

BOND_EXPIRATION_S = 24 * 3600.0
"""A pong older than this no longer counts as a bond, seconds (v4_udp.go ``bondExpiration``,
24 h; the same span as p2p/enode/nodedb.go ``dbNodeExpiration``)."""


# --- distance -------------------------------------------------------------------------------

def target_hash(target: bytes) -> bytes:
    """The 32-byte hash of a target: a 64-byte node id is hashed, a 32-byte hash returned as
    is.  :class:`ValueError` for any other length or type."""
    if not isinstance(target, (bytes, bytearray)):
        raise ValueError("target must be bytes: a 64-byte node id or a 32-byte hash")
    if len(target) == NODE_ID_SIZE:
        return node_hash(bytes(target))
    if len(target) == HASH_SIZE:
        return bytes(target)
    raise ValueError(f"target must be {NODE_ID_SIZE} (node id) or {HASH_SIZE} (hash) bytes, "
                     f"not {len(target)}")


def xor_distance(a: bytes, b: bytes) -> int:
    """a XOR b of two 32-byte hashes, as an integer (discv4.md; go-ethereum enode.DistCmp
    orders by it)."""
    return int.from_bytes(a, "big") ^ int.from_bytes(b, "big")


def log_distance(a: bytes, b: bytes) -> int:
    """The log distance of two 32-byte hashes: the bit length of a XOR b, 0 for equal hashes,
    256 at most (go-ethereum p2p/enode/node.go ``LogDist``: 256 minus the leading zero bits)."""
    return xor_distance(a, b).bit_length()


def bucket_index_at(distance: int) -> int:
    """The bucket of a log distance (table.go ``bucketAtDistance``): 0 for distances <=
    :data:`BUCKET_MIN_DISTANCE`, else ``distance - BUCKET_MIN_DISTANCE - 1`` (so 240 is in
    bucket 0 too, 256 in bucket 16)."""
    if distance <= BUCKET_MIN_DISTANCE:
        return 0
    return distance - BUCKET_MIN_DISTANCE - 1


def _check_id(node_id: bytes) -> bytes:
    if not isinstance(node_id, (bytes, bytearray)) or len(node_id) != NODE_ID_SIZE:
        raise ValueError(f"node id must be {NODE_ID_SIZE} bytes")
    return bytes(node_id)


# --- IP limits ------------------------------------------------------------------------------

def parse_ip(ip: str):
    """The ``ipaddress`` address of ``ip`` (IPv4-mapped IPv6 unmapped), or None if it is not
    an address or is unspecified (0.0.0.0, ::): such a node cannot be added (``addIP``)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr.is_unspecified:
        return None
    return addr


def is_lan(addr) -> bool:
    """go-ethereum netutil ``AddrIsLAN``: loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7)
    or link-local unicast (169.254/16, fe80::/10).  ``addr`` is an unmapped ``ipaddress``
    address.  Python's ``is_private`` is wider than Go's ``IsPrivate`` (it includes documentation
    and other reserved ranges), so the ranges are listed here."""
    if addr.is_loopback or addr.is_link_local:
        return True
    return any(addr in net for net in _PRIVATE_NETS if net.version == addr.version)


_PRIVATE_NETS = tuple(ipaddress.ip_network(n) for n in
                      ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))
"""Go net.IP.IsPrivate: RFC 1918 and RFC 4193."""


class DistinctNetSet:
    """Counts addresses per subnet, at most ``limit`` in each (go-ethereum p2p/netutil
    ``DistinctNetSet``; the subnet is the first ``subnet`` bits, for IPv4 and IPv6 alike)."""

    def __init__(self, subnet: int, limit: int):
        self.subnet, self.limit = subnet, limit
        self.members: dict = {}

    def _key(self, addr):
        return ipaddress.ip_network(f"{addr}/{self.subnet}", strict=False)

    def add(self, addr) -> bool:
        """Count ``addr``; False (nothing counted) if its subnet already holds ``limit``."""
        key = self._key(addr)
        n = self.members.get(key, 0)
        if n >= self.limit:
            return False
        self.members[key] = n + 1
        return True

    def remove(self, addr) -> None:
        """Uncount ``addr`` (nothing if its subnet holds none)."""
        key = self._key(addr)
        n = self.members.get(key, 0)
        if n <= 1:
            self.members.pop(key, None)
        else:
            self.members[key] = n - 1

    def __len__(self) -> int:
        return sum(self.members.values())


# --- entries --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Node:
    """A node as discovery knows it: 64-byte id, IP (string), UDP and TCP ports (0: none), and
    optionally its ENR (any object: the table only stores it)."""
    node_id: bytes
    ip: str
    udp: int
    tcp: int
    enr: object = None


@dataclass(eq=False)
class Entry:
    """One node in the table or in a bucket's replacements.

    ``added_at``: when it entered the table or the replacements (go-ethereum
    ``addedToTable``); ``added_to_bucket_at``: when it became a live entry (``addedToBucket``,
    None while a replacement); ``liveness_checks``: pongs to revalidation pings, divided by 3 at
    each miss (``livenessChecks``); ``live``: answered the last check (``isValidatedLive``);
    ``last_pong_at``: the last time it was verified (None: never).  Times are the caller's
    seconds."""
    node_id: bytes
    ip: str
    udp: int
    tcp: int
    enr: object = None
    added_at: float = 0.0
    added_to_bucket_at: float | None = None
    liveness_checks: int = 0
    live: bool = False
    last_pong_at: float | None = None
    hash: bytes = field(default=b"", repr=False)
    reval_list: str | None = field(default=None, repr=False)  # "fast", "slow" or None

    def node(self) -> Node:
        """This entry as a :class:`Node`."""
        return Node(self.node_id, self.ip, self.udp, self.tcp, self.enr)


class AddResult:
    """What an add did (strings, so they read well in logs and events)."""
    ADDED = "added"              # a new live entry of its bucket
    BUMPED = "bumped"            # already an entry: moved to the front / refreshed
    KNOWN = "known"              # already an entry or replacement: nothing changed
    REPLACEMENT = "replacement"  # its bucket is full: kept as a replacement
    SELF = "self"                # our own id: never added
    NO_IP = "no ip"              # no usable address
    IP_LIMIT = "ip limit"        # over the /24 limit of its bucket or of the table


@dataclass
class _Bucket:
    index: int
    entries: list = field(default_factory=list)       # Entry, most recently verified first
    replacements: list = field(default_factory=list)  # Entry, newest first
    ips: DistinctNetSet = field(default_factory=lambda: DistinctNetSet(BUCKET_SUBNET, BUCKET_IP_LIMIT))


@dataclass
class _RevalList:
    name: str
    interval: float
    nodes: list = field(default_factory=list)  # Entry
    next_time: float | None = None              # None: never (the list is empty)


class KademliaTable:
    """The node table of ``self_id`` (64 bytes).  ``rng``: a ``random.Random`` for replacement,
    revalidation and :meth:`random_nodes` choices (a fresh unseeded one if None);
    ``ping_interval_s``: the fast revalidation interval; ``lan_exempt``: whether LAN addresses
    escape the IP limits (go-ethereum: always).  :class:`ValueError` for a self id that is not
    64 bytes."""

    def __init__(self, self_id: bytes, rng: random.Random | None = None,
                 ping_interval_s: float = PING_INTERVAL_S, lan_exempt: bool = True):
        self.self_id = _check_id(self_id)
        self.self_hash = node_hash(self.self_id)
        self.rng = rng if rng is not None else random.Random()
        self.lan_exempt = lan_exempt
        self.buckets = [_Bucket(i) for i in range(N_BUCKETS)]
        self.ips = DistinctNetSet(TABLE_SUBNET, TABLE_IP_LIMIT)
        self.fast = _RevalList("fast", ping_interval_s)
        self.slow = _RevalList("slow", ping_interval_s * SLOW_REVALIDATION_FACTOR)
        self.checking: set[bytes] = set()  # ids with a revalidation ping in flight
        self._where: dict[bytes, Entry] = {}  # live entries by id

    # -- queries ---------------------------------------------------------------------------

    def __len__(self) -> int:
        """Live entries in the table (replacements not counted; go-ethereum ``Table.len``)."""
        return len(self._where)

    def contains(self, node_id: bytes) -> bool:
        """Whether ``node_id`` is a live entry (not a replacement)."""
        return bytes(node_id) in self._where

    def get(self, node_id: bytes) -> Entry | None:
        """The live entry of ``node_id``, or None."""
        return self._where.get(bytes(node_id))

    def bucket_index(self, node_id: bytes) -> int:
        """The bucket ``node_id`` (64 bytes) belongs in, 0..16 (table.go ``bucket``)."""
        return bucket_index_at(log_distance(self.self_hash, node_hash(_check_id(node_id))))

    def bucket_sizes(self) -> list[int]:
        """Live entries per bucket, 17 numbers."""
        return [len(b.entries) for b in self.buckets]

    def replacement_sizes(self) -> list[int]:
        """Replacements per bucket, 17 numbers."""
        return [len(b.replacements) for b in self.buckets]

    def entries(self, index: int) -> list[Entry]:
        """Bucket ``index``'s live entries, most recently verified first (a copy)."""
        return list(self.buckets[index].entries)

    def replacements(self, index: int) -> list[Entry]:
        """Bucket ``index``'s replacements, newest first (a copy)."""
        return list(self.buckets[index].replacements)

    def all_entries(self) -> list[Entry]:
        """Every live entry, bucket by bucket."""
        return [e for b in self.buckets for e in b.entries]

    def closest(self, target: bytes, n: int = BUCKET_SIZE, prefer_live: bool = False) -> list[Entry]:
        """The ``n`` live entries closest to ``target`` (node id or hash, :func:`target_hash`)
        by XOR distance, closest first; ties (equal hashes) cannot occur between distinct ids
        short of a keccak collision.  ``prefer_live``: if any entry is live, only live ones
        (table.go ``findnodeByID`` ``preferLive``).  For FindNode answers and lookup seeds."""
        t = int.from_bytes(target_hash(target), "big")
        pool = self.all_entries()
        if prefer_live and any(e.live for e in pool):
            pool = [e for e in pool if e.live]
        pool.sort(key=lambda e: t ^ int.from_bytes(e.hash, "big"))
        return pool[:max(0, n)]

    def random_nodes(self, n: int) -> list[Entry]:
        """Up to ``n`` distinct live entries in random order, for the dialer (go-ethereum's
        table iterator / former ``ReadRandomNodes``)."""
        pool = self.all_entries()
        return self.rng.sample(pool, min(max(0, n), len(pool)))

    def is_bonded(self, node_id: bytes, now: float) -> bool:
        """Whether ``node_id`` is an entry verified less than :data:`BOND_EXPIRATION_S` ago
        (v4_udp.go ``checkBond``, for table entries only)."""
        e = self.get(node_id)
        return e is not None and e.last_pong_at is not None and now - e.last_pong_at < BOND_EXPIRATION_S

    # -- IP accounting ---------------------------------------------------------------------

    def _exempt(self, addr) -> bool:
        return self.lan_exempt and is_lan(addr)

    def _add_ip(self, b: _Bucket, ip: str) -> str | None:
        """Count ``ip`` in bucket ``b`` and the table (table.go ``addIP``); None if it fits, else
        the :class:`AddResult` refusal."""
        addr = parse_ip(ip)
        if addr is None:
            return AddResult.NO_IP
        if self._exempt(addr):
            return None
        if not self.ips.add(addr):
            return AddResult.IP_LIMIT
        if not b.ips.add(addr):
            self.ips.remove(addr)
            return AddResult.IP_LIMIT
        return None

    def _remove_ip(self, b: _Bucket, ip: str) -> None:
        addr = parse_ip(ip)
        if addr is None or self._exempt(addr):
            return
        self.ips.remove(addr)
        b.ips.remove(addr)

    # -- adding ----------------------------------------------------------------------------

    def _entry(self, node: Node, now: float) -> Entry:
        nid = _check_id(node.node_id)
        return Entry(nid, node.ip, node.udp, node.tcp, node.enr, added_at=now, hash=node_hash(nid))

    def add_seen(self, node: Node, now: float) -> str:
        """A node we heard of (a Neighbors entry, a seed): a new entry at the end of its bucket
        if there is room and its IP fits, else a replacement (table.go ``handleAddNode``,
        ``addReplacement``).  Returns an :class:`AddResult`: ADDED, REPLACEMENT, KNOWN (an
        entry or replacement already; nothing changes), SELF, NO_IP or IP_LIMIT.
        :class:`ValueError` for an id that is not 64 bytes."""
        nid = _check_id(node.node_id)
        if nid == self.self_id:
            return AddResult.SELF
        if nid in self._where:
            return AddResult.KNOWN
        b = self.buckets[self.bucket_index(nid)]
        if len(b.entries) >= BUCKET_SIZE:
            return self._add_replacement(b, node, now)
        rep = next((r for r in b.replacements if r.node_id == nid), None)
        if rep is not None:  # room again: the replacement becomes an entry, its IP already counted
            b.replacements.remove(rep)
            self._promote(b, rep, now, front=False)
            return AddResult.ADDED
        refused = self._add_ip(b, node.ip)
        if refused:
            return refused
        self._promote(b, self._entry(node, now), now, front=False)
        return AddResult.ADDED

    def _add_replacement(self, b: _Bucket, node: Node, now: float) -> str:
        if any(r.node_id == node.node_id for r in b.replacements):
            return AddResult.KNOWN
        refused = self._add_ip(b, node.ip)
        if refused:
            return refused
        b.replacements.insert(0, self._entry(node, now))
        if len(b.replacements) > MAX_REPLACEMENTS:
            dropped = b.replacements.pop()
            self._remove_ip(b, dropped.ip)
        return AddResult.REPLACEMENT

    def _promote(self, b: _Bucket, e: Entry, now: float, front: bool) -> None:
        """Make ``e`` a live entry of ``b`` (IP already counted) and put it in the fast list
        (table.go ``nodeAdded``)."""
        if front:
            b.entries.insert(0, e)
        else:
            b.entries.append(e)
        e.added_to_bucket_at = now
        self._where[e.node_id] = e
        self._push(self.fast, e, now)

    def add_verified(self, node: Node, now: float) -> str:
        """A node that proved its endpoint (answered our ping, or pinged us): moved to the front
        of its bucket, marked live, ``last_pong_at = now``; a changed IP or UDP port is taken
        (inbound contact, ``bumpInBucket``) if the new IP fits the limits, else the old endpoint
        is kept, and a changed endpoint sends the entry to the fast revalidation list
        (``nodeEndpointChanged``) and leaves it not live until revalidated; the ENR is replaced if
        one is given.  Returns BUMPED.  A node
        not in the table is added as :meth:`add_seen` does, then marked live and put in front
        (ADDED), or kept as a replacement (REPLACEMENT).  SELF, NO_IP, IP_LIMIT as there."""
        nid = _check_id(node.node_id)
        if nid == self.self_id:
            return AddResult.SELF
        e = self._where.get(nid)
        if e is None:
            result = self.add_seen(node, now)
            e = self._where.get(nid)
            if result != AddResult.ADDED or e is None:
                return result
            moved = False
        else:
            result = AddResult.BUMPED
            moved = self._update_endpoint(e, node, now)
        b = self.buckets[self.bucket_index(nid)]
        b.entries.remove(e)
        b.entries.insert(0, e)
        e.live = not moved
        e.last_pong_at = now
        return result

    def _update_endpoint(self, e: Entry, node: Node, now: float) -> bool:
        """Take ``node``'s endpoint and ENR into ``e``; True if the IP or UDP port changed."""
        b = self.buckets[self.bucket_index(e.node_id)]
        if node.enr is not None:
            e.enr = node.enr
        ip_changed = parse_ip(node.ip) != parse_ip(e.ip)
        if ip_changed:
            self._remove_ip(b, e.ip)
            if self._add_ip(b, node.ip):  # refused: keep the old endpoint
                self._add_ip(b, e.ip)
                return False
        port_changed = node.udp != e.udp
        e.ip, e.udp, e.tcp = node.ip, node.udp, node.tcp
        if ip_changed or port_changed:
            self._move(self.fast, e, now)
            return True
        return False

    # -- removing --------------------------------------------------------------------------

    def delete(self, node_id: bytes, now: float) -> Entry | None:
        """Remove the entry of ``node_id`` and put a random replacement of its bucket in its
        place, at the end (table.go ``deleteInBucket``).  Returns the promoted replacement, or
        None (no replacement, or ``node_id`` was not an entry; a replacement is not deleted
        by this, as there)."""
        e = self._where.pop(bytes(node_id), None)
        if e is None:
            return None
        b = self.buckets[self.bucket_index(e.node_id)]
        b.entries.remove(e)
        self._remove_ip(b, e.ip)
        self._remove_from_list(e)
        self.checking.discard(e.node_id)
        if not b.replacements:
            return None
        rep = b.replacements.pop(self.rng.randrange(len(b.replacements)))
        self._promote(b, rep, now, front=False)
        return rep

    # -- revalidation ----------------------------------------------------------------------

    def _schedule(self, lst: _RevalList, now: float) -> None:
        lst.next_time = now + self.rng.uniform(0.0, lst.interval)

    def _push(self, lst: _RevalList, e: Entry, now: float) -> None:
        lst.nodes.append(e)
        if lst.next_time is None:
            self._schedule(lst, now)
        e.reval_list = lst.name

    def _remove_from_list(self, e: Entry) -> None:
        lst = {"fast": self.fast, "slow": self.slow}.get(e.reval_list)
        if lst is None:
            return
        lst.nodes.remove(e)
        if not lst.nodes:
            lst.next_time = None
        e.reval_list = None

    def _move(self, dest: _RevalList, e: Entry, now: float) -> None:
        if e.reval_list == dest.name:
            return
        self._remove_from_list(e)
        self._push(dest, e, now)

    def next_to_revalidate(self, now: float) -> list[Entry]:
        """The entries to ping now, at most one per list that is due (table_reval.go ``run``):
        a random node of the list without a check in flight; each due list is scheduled again
        whether or not one was found.  The returned entries count as in flight until
        :meth:`revalidated` (or :meth:`delete`)."""
        out = []
        for lst in (self.fast, self.slow):
            if lst.next_time is None or lst.next_time > now:
                continue
            free = [e for e in lst.nodes if e.node_id not in self.checking]
            if free:
                e = self.rng.choice(free)
                self.checking.add(e.node_id)
                out.append(e)
            self._schedule(lst, now)
        return out

    def next_revalidation_at(self) -> float | None:
        """When :meth:`next_to_revalidate` next has something to do (None: the table is empty);
        the actor arms its timer for this."""
        times = [t for t in (self.fast.next_time, self.slow.next_time) if t is not None]
        return min(times) if times else None

    def revalidated(self, node_id: bytes, responded: bool, now: float) -> str:
        """The outcome of a revalidation ping (table_reval.go ``handleResponse``): a pong adds a
        liveness check, marks the entry live and moves it to the slow list ("live"); no pong
        divides the checks by 3 and at 0 deletes the entry, a replacement taking its place
        ("deleted"), else moves it to the fast list ("failed"; ``live`` is left as it was, as
        there).  "gone" if ``node_id`` is no
        longer an entry (deleted meanwhile: nothing is re-added)."""
        nid = bytes(node_id)
        self.checking.discard(nid)
        e = self._where.get(nid)
        if e is None:
            return "gone"
        if not responded:
            e.liveness_checks //= 3
            if e.liveness_checks <= 0:
                self.delete(nid, now)
                return "deleted"
            self._move(self.fast, e, now)
            return "failed"
        e.liveness_checks += 1
        e.live = True
        e.last_pong_at = now
        self._move(self.slow, e, now)
        return "live"


# --- lookup ---------------------------------------------------------------------------------

class Lookup:
    """One iterative node lookup towards ``target`` (go-ethereum p2p/discover/lookup.go), fed by
    an actor that sends the FindNode queries and waits for the answers.

    ``target``: a node id (64 bytes, as FindNode carries it) or a 32-byte hash; ``self_id``: ours,
    never asked nor returned; ``seeds``: the starting nodes (the table's :meth:`closest`), each
    any object with a 64-byte ``node_id`` (a :class:`Node`, an :class:`Entry`), and so are the
    neighbors of :meth:`on_reply`; they are returned as given.

    The rules of lookup.go: the result is the ``k`` closest nodes seen so far (``nodesByDistance``,
    ``push(n, bucketSize)``), a node is taken once (``seen``); :meth:`asks` names the closest
    nodes of the result not yet asked, while fewer than ``alpha`` queries are in flight
    (``startQueries``); a timeout or error counts as an empty reply (``query``); the lookup is
    :meth:`done` when no query is in flight and every node of the result has been asked.
    A reply from a node not in flight (never asked, already answered, timed out) is ignored.
    :attr:`target` keeps the target as given (the FindNode packet carries the 64-byte form).
    :class:`ValueError` for a bad target or id, or ``alpha`` or ``k`` below 1.
    """

    def __init__(self, target: bytes, self_id: bytes, seeds=(), alpha: int = ALPHA,
                 k: int = BUCKET_SIZE):
        if alpha < 1 or k < 1:
            raise ValueError("alpha and k must be at least 1")
        self.target = bytes(target)
        self.target_hash = target_hash(target)
        self._t = int.from_bytes(self.target_hash, "big")
        self.self_id = _check_id(self_id)
        self.alpha, self.k = alpha, k
        self.seen: set[bytes] = {self.self_id}
        self.asked: set[bytes] = {self.self_id}
        self.in_flight: set[bytes] = set()
        self.failed: list[bytes] = []      # ids that timed out, in order (for the table's records)
        self.queries = 0                    # queries started
        self._result: list[tuple[int, object]] = []  # (distance, node), closest first
        self._nodes: dict[bytes, object] = {}
        self._add(seeds)

    def _add(self, nodes) -> list:
        new = []
        for n in nodes or ():
            if n is None:
                continue
            nid = _check_id(n.node_id)
            if nid in self.seen:
                continue
            self.seen.add(nid)
            d = self._t ^ int.from_bytes(node_hash(nid), "big")
            self._push(d, n)
            new.append(n)
        return new

    def _push(self, d: int, n) -> None:
        i = len(self._result)
        while i > 0 and self._result[i - 1][0] > d:
            i -= 1
        if i >= self.k:
            return
        self._result.insert(i, (d, n))
        self._nodes[bytes(n.node_id)] = n
        if len(self._result) > self.k:
            _, dropped = self._result.pop()
            dropped_id = bytes(dropped.node_id)
            if dropped_id not in self.in_flight:
                self._nodes.pop(dropped_id, None)

    def node(self, node_id: bytes):
        """The node object of an id :meth:`asks` returned (to address the query), or of any
        node in the result; :class:`KeyError` for another id."""
        return self._nodes[bytes(node_id)]

    def asks(self) -> list[bytes]:
        """Ids to send FindNode to now: the closest not yet asked, so that at most ``alpha``
        are in flight.  Each is marked asked and in flight."""
        out = []
        for _, n in self._result:
            if len(self.in_flight) >= self.alpha:
                break
            nid = bytes(n.node_id)
            if nid not in self.asked:
                self.asked.add(nid)
                self.in_flight.add(nid)
                self.queries += 1
                out.append(nid)
        return out

    def on_reply(self, node_id: bytes, neighbors) -> list:
        """The Neighbors answer of ``node_id`` (an iterable of node objects); returns the nodes
        new to this lookup ([] also for a reply not in flight, which is ignored)."""
        nid = bytes(node_id)
        if nid not in self.in_flight:
            return []
        self._finish(nid)
        return self._add(neighbors)

    def on_timeout(self, node_id: bytes) -> None:
        """``node_id`` did not answer in time: an empty reply, recorded in :attr:`failed`."""
        nid = bytes(node_id)
        if nid in self.in_flight:
            self._finish(nid)
            self.failed.append(nid)

    def _finish(self, nid: bytes) -> None:
        self.in_flight.discard(nid)
        if all(bytes(n.node_id) != nid for _, n in self._result):
            self._nodes.pop(nid, None)

    def done(self) -> bool:
        """True when no query is in flight and every node of the result has been asked."""
        return not self.in_flight and all(bytes(n.node_id) in self.asked for _, n in self._result)

    def result(self) -> list:
        """The ``k`` closest nodes seen (seeds included), closest to the target first.  Nodes
        that timed out stay in it, as in lookup.go (its result is every node seen, answered or
        not); :attr:`failed` names them, for a caller that wants only the ones that answered."""
        return [n for _, n in self._result]
