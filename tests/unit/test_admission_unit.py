"""Admission (node/admission.py), the Server's checkpoints, without an actor system."""

from __future__ import annotations

from node.admission import Admission
from config.model import NodeConfig
from rlpx.disc import DiscReason
from rlpx.keys import generate_private_key, node_id_from_private_key


def new_id() -> bytes:
    return node_id_from_private_key(generate_private_key())


LOCAL = new_id()


def fill(adm: Admission, n: int, inbound: bool) -> list[bytes]:
    ids = []
    for _ in range(n):
        nid = new_id()
        assert adm.add_peer(nid, inbound, matched=1) is None
        ids.append(nid)
    return ids


def test_max_inbound_follows_go_ethereum():
    """maxInboundConns = max_peers - max(1, max_peers // dial_ratio)."""
    key = generate_private_key()
    assert NodeConfig("n", key, max_peers=50).max_inbound_conns() == 34
    assert NodeConfig("n", key, max_peers=2, dial_ratio=2).max_inbound_conns() == 1
    assert NodeConfig("n", key, max_peers=1).max_inbound_conns() == 0
    assert NodeConfig("n", key, max_peers=10, no_dial=True).max_inbound_conns() == 10


def test_too_many_peers():
    adm = Admission(LOCAL, max_peers=2, max_inbound=2)
    fill(adm, 2, inbound=False)
    assert adm.post_handshake(new_id(), inbound=False) == DiscReason.TOO_MANY_PEERS
    assert adm.post_handshake(new_id(), inbound=True) == DiscReason.TOO_MANY_PEERS
    assert adm.add_peer(new_id(), False, matched=1) == DiscReason.TOO_MANY_PEERS
    assert len(adm.added) == 2


def test_too_many_inbound_only_limits_inbound():
    adm = Admission(LOCAL, max_peers=3, max_inbound=1)
    fill(adm, 1, inbound=True)
    assert adm.inbound_count() == 1
    assert adm.post_handshake(new_id(), inbound=True) == DiscReason.TOO_MANY_PEERS
    assert adm.post_handshake(new_id(), inbound=False) is None  # outbound still fine
    fill(adm, 2, inbound=False)
    assert adm.post_handshake(new_id(), inbound=False) == DiscReason.TOO_MANY_PEERS


def test_trusted_exempt_from_both_limits():
    trusted = new_id()
    adm = Admission(LOCAL, max_peers=1, max_inbound=0, trusted={trusted})
    fill(adm, 1, inbound=False)
    assert adm.post_handshake(new_id(), inbound=True) == DiscReason.TOO_MANY_PEERS
    assert adm.post_handshake(trusted, inbound=True) is None
    assert adm.add_peer(trusted, True, matched=1) is None
    assert len(adm.added) == 2 and adm.inbound_count() == 1
    # trust does not override the other rules
    assert adm.post_handshake(trusted, inbound=True) == DiscReason.ALREADY_CONNECTED
    adm.trusted.add(LOCAL)
    assert adm.post_handshake(LOCAL, inbound=True) == DiscReason.SELF
    # trust can be withdrawn at run time
    other = new_id()
    adm.trusted.add(other)
    assert adm.post_handshake(other, inbound=False) is None
    adm.trusted.discard(other)
    assert adm.post_handshake(other, inbound=False) == DiscReason.TOO_MANY_PEERS


def test_already_connected():
    adm = Admission(LOCAL, max_peers=10, max_inbound=10)
    [peer] = fill(adm, 1, inbound=True)
    assert adm.post_handshake(peer, inbound=False) == DiscReason.ALREADY_CONNECTED
    assert adm.add_peer(peer, False, matched=1) == DiscReason.ALREADY_CONNECTED
    adm.remove(peer)
    assert adm.post_handshake(peer, inbound=False) is None


def test_self():
    adm = Admission(LOCAL, max_peers=10, max_inbound=10)
    assert adm.post_handshake(LOCAL, inbound=True) == DiscReason.SELF
    assert adm.post_handshake(LOCAL, inbound=False) == DiscReason.SELF


def test_check_order_follows_go_ethereum():
    """postHandshakeChecks: peer count, inbound count, already connected, self."""
    adm = Admission(LOCAL, max_peers=1, max_inbound=1)
    [peer] = fill(adm, 1, inbound=True)
    assert adm.post_handshake(peer, inbound=True) == DiscReason.TOO_MANY_PEERS
    assert adm.post_handshake(LOCAL, inbound=False) == DiscReason.TOO_MANY_PEERS
    adm.trusted.add(peer)
    assert adm.post_handshake(peer, inbound=True) == DiscReason.ALREADY_CONNECTED


def test_useless_peer():
    adm = Admission(LOCAL, max_peers=10, max_inbound=10)
    nid = new_id()
    assert adm.add_peer(nid, True, matched=0) == DiscReason.USELESS_PEER
    assert nid not in adm.added
    # usefulness is checked before the counts (addPeerChecks), and then the counts again
    full = Admission(LOCAL, max_peers=0, max_inbound=0)
    assert full.add_peer(new_id(), True, matched=0) == DiscReason.USELESS_PEER
    assert full.add_peer(new_id(), True, matched=1) == DiscReason.TOO_MANY_PEERS


def test_no_protocols_means_nobody_is_useless():
    adm = Admission(LOCAL, max_peers=10, max_inbound=10, have_protocols=False)
    nid = new_id()
    assert adm.add_peer(nid, True, matched=0) is None
    assert nid in adm.added


def test_remove_frees_slots():
    adm = Admission(LOCAL, max_peers=1, max_inbound=1)
    [peer] = fill(adm, 1, inbound=True)
    assert adm.post_handshake(new_id(), inbound=True) == DiscReason.TOO_MANY_PEERS
    adm.remove(peer)
    adm.remove(peer)  # idempotent
    assert adm.inbound_count() == 0
    assert adm.post_handshake(new_id(), inbound=True) is None
