"""node/peer_table.py without an actor system: the Server's record of each connection, its two
checkpoints, and the event records an added peer and an ended connection make."""

from __future__ import annotations

import pytest

from messages.admission import ADD_PEER, POST_HANDSHAKE
from messages.events import DialFailed, PeerAdded, PeerRejected, PeerRemoved
from node.admission import Admission
from node.peer_info import peer_info
from node.peer_table import ADDED, CONNECTED, HANDSHAKE, Checkpoint, PeerTable, added_event, ended_event
from rlpx import base_protocol as bp
from rlpx.caps import LocalProtocol, OffsetTable, match_capabilities
from rlpx.disc import DiscReason
from rlpx.keys import generate_private_key, node_id_from_private_key


def new_id() -> bytes:
    return node_id_from_private_key(generate_private_key())


LOCAL = new_id()


def table(max_peers: int = 10, max_inbound: int = 10, trusted=()) -> PeerTable:
    return PeerTable(Admission(LOCAL, max_peers, max_inbound, trusted))


def add(t: PeerTable, node_id: bytes, inbound: bool, addr=None, **kw):
    """A connection that passes both checkpoints; returns its record."""
    rec = t.new(addr or object(), inbound, **kw)
    assert t.checkpoint(rec, POST_HANDSHAKE, node_id, inbound) == Checkpoint(None, connected=True)
    assert t.checkpoint(rec, ADD_PEER, node_id, inbound, matched=1, info={"name": "x"}) == Checkpoint(None, added=True)
    return rec


# -- records --------------------------------------------------------------------------------------
def test_a_record_goes_handshake_then_connected_then_added():
    t = table()
    nid = new_id()
    rec = t.new("addr", True, conn_id="c1", remote=("10.0.0.2", 40000))
    assert (rec.state, rec.node_id, rec.key) == (HANDSHAKE, None, 1)
    assert t.checkpoint(rec, POST_HANDSHAKE, nid, True) == Checkpoint(None, connected=True)
    assert (rec.state, rec.node_id, rec.seen_id) == (CONNECTED, nid, nid)
    info = {"name": "geth", "caps": ["eth/68"]}
    assert t.checkpoint(rec, ADD_PEER, nid, True, matched=1, info=info) == Checkpoint(None, added=True)
    assert rec.state == ADDED and rec.info == info and rec.info is not info  # a copy
    assert t.admission.added == {nid: True}
    assert t.added() == [rec] and len(t) == 1


def test_find_compares_addresses_with_eq_and_remembers_the_match():
    class Addr:
        def __init__(self, key, text):
            self.key, self.text = key, text

        def __eq__(self, other):
            return isinstance(other, Addr) and other.key == self.key

        __hash__ = None

        def __str__(self):
            return self.text

    t = table()
    rec = t.new(Addr(7, "placeholder"), False, dial_id=new_id())
    assert t.find(Addr(7, "real")) is rec
    assert t._seen == {"real": rec.key}
    assert t.find(Addr(7, "real")) is rec and t.find(Addr(8, "real")) is None
    assert "real" not in t._seen  # a stale hint is dropped


def test_remove_frees_the_admission_slot_of_an_added_peer_only():
    t = table(max_peers=1)
    nid = new_id()
    rec = add(t, nid, False)
    other = t.new("o", False)
    assert t.checkpoint(other, POST_HANDSHAKE, new_id(), False).reason == DiscReason.TOO_MANY_PEERS
    t.remove(other)  # not added: frees nothing
    assert t.admission.added == {nid: False}
    t.remove(rec)
    assert t.admission.added == {} and len(t) == 0
    assert add(t, new_id(), False).state == ADDED


def test_lookups_by_node_and_prefix():
    t = table()
    a, b = new_id(), new_id()
    ra = add(t, a, True)
    dialling = t.new("d", False, dial_id=b)
    assert t.for_node(a) == [ra] and t.for_node(b) == [dialling]
    assert t.with_prefix(a.hex()[:6].upper()) == [ra]
    assert t.with_prefix(b.hex()[:6]) == []  # only added peers
    assert (ra.who, dialling.who) == (a.hex()[:16], b.hex()[:16])
    assert t.new("n", True).who == "?" and t.new("n", True, remote=("h", 1)).where == "h:1"


def test_added_peers_are_sorted_by_node_id():
    t = table()
    ids = [new_id() for _ in range(4)]
    for nid in ids:
        add(t, nid, False)
    assert [r.node_id for r in t.added()] == sorted(ids)


# -- checkpoints ----------------------------------------------------------------------------------
def test_checkpoint_rejects_our_own_id_with_self():
    t = table()
    rec = t.new("a", False)
    assert t.checkpoint(rec, POST_HANDSHAKE, LOCAL, False) == Checkpoint(DiscReason.SELF)
    assert (rec.state, rec.node_id, rec.seen_id) == (HANDSHAKE, None, LOCAL)


@pytest.mark.parametrize("stage", [POST_HANDSHAKE, ADD_PEER])
def test_checkpoint_rejects_an_added_node_id_with_already_connected(stage):
    t = table()
    nid = new_id()
    add(t, nid, True)
    rec = t.new("b", False)
    assert t.checkpoint(rec, stage, nid, False, matched=1) == Checkpoint(DiscReason.ALREADY_CONNECTED)
    assert rec.state == HANDSHAKE


@pytest.mark.parametrize("stage", [POST_HANDSHAKE, ADD_PEER])
@pytest.mark.parametrize("inbound", [False, True])
def test_checkpoint_rejects_with_too_many_peers_when_the_table_is_full(stage, inbound):
    t = table(max_peers=2, max_inbound=2)
    add(t, new_id(), False)
    add(t, new_id(), True)
    rec = t.new("c", inbound)
    assert t.checkpoint(rec, stage, new_id(), inbound, matched=1) == Checkpoint(DiscReason.TOO_MANY_PEERS)


def test_checkpoint_limits_inbound_peers_but_not_outbound_ones():
    t = table(max_peers=5, max_inbound=1)
    add(t, new_id(), True)
    assert t.checkpoint(t.new("i", True), POST_HANDSHAKE, new_id(), True) == Checkpoint(DiscReason.TOO_MANY_PEERS)
    assert t.checkpoint(t.new("o", False), POST_HANDSHAKE, new_id(), False) == Checkpoint(None, connected=True)


def test_trusted_nodes_are_exempt_from_both_peer_limits():
    trusted = new_id()
    t = table(max_peers=1, max_inbound=0, trusted={trusted})
    add(t, new_id(), False)
    rec = add(t, trusted, True)
    assert rec.state == ADDED and len(t.admission.added) == 2


def test_trusted_nodes_are_not_exempt_from_already_connected():
    trusted = new_id()
    t = table(trusted={trusted})
    add(t, trusted, False)
    assert t.checkpoint(t.new("b", True), POST_HANDSHAKE, trusted, True).reason == DiscReason.ALREADY_CONNECTED


def test_static_nodes_get_no_exemption():
    t = table(max_peers=1)
    add(t, new_id(), True)
    rec = t.new("s", False, static=True, dial_id=new_id())
    assert t.checkpoint(rec, POST_HANDSHAKE, rec.dial_id, False) == Checkpoint(DiscReason.TOO_MANY_PEERS)


def test_no_shared_capability_is_useless_peer_at_add_peer_only():
    t = table()
    nid = new_id()
    rec = t.new("a", True)
    assert t.checkpoint(rec, POST_HANDSHAKE, nid, True, matched=0).reason is None
    assert t.checkpoint(rec, ADD_PEER, nid, True, matched=0) == Checkpoint(DiscReason.USELESS_PEER)
    assert rec.state == CONNECTED and t.admission.added == {}


def test_a_node_without_protocols_finds_nobody_useless():
    t = PeerTable(Admission(LOCAL, 10, 10, have_protocols=False))
    nid = new_id()
    rec = t.new("a", True)
    t.checkpoint(rec, POST_HANDSHAKE, nid, True)
    assert t.checkpoint(rec, ADD_PEER, nid, True, matched=0) == Checkpoint(None, added=True)


def test_a_stopping_node_refuses_every_checkpoint_with_quitting():
    t = table()
    rec = t.new("a", True)
    for stage in (POST_HANDSHAKE, ADD_PEER):
        assert t.checkpoint(rec, stage, new_id(), True, matched=1, stopping=True) == Checkpoint(DiscReason.QUITTING)
    assert rec.state == HANDSHAKE and rec.seen_id is None


def test_an_unknown_stage_is_protocol_error():
    t = table()
    assert t.checkpoint(t.new("a", True), "hello", new_id(), True) == Checkpoint(DiscReason.PROTOCOL_ERROR)


def test_a_repeated_checkpoint_1_does_not_report_connected_twice():
    t = table()
    nid = new_id()
    rec = t.new("a", True)
    assert t.checkpoint(rec, POST_HANDSHAKE, nid, True).connected is True
    assert t.checkpoint(rec, POST_HANDSHAKE, nid, True) == Checkpoint(None)


# -- event records --------------------------------------------------------------------------------
def admin_entry(node_id: bytes, inbound: bool) -> dict:
    caps = (bp.Capability("test", 1),)
    hello = bp.Hello(5, "remote/v1", caps, 30305, node_id)
    rows = OffsetTable(match_capabilities([LocalProtocol("test", 1, 8)], caps))
    return peer_info(hello, rows, inbound, ("10.0.0.1", 30303), ("10.0.0.2", 40000), False, False)


def test_added_event_is_built_from_the_admin_peers_entry():
    t = table()
    nid = new_id()
    rec = t.new("a", True)
    t.checkpoint(rec, POST_HANDSHAKE, nid, True)
    t.checkpoint(rec, ADD_PEER, nid, True, matched=1, info=admin_entry(nid, True))
    assert added_event(rec) == PeerAdded(nid.hex(), "remote/v1", ["test/1"], True, "10.0.0.2:40000",
                                         [{"name": "test", "version": 1, "offset": 16, "length": 8}],
                                         f"enode://{nid.hex()}@10.0.0.2:30305")
    assert added_event(rec).KIND == "peer_added"


def test_ended_event_of_an_added_peer_is_peer_removed():
    t = table()
    nid = new_id()
    rec = add(t, nid, False)
    assert ended_event(rec, DiscReason.READ_TIMEOUT, False, "read timeout: nothing for 30.0 s", "running",
                       "timeout") == PeerRemoved(nid.hex(), "READ_TIMEOUT", 0x0B, False,
                                                 "read timeout: nothing for 30.0 s", "timeout", False)


def test_ended_event_of_a_dial_not_added_is_dial_failed_with_its_address():
    t = table()
    dial_id = new_id()
    rec = t.new("d", False, dial_id=dial_id, remote=("10.0.0.9", 30303))
    assert ended_event(rec, DiscReason.NETWORK_ERROR, False, "connect: Connection refused", "connect",
                       "refused") == DialFailed(dial_id.hex(), "10.0.0.9:30303", "NETWORK_ERROR", 1, False,
                                                "connect: Connection refused", "connect", "refused")


def test_ended_event_of_a_dial_rejected_at_a_checkpoint_is_dial_failed_at_checkpoint():
    t = table(max_peers=0)
    dial_id = new_id()
    rec = t.new("d", False, dial_id=dial_id, remote=("10.0.0.9", 30303))
    outcome = t.checkpoint(rec, POST_HANDSHAKE, dial_id, False)
    event = ended_event(rec, outcome.reason, False, "rejected by this node: TOO_MANY_PEERS", "checkpoint", "rejected")
    assert event == DialFailed(dial_id.hex(), "10.0.0.9:30303", "TOO_MANY_PEERS", 4, False,
                               "rejected by this node: TOO_MANY_PEERS", "checkpoint", "rejected")


def test_ended_event_of_an_inbound_connection_with_a_known_identity_is_peer_rejected():
    t = table()
    rec = t.new("i", True, conn_id="c1")
    t.checkpoint(rec, POST_HANDSHAKE, LOCAL, True)  # SELF: rejected, yet its identity is known
    assert ended_event(rec, DiscReason.SELF, False, "rejected by this node: SELF", "checkpoint", "rejected") == \
        PeerRejected(LOCAL.hex(), "SELF", 0x0A, False, "rejected by this node: SELF", "checkpoint", "rejected", True)


def test_ended_event_of_an_inbound_connection_without_identity_is_none():
    t = table()
    rec = t.new("i", True, conn_id="c1")
    assert ended_event(rec, DiscReason.PROTOCOL_ERROR, False, "HandshakeError: bad auth", "handshake",
                       "protocol_error") is None


def test_event_records_leave_out_only_none_fields():
    rec = PeerRemoved("ab", "QUITTING", 8, True, "", "remote_disconnect", True)
    assert rec.as_data() == {"peer_id": "ab", "reason": "QUITTING", "reason_code": 8, "remote_requested": True,
                             "error": "", "cause": "remote_disconnect", "inbound": True}
