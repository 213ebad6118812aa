"""actors/server.py and the Spawner's link, outside any actor system: a connection is recorded
before its Peer exists, the request carries no config (and the inbound socket), what is meant
for a Peer that has not spoken yet waits on its record and goes out, in order, with its first
message, and the Spawner's answers (pid, failure, exit) reach the right record."""

from __future__ import annotations

import socket

import pytest

from actors.io import spawn_link
from actors.server import Server
from config.model import NodeConfig, RestartPolicy
from messages.peer import DisconnectPeer, PeerGone, PeerInfoRequest, PeerStartInbound, PeerStartOutbound
from messages.spawner import FromNewPeer, PeerExited, PeerSpawned, SpawnFailed, SpawnPeer
from node.admission import Admission
from node.children import Children
from node.peer_table import PeerTable
from rlpx.handshake import Secrets
from rlpx.keys import generate_private_key

CFG = NodeConfig("n", generate_private_key(), listen_port=0)


class _Recorder(Server):
    """A Server outside any actor system, with a real spawn link; ``send``, ``deliver``,
    ``_ended`` and ``_peer_died`` are recorded."""

    def __init__(self):  # noqa: D107 - deliberately not Server.__init__ (no Thespian context)
        self.sent, self.delivered, self.ended, self.died = [], [], [], []
        self.cfg = CFG
        self.table = PeerTable(Admission(b"\x01" * 64, 10, 10))
        self.children = Children({"spawner": RestartPolicy()})
        self.link, self.spawner_end = spawn_link.pair()

    @property
    def myAddress(self):  # noqa: N802 - Thespian's name
        return "server"

    def send(self, addr, msg):
        self.sent.append((addr, msg))

    def deliver(self, msg, sender):
        self.delivered.append((msg, sender))

    def _ended(self, rec, reason, remote, error, stage="", cause=""):
        self.ended.append((rec.key, reason, error))
        self.table.remove(rec)

    def _peer_died(self, rec, how):
        self.died.append((rec.key, how))


@pytest.fixture
def s():
    server = _Recorder()
    yield server
    for sock in (server.link, server.spawner_end):
        if sock is not None:
            sock.close()


def _requests(s):
    return spawn_link.receive(s.spawner_end)


def test_a_dial_is_recorded_at_once_and_asked_of_the_spawner_without_config(s):
    rec = s._new_peer(False, PeerStartOutbound(CFG, "server", "enode://x"), dial_id=b"\x02" * 64)
    assert rec.addr is None and s.table.by_key(rec.key) is rec
    [(req, fd)] = _requests(s)
    assert isinstance(req, SpawnPeer) and req.key == rec.key and fd is None
    assert req.start.config is None and req.start.enode == "enode://x"


def test_an_inbound_socket_rides_on_the_request(s):
    a, b = socket.socketpair()
    try:
        start = PeerStartInbound(CFG, "server", "c1", ("127.0.0.1", 1), fd=-1,
                                 secrets=Secrets(b"\x01" * 32, b"\x02" * 32, b"\x03" * 32, b"\x04" * 32, b"\x05" * 64))
        rec = s._new_peer(True, start, a.fileno(), conn_id="c1")
        [(req, fd)] = _requests(s)
        assert req.key == rec.key and req.start.conn_id == "c1" and fd is not None
        with socket.socket(fileno=fd) as copy:
            copy.sendall(b"x")
        assert b.recv(1) == b"x"
    finally:
        a.close()
        b.close()


def test_without_a_spawner_or_with_its_link_gone_no_record_is_left(s):
    s.spawner_end.close()
    s.spawner_end = None
    with pytest.raises(spawn_link.LinkClosed):
        s._new_peer(False, PeerStartOutbound(CFG, "server", "enode://x"))
    s.link.close()
    s.link = None
    with pytest.raises(RuntimeError):
        s._new_peer(False, PeerStartOutbound(CFG, "server", "enode://x"))
    assert len(s.table) == 0


def test_messages_for_a_silent_peer_wait_and_go_out_in_order_with_its_first_message(s):
    rec = s._new_peer(False, PeerStartOutbound(CFG, "server", "enode://x"))
    s._to_peer(rec, DisconnectPeer(4, "first"))
    s._to_peer(rec, PeerInfoRequest(9))
    assert s.sent == []
    gone = PeerGone(None, 8, False, "connect")
    s.on_FromNewPeer(FromNewPeer(rec.key, gone), "peer-1")
    assert rec.addr == "peer-1" and rec.outbox == []
    assert s.sent == [("peer-1", DisconnectPeer(4, "first")), ("peer-1", PeerInfoRequest(9))]
    assert s.delivered == [(gone, "peer-1")]
    s._to_peer(rec, DisconnectPeer(8))
    assert s.sent[-1] == ("peer-1", DisconnectPeer(8))


def test_a_first_message_for_an_ended_record_is_still_handled(s):
    s.on_FromNewPeer(FromNewPeer(99, "late"), "peer-9")
    assert s.delivered == [("late", "peer-9")] and s.sent == []


def test_the_spawners_answers_reach_their_records(s):
    r1 = s._new_peer(False, PeerStartOutbound(CFG, "server", "enode://a"))
    r2 = s._new_peer(False, PeerStartOutbound(CFG, "server", "enode://b"))
    r3 = s._new_peer(False, PeerStartOutbound(CFG, "server", "enode://c"))
    for m in (PeerSpawned(r1.key, 4242), SpawnFailed(r2.key, "fork: ENOMEM"), PeerExited(r3.key), PeerSpawned(77, 1)):
        spawn_link.send(s.spawner_end, m)
    s._link_readable()
    assert r1.pid == 4242
    assert [(k, e) for k, _, e in s.ended] == [(r2.key, "no Peer could be started: fork: ENOMEM")]
    assert s.died == [(r3.key, "exited")]


def test_the_link_closing_ends_only_the_records_without_a_peer(s):
    silent = s._new_peer(False, PeerStartOutbound(CFG, "server", "enode://a"))
    spoke = s._new_peer(False, PeerStartOutbound(CFG, "server", "enode://b"))
    s.table.bind(spoke, "peer-2")
    s.spawner_end.close()
    s.spawner_end = None
    s._link_readable()
    assert s.link is None
    assert [k for k, _, _ in s.ended] == [silent.key]
    assert s.table.by_key(spoke.key) is spoke  # its Peer dies with the Spawner and says so itself
