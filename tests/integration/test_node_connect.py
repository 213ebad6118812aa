"""Two nodes connect (both directions, static dials from admin and from config) and the
subprotocol offset table: matched capabilities land at the right offsets and each Protocol
actor sees only its own messages."""

from __future__ import annotations

import socket

import pytest

from support.nodes import STRESS, TEST_PROTO, echo, free_port, sender
from config.model import ProtocolConfig
from protocols.forkid import MAINNET
from rlpx.enode import Enode, parse_enode
from rlpx.keys import generate_private_key, node_id_from_private_key


@pytest.mark.parametrize("dialer", ["alpha", "beta"])
def test_static_dial_either_direction(nodes, dialer):
    a = nodes.start("alpha", protocols=[echo(), echo("xa", 2, length=3, actor=TEST_PROTO)])
    b = nodes.start("beta", protocols=[echo(), echo("yb", 5, length=2, actor=TEST_PROTO)])
    src, dst = (a, b) if dialer == "alpha" else (b, a)
    nodes.connect(src, dst)

    ev_src = nodes.expect("peer_added", node=src.name)[0].data
    ev_dst = nodes.expect("peer_added", node=dst.name)[0].data
    # each side sees the other's Hello: client name, all of its caps, the direction
    assert ev_src["peer_id"] == dst.id_hex and ev_dst["peer_id"] == src.id_hex
    assert ev_src["name"] == dst.name and ev_dst["name"] == src.name
    caps = {"alpha": ["test/1", "xa/2"], "beta": ["test/1", "yb/5"]}
    assert sorted(ev_src["caps"]) == caps[dst.name]
    assert sorted(ev_dst["caps"]) == caps[src.name]
    assert ev_src["inbound"] is False and ev_dst["inbound"] is True
    # only the shared capability runs
    for ev in (ev_src, ev_dst):
        assert ev["offsets"] == [{"name": "test", "version": 1, "offset": 16, "length": 8}]
    # the dialer records the enode it dialled; the listener the Hello's listen port, which must
    # be the real port although the config said 0 ("pick one")
    assert ev_src["enode"] == f"enode://{dst.id_hex}@127.0.0.1:{dst.port}"
    assert ev_dst["enode"] == f"enode://{src.id_hex}@127.0.0.1:{src.port}"
    # admin_peers agrees on both sides
    pa, pb = nodes.peers(src), nodes.peers(dst)
    assert [p["name"] for p in pa] == [dst.name] and [p["name"] for p in pb] == [src.name]
    assert pa[0]["network"]["inbound"] is False and pa[0]["network"]["static"] is True
    assert pb[0]["network"]["inbound"] is True


def test_static_nodes_from_config(nodes):
    """static_nodes in the config are dialled (and redialled until the target is up)."""
    kb, port_b = generate_private_key(), free_port()
    b_enode = Enode(node_id_from_private_key(kb), "127.0.0.1", port_b, port_b).url()
    a = nodes.start("alpha", static_nodes=[b_enode])
    # b is not up yet: the dial fails (refused) and is retried after dial_history_s
    failed = nodes.expect("dial_failed", node="alpha")[0].data
    assert failed["peer_id"] == node_id_from_private_key(kb).hex()
    # the real cause, not the Peer's exit: a Peer that ends after a failed dial did not crash
    assert (failed["stage"], failed["cause"], failed["reason"]) == ("connect", "refused", "NETWORK_ERROR")
    assert "Connection refused" in failed["error"]
    b = nodes.start("beta", key=kb, listen_port=port_b)
    ev = nodes.expect("peer_added", node="alpha")[0].data
    assert ev["peer_id"] == b.id_hex and ev["inbound"] is False
    ev = nodes.expect("peer_added", node="beta")[0].data
    assert ev["peer_id"] == a.id_hex and ev["inbound"] is True
    assert not nodes.events(kind="actor_exited")


def test_dial_failures_name_their_stage_and_cause(nodes):
    """A dial refused at a checkpoint of the remote, and one rejected by a silent remote's
    handshake deadline: each dial_failed says where it ended and why."""
    b = nodes.start("beta", max_peers=0)
    a = nodes.start("alpha", static_nodes=[b.enode])
    failed = nodes.expect("dial_failed", node="alpha")[0].data
    assert (failed["stage"], failed["cause"], failed["reason"]) == ("hello", "remote_disconnect", "TOO_MANY_PEERS")
    assert failed["remote_requested"] is True and "Disconnect(TOO_MANY_PEERS)" in failed["error"]
    rejected = nodes.expect("peer_rejected", node="beta")[0].data
    assert (rejected["stage"], rejected["cause"], rejected["reason"]) == ("checkpoint", "rejected", "TOO_MANY_PEERS")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        port = silent.getsockname()[1]
        target = Enode(node_id_from_private_key(generate_private_key()), "127.0.0.1", port, port).url()
        assert nodes.admin(a, "add_peer", target).ok
        late = nodes.expect("dial_failed", node="alpha", timeout_s=10,
                            peer_id=parse_enode(target).node_id.hex())[0].data
        assert (late["stage"], late["cause"], late["reason"]) == ("handshake", "timeout", "READ_TIMEOUT")
    finally:
        silent.close()
    assert not nodes.events(kind="actor_exited")


def test_subprotocol_offsets_and_routing(nodes):
    """A runs aaa/1(3) aaa/2(5) bbb/1(4) ccc/7(2); B runs aaa/2(5) bbb/1(4) bbb/3(6) ccc/7(2).
    Matched (highest shared version per name, names sorted, from 16): aaa/2@16, bbb/1@21, ccc/7@25.
    A sends on every code of each matched protocol with a protocol-specific size; B echoes and
    reports every message it receives: each B protocol actor must get only its own messages."""
    sizes = {"aaa": 111, "bbb": 122, "ccc": 133}
    lengths = {"aaa": 5, "bbb": 4, "ccc": 2}
    a = nodes.start("alpha", protocols=[
        sender(3, 50, "aaa", 1, length=3, actor=TEST_PROTO),
        sender(lengths["aaa"] * 2, sizes["aaa"], "aaa", 2, length=5, actor=TEST_PROTO),
        sender(lengths["bbb"] * 2, sizes["bbb"], "bbb", 1, length=4, actor=TEST_PROTO),
        sender(lengths["ccc"] * 2, sizes["ccc"], "ccc", 7, length=2, actor=TEST_PROTO),
    ])
    b = nodes.start("beta", protocols=[
        echo("aaa", 2, length=5, actor=TEST_PROTO, report_received=True),
        echo("bbb", 1, length=4, actor=TEST_PROTO, report_received=True),
        echo("bbb", 3, length=6, actor=TEST_PROTO, report_received=True),
        echo("ccc", 7, length=2, actor=TEST_PROTO, report_received=True),
    ])
    nodes.connect(a, b)
    want = [{"name": "aaa", "version": 2, "offset": 16, "length": 5},
            {"name": "bbb", "version": 1, "offset": 21, "length": 4},
            {"name": "ccc", "version": 7, "offset": 25, "length": 2}]
    for node in ("alpha", "beta"):
        assert nodes.expect("peer_added", node=node)[0].data["offsets"] == want

    # A gets every echo back on the right protocol, the right code, in order
    for name in ("aaa", "bbb", "ccc"):
        rep = nodes.report(a, b, protocol=name)
        assert rep["count"] == lengths[name] * 2 and rep["mismatches"] == 0, (name, rep)

    # B's actors each got exactly their messages: relative codes 0..length-1 twice, their size
    total = sum(2 * n for n in lengths.values())
    got = nodes.expect("protocol_event", node="beta", count=total, kind="received")
    assert len(got) == total
    by_proto: dict[str, list] = {}
    for ev in got:
        by_proto.setdefault(ev.data["protocol"], []).append(ev.data["data"])
    assert sorted(by_proto) == ["aaa", "bbb", "ccc"]  # bbb/3 never started, aaa/1 not matched
    for name, items in by_proto.items():
        assert [i["code"] for i in items] == list(range(lengths[name])) * 2, name
        assert {i["size"] for i in items} == {sizes[name]}, name
        # the payload starts with the sender's sequence number 0, 1, 2, ...
        assert [int(i["head"][:16], 16) for i in items] == list(range(2 * lengths[name])), name


def test_admin_peers_shows_what_the_protocols_know_now(nodes):
    """The eth entry of admin_peers is the remote's Status, asked for when admin_peers is served
    (it was published once, before the Status exchange, and stayed null)."""
    eth = ProtocolConfig("eth", 68)
    a = nodes.start("alpha", protocols=[eth, echo()])
    b = nodes.start("beta", protocols=[eth, echo()])
    nodes.connect(a, b)
    for node in ("alpha", "beta"):
        nodes.expect("protocol_event", node=node, kind="eth_status", data__side="remote", data__accepted=True)
    [peer] = nodes.peers(a)
    assert peer["protocols"]["eth"] == {"version": 68, "difficulty": MAINNET.genesis_td,
                                        "head": "0x" + MAINNET.genesis_hash.hex()}
    assert peer["protocols"]["test"] == {"version": 1, "echo": True, "received": 0}
    assert nodes.peers(b)[0]["protocols"]["eth"]["version"] == 68


def test_eth_highest_shared_version_runs_and_admin_peers_shows_the_block_range(nodes):
    """alpha offers eth/68, 69 and 70, beta 68 and 69: eth/69 runs on both sides (the highest
    shared version), its 7-field Status is accepted, and admin_peers shows go-ethereum's eth/69
    peer info (version and the remote's block range: genesis only, for a chain-less node)."""
    a = nodes.start("alpha", protocols=[ProtocolConfig("eth", 68), ProtocolConfig("eth", 69),
                                        ProtocolConfig("eth", 70), echo()])
    b = nodes.start("beta", protocols=[ProtocolConfig("eth", 68), ProtocolConfig("eth", 69), echo()])
    nodes.connect(a, b)
    for node in ("alpha", "beta"):
        [ev] = nodes.expect("protocol_event", node=node, kind="eth_status", data__side="remote", data__accepted=True)
        assert ev.data["data"]["version"] == 69 and ev.data["data"]["latest_hash"] == MAINNET.genesis_hash.hex()
    for node in (a, b):
        [peer] = nodes.peers(node)
        assert peer["protocols"]["eth"] == {"version": 69, "earliestBlock": 0, "latestBlock": 0,
                                            "latestBlockHash": "0x" + MAINNET.genesis_hash.hex()}
        assert "eth/69" in peer["caps"]
