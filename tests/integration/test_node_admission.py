"""Admission rules (go-ethereum p2p/server.go postHandshakeChecks / addPeerChecks), each seen
from the remote: its peer_removed / dial_failed / peer_rejected event carries the reason and
remote_requested=True (or, for a raw peer, the Disconnect it reads)."""

from __future__ import annotations

from support.nodes import RawPeer, echo, port_free, wait_until
from messages.peer import DialRequest
from rlpx.connection import DisconnectReceived
from rlpx.disc import DiscReason


def test_too_many_peers(nodes):
    """beta has max_peers=1 and is connected to a1; its dial to a2 fails its own max_peers check
    right after the handshake: a2 reads Disconnect(TOO_MANY_PEERS)."""
    a1 = nodes.start("a1")
    a2 = nodes.start("a2")
    b = nodes.start("beta", max_peers=1)
    nodes.connect(b, a1)
    nodes.expect("peer_added", node="beta", peer_id=a1.id_hex)
    nodes.connect(b, a2)
    ev = nodes.expect("peer_rejected", node="a2", peer_id=b.id_hex)[0].data
    assert ev["reason"] == "TOO_MANY_PEERS" and ev["remote_requested"] is True, ev
    ev = nodes.expect("dial_failed", node="beta", peer_id=a2.id_hex)[0].data
    assert ev["reason"] == "TOO_MANY_PEERS" and ev["remote_requested"] is False, ev
    # nobody added a2; a1 is still beta's only peer
    assert [p["name"] for p in nodes.peers(b)] == ["a1"]
    assert nodes.peers(a2) == ()


def test_too_many_inbound(nodes):
    """max_peers=2, dial_ratio=2: max inbound = 2 - max(1, 2 // 2) = 1.  a1 dials in and is
    accepted; a2 dialling in is refused with TOO_MANY_PEERS although only one of two peer
    slots is used; beta can still dial out to a3 (the total limit is not reached)."""
    b = nodes.start("beta", max_peers=2, dial_ratio=2)
    assert b.config.max_inbound_conns() == 1
    a1, a2, a3 = nodes.start("a1"), nodes.start("a2"), nodes.start("a3")
    nodes.connect(a1, b)
    nodes.expect("peer_added", node="beta", peer_id=a1.id_hex)
    nodes.connect(a2, b)
    ev = nodes.expect("dial_failed", node="a2", peer_id=b.id_hex)[0].data
    assert ev["reason"] == "TOO_MANY_PEERS" and ev["remote_requested"] is True, ev
    nodes.connect(b, a3)
    nodes.expect("peer_added", node="beta", peer_id=a3.id_hex)
    assert sorted(p["name"] for p in nodes.peers(b)) == ["a1", "a3"]


def test_already_connected(nodes):
    """A second connection from a node id that is already a peer (a node started with the same
    key) is refused with ALREADY_CONNECTED; the first connection stays."""
    a = nodes.start("alpha")
    b = nodes.start("beta")
    nodes.connect(a, b)
    nodes.expect("peer_added", node="beta", peer_id=a.id_hex)
    twin = nodes.start("alpha-twin", key=a.key)
    nodes.connect(twin, b)
    ev = nodes.expect("dial_failed", node="alpha-twin", peer_id=b.id_hex)[0].data
    assert ev["reason"] == "ALREADY_CONNECTED" and ev["remote_requested"] is True, ev
    assert [p["name"] for p in nodes.peers(b)] == ["alpha"]
    nodes.expect_none("peer_removed", 0.3, node="beta")


def test_self(nodes):
    """A connection whose remote is the node itself is refused with SELF.

    The Dialer never dials our own enode (add_peer of it does nothing, see test_dial_scheduler),
    so the rule is driven two ways: a raw peer holding the node's own key reads
    Disconnect(SELF); and a dial request for the own enode sent straight to the Server makes
    the node connect to itself and fail with SELF."""
    a = nodes.start("alpha")
    with RawPeer(a.enode, key=a.key) as raw:
        ev = raw.handshake()
        assert isinstance(ev, DisconnectReceived) and ev.reason == DiscReason.SELF, ev
        assert raw.wait_eof(5)
    nodes.admin(a, "add_peer", a.enode)
    nodes.asys.tell(a.server, DialRequest(a.enode, static=False))
    ev = nodes.expect("dial_failed", node="alpha", peer_id=a.id_hex)[0].data
    assert ev["reason"] == "SELF", ev
    # only that dial: the admin's add_peer of our own enode never dials
    nodes.expect_none("dial_failed", 1.0, node="alpha", since=nodes.mark())
    assert len(nodes.events(kind="dial_failed")) == 1
    assert nodes.peers(a) == ()


def test_useless_peer_no_shared_capability(nodes):
    """Both run protocols but share none: both sides disconnect with USELESS_PEER."""
    a = nodes.start("alpha", protocols=[echo("aaa", 1, length=2, actor="protocols.test_protocol.TestProtocol")])
    b = nodes.start("beta", protocols=[echo("bbb", 1, length=2, actor="protocols.test_protocol.TestProtocol")])
    nodes.connect(a, b)
    ev = nodes.expect("dial_failed", node="alpha", peer_id=b.id_hex)[0].data
    assert ev["reason"] == "USELESS_PEER", ev
    ev = nodes.expect("peer_rejected", node="beta", peer_id=a.id_hex)[0].data
    assert ev["reason"] == "USELESS_PEER", ev


def test_useless_peer_seen_by_remote(nodes):
    """A node that runs no protocol accepts anyone (go-ethereum only applies the rule when it
    runs protocols); the remote that does run one finds it useless, and the protocol-less
    node sees peer_removed(USELESS_PEER, remote_requested=True)."""
    a = nodes.start("alpha", protocols=[echo()])
    b = nodes.start("beta", protocols=[])
    nodes.connect(a, b)
    ev = nodes.expect("peer_removed", node="beta", peer_id=a.id_hex)[0].data
    assert ev["reason"] == "USELESS_PEER" and ev["remote_requested"] is True, ev
    ev = nodes.expect("dial_failed", node="alpha", peer_id=b.id_hex)[0].data
    assert ev["reason"] == "USELESS_PEER" and ev["remote_requested"] is False, ev


def _trusted_beyond_max_peers(nodes, via_config: bool):
    a1 = nodes.start("a1")
    trusted = nodes.start("trusted")
    other = nodes.start("other")
    b = nodes.start("beta", max_peers=1, trusted_nodes=[trusted.enode] if via_config else [])
    if not via_config:
        nodes.admin(b, "add_trusted", trusted.enode)
    nodes.connect(b, a1)
    nodes.expect("peer_added", node="beta", peer_id=a1.id_hex)
    # beta is full (1/1 peers, 0 inbound slots): an ordinary node is refused...
    nodes.connect(other, b)
    ev = nodes.expect("dial_failed", node="other", peer_id=b.id_hex)[0].data
    assert ev["reason"] == "TOO_MANY_PEERS" and ev["remote_requested"] is True, ev
    # ...a trusted one is admitted, inbound, beyond max_peers
    nodes.connect(trusted, b)
    ev = nodes.expect("peer_added", node="beta", peer_id=trusted.id_hex)[0].data
    assert ev["inbound"] is True
    nodes.expect("peer_added", node="trusted", peer_id=b.id_hex)
    assert sorted(p["name"] for p in nodes.peers(b)) == ["a1", "trusted"]


def test_trusted_beyond_max_peers_config(nodes):
    _trusted_beyond_max_peers(nodes, via_config=True)


def test_trusted_beyond_max_peers_admin(nodes):
    _trusted_beyond_max_peers(nodes, via_config=False)


def test_static_peer_reconnects_after_remote_restart(nodes):
    """alpha keeps static peer beta connected: beta stops (alpha sees QUITTING from it), a new
    node with beta's key starts on beta's port, and alpha connects to it again."""
    a = nodes.start("alpha")
    b = nodes.start("beta")
    nodes.connect(a, b)
    nodes.expect("peer_added", node="alpha", peer_id=b.id_hex)
    assert nodes.stop(b) is not None
    ev = nodes.expect("peer_removed", node="alpha", peer_id=b.id_hex)[0].data
    assert ev["reason"] == "QUITTING" and ev["remote_requested"] is True, ev
    mark = nodes.mark()
    # the old listener closes asynchronously after stop: wait (bounded) for the port
    assert wait_until(lambda: port_free(b.port), 5.0), f"port {b.port} still taken"
    b2 = nodes.start("beta2", key=b.key, listen_port=b.port)
    assert b2.enode == b.enode
    ev = nodes.expect("peer_added", node="alpha", since=mark, peer_id=b.id_hex, timeout_s=15)[0].data
    assert ev["name"] == "beta2" and ev["inbound"] is False
    nodes.expect("peer_added", node="beta2", since=mark, peer_id=a.id_hex)
