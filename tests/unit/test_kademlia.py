"""KademliaTable and Lookup (node/kademlia.py) without sockets or clocks: ids are random 64-byte
strings from seeded generators (the table never needs a curve point), times are plain floats."""

from __future__ import annotations

import random

import pytest

from node import kademlia as K
from node.kademlia import AddResult, KademliaTable, Lookup, Node
from rlpx.keys import node_hash

SEED_RNG = random.Random(20261203)
SELF = SEED_RNG.randbytes(64)


def rid(rng=SEED_RNG) -> bytes:
    return rng.randbytes(64)


def ids_in_bucket(table: KademliaTable, index: int, n: int, rng=None) -> list[bytes]:
    """``n`` random ids that fall in ``table``'s bucket ``index`` (>= 10, so not too rare)."""
    rng = rng or random.Random(index * 7919 + n)
    out = []
    while len(out) < n:
        x = rng.randbytes(64)
        if table.bucket_index(x) == index:
            out.append(x)
    return out


_ip_counter = iter(range(1, 1 << 20))


def public_ip() -> str:
    """A fresh public address in its own /24."""
    i = next(_ip_counter)
    return f"1.{i >> 8 & 255}.{i & 255}.7"


def node(node_id: bytes, ip: str | None = None, udp=30303, tcp=30303, enr=None) -> Node:
    return Node(node_id, public_ip() if ip is None else ip, udp, tcp, enr)


def table(**kw) -> KademliaTable:
    kw.setdefault("rng", random.Random(1))
    return KademliaTable(SELF, **kw)


# --- constants and distance -------------------------------------------------------------------

def test_constants_are_go_ethereums():
    assert (K.BUCKET_SIZE, K.N_BUCKETS, K.BUCKET_MIN_DISTANCE, K.MAX_REPLACEMENTS) == (16, 17, 239, 10)
    assert (K.BUCKET_IP_LIMIT, K.BUCKET_SUBNET, K.TABLE_IP_LIMIT, K.TABLE_SUBNET) == (2, 24, 10, 24)
    assert K.ALPHA == 3 and K.PING_INTERVAL_S == 3.0 and K.SLOW_REVALIDATION_FACTOR == 3


def test_log_distance_like_enode_logdist():
    a = bytes(32)
    assert K.log_distance(a, a) == 0
    assert K.log_distance(a, b"\x80" + bytes(31)) == 256
    assert K.log_distance(a, bytes(31) + b"\x01") == 1
    assert K.log_distance(a, bytes(31) + b"\x02") == 2
    assert K.log_distance(b"\x01" + bytes(31), bytes(32)) == 249
    rng = random.Random(5)
    for _ in range(200):
        x, y = rng.randbytes(32), rng.randbytes(32)
        xor = bytes(p ^ q for p, q in zip(x, y))
        lz = next((i * 8 + (8 - b.bit_length()) for i, b in enumerate(xor) if b), 256)
        assert K.log_distance(x, y) == 256 - lz


def test_bucket_at_distance():
    assert [K.bucket_index_at(d) for d in (0, 1, 100, 239, 240, 241, 255, 256)] == [0, 0, 0, 0, 0, 1, 15, 16]


def test_targets_id_or_hash():
    x = rid()
    assert K.target_hash(x) == node_hash(x)
    assert K.target_hash(node_hash(x)) == node_hash(x)
    for bad in (b"", bytes(31), bytes(65), "ab" * 32, None):
        with pytest.raises(ValueError):
            K.target_hash(bad)


# --- placement --------------------------------------------------------------------------------

def test_bucket_placement_by_hash_log_distance():
    t = table()
    rng = random.Random(11)
    for _ in range(300):
        x = rng.randbytes(64)
        d = K.log_distance(node_hash(SELF), node_hash(x))
        assert t.bucket_index(x) == (0 if d <= 240 else d - 240)
        r = t.add_seen(node(x), 0.0)
        assert r in (AddResult.ADDED, AddResult.REPLACEMENT)
        if r == AddResult.ADDED:
            assert x in {e.node_id for e in t.entries(t.bucket_index(x))}
    assert sum(t.bucket_sizes()) == len(t)
    assert len(t.bucket_sizes()) == 17
    assert t.bucket_sizes()[16] == 16 and t.bucket_sizes()[15] == 16  # ~150 and ~75 seen
    assert t.replacement_sizes()[16] == 10


def test_self_never_added():
    t = table()
    assert t.add_seen(node(SELF), 0.0) == AddResult.SELF
    assert t.add_verified(node(SELF), 0.0) == AddResult.SELF
    assert len(t) == 0 and not t.contains(SELF)


def test_bad_ids_refused():
    t = table()
    with pytest.raises(ValueError):
        t.add_seen(Node(bytes(63), "1.2.3.4", 1, 1), 0.0)
    with pytest.raises(ValueError):
        KademliaTable(bytes(32))


def test_entry_fields():
    t = table()
    x = rid()
    enr = object()
    assert t.add_seen(node(x, "1.2.3.4", 30301, 30302, enr), 5.5) == AddResult.ADDED
    e = t.get(x)
    assert (e.node_id, e.ip, e.udp, e.tcp, e.enr) == (x, "1.2.3.4", 30301, 30302, enr)
    assert e.added_at == 5.5 and e.added_to_bucket_at == 5.5
    assert e.liveness_checks == 0 and not e.live and e.last_pong_at is None
    assert e.node() == Node(x, "1.2.3.4", 30301, 30302, enr)
    assert t.contains(x) and len(t) == 1
    assert t.add_seen(node(x, "9.9.9.9"), 6.0) == AddResult.KNOWN
    assert t.get(x).ip == "1.2.3.4"  # a seen node does not change an entry


def test_no_ip_refused():
    t = table()
    for ip in ("0.0.0.0", "::", "not an ip", ""):
        assert t.add_seen(node(rid(), ip), 0.0) == AddResult.NO_IP
    assert len(t) == 0


# --- full buckets and replacements ------------------------------------------------------------

def test_full_bucket_goes_to_replacements_newest_first_oldest_dropped():
    t = table()
    xs = ids_in_bucket(t, 16, 16 + 13)
    for i, x in enumerate(xs[:16]):
        assert t.add_seen(node(x), float(i)) == AddResult.ADDED
    assert t.bucket_sizes()[16] == 16
    for i, x in enumerate(xs[16:]):
        assert t.add_seen(node(x), 100.0 + i) == AddResult.REPLACEMENT
    reps = [e.node_id for e in t.replacements(16)]
    assert len(reps) == 10
    assert reps == list(reversed(xs[16 + 3:]))  # newest first; the 3 oldest pushed out
    assert [e.node_id for e in t.entries(16)] == xs[:16]  # appended in order
    assert t.add_seen(node(xs[-1]), 200.0) == AddResult.KNOWN  # already a replacement
    assert len(t) == 16 and not t.contains(xs[-1])


def test_replacement_promoted_on_delete():
    t = table(rng=random.Random(3))
    xs = ids_in_bucket(t, 16, 16 + 4)
    for x in xs:
        t.add_seen(node(x), 0.0)
    before = {e.node_id for e in t.replacements(16)}
    assert before == set(xs[16:])
    rep = t.delete(xs[0], 10.0)
    assert rep is not None and rep.node_id in before
    assert t.contains(rep.node_id) and not t.contains(xs[0])
    assert t.entries(16)[-1] is rep and rep.added_to_bucket_at == 10.0 and rep.added_at == 0.0
    assert {e.node_id for e in t.replacements(16)} == before - {rep.node_id}
    assert len(t) == 16
    # delete without replacements: the bucket shrinks
    while t.replacement_sizes()[16]:
        t.delete(t.entries(16)[0].node_id, 11.0)
    assert len(t) == 16
    assert t.delete(t.entries(16)[0].node_id, 12.0) is None
    assert len(t) == 15
    assert t.delete(rid(), 12.0) is None  # not an entry


def test_seen_replacement_promoted_when_room():
    """A replacement seen again while its bucket has room becomes an entry, its IP counted
    once.  Deletes always promote, so the state is made by hand: a delete whose promotion is
    undone."""
    t = table()
    xs = ids_in_bucket(t, 16, 18)
    for x in xs[:17]:
        t.add_seen(node(x, f"3.3.{xs.index(x)}.1"), 0.0)
    assert t.replacement_sizes()[16] == 1
    b = t.buckets[16]
    gone = b.entries.pop()  # as if deleted without promotion
    del t._where[gone.node_id]
    t._remove_ip(b, gone.ip)
    t._remove_from_list(gone)
    assert t.add_seen(node(xs[16], "3.3.16.1"), 1.0) == AddResult.ADDED
    assert t.replacement_sizes()[16] == 0 and t.contains(xs[16])
    assert len(b.ips) == 16 and len(t.ips) == 16
    assert t.get(xs[16]).added_at == 0.0 and t.get(xs[16]).added_to_bucket_at == 1.0


def test_replacement_random_choice_is_seeded():
    def run(seed):
        t = table(rng=random.Random(seed))
        xs = ids_in_bucket(t, 16, 26)
        for x in xs:
            t.add_seen(node(x), 0.0)
        return [t.delete(xs[i], 1.0).node_id for i in range(5)]
    assert run(7) == run(7)


# --- IP limits --------------------------------------------------------------------------------

def test_bucket_ip_limit_two_per_slash24():
    t = table()
    xs = ids_in_bucket(t, 16, 4)
    assert t.add_seen(node(xs[0], "8.8.8.1"), 0.0) == AddResult.ADDED
    assert t.add_seen(node(xs[1], "8.8.8.2"), 0.0) == AddResult.ADDED
    assert t.add_seen(node(xs[2], "8.8.8.200"), 0.0) == AddResult.IP_LIMIT
    assert t.add_seen(node(xs[3], "8.8.9.1"), 0.0) == AddResult.ADDED  # another /24
    other = ids_in_bucket(t, 15, 1)[0]
    assert t.add_seen(node(other, "8.8.8.3"), 0.0) == AddResult.ADDED  # another bucket
    t.delete(xs[0], 1.0)  # frees its address
    assert t.add_seen(node(xs[2], "8.8.8.200"), 1.0) == AddResult.ADDED


def test_table_ip_limit_ten_per_slash24():
    t = table()
    per_bucket = [ids_in_bucket(t, i, 3) for i in (16, 15, 14, 13, 12, 11)]
    n = 0
    for xs in per_bucket[:5]:
        for x in xs[:2]:
            n += 1
            assert t.add_seen(node(x, f"5.6.7.{n}"), 0.0) == AddResult.ADDED
    assert t.add_seen(node(per_bucket[5][0], "5.6.7.99"), 0.0) == AddResult.IP_LIMIT
    assert t.add_seen(node(per_bucket[5][0], "5.6.8.99"), 0.0) == AddResult.ADDED
    assert len(t.ips) == 11


def test_replacements_count_for_ip_limits_and_free_them_when_dropped():
    t = table()
    xs = ids_in_bucket(t, 16, 16 + 13)
    for x in xs[:16]:
        t.add_seen(node(x), 0.0)
    assert t.add_seen(node(xs[16], "7.7.7.1"), 1.0) == AddResult.REPLACEMENT
    assert t.add_seen(node(xs[17], "7.7.7.2"), 2.0) == AddResult.REPLACEMENT
    assert t.add_seen(node(xs[18], "7.7.7.3"), 3.0) == AddResult.IP_LIMIT
    for i, x in enumerate(xs[19:28]):  # 9 more push out the first 7.7.7.x replacement
        t.add_seen(node(x), 4.0 + i)
    assert [e.ip for e in t.replacements(16)][-1] == "7.7.7.2"
    assert t.add_seen(node(xs[18], "7.7.7.3"), 13.0) == AddResult.REPLACEMENT  # .1 freed
    assert t.replacements(16)[-1].ip != "7.7.7.2"  # .3 pushed .2 out
    t.add_seen(node(xs[28]), 14.0)
    assert {e.ip for e in t.replacements(16)}.isdisjoint({"7.7.7.1", "7.7.7.2"})
    assert len(t.buckets[16].ips) == 16 + 10 and len(t.ips) == 26


def test_lan_addresses_exempt_unless_asked():
    for ip in ("127.0.0.1", "10.1.2.3", "192.168.1.1", "172.16.5.5", "169.254.1.1", "::1", "fd00::1"):
        assert K.is_lan(K.parse_ip(ip)), ip
    for ip in ("8.8.8.8", "1.2.3.4", "2001:4860::1"):
        assert not K.is_lan(K.parse_ip(ip)), ip
    assert K.is_lan(K.parse_ip("::ffff:127.0.0.1"))
    t = table()
    xs = ids_in_bucket(t, 16, 16)
    for x in xs:
        assert t.add_seen(node(x, "127.0.0.1"), 0.0) == AddResult.ADDED
    assert len(t.ips) == 0
    strict = table(lan_exempt=False)
    res = [strict.add_seen(node(x, f"127.0.0.{i + 1}"), 0.0) for i, x in enumerate(xs)]
    assert res[:2] == [AddResult.ADDED] * 2 and set(res[2:]) == {AddResult.IP_LIMIT}


def test_ipv6_keyed_on_first_24_bits():
    t = table()
    xs = ids_in_bucket(t, 16, 3)
    assert t.add_seen(node(xs[0], "2001:4860::1"), 0.0) == AddResult.ADDED
    assert t.add_seen(node(xs[1], "2001:48ff::1"), 0.0) == AddResult.ADDED
    assert t.add_seen(node(xs[2], "2001:4801::2"), 0.0) == AddResult.IP_LIMIT


# --- verified nodes ---------------------------------------------------------------------------

def test_verified_moves_to_front_and_marks_live():
    t = table()
    xs = ids_in_bucket(t, 16, 5)
    nodes = [node(x) for x in xs]
    for n in nodes:
        t.add_seen(n, 0.0)
    assert t.add_verified(nodes[3], 5.0) == AddResult.BUMPED
    assert [e.node_id for e in t.entries(16)] == [xs[3], xs[0], xs[1], xs[2], xs[4]]
    e = t.get(xs[3])
    assert e.live and e.last_pong_at == 5.0 and e.added_to_bucket_at == 0.0
    assert t.is_bonded(xs[3], 5.0 + K.BOND_EXPIRATION_S - 1)
    assert not t.is_bonded(xs[3], 5.0 + K.BOND_EXPIRATION_S)
    assert not t.is_bonded(xs[0], 5.0)


def test_verified_new_node_added_in_front():
    t = table()
    xs = ids_in_bucket(t, 16, 3)
    t.add_seen(node(xs[0]), 0.0)
    assert t.add_verified(node(xs[1]), 1.0) == AddResult.ADDED
    assert t.entries(16)[0].node_id == xs[1] and t.get(xs[1]).live
    full = table()
    ys = ids_in_bucket(full, 16, 17)
    for y in ys[:16]:
        full.add_seen(node(y), 0.0)
    assert full.add_verified(node(ys[16]), 1.0) == AddResult.REPLACEMENT


def test_verified_endpoint_change():
    t = table()
    xs = ids_in_bucket(t, 16, 3)
    t.add_seen(node(xs[0], "9.9.9.1"), 0.0)
    t.add_seen(node(xs[1], "9.9.9.2"), 0.0)
    t.add_seen(node(xs[2], "9.9.10.1"), 0.0)
    for x in xs:
        t.revalidated(x, True, 0.5)  # to the slow list
    assert t.add_verified(node(xs[2], "9.9.10.1", udp=30303), 1.0) == AddResult.BUMPED
    assert t.get(xs[2]).reval_list == "slow" and t.get(xs[2]).live
    # new UDP port: taken, back to the fast list, not live until checked
    assert t.add_verified(node(xs[2], "9.9.10.1", udp=40000, tcp=40001), 2.0) == AddResult.BUMPED
    e = t.get(xs[2])
    assert (e.udp, e.tcp, e.reval_list, e.live) == (40000, 40001, "fast", False)
    # a new IP over the bucket limit: the old endpoint stays
    assert t.add_verified(node(xs[2], "9.9.9.3", udp=1), 3.0) == AddResult.BUMPED
    assert (t.get(xs[2]).ip, t.get(xs[2]).udp) == ("9.9.10.1", 40000)
    # a new IP that fits: taken, and the old one uncounted
    enr = object()
    t.add_verified(node(xs[0], "9.9.11.1", enr=enr), 4.0)
    assert t.get(xs[0]).ip == "9.9.11.1" and t.get(xs[0]).enr is enr
    assert t.add_verified(node(xs[2], "9.9.9.3"), 5.0) == AddResult.BUMPED
    assert t.get(xs[2]).ip == "9.9.9.3"


# --- closest and random -----------------------------------------------------------------------

def test_closest_matches_brute_force():
    rng = random.Random(99)
    t = table(rng=rng)
    for _ in range(400):
        t.add_seen(node(rng.randbytes(64), "127.0.0.1"), 0.0)
    entries = t.all_entries()
    assert len(entries) == len(t) > 50
    for _ in range(50):
        target = rng.randbytes(64)
        th = int.from_bytes(node_hash(target), "big")
        want = sorted(entries, key=lambda e: th ^ int.from_bytes(node_hash(e.node_id), "big"))
        for n in (1, 16, 1000):
            assert [e.node_id for e in t.closest(target, n)] == [e.node_id for e in want[:n]]
        assert t.closest(node_hash(target), 16) == t.closest(target, 16)
    assert t.closest(rng.randbytes(64), 0) == []


def test_closest_prefer_live():
    t = table()
    xs = [rid() for _ in range(20)]
    for x in xs:
        t.add_seen(node(x, "127.0.0.1"), 0.0)
    target = rid()
    assert len(t.closest(target, 16, prefer_live=True)) == min(16, len(t))  # none live: all
    t.add_verified(node(xs[0], "127.0.0.1"), 1.0)
    t.add_verified(node(xs[1], "127.0.0.1"), 1.0)
    assert {e.node_id for e in t.closest(target, 16, prefer_live=True)} == {xs[0], xs[1]}


def test_random_nodes():
    t = table(rng=random.Random(4))
    assert t.random_nodes(5) == []
    for _ in range(30):
        t.add_seen(node(rid(), "127.0.0.1"), 0.0)
    got = t.random_nodes(10)
    assert len(got) == 10 and len({e.node_id for e in got}) == 10
    assert all(t.contains(e.node_id) for e in got)
    assert len(t.random_nodes(1000)) == len(t)


# --- revalidation -----------------------------------------------------------------------------

def test_revalidation_schedule_and_outcomes():
    t = table(rng=random.Random(8))
    assert t.next_revalidation_at() is None and t.next_to_revalidate(0.0) == []
    xs = ids_in_bucket(t, 16, 17)
    for x in xs:
        t.add_seen(node(x), 100.0)
    first = t.next_revalidation_at()
    assert 100.0 <= first <= 100.0 + K.PING_INTERVAL_S
    assert t.next_to_revalidate(first - 0.001) == []
    due = t.next_to_revalidate(first)
    assert len(due) == 1 and due[0].reval_list == "fast"
    x = due[0].node_id
    assert t.next_revalidation_at() >= first
    # a pong: one check, live, slow list
    assert t.revalidated(x, True, first + 0.1) == "live"
    e = t.get(x)
    assert (e.liveness_checks, e.live, e.reval_list, e.last_pong_at) == (1, True, "slow", first + 0.1)
    assert t.slow.next_time is not None
    assert first + 0.1 <= t.slow.next_time <= first + 0.1 + 3 * K.PING_INTERVAL_S
    # more pongs
    for i in range(3):
        t.revalidated(x, True, first + 1 + i)
    assert t.get(x).liveness_checks == 4
    # a miss: 4 // 3 = 1, back to fast, still an entry
    assert t.revalidated(x, False, first + 5) == "failed"
    assert t.get(x).liveness_checks == 1 and t.get(x).reval_list == "fast"
    # another miss: 0, deleted, the replacement takes its place
    assert t.revalidated(x, False, first + 6) == "deleted"
    assert not t.contains(x) and t.contains(xs[16])
    assert t.get(xs[16]).reval_list == "fast"
    assert t.revalidated(x, True, first + 7) == "gone"


def test_revalidation_never_pings_a_node_twice_at_once():
    t = table(rng=random.Random(2))
    x = rid()
    t.add_seen(node(x, "127.0.0.1"), 0.0)
    now = t.next_revalidation_at()
    assert [e.node_id for e in t.next_to_revalidate(now)] == [x]
    for _ in range(5):
        now = t.next_revalidation_at()
        assert t.next_to_revalidate(now) == []  # in flight
    t.revalidated(x, False, now)  # 0 checks: deleted
    assert len(t) == 0 and t.next_revalidation_at() is None


def test_revalidation_both_lists():
    t = table(rng=random.Random(6))
    a, b = rid(), rid()
    t.add_seen(node(a, "127.0.0.1"), 0.0)
    t.add_seen(node(b, "127.0.0.1"), 0.0)
    t.revalidated(a, True, 0.0)
    assert {e.node_id for e in t.fast.nodes} == {b} and {e.node_id for e in t.slow.nodes} == {a}
    got = set()
    now = 0.0
    for _ in range(50):
        now = t.next_revalidation_at()
        for e in t.next_to_revalidate(now):
            got.add((e.node_id, e.reval_list))
            t.revalidated(e.node_id, True, now)
    assert (a, "slow") in got and (b, "fast") in got
    assert t.fast.next_time is None  # b moved to slow: fast list empty


def test_delete_during_revalidation():
    t = table(rng=random.Random(1))
    x = rid()
    t.add_seen(node(x, "127.0.0.1"), 0.0)
    t.next_to_revalidate(t.next_revalidation_at())
    t.delete(x, 1.0)
    assert t.revalidated(x, True, 2.0) == "gone" and not t.contains(x)


# --- lookup -----------------------------------------------------------------------------------

class Network:
    """200 random nodes, each with its own KademliaTable holding every other node it can
    (buckets cap what it keeps), answering FindNode with its 16 closest to the target."""

    def __init__(self, seed: int, size: int = 200):
        rng = random.Random(seed)
        self.nodes = {}
        for _ in range(size):
            x = rng.randbytes(64)
            self.nodes[x] = Node(x, "127.0.0.1", 30303, 30303)
        self.tables = {}
        for x in self.nodes:
            t = KademliaTable(x, rng=random.Random(rng.random()))
            for y in self.nodes.values():
                t.add_seen(y, 0.0)
            self.tables[x] = t

    def answer(self, asked: bytes, target: bytes) -> list:
        return [e.node() for e in self.tables[asked].closest(target, 16)]

    def true_closest(self, target: bytes, k: int = 16, exclude=()) -> list[bytes]:
        th = int.from_bytes(K.target_hash(target), "big")
        pool = [x for x in self.nodes if x not in exclude]
        return sorted(pool, key=lambda x: th ^ int.from_bytes(node_hash(x), "big"))[:k]


@pytest.fixture(scope="module")
def network():
    return Network(seed=42)


def drive(lookup: Lookup, answer, dead=frozenset(), max_in_flight=None):
    """Run a lookup to the end: answer or time out every query, one at a time, in FIFO order."""
    pending = []
    steps = 0
    while True:
        pending += lookup.asks()
        if max_in_flight is not None:
            assert len(lookup.in_flight) <= max_in_flight
        if not pending:
            break
        x = pending.pop(0)
        if x in dead:
            lookup.on_timeout(x)
        else:
            lookup.on_reply(x, answer(x))
        steps += 1
        assert steps < 10_000
    assert lookup.done()
    return steps


def test_lookup_converges_to_true_closest(network):
    rng = random.Random(7)
    me = rng.choice(list(network.nodes))
    my_table = network.tables[me]
    for _ in range(10):
        target = rng.randbytes(64)
        seeds = [e.node() for e in my_table.closest(target, 16)]
        lk = Lookup(target, me, seeds)
        drive(lk, lambda x: network.answer(x, target), max_in_flight=3)
        got = [n.node_id for n in lk.result()]
        assert got == network.true_closest(target, exclude={me})
        assert lk.failed == []


def test_lookup_from_a_far_seed_converges(network):
    rng = random.Random(8)
    ids = list(network.nodes)
    target = rng.randbytes(64)
    far = network.true_closest(target, k=len(ids))[-3:]  # the three farthest nodes
    me = rid()  # not part of the network
    lk = Lookup(target, me, [network.nodes[x] for x in far])
    drive(lk, lambda x: network.answer(x, target))
    assert [n.node_id for n in lk.result()] == network.true_closest(target)
    assert lk.queries >= 16


def test_lookup_with_timeouts(network):
    rng = random.Random(9)
    ids = list(network.nodes)
    dead = frozenset(rng.sample(ids, 40))
    me = rid()
    target = rng.randbytes(64)
    seeds = [network.nodes[x] for x in rng.sample(ids, 16)]
    lk = Lookup(target, me, seeds)
    drive(lk, lambda x: network.answer(x, target), dead=dead, max_in_flight=3)
    result = [n.node_id for n in lk.result()]
    assert len(result) == 16 and lk.in_flight == set()
    assert set(lk.failed) <= dead and len(lk.failed) == len(set(lk.failed))
    assert set(result) <= lk.asked
    # the live part of the result is what the true closest are, among those reachable
    live_true = [x for x in network.true_closest(target, k=len(ids)) if x not in dead][:16]
    live_result = [x for x in result if x not in dead]
    assert live_result == live_true[:len(live_result)]
    th = int.from_bytes(node_hash(target), "big")
    dists = [th ^ int.from_bytes(node_hash(x), "big") for x in result]
    assert dists == sorted(dists)


def test_lookup_all_seeds_time_out():
    seeds = [Node(rid(), "127.0.0.1", 1, 1) for _ in range(5)]
    lk = Lookup(rid(), SELF, seeds)
    first = lk.asks()
    assert len(first) == 3 and not lk.done()
    assert lk.asks() == []  # alpha in flight
    for x in first:
        lk.on_timeout(x)
    second = lk.asks()
    assert len(second) == 2
    for x in second:
        lk.on_timeout(x)
    assert lk.done() and lk.asks() == []
    assert sorted(lk.failed) == sorted(first + second)
    assert {n.node_id for n in lk.result()} == {n.node_id for n in seeds}


def test_lookup_empty_seeds_done_at_once():
    lk = Lookup(rid(), SELF, [])
    assert lk.done() and lk.asks() == [] and lk.result() == []


def test_lookup_ignores_self_duplicates_and_unsolicited_replies():
    seeds = [Node(rid(), "127.0.0.1", 1, 1) for _ in range(2)]
    lk = Lookup(rid(), SELF, seeds + [Node(SELF, "127.0.0.1", 1, 1), seeds[0]])
    assert len(lk.result()) == 2
    asked = lk.asks()
    assert set(asked) == {n.node_id for n in seeds}
    assert lk.node(asked[0]) in seeds
    stranger = rid()
    assert lk.on_reply(stranger, [Node(rid(), "127.0.0.1", 1, 1)]) == []
    assert len(lk.result()) == 2
    new = Node(rid(), "127.0.0.1", 1, 1)
    got = lk.on_reply(asked[0], [Node(SELF, "127.0.0.1", 1, 1), seeds[1], new, new, None])
    assert got == [new]
    assert lk.on_reply(asked[0], [Node(rid(), "127.0.0.1", 1, 1)]) == []  # answered already
    lk.on_timeout(asked[1])
    lk.on_reply(asked[1], [Node(rid(), "127.0.0.1", 1, 1)])  # late: ignored
    assert len(lk.result()) == 3
    assert lk.asks() == [new.node_id]
    lk.on_reply(new.node_id, [])
    assert lk.done()


def test_lookup_keeps_k_closest_and_node_of_dropped_in_flight():
    target = rid()
    th = int.from_bytes(node_hash(target), "big")
    pool = sorted((Node(rid(), "127.0.0.1", 1, 1) for _ in range(40)),
                  key=lambda n: th ^ int.from_bytes(node_hash(n.node_id), "big"))
    far = pool[-4:]
    lk = Lookup(target, SELF, far, alpha=3, k=4)
    asked = lk.asks()
    lk.on_reply(asked[0], pool[:10])  # pushes every far node out of the result
    assert [n.node_id for n in lk.result()] == [n.node_id for n in pool[:4]]
    assert lk.node(asked[1]) in far  # still addressable while in flight
    assert lk.asks() == [pool[0].node_id]
    assert not lk.done()


def test_lookup_arguments():
    with pytest.raises(ValueError):
        Lookup(bytes(10), SELF, [])
    with pytest.raises(ValueError):
        Lookup(rid(), bytes(10), [])
    with pytest.raises(ValueError):
        Lookup(rid(), SELF, [], alpha=0)
    assert Lookup(node_hash(rid()), SELF, []).done()


def test_slow_list_interval_is_three_pings():
    t = table(rng=random.Random(12), ping_interval_s=2.0)
    x = rid()
    t.add_seen(node(x, "127.0.0.1"), 0.0)
    assert 0.0 <= t.fast.next_time <= 2.0
    t.revalidated(x, True, 10.0)
    assert t.fast.next_time is None
    draws = []
    for _ in range(200):
        now = t.slow.next_time
        assert t.next_to_revalidate(now)[0].node_id == x
        t.revalidated(x, True, now)
        draws.append(t.slow.next_time - now)
    assert all(0.0 <= d <= 6.0 for d in draws) and max(draws) > 4.0


def test_ipv4_mapped_counted_as_ipv4():
    t = table()
    xs = ids_in_bucket(t, 16, 3)
    assert t.add_seen(node(xs[0], "::ffff:4.4.4.1"), 0.0) == AddResult.ADDED
    assert t.add_seen(node(xs[1], "4.4.4.2"), 0.0) == AddResult.ADDED
    assert t.add_seen(node(xs[2], "::ffff:4.4.4.3"), 0.0) == AddResult.IP_LIMIT
