"""The Server's plain parts without an actor system: fault targets (node/faults.py), the admin
operations (node/admin_ops.py), the questions answered when every peer has replied
(node/info_requests.py) and the end of a connection (node/peer_table.py ``PeerTable.end``)."""

from __future__ import annotations

import pytest

from messages.admission import ADD_PEER, POST_HANDSHAKE
from messages.events import DialFailed, PeerRemoved
from messages.supervision import InjectFault
from node.admin_ops import StaticAndTrusted
from node.admission import Admission
from node.faults import FaultError, plan_fault
from node.info_requests import InfoRequests
from node.peer_table import PeerTable
from rlpx.disc import DiscReason
from rlpx.keys import generate_private_key, node_id_from_private_key

LOCAL = node_id_from_private_key(generate_private_key())


def node_id() -> bytes:
    return node_id_from_private_key(generate_private_key())


def enode(nid: bytes, port: int = 30303) -> str:
    return f"enode://{nid.hex()}@127.0.0.1:{port}"


def table_with_peers(*ids) -> PeerTable:
    table = PeerTable(Admission(LOCAL, 10, 10))
    for i, nid in enumerate(ids):
        rec = table.new(f"peer-{i}", inbound=True, conn_id=f"c{i}")
        table.checkpoint(rec, POST_HANDSHAKE, nid, True)
        table.checkpoint(rec, ADD_PEER, nid, True, matched=1)
    return table


# -- faults ------------------------------------------------------------------------------
def test_fault_targets_resolve_to_a_slot_a_peer_or_its_protocol():
    a, b = bytes.fromhex("aa" * 64), bytes.fromhex("ab" * 64)
    table = table_with_peers(a, b)
    children = {"listener": "L", "dialer": None, "discovery": None, "http": "H"}
    assert plan_fault("listener", "kill", children, table).addr == "L"
    assert plan_fault("http", "exit", children, table).slot == "http"
    plan = plan_fault("peer:aa", "raise", children, table)
    assert (plan.slot, plan.addr, plan.fault) == (None, "peer-0", InjectFault("raise"))
    plan = plan_fault("protocol:ab:test", "kill", children, table)
    assert (plan.addr, plan.fault) == ("peer-1", InjectFault("kill", protocol="test"))


@pytest.mark.parametrize("target,mode,words", [
    ("listener", "explode", "unknown fault mode"),
    ("dialer", "kill", "no such target"),
    ("server", "kill", "bad target"),
    ("peer:", "kill", "bad target"),
    ("protocol:aa", "kill", "protocol:<peer id prefix>:<name>"),
    ("peer:a", "kill", "matches 2 peers"),
    ("peer:ff", "kill", "no such target"),
])
def test_bad_fault_targets_say_why(target, mode, words):
    table = table_with_peers(bytes.fromhex("aa" * 64), bytes.fromhex("ab" * 64))
    with pytest.raises(FaultError, match=words):
        plan_fault(target, mode, {"listener": "L", "dialer": None}, table)


# -- admin operations ---------------------------------------------------------------------
def test_admin_operations_change_the_static_and_trusted_sets():
    x, y = node_id(), node_id()
    book = StaticAndTrusted([enode(x)], set())
    out = book.apply("add_peer", enode(y))
    assert (out.error, out.to_dialer, out.disconnect) == ("", True, None)
    assert book.static_nodes == [enode(x), enode(y)]
    book.apply("add_peer", enode(y))
    assert book.static_nodes == [enode(x), enode(y)], "added once"
    out = book.apply("remove_peer", enode(x, port=1))  # by node id, whatever the address
    assert out.disconnect == x and out.to_dialer and book.static_nodes == [enode(y)]
    assert book.apply("add_trusted", enode(x)).to_dialer is False
    assert book.trusted == {x}
    book.apply("remove_trusted", enode(x))
    assert book.trusted == set()


def test_bad_admin_operations_are_refused_with_one_line():
    book = StaticAndTrusted()
    assert book.apply("add_peer", "enode://zz").error.startswith("invalid enode:")
    assert "unknown admin operation" in book.apply("befriend", enode(node_id())).error
    assert book.static_nodes == [] and book.trusted == set()


# -- info requests ------------------------------------------------------------------------
def test_a_question_is_complete_when_every_key_answered_or_went_away():
    q = InfoRequests()
    first = q.new("asker", "peers", 7, {1, 2})
    second = q.new("asker", "metrics", 8, {2, "discovery"})
    assert first != second
    assert q.arrived(first, 1) is False
    assert q.gone(2) == [first]
    assert q.arrived(second, "discovery") is True
    req = q.close(first)
    assert (req.asker, req.kind, req.tag) == ("asker", "peers", 7)
    assert q.close(first) is None, "closed once"
    assert q.arrived(first, 1) is False, "a late answer to a closed question is ignored"
    assert q.complete(q.new("asker", "peers", 0, set()))


# -- the end of a connection --------------------------------------------------------------
def test_the_end_of_a_peer_a_dial_and_an_anonymous_inbound_connection():
    nid = node_id()
    table = table_with_peers(nid)
    [rec] = table.added()
    ended = table.end(rec, DiscReason.QUITTING, True, "remote sent Disconnect(QUITTING)", "running",
                      "remote_disconnect")
    assert ended.was_added and isinstance(ended.event, PeerRemoved) and ended.peer_down == nid
    assert (ended.free_slot, ended.dial_done) == (None, None)
    assert "peer removed" in ended.log and "remote requested" in ended.log
    assert len(table) == 0 and table.admission.add_peer(nid, True, 1) is None, "its admission slot is free"

    dialled = node_id()
    rec = table.new("peer-d", inbound=False, dial_id=dialled, remote=("127.0.0.1", 30303))
    ended = table.end(rec, DiscReason.NETWORK_ERROR, False, "connection refused", "connect", "refused")
    assert isinstance(ended.event, DialFailed) and ended.dial_done == (dialled, "connection refused")
    assert ended.peer_down is None and "dial failed at connect" in ended.log

    rec = table.new("peer-i", inbound=True, conn_id="c9")
    ended = table.end(rec, DiscReason.NETWORK_ERROR, False, "reset", "handshake", "reset")
    assert ended.event is None and ended.free_slot == "c9" and ended.dial_done is None
