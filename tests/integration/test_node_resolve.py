"""Static nodes given by host name: resolved before NetRestrict, self-dial and
already-connected checks, as go-ethereum p2p/dial.go does.  Only 127.0.0.0/8 is used: `localhost`
and the reserved `.invalid` TLD, which the Dialer fails without asking any resolver."""

from __future__ import annotations

from rlpx.enode import Enode


def by_name(node, host="localhost") -> str:
    return Enode(node.node_id, host, node.port, node.port).url()


def test_localhost_outside_netrestrict_is_not_dialled(nodes):
    b = nodes.start("beta")
    since = nodes.mark()
    a = nodes.start("alpha", static_nodes=[by_name(b)], net_restrict=("10.0.0.0/8",))
    nodes.expect_none("peer_added", 3.0, since=since)
    assert nodes.events(since, kind="dial_failed", node="alpha") == []  # no dial was even started
    assert nodes.peers(a) == () and nodes.peers(b) == ()


def test_localhost_inside_netrestrict_is_dialled_at_its_address(nodes):
    b = nodes.start("beta")
    a = nodes.start("alpha", static_nodes=[by_name(b)], net_restrict=("127.0.0.0/8",))
    ev = nodes.expect("peer_added", node="alpha", peer_id=b.id_hex)[0].data
    assert ev["inbound"] is False and ev["remote_address"] == f"127.0.0.1:{b.port}", ev
    nodes.expect("peer_added", node="beta", peer_id=a.id_hex)


def test_name_that_does_not_resolve_gives_dial_failed_with_cause_resolve(nodes):
    b = nodes.start("beta")
    nodes.start("alpha", static_nodes=[by_name(b, "no-such-node.invalid")])
    ev = nodes.expect("dial_failed", node="alpha", peer_id=b.id_hex)[0].data
    assert ev["cause"] == "resolve" and ev["stage"] == "connect", ev
    assert "no-such-node.invalid" in ev["error"] and ev["address"] == f"no-such-node.invalid:{b.port}", ev
    assert nodes.peers(b) == ()
