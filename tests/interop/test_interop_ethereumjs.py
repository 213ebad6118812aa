"""The node against an independent implementation: @ethereumjs/devp2p 10 (tests/interop/peer.mjs),
on 127.0.0.1, in both directions."""

from __future__ import annotations

import pytest

from support.ejs import EjsPeer
from support.nodes import FAST, echo, sender
from config.model import ProtocolConfig, Timeouts
from protocols.forkid import MAINNET
from rlpx.disc import DiscReason

GENESIS = MAINNET.genesis_hash.hex()
EJS_STATUS = {"genesisHash": GENESIS, "bestHash": GENESIS, "td": "0400000000"}


def eth68(**options) -> ProtocolConfig:
    return ProtocolConfig("eth", 68, tuple(options.items()))


@pytest.fixture
def ejs(tmp_path):
    peers = []

    def start(name="ejs", **options):
        p = EjsPeer(tmp_path, name, **options)
        peers.append(p)
        return p
    yield start
    for p in peers:
        p.close()


@pytest.mark.parametrize("direction", ["node_dials", "ejs_dials"])
def test_hello_caps_and_offsets_both_directions(nodes, ejs, direction):
    a = nodes.start("alpha", protocols=[echo(), eth68()])
    if direction == "node_dials":
        e = ejs(caps=["eth/68", "test/1"], status=EJS_STATUS, echo=True)
        nodes.connect(a, e)
    else:
        e = ejs(caps=["eth/68", "test/1"], status=EJS_STATUS, echo=True, dial=a.enode)
    ours = nodes.expect("peer_added", node="alpha", timeout_s=15)[0].data
    theirs = e.expect("peer_added")[0]
    assert ours["name"] == "ethereumjs-ejs" and sorted(ours["caps"]) == ["eth/68", "test/1"]
    assert ours["inbound"] is (direction == "ejs_dials")
    assert theirs["clientId"] == "alpha" and sorted(theirs["caps"]) == ["eth/68", "test/1"]
    assert theirs["protocolVersion"] == 5
    # eth 0x10-0x20, test 0x21-0x28 on both sides
    assert [(o["name"], o["offset"], o["length"]) for o in ours["offsets"]] == [("eth", 0x10, 17), ("test", 0x21, 8)]
    assert [(p["name"], p["offset"], p["length"]) for p in theirs["protocols"]] == [("eth", 0x10, 17), ("test", 0x21, 8)]
    # eth/68 Status accepted by both sides
    remote_view = nodes.expect("protocol_event", node="alpha", kind="eth_status", data__side="remote")[0]
    assert remote_view.data["data"]["accepted"] is True
    assert remote_view.data["data"]["genesis"] == GENESIS
    st = e.expect("eth_status")[0]
    assert st["genesisHash"] == GENESIS and st["networkId"] == "01"
    assert st["forkId"] == ["fc64ec04", "118c30"]  # genesis fork hash, next = Homestead 1150000
    nodes.expect_none("peer_removed", within_s=1.0, node="alpha")


@pytest.mark.parametrize("count, size", [(5000, 100), (20, 1 << 20)])
def test_test_protocol_traffic_both_ways(nodes, ejs, count, size):
    # node sends, ethereumjs echoes
    a = nodes.start("alpha", protocols=[sender(count, size, window=64)])
    e1 = ejs("echoer", caps=["test/1"], echo=True)
    nodes.connect(a, e1)
    report = nodes.report(a, timeout_s=120)
    assert report["count"] == count and report["mismatches"] == 0
    # ethereumjs sends, node echoes
    b = nodes.start("beta", protocols=[echo()])
    e2 = ejs("sender", caps=["test/1"], dial=b.enode, send={"count": count, "size": size, "window": 64})
    theirs = e2.expect("test_report", timeout_s=120)[0]
    assert theirs["count"] == count and theirs["mismatches"] == 0


def test_quitting_on_shutdown_both_ways(nodes, ejs):
    a = nodes.start("alpha")
    e = ejs(caps=["test/1"], echo=True, dial=a.enode)
    nodes.expect("peer_added", node="alpha")
    e.expect("peer_added")
    # ethereumjs quits: the node records QUITTING, remote-requested
    e.command("quit")
    gone = nodes.expect("peer_removed", node="alpha")[0].data
    assert gone["reason"] == "QUITTING" and gone["remote_requested"] is True
    # the node shuts down: ethereumjs hears QUITTING from us
    e2 = ejs("two", caps=["test/1"], echo=True, dial=a.enode)
    e2.expect("peer_added")
    nodes.stop(a)
    removed = e2.expect("peer_removed")[0]
    assert removed["reason"] == DiscReason.QUITTING and removed["disconnectWe"] is False


def test_too_many_peers_both_ways(nodes, ejs):
    # max_peers 2, dial_ratio 2: one dialled and one inbound slot (go-ethereum maxInboundConns)
    a = nodes.start("alpha", max_peers=2, dial_ratio=2)
    e1 = ejs("first", caps=["test/1"], echo=True, dial=a.enode)
    e1.expect("peer_added")
    e2 = ejs("second", caps=["test/1"], echo=True, dial=a.enode)
    rejected = e2.expect("disconnect_received")[0]  # before Hello: no peer_removed in ethereumjs
    assert rejected["reason"] == DiscReason.TOO_MANY_PEERS
    assert nodes.expect("peer_rejected", node="alpha")[0].data["reason"] == "TOO_MANY_PEERS"
    # ethereumjs full: it refuses our dial with TOO_MANY_PEERS
    full = ejs("full", caps=["test/1"], echo=True, maxPeers=1)
    b = nodes.start("beta")
    full.command(f"dial {b.enode}")
    full.expect("peer_added")
    c = nodes.start("gamma")
    nodes.connect(c, full)
    # ethereumjs completes the Hello exchange, then disconnects an inbound peer it has no slot for
    gone = nodes.expect("peer_removed", node="gamma", timeout_s=15)[0].data
    assert gone["reason"] == "TOO_MANY_PEERS" and gone["remote_requested"] is True


def _useless_seen(e) -> bool:
    """Both sides detect a useless peer from the Hellos; whichever is first sends the Disconnect."""
    e.wait("disconnect_received", timeout_s=5)
    return any(ev["reason"] == DiscReason.USELESS_PEER
               for ev in e.events("disconnect_received") + e.events("disconnect_sent"))


def test_useless_peer_both_ways(nodes, ejs):
    a = nodes.start("alpha", protocols=[echo()])
    e = ejs(caps=["eth/68"], status=EJS_STATUS, dial=a.enode)
    ours = nodes.expect("peer_rejected", node="alpha", timeout_s=15)[0].data
    assert ours["reason"] == "USELESS_PEER"
    assert _useless_seen(e)
    e2 = ejs("eth-only", caps=["eth/68"], status=EJS_STATUS)
    b = nodes.start("beta", protocols=[echo()])
    nodes.connect(b, e2)
    failed = nodes.expect("dial_failed", node="beta", timeout_s=15)[0].data
    assert failed["reason"] == "USELESS_PEER"
    assert _useless_seen(e2)
    assert nodes.events(kind="peer_added") == []


def test_already_connected_both_ways(nodes, ejs):
    a = nodes.start("alpha")
    e = ejs(caps=["test/1"], echo=True, dial=a.enode)
    e.expect("peer_added")
    nodes.expect("peer_added", node="alpha")
    # ethereumjs refuses to dial a node it is connected to, so a second ethereumjs process with
    # the same key makes the duplicate connection: we refuse it at checkpoint 1
    twin = ejs("twin", key=e.key, caps=["test/1"], echo=True, dial=a.enode)
    rejected = nodes.expect("peer_rejected", node="alpha", timeout_s=15)[0].data
    assert rejected["reason"] == "ALREADY_CONNECTED" and rejected["peer_id"] == e.id_hex
    assert twin.expect("disconnect_received")[0]["reason"] == DiscReason.ALREADY_CONNECTED
    # a second node with alpha's key dials ethereumjs: ethereumjs refuses it after the Hellos
    b = nodes.start("alpha-twin", key=a.key)
    mark = nodes.mark()
    nodes.connect(b, e)
    found = nodes.wait("peer_removed", node="alpha-twin", since=mark, timeout_s=15)
    if not found.ok:
        found = nodes.wait("dial_failed", node="alpha-twin", since=mark, timeout_s=1)
    assert found.ok
    assert found.events[0].data["reason"] == "ALREADY_CONNECTED" and found.events[0].data["remote_requested"]
    assert len(nodes.peers(a)) == 1


def test_idle_connections_stay_up_40s_both_directions(nodes, ejs):
    real = Timeouts(handshake_s=5, ping_interval_s=15, idle_s=30, write_s=20, dial_s=5, dial_history_s=1)
    a = nodes.start("alpha", timeouts=real)
    inbound = ejs("in", caps=["test/1"], echo=True, dial=a.enode)
    outbound = ejs("out", caps=["test/1"], echo=True)
    nodes.connect(a, outbound)
    nodes.expect("peer_added", node="alpha", count=2, timeout_s=15)
    nodes.expect_none("peer_removed", within_s=42.0, node="alpha")
    assert inbound.events("peer_removed") == [] and outbound.events("peer_removed") == []
    assert len(nodes.peers(a)) == 2


def _mismatch_seen(nodes, e, words: str) -> None:
    """Both sides validate the Status they receive; whichever sees the mismatch first
    disconnects with SUBPROTOCOL_ERROR and the other may close before reading the Status."""
    gone = nodes.expect("peer_removed", node="alpha", timeout_s=15)[0].data
    assert gone["reason"] == "SUBPROTOCOL_ERROR"
    views = [ev.data["data"] for ev in nodes.events(kind="protocol_event", node="alpha")
             if ev.data["kind"] == "eth_status" and ev.data["data"]["side"] == "remote"]
    if not gone["remote_requested"]:
        # we disconnected: because we saw the mismatch
        assert views and views[0]["accepted"] is False and words in views[0]["error"]
    for view in views:
        assert view["accepted"] is False
    e.wait("disconnect_received", timeout_s=5)
    reasons = {ev["reason"] for ev in e.events("disconnect_received") + e.events("disconnect_sent")}
    assert DiscReason.SUBPROTOCOL_ERROR in reasons


def test_eth_status_mismatch_ends_with_subprotocol_error(nodes, ejs):
    other = {"name": "private", "network_id": 1, "genesis_hash": "11" * 32, "genesis_td": 1}
    a = nodes.start("alpha", protocols=[eth68(chain=other)])
    e = ejs(caps=["eth/68"], status=EJS_STATUS, dial=a.enode)
    _mismatch_seen(nodes, e, "genesis mismatch")


def test_eth_requests_get_empty_responses_with_request_id(nodes, ejs):
    a = nodes.start("alpha", protocols=[eth68()])
    e = ejs(caps=["eth/68"], status=EJS_STATUS, dial=a.enode)
    e.expect("eth_status")
    for code, want, rid in ((3, 4, "0101"), (5, 6, "0202"), (9, 10, "0303"), (15, 16, "0404")):
        e.command(f"eth_request {code} {rid}")
        reply = e.expect("eth_message", code=want, timeout_s=10)[0]
        assert reply["requestId"] == rid and reply["items"] == 0
    nodes.expect_none("peer_removed", within_s=0.5, node="alpha")


def test_eth_network_id_mismatch_with_ethereumjs(nodes, ejs):
    other = {"name": "other", "network_id": 5, "genesis_hash": GENESIS, "genesis_td": 17179869184}
    a = nodes.start("alpha", protocols=[eth68(chain=other)])
    e = ejs(caps=["eth/68"], status=EJS_STATUS)
    nodes.connect(a, e)
    _mismatch_seen(nodes, e, "network id mismatch")
