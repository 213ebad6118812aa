"""Node discovery v4 in running nodes (actors/discovery.py over node/discv4.py): nodes that know
only a bootnode find and dial each other, the table survives a restart through the node
database, the Discovery actor is supervised, and bad packets are dropped and counted while the
node keeps answering.  Everything on 127.0.0.1; every wait bounded."""

from __future__ import annotations

import os
import socket
import time

import pytest

from config.model import ProtocolConfig, RestartPolicy, SupervisionConfig
from discovery import v4wire
from discovery.enr import parse_text
from messages.discovery import DiscoveryInfo, GetDiscoveryInfo
from messages.supervision import FaultRequest
from messages.admin import GetNodeInfo
from rlpx.keys import generate_private_key, keccak256, node_id_from_private_key
from support.nodes import wait_until

pytestmark = pytest.mark.integration

QUICK = SupervisionConfig(discovery=RestartPolicy(max_restarts=5, within_s=10, backoff_s=0.05, backoff_max_s=0.2))


def info(nodes, node) -> DiscoveryInfo:
    reply = nodes.asys.ask(node.server, GetDiscoveryInfo(), 10)
    assert isinstance(reply, DiscoveryInfo), f"no discovery info from {node.name}: {reply!r}"
    return reply


def start(nodes, name, tmp_path, bootnodes=(), **kw):
    kw.setdefault("node_db", str(tmp_path / f"{name}.nodes.sqlite"))
    return nodes.start(name, discovery=True, bootstrap_nodes=tuple(bootnodes), **kw)


def test_nodes_that_know_only_a_bootnode_find_and_dial_each_other(nodes, tmp_path):
    boot = start(nodes, "boot", tmp_path, no_dial=True)
    b = start(nodes, "b", tmp_path, [boot.enode])
    c = start(nodes, "c", tmp_path, [boot.enode])
    # no static nodes anywhere: b and c can only learn of each other through boot's table
    wait_until(lambda: info(nodes, boot).table >= 2, 30, "boot's table holds b and c")
    wait_until(lambda: info(nodes, b).table >= 2 and info(nodes, c).table >= 2, 30, "b and c know two nodes")

    def b_and_c_connected():
        return any((e.node, e.data.get("peer_id")) in (("b", c.id_hex), ("c", b.id_hex))
                   for e in nodes.events(kind="peer_added"))

    wait_until(b_and_c_connected, 60, "b and c connected, found through discovery")
    counters = info(nodes, b).counters
    assert counters.get("in.pong", 0) >= 1 and counters.get("in.neighbors", 0) >= 1, counters


def test_a_restarted_node_rebuilds_its_table_from_the_node_database(nodes, tmp_path):
    boot = start(nodes, "boot", tmp_path, no_dial=True)
    a = start(nodes, "a", tmp_path, [boot.enode], no_dial=True)
    start(nodes, "x", tmp_path, [boot.enode], no_dial=True)
    wait_until(lambda: info(nodes, a).table >= 2, 30, "a's table holds boot and x")
    nodes.stop(a)  # the Discovery actor writes its table at exit
    again = start(nodes, "a2", tmp_path, (), key=a.key, no_dial=True, node_db=str(tmp_path / "a.nodes.sqlite"))
    # no bootnode now: only the database can give it nodes
    wait_until(lambda: info(nodes, again).table >= 1, 30, "the restarted node's table, seeded from its database")


def test_the_discovery_actor_restarts_on_the_same_udp_port(nodes, tmp_path):
    a = start(nodes, "a", tmp_path, supervision=QUICK, no_dial=True)
    port = nodes.asys.ask(a.server, GetNodeInfo(), 10).info["ports"]["discovery"]
    assert port == a.port  # discport defaults to the TCP port (go-ethereum)
    nodes.sigkilled = True
    reply = nodes.asys.ask(a.server, FaultRequest("discovery", "kill"), 10)
    assert reply.ok, reply
    nodes.expect("actor_exited", node="a", actor="discovery", timeout_s=10)
    nodes.expect("actor_restarted", node="a", actor="discovery", timeout_s=10)
    assert _pong_from(a, node_id_from_private_key(a.key)) is not None  # answering again, same port


def _ping(key: bytes, to_port: int, from_port: int, expiration: int | None = None) -> tuple[bytes, bytes]:
    ep_from = v4wire.Endpoint.of("127.0.0.1", from_port, 0)
    ep_to = v4wire.Endpoint.of("127.0.0.1", to_port, to_port)
    exp = int(time.time()) + 20 if expiration is None else expiration
    return v4wire.encode(v4wire.Ping(version=4, from_=ep_from, to=ep_to, expiration=exp, enr_seq=None), key)


def _pong_from(node, node_id: bytes, sock: socket.socket | None = None, timeout_s: float = 10.0):
    """Ping ``node``'s UDP port (at its TCP port) until a Pong quoting our ping comes back."""
    own = sock is None
    sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if own:
        sock.bind(("127.0.0.1", 0))
    key = generate_private_key()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            data, digest = _ping(key, node.port, sock.getsockname()[1])
            sock.sendto(data, ("127.0.0.1", node.port))
            sock.settimeout(0.5)
            try:
                while True:
                    reply, _ = sock.recvfrom(2048)
                    packet, sender, _ = v4wire.decode(reply)
                    if isinstance(packet, v4wire.Pong) and packet.ping_hash == digest and sender == node_id:
                        return packet
            except socket.timeout:
                continue
    finally:
        if own:
            sock.close()
    return None


def test_bad_packets_are_dropped_and_counted_and_the_node_keeps_answering(nodes, tmp_path):
    a = start(nodes, "a", tmp_path, no_dial=True)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    here = s.getsockname()[1]
    to = ("127.0.0.1", a.port)
    key = generate_private_key()
    try:
        good, _ = _ping(key, a.port, here)
        s.sendto(os.urandom(200), to)                                   # random bytes: bad hash
        s.sendto(b"\x00" * 32 + good[32:], to)                          # a bad hash
        body = good[97:]
        bad_sig = b"\xff" * 65
        s.sendto(keccak256(bad_sig, body) + bad_sig + body, to)           # a bad signature
        s.sendto(_ping(key, a.port, here, expiration=int(time.time()) - 60)[0], to)  # expired
        s.sendto(os.urandom(1300), to)                                  # over 1,280 bytes
        neighbors = v4wire.Neighbors(nodes=(), expiration=int(time.time()) + 20)
        s.sendto(v4wire.encode(neighbors, key)[0], to)                  # unsolicited Neighbors
        target = node_id_from_private_key(generate_private_key())
        stranger = generate_private_key()
        s.sendto(v4wire.encode(v4wire.FindNode(target=target, expiration=int(time.time()) + 20), stranger)[0], to)
        assert _pong_from(a, a.node_id) is not None
        counters = info(nodes, a).counters
        for kind in ("bad_hash", "bad_signature", "expired", "too_big", "unsolicited", "unbonded"):
            assert counters.get(f"bad.{kind}", 0) >= 1, (kind, counters)
        # the FindNode from the unbonded stranger got no Neighbors back (amplification)
        s.settimeout(0.3)
        got = []
        try:
            while True:
                got.append(v4wire.decode(s.recvfrom(2048)[0])[0])
        except socket.timeout:
            pass
        assert not any(isinstance(p, v4wire.Neighbors) for p in got), got
    finally:
        s.close()


def test_a_flood_of_10000_packets_per_second_leaves_the_node_answering(nodes, tmp_path):
    a = start(nodes, "a", tmp_path, no_dial=True)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    to = ("127.0.0.1", a.port)
    junk = [os.urandom(150) for _ in range(64)]
    sent, start_t = 0, time.monotonic()
    try:
        while time.monotonic() - start_t < 10.0:  # 10,000 per second for 10 s, paced per 10 ms
            target = int((time.monotonic() - start_t) * 10_000)
            while sent < target:
                try:
                    s.sendto(junk[sent % 64], to)
                except BlockingIOError:
                    pass
                sent += 1
            time.sleep(0.01)  # pacing of the sender, not synchronisation
        assert _pong_from(a, a.node_id) is not None
        counters = info(nodes, a).counters
        dropped = counters.get("bad.bad_hash", 0)
        assert dropped >= sent // 4, (sent, counters)  # the kernel may drop some of a flood; most are read
        lines = [ln for ln in open(tmp_path / "node.log") if "dropped" in ln and "discovery" in ln]
        assert 1 <= len(lines) <= 15, f"{len(lines)} log lines for one kind of bad packet in 10 s"
    finally:
        s.close()


def test_with_eth_only_nodes_whose_record_has_a_compatible_fork_id_are_dialled(nodes, tmp_path):
    """go-ethereum eth/protocols/eth/discovery.go NewNodeFilter: a found node is dialled for eth
    only when its ENR's eth entry passes our fork filter.  boot and b run eth on mainnet, c on
    sepolia: b dials boot (found through discovery), and nobody dials across chains."""
    mainnet, sepolia = ProtocolConfig("eth", 69, ()), ProtocolConfig("eth", 69, (("chain", "sepolia"),))
    boot = start(nodes, "boot", tmp_path, protocols=[mainnet])
    c = start(nodes, "c", tmp_path, [boot.enode], protocols=[sepolia])
    b = start(nodes, "b", tmp_path, [boot.enode], protocols=[mainnet])
    wait_until(lambda: info(nodes, b).table >= 2 and info(nodes, b).records >= 2, 30,
               "b's table holds boot and c, with their records")
    nodes.expect("peer_added", node="b", peer_id=boot.id_hex, timeout_s=30)
    nodes.expect_none("peer_added", 3.0, node="b", peer_id=c.id_hex)
    nodes.expect_none("peer_added", 0.5, node="c", peer_id=b.id_hex)


def test_nat_extip_sets_the_address_of_the_enode_and_the_record(nodes, tmp_path):
    """``nat: extip:<IP>`` (go-ethereum --nat extip): our enode URL and ENR name that IP, while
    the sockets stay on the listen host."""
    a = start(nodes, "a", tmp_path, no_dial=True, nat_ip="203.0.113.7")
    node_info = nodes.asys.ask(a.server, GetNodeInfo(), 10).info
    assert a.enode.endswith(f"@203.0.113.7:{a.port}") and node_info["enode"] == a.enode
    record = parse_text(node_info["enr"])
    assert (record.ip, record.tcp, record.udp) == ("203.0.113.7", a.port, a.port)
    assert _pong_from(a, a.node_id) is not None  # still answering on 127.0.0.1
