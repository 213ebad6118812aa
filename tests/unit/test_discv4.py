"""node.discv4: the discv4 machine on an in-memory network (no sockets) with a fake clock.

Machines sit at 127.0.0.<i>:30303; :class:`Net` moves every datagram of ``take_outgoing()`` to the
machine at its address (instantly, in order) and advances the clock to the next deadline."""

from __future__ import annotations

import ipaddress
import random

import pytest

from discovery import enr, v4wire
from node import kademlia
from node.discv4 import Discv4, RESP_TIMEOUT_S
from node.netutil import check_relay_ip, net_contains
from rlpx.keys import keccak256, node_id_from_private_key

WALL = 1_800_000_000.0  # UNIX seconds at now == 0
PORT = 30303


def key_of(i: int) -> bytes:
    return (1000 + i).to_bytes(32, "big")


def ip_of(i: int) -> str:
    return f"127.0.0.{i + 1}"


class Net:
    """N machines, all knowing machine 0 as bootnode (``boot=True``)."""

    def __init__(self, n: int, boot: bool = True, seed: int = 1, net_restrict=None):
        self.now = 0.0
        self.by_addr: dict[tuple[str, int], Discv4] = {}
        self.machines: list[Discv4] = []
        self.dead: set[tuple[str, int]] = set()
        self.sent: list[tuple[tuple[str, int], bytes, tuple[str, int]]] = []  # (from, data, to)
        self.events: dict[int, list] = {}
        for i in range(n):
            self.add(i, boot=boot and i > 0, seed=seed, net_restrict=net_restrict)

    def add(self, i: int, boot: bool = True, seed: int = 1, net_restrict=None) -> Discv4:
        key = key_of(i)
        record = enr.build(key, 1, ip=ip_of(i), udp=PORT, tcp=PORT)
        bootnodes = [self.node(0)] if boot else []
        m = Discv4(key, ip_of(i), PORT, PORT, record, random.Random(seed * 1000 + i), self.now,
                   bootnodes=bootnodes, net_restrict=net_restrict, wall_offset=WALL)
        self.by_addr[(ip_of(i), PORT)] = m
        self.machines.append(m)
        self.events[i] = []
        return m

    @staticmethod
    def node(i: int) -> kademlia.Node:
        return kademlia.Node(node_id_from_private_key(key_of(i)), ip_of(i), PORT, PORT)

    def addr(self, m: Discv4) -> tuple[str, int]:
        return (m.ip, m.udp)

    def deliver(self) -> None:
        moved = True
        while moved:
            moved = False
            for i, m in enumerate(self.machines):
                self.events[i] += m.take_events()
                if self.addr(m) in self.dead:
                    m.take_outgoing()
                    continue
                for data, to in m.take_outgoing():
                    moved = True
                    self.sent.append((self.addr(m), data, to))
                    dest = self.by_addr.get(to)
                    if dest is not None and to not in self.dead:
                        dest.on_datagram(data, self.addr(m), self.now)

    def start(self) -> None:
        for m in self.machines:
            m.start(self.now)
        self.deliver()

    def run(self, until: float) -> None:
        while True:
            self.deliver()
            deadlines = [d for m in self.machines if self.addr(m) not in self.dead
                         for d in [m.next_deadline()] if d is not None]
            if not deadlines:
                self.now = until
                return
            t = max(self.now, min(deadlines))
            if t > until:
                self.now = until
                return
            self.now = t
            for m in self.machines:
                d = m.next_deadline()
                if d is not None and d <= self.now and self.addr(m) not in self.dead:
                    m.on_tick(self.now)


def packet(p, i: int) -> bytes:
    return v4wire.encode(p, key_of(i))[0]


def exp(now: float = 0.0) -> int:
    return v4wire.expiration_for(WALL + now)


def decoded(out):
    return [(v4wire.decode(d)[0], to) for d, to in out]


def bad_kinds(m: Discv4) -> dict[str, int]:
    return {k[4:]: v for k, v in m.counters.items() if k.startswith("bad.")}


def ping_from(i: int, to: Discv4, expiration: int | None = None) -> bytes:
    return packet(v4wire.Ping(from_=v4wire.Endpoint.of(ip_of(i), PORT, PORT), to=v4wire.Endpoint.of(to.ip, PORT, 0),
                              expiration=exp() if expiration is None else expiration, enr_seq=1), i)


# ------------------------------------------------------------------------- bonding and ENR


def test_bonding_ping_pong_both_ways():
    net = Net(2)
    a, b = net.machines  # b has a as bootnode
    net.start()
    assert b.pongs.get((a.id, a.ip)) == 0.0 and a.pongs.get((b.id, b.ip)) == 0.0
    assert b.table.contains(a.id) and a.table.contains(b.id)
    assert a.counters["in.ping"] == 1 and a.counters["out.pong"] == 1 and a.counters["out.ping"] == 1
    assert b.table.get(a.id).live and a.table.get(b.id).live
    added = [e for e in net.events[1] if e[0] == "node_added"]
    assert added == [("node_added", {"id": a.id.hex(), "ip": a.ip, "udp": PORT, "tcp": PORT})]


def test_enr_fetched_after_bonding():
    net = Net(2)
    a, b = net.machines
    net.start()
    net.run(1.0)
    assert a.records[b.id] == b.record and b.records[a.id] == a.record
    assert not bad_kinds(a) and not bad_kinds(b)


def test_pong_carries_our_seq_and_new_record_is_fetched():
    net = Net(2)
    a, b = net.machines
    net.start()
    net.run(1.0)
    new = enr.build(key_of(1), 2, ip=b.ip, udp=PORT, tcp=PORT)
    b.set_record(new)
    net.run(60.0)  # a's revalidation pings get pongs with seq 2, a asks for the record
    assert a.records[b.id].seq == 2


# ------------------------------------------------------------------------- refusals


def bonded_pair():
    net = Net(2)
    net.start()
    net.run(1.0)
    return net, net.machines[0], net.machines[1]


def test_findnode_from_unbonded_ip_gets_no_reply():
    net = Net(1)
    a = net.machines[0]
    a.on_datagram(packet(v4wire.FindNode(target=a.id, expiration=exp()), 7), (ip_of(7), PORT), 0.0)
    assert a.take_outgoing() == []
    assert bad_kinds(a) == {"unbonded": 1} and a.counters["in.findnode"] == 1
    assert ("bad_packet", {"kind": "unbonded", "from": f"{ip_of(7)}:{PORT}"}) in a.take_events()


def test_findnode_bond_is_per_ip():
    net, a, b = bonded_pair()
    a.on_datagram(packet(v4wire.FindNode(target=a.id, expiration=exp()), 1), ("127.0.0.99", PORT), net.now)
    assert a.take_outgoing() == [] and bad_kinds(a) == {"unbonded": 1}


def test_enr_request_from_unbonded_gets_no_reply():
    net = Net(1)
    a = net.machines[0]
    a.on_datagram(packet(v4wire.ENRRequest(expiration=exp()), 7), (ip_of(7), PORT), 0.0)
    assert a.take_outgoing() == [] and bad_kinds(a) == {"unbonded": 1}


def test_unsolicited_neighbors_and_pong_are_counted_and_ignored():
    net = Net(1)
    a = net.machines[0]
    src = (ip_of(7), PORT)
    nb = v4wire.Neighbors(nodes=(v4wire.Node.of(ip_of(8), PORT, PORT, Net.node(8).node_id),), expiration=exp())
    a.on_datagram(packet(nb, 7), src, 0.0)
    pong = v4wire.Pong(to=v4wire.Endpoint.of(a.ip, PORT, 0), ping_hash=b"\x01" * 32, expiration=exp(), enr_seq=1)
    a.on_datagram(packet(pong, 7), src, 0.0)
    assert a.take_outgoing() == []
    assert bad_kinds(a) == {"unsolicited": 2}
    assert len(a.table) == 0 and a.pongs == {}


def test_pong_with_wrong_hash_is_unsolicited():
    net = Net(2)
    a, b = net.machines
    b.start(0.0)  # b pings a; a's answer is replaced by a forged pong
    [(data, to)] = b.take_outgoing()
    pong = v4wire.Pong(to=v4wire.Endpoint.of(b.ip, PORT, 0), ping_hash=b"\x02" * 32, expiration=exp(), enr_seq=1)
    b.on_datagram(packet(pong, 0), (a.ip, PORT), 0.0)
    assert bad_kinds(b) == {"unsolicited": 1} and b.pongs == {}


def test_expired_packets_are_dropped():
    net = Net(1)
    a = net.machines[0]
    a.on_datagram(ping_from(7, a, expiration=int(WALL) - 1), (ip_of(7), PORT), 0.0)
    assert a.take_outgoing() == []
    assert bad_kinds(a) == {"expired": 1}
    # the same packet was fine 10 s earlier on the wall clock
    b = Net(1).machines[0]
    b.on_datagram(ping_from(7, b, expiration=int(WALL) + 5), (ip_of(7), PORT), 0.0)
    assert len(b.take_outgoing()) == 2  # pong and the ping back


def test_bad_bytes_signature_and_hash_are_counted_by_kind():
    net = Net(1)
    a = net.machines[0]
    src = (ip_of(7), PORT)
    good = ping_from(7, a)
    a.on_datagram(b"\x00" * 10, src, 0.0)
    a.on_datagram(b"\x00" * 1300, src, 0.0)
    a.on_datagram(bytes([good[0] ^ 1]) + good[1:], src, 0.0)
    body = b"\xff" * 65 + good[97:]  # r, s out of range
    a.on_datagram(keccak256(body) + body, src, 0.0)
    assert a.take_outgoing() == []
    assert bad_kinds(a) == {"too_small": 1, "too_big": 1, "bad_hash": 1, "bad_signature": 1}
    kinds = [e[1]["kind"] for e in a.take_events() if e[0] == "bad_packet"]
    assert kinds == ["too_small", "too_big", "bad_hash", "bad_signature"]


# ------------------------------------------------------------------------- FindNode answers


def test_neighbors_split_at_12():
    net, a, b = bonded_pair()
    for i in range(10, 40):
        a.table.add_verified(Net.node(i), net.now)  # live: the answer prefers live nodes
    a.table.add_seen(Net.node(40), net.now)          # not live: left out
    a.on_datagram(packet(v4wire.FindNode(target=b.id, expiration=exp(net.now)), 1), (b.ip, PORT), net.now)
    out = decoded(a.take_outgoing())
    assert [len(p.nodes) for p, _ in out] == [12, 4]
    assert all(isinstance(p, v4wire.Neighbors) and to == (b.ip, PORT) for p, to in out)
    closest = [e.node_id for e in a.table.closest(b.id, 16, prefer_live=True)]
    assert [n.node_id for p, _ in out for n in p.nodes] == closest


def test_findnode_answer_skips_loopback_for_a_wan_requester():
    net = Net(1)
    a = net.machines[0]
    a.table.add_seen(Net.node(3), 0.0)                     # 127.0.0.4: loopback
    wan = kademlia.Node(Net.node(4).node_id, "8.8.4.4", PORT, PORT)
    a.table.add_seen(wan, 0.0)
    a.pongs[(Net.node(9).node_id, "8.8.8.8")] = 0.0          # a bonded WAN requester
    a.on_datagram(packet(v4wire.FindNode(target=a.id, expiration=exp()), 9), ("8.8.8.8", PORT), 0.0)
    [(p, _)] = decoded(a.take_outgoing())
    assert [n.node_id for n in p.nodes] == [wan.node_id]


def test_empty_table_answers_one_empty_neighbors():
    net = Net(1)
    a = net.machines[0]
    a.pongs[(Net.node(9).node_id, ip_of(9))] = 0.0
    a.on_datagram(packet(v4wire.FindNode(target=a.id, expiration=exp()), 9), (ip_of(9), PORT), 0.0)
    [(p, _)] = decoded(a.take_outgoing())
    assert p.nodes == ()


def test_neighbors_nodes_failing_relay_rules_are_skipped():
    net = Net(2)
    a, b = net.machines
    net.start()
    net.run(1.0)
    a.lookup(Net.node(5).node_id, net.now)
    out = decoded(a.take_outgoing())
    assert [type(p) for p, _ in out] == [v4wire.FindNode]
    bad = [v4wire.Node.of("224.0.0.1", PORT, PORT, Net.node(20).node_id),     # multicast: special
           v4wire.Node.of(ip_of(21), 1000, PORT, Net.node(21).node_id),       # low port
           v4wire.Node.of(ip_of(22), PORT, PORT, b"\x05" * 64),               # not on the curve
           v4wire.Node.of(ip_of(23), PORT, PORT, Net.node(23).node_id)]       # fine
    a.on_datagram(packet(v4wire.Neighbors(nodes=tuple(bad), expiration=exp(net.now)), 1), (b.ip, PORT), net.now)
    assert a.counters["skipped_neighbor"] == 3
    assert [e.node_id for e in a.table.all_entries() if e.node_id != b.id] == []  # pending until 16 or timeout
    net.run(net.now + 2 * RESP_TIMEOUT_S)
    assert a.table.contains(Net.node(23).node_id) or any(
        r.node_id == Net.node(23).node_id for i in range(17) for r in a.table.replacements(i))
    assert not a.table.contains(Net.node(20).node_id)


# ------------------------------------------------------------------------- net_restrict


def test_net_restrict_drops_packets_from_outside():
    nets = [ipaddress.ip_network("127.0.0.0/30")]  # 127.0.0.1 .. .3
    net = Net(1, net_restrict=nets)
    a = net.machines[0]
    a.on_datagram(ping_from(7, a), (ip_of(7), PORT), 0.0)
    assert a.take_outgoing() == []
    assert bad_kinds(a) == {"netrestrict": 1} and "in.ping" not in a.counters
    a.on_datagram(ping_from(2, a), (ip_of(2), PORT), 0.0)
    assert len(a.take_outgoing()) == 2


def test_net_restrict_filters_bootnodes_and_neighbors():
    nets = [ipaddress.ip_network("127.0.0.0/30")]
    net = Net(6, net_restrict=nets)
    net.start()
    net.run(20.0)
    a = net.machines[1]
    assert {e.ip for e in a.table.all_entries()} <= {ip_of(0), ip_of(2)}
    far = net.machines[5]  # 127.0.0.6: outside the others' restriction, so nobody answers it
    assert len(far.table) == 0 and bad_kinds(net.machines[0])["netrestrict"] >= 1
    elsewhere = Discv4(key_of(9), "10.0.0.9", PORT, PORT, far.record, random.Random(1), 0.0,
                       bootnodes=[Net.node(0)], net_restrict=[ipaddress.ip_network("10.0.0.0/8")], wall_offset=WALL)
    assert elsewhere.bootnodes == []


def test_netutil_rules():
    assert check_relay_ip("127.0.0.1", "127.0.0.2") is None
    assert check_relay_ip("8.8.8.8", "127.0.0.2") == "loopback"
    assert check_relay_ip("8.8.8.8", "192.168.1.1") == "lan"
    assert check_relay_ip("192.168.1.2", "192.168.1.1") is None
    assert check_relay_ip("8.8.8.8", "0.0.0.0") == "unspecified"
    assert check_relay_ip("8.8.8.8", "192.0.2.1") == "special"
    assert check_relay_ip("8.8.8.8", "ff02::1") == "special"
    assert check_relay_ip("8.8.8.8", "::ffff:8.8.4.4") is None
    assert check_relay_ip("8.8.8.8", "x") == "invalid"
    assert net_contains(None, "1.2.3.4")
    assert not net_contains([ipaddress.ip_network("10.0.0.0/8")], "::ffff:1.2.3.4")
    assert net_contains([ipaddress.ip_network("10.0.0.0/8")], "::ffff:10.2.3.4")


# ------------------------------------------------------------------------- lookups and the table


@pytest.mark.integration  # no sockets, but ~10 s of signatures: kept out of the fast part
def test_thirty_machines_converge_within_60_s():
    net = Net(30)
    net.start()
    net.run(60.0)
    sizes = [len(m.table) for m in net.machines]
    assert min(sizes) >= 20, sizes
    done = [e for e in net.events[5] if e[0] == "lookup_done"]
    assert done and done[0][1]["target"] == net.machines[5].id.hex()
    assert not any(bad_kinds(m).get(k) for m in net.machines for k in ("bad_hash", "bad_signature", "malformed"))


def test_candidates_have_records():
    net = Net(8)
    net.start()
    net.run(30.0)
    m = net.machines[3]
    cands = m.candidates(5)
    assert len(cands) == 5 and len({c.node_id for c in cands}) == 5
    for c in cands:
        assert isinstance(c.enr, enr.Record) and c.enr.node_id == c.node_id
        assert m.table.get(c.node_id).live


def test_dead_node_is_revalidated_out_of_the_table():
    net = Net(4)
    net.start()
    net.run(20.0)
    gone = net.machines[2]
    assert all(m.table.contains(gone.id) for m in net.machines if m is not gone)
    net.dead.add(net.addr(gone))
    net.run(300.0)
    for i, m in enumerate(net.machines):
        if m is gone:
            continue
        assert not m.table.contains(gone.id)
        assert ("node_removed", {"id": gone.id.hex(), "ip": gone.ip, "udp": PORT, "tcp": PORT}) in net.events[i]


def test_lookup_on_empty_table_ends_at_once():
    net = Net(1)
    a = net.machines[0]
    target = Net.node(5).node_id
    a.lookup(target, 0.0)
    events = a.take_events()
    mine = [info for kind, info in events if kind == "lookup_done" and info["target"] == target.hex()]
    assert mine == [{"target": target.hex(), "found": 0, "seconds": 0.0}]
    # an empty table also asks for a refresh (no bootnodes here: its lookups end at once too)
    assert sum(kind == "lookup_done" for kind, _ in events) == 5
    with pytest.raises(ValueError):
        a.lookup(b"\x00" * 32, 0.0)


def test_findnode_to_unbonded_node_pings_first():
    net = Net(3)
    a = net.machines[0]
    net.start()
    net.run(5.0)
    d = net.add(3, boot=False)  # knows a, but a never pinged it nor it a
    d.table.add_seen(Net.node(0), net.now)
    d.lookup(a.id, net.now)
    net.run(net.now + 3.0)
    kinds = [type(v4wire.decode(data)[0]) for frm, data, to in net.sent if frm == (d.ip, PORT) and to == (a.ip, PORT)]
    assert kinds[0] is v4wire.Ping
    assert kinds.index(v4wire.FindNode) > kinds.index(v4wire.Pong)  # after answering a's ping back
    assert not bad_kinds(a).get("unbonded")
    assert len(d.table) >= 3


def test_reply_timeout_ends_a_lookup():
    net = Net(2)
    a, b = net.machines
    net.start()
    net.run(1.0)
    net.dead.add(net.addr(b))
    a.take_events()
    a.lookup(None, net.now)
    t0 = net.now
    net.run(t0 + 3.0)
    done = [e for e in net.events[0] if e[0] == "lookup_done"]
    assert done and done[-1][1]["seconds"] <= 2 * RESP_TIMEOUT_S + 1e-9


def test_near_empty_refresh_backs_off():
    net = Net(1)
    a = net.machines[0]
    a.start(0.0)
    times = []
    now = 0.0
    for _ in range(5):
        now = a._refresh_at
        times.append(now)
        a.on_tick(now)
    assert [round(t2 - t1) for t1, t2 in zip([0.0] + times, times)] == [10, 20, 40, 80, 160]


def test_bond_records_are_bounded_and_expire(monkeypatch):
    import node.discv4 as d4
    monkeypatch.setattr(d4, "MAX_BOND_RECORDS", 3)
    net = Net(1)
    a = net.machines[0]
    for i in range(1, 6):
        a.on_datagram(ping_from(i, a), (ip_of(i), PORT), 0.0)
    assert [k[1] for k in a.pings] == [ip_of(3), ip_of(4), ip_of(5)]
    a.on_tick(d4.BOND_EXPIRATION_S + 61.0)
    assert a.pings == {}


def test_enr_response_must_be_the_senders_record():
    net = Net(2)
    a, b = net.machines
    b.start(0.0)
    [(ping, _)] = b.take_outgoing()
    a.on_datagram(ping, (b.ip, PORT), 0.0)
    out = a.take_outgoing()  # pong, ping back
    for data, _ in out:
        b.on_datagram(data, (a.ip, PORT), 0.0)
    sent = decoded(b.take_outgoing())  # pong to a's ping, ENRRequest, the self lookup's FindNode
    assert [type(p) for p, _ in sent] == [v4wire.Pong, v4wire.ENRRequest, v4wire.FindNode]
    # a answers with somebody else's record, quoting b's request
    req_hash = _last_request_hash(b)
    other = enr.build(key_of(9), 1, ip=ip_of(9), udp=PORT, tcp=PORT)
    b.on_datagram(packet(v4wire.ENRResponse(request_hash=req_hash, record=other), 0), (a.ip, PORT), 0.0)
    assert bad_kinds(b) == {"wrong_sender": 1} and a.id not in b.records
    # a second response now has nothing to match
    b.on_datagram(packet(v4wire.ENRResponse(request_hash=req_hash, record=a.record), 0), (a.ip, PORT), 0.0)
    assert bad_kinds(b) == {"wrong_sender": 1, "unsolicited": 1}


def _last_request_hash(m: Discv4) -> bytes:
    [(_, w)] = m._enr_waits.items()
    return w.hash


def test_random_and_mutated_datagrams_never_raise():
    rng = random.Random(7)
    net = Net(2)
    a, b = net.machines
    net.start()
    net.run(1.0)
    samples = [d for _, d, _ in net.sent]
    for _ in range(400):
        data = bytearray(rng.choice(samples))
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        a.on_datagram(bytes(data), (b.ip, PORT), net.now)
        a.on_datagram(rng.randbytes(rng.randrange(0, 1400)), (b.ip, PORT), net.now)
    assert sum(v for k, v in a.counters.items() if k.startswith("bad.")) >= 800


def test_findnode_failures_delete_a_node_from_a_full_enough_bucket():
    net = Net(1)
    a = net.machines[0]
    # a silent node in a bucket holding 4 or more entries (go-ethereum: bucketSize/4)
    ids = [Net.node(i) for i in range(1, 200)]
    by_bucket: dict[int, list] = {}
    for n in ids:
        by_bucket.setdefault(a.table.bucket_index(n.node_id), []).append(n)
    bucket = next(b for b, ns in by_bucket.items() if len(ns) >= 5)
    silent, *others = by_bucket[bucket][:5]
    for n in [silent] + others:
        a.table.add_verified(n, 0.0)
        a.pings[(n.node_id, n.ip)] = 0.0  # they pinged us: FindNode goes without a ping first
        a.table.get(n.node_id).liveness_checks = 10**9  # missed revalidations do not delete it
    now = 0.0
    for k in range(5):
        a.lookup(silent.node_id, now)
        a.take_outgoing()
        now += 1.0
        a.on_tick(now)
        if k < 4:
            assert a.table.contains(silent.node_id)
    assert not a.table.contains(silent.node_id)
    assert a.find_fails[(silent.node_id, silent.ip)] == 5
