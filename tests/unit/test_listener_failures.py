"""The Listener's handshake_failed events without an actor system: the stages "ack" (the ack
cannot be written) and "handoff" (the Server's inbox cannot take the connection), and the count
held back by the rate limit at the end of a burst (node/inbound_handshakes.py ``RateLimit``)."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest

from actors.listener import Listener
from messages.events import HANDSHAKE_FAILED_PER_S, HandshakeFailed
from node.inbound_handshakes import HANDED_EVICT_AGE_S, InboundHandshakes, RateLimit
from rlpx.handshake import Initiator
from rlpx.keys import generate_private_key, node_id_from_private_key

KEY = generate_private_key()


@pytest.fixture
def listener(monkeypatch):
    lst = Listener()
    lst._myRef = SimpleNamespace(address="listener")
    lst.server = "server"
    lst.name = "alpha"
    lst.pending = InboundHandshakes(KEY, 50, 5.0)
    sent = []
    monkeypatch.setattr(lst, "send", lambda to, msg: sent.append(msg))
    lst.sent = sent
    yield lst
    lst.on_ActorExitRequest(None, None)


def _answered(lst: Listener, ours: socket.socket, conn_id: str = "c1"):
    lst.pending.accepted(conn_id, ("127.0.0.1", 4242), 0.0)
    lst.socks[conn_id] = ours
    auth = Initiator(generate_private_key(), node_id_from_private_key(KEY)).auth
    answered = lst.pending.received(conn_id, auth, 0.0)
    assert answered is not None
    return answered


def test_ack_that_cannot_be_written_is_handshake_failed_at_stage_ack(listener):
    ours, theirs = socket.socketpair()
    theirs.close()  # the remote is gone: the ack's write fails with EPIPE
    listener._hand_off(_answered(listener, ours), 0.0)
    [ev] = [m for m in listener.sent if isinstance(m, HandshakeFailed)]
    assert (ev.stage, ev.cause, ev.remote_address) == ("ack", "reset", "127.0.0.1:4242"), ev
    assert "c1" not in listener.pending and "c1" not in listener.socks and ours.fileno() == -1


def test_connection_the_server_cannot_take_is_handshake_failed_at_stage_handoff(listener):
    ours, theirs = socket.socketpair()
    listener.usock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.inbox = b"\0devp2p-test-no-such-inbox"  # no Server listens there
    try:
        listener._hand_off(_answered(listener, ours), 0.0)
        [ev] = [m for m in listener.sent if isinstance(m, HandshakeFailed)]
        assert (ev.stage, ev.cause) == ("handoff", "error"), ev
        assert "hand-off to the Server failed" in ev.error
        assert "c1" not in listener.pending and ours.fileno() == -1
        assert theirs.recv(4096)  # the ack was written before the hand-off failed
    finally:
        theirs.close()


def test_rate_limit_flushes_the_count_left_at_the_end_of_a_burst():
    r = RateLimit(per_s=2)
    assert [r.allow(t) for t in (0.0, 0.1, 0.2, 0.3)] == [(True, 0), (True, 0), (False, 0), (False, 0)]
    assert r.flush_due() == 1.0 and r.flush(0.99) == 0
    assert r.flush(1.0) == 2 and r.flush_due() is None and r.flush(5.0) == 0
    assert r.allow(1.1) == (True, 0)  # the flush was the new window's first event
    assert r.allow(1.2) == (False, 0)


def test_listener_publishes_the_last_failure_held_back_with_the_count_before_it(listener):
    for i in range(HANDSHAKE_FAILED_PER_S + 3):
        conn_id = f"c{i}"
        listener.pending.accepted(conn_id, ("127.0.0.1", 1000 + i), 0.0)
        listener._fail(conn_id, "auth", "timeout", "no complete auth within 5 s", 0.01 * i)
    events = [m for m in listener.sent if isinstance(m, HandshakeFailed)]
    assert len(events) == HANDSHAKE_FAILED_PER_S
    due = listener.timers.next_deadline()
    assert due == pytest.approx(1.0)
    listener.on_timer("failed_flush")  # the timer it set fires (at or after due: monotonic now)
    events = [m for m in listener.sent if isinstance(m, HandshakeFailed)]
    last = events[-1]
    assert len(events) == HANDSHAKE_FAILED_PER_S + 1
    assert last.remote_address == f"127.0.0.1:{1000 + HANDSHAKE_FAILED_PER_S + 2}" and last.suppressed == 2
    assert len(events) + sum(e.suppressed for e in events) == HANDSHAKE_FAILED_PER_S + 3  # every failure counted


def test_valid_auth_taking_a_handed_ones_slot_asks_the_server_to_drop_its_peer(listener):
    from messages.peer import EvictPending

    listener.pending = InboundHandshakes(KEY, 1, 5.0)
    listener.pending.accepted("old", ("127.0.0.1", 1), 0.0)
    assert listener.pending.received("old", Initiator(generate_private_key(), node_id_from_private_key(KEY)).auth,
                                     0.0) is not None  # handed on, its Peer waiting for a Hello
    ours, theirs = socket.socketpair()
    listener.usock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.inbox = b"\0devp2p-test-no-such-inbox"
    try:
        listener.pending.accepted("new", ("127.0.0.1", 2), 0.0)
        listener.socks["new"] = ours
        theirs.sendall(Initiator(generate_private_key(), node_id_from_private_key(KEY)).auth)
        listener._read("new", HANDED_EVICT_AGE_S)  # "old" had its slot that long without a Hello
        [ev] = [m for m in listener.sent if isinstance(m, EvictPending)]
        assert ev.conn_id == "old" and "not added before 1 newer ones" in ev.error and "old" not in listener.pending
    finally:
        theirs.close()
