"""node/peer_machine.py without sockets or actors: the machine is driven with a fake clock
against an in-memory RLPx initiator (:class:`rlpx.connection.Connection`), and the "shell" is
this test, which moves bytes and reports what it wrote."""

from __future__ import annotations

from config.model import NodeConfig, ProtocolConfig, Timeouts
from messages.admission import ADD_PEER, POST_HANDSHAKE
from messages.protocol import WINDOW_BYTES, FromProtocol
from node.links import ProtocolSpec
from node.peer_machine import PeerMachine, Stage, ToServer
from protocols.registry import resolve
from rlpx import base_protocol as bp
from rlpx.caps import LocalProtocol
from rlpx.connection import Connection, HelloReceived
from rlpx.disc import DiscReason
from rlpx.keys import generate_private_key, node_id_from_private_key

TIMEOUTS = Timeouts(handshake_s=5.0, ping_interval_s=100.0, idle_s=2.0, write_s=3.0, disconnect_grace_s=0.5)
"""Pings far away so that only the deadlines under test fire."""

QUIET_REMOTE = Timeouts(handshake_s=5.0, ping_interval_s=100.0, idle_s=100.0, write_s=3.0, disconnect_grace_s=0.5)
"""For the write tests: the remote sends nothing, and its silence must not end the connection first."""

CODE = bp.BASE_PROTOCOL_LENGTH  # test/1's first message code on the wire


def machine(timeouts=TIMEOUTS) -> PeerMachine:
    pc = ProtocolConfig("test", 1, (("echo", True),))
    cfg = NodeConfig("local", generate_private_key(), protocols=(pc,), timeouts=timeouts, listen_port=30303)
    r = resolve(pc)
    return PeerMachine(cfg, [ProtocolSpec(r.name, r.version, r.length, r.cls, r.options)],
                       remote=("127.0.0.1", 40000))


def remote_for(m: PeerMachine) -> Connection:
    key = generate_private_key()
    hello = bp.Hello(bp.BASE_PROTOCOL_VERSION, "remote", (bp.Capability("test", 1),), 0,
                     node_id_from_private_key(key))
    return Connection(key, hello, [LocalProtocol("test", 1, 8)],
                      remote_node_id=node_id_from_private_key(m.cfg.private_key))


def take_out(m: PeerMachine, now: float, limit: int | None = None) -> bytes:
    """The shell's write: up to ``limit`` bytes of the machine's out-buffer, reported."""
    out = m.out
    n = len(out) if limit is None else min(limit, len(out))
    data = bytes(out[:n])
    del out[:n]
    m.wrote(n, now)
    return data


def running(now: float = 0.0, timeouts=TIMEOUTS) -> tuple[PeerMachine, Connection]:
    """An inbound machine and its remote, both through auth/ack and Hello, at ``now``."""
    m = machine(timeouts)
    m.connected(("127.0.0.1", 30303), now)
    r = remote_for(m)
    actions = m.received(bytes(r.out), now)
    r.out.clear()
    assert any(isinstance(a, ToServer) and a.message.stage == POST_HANDSHAKE for a in actions)
    r.feed(take_out(m, now))
    r.approve_post_handshake()
    m.checkpoint_reply(POST_HANDSHAKE, None, now)
    actions = m.received(bytes(r.out), now)
    r.out.clear()
    assert any(isinstance(a, ToServer) and a.message.stage == ADD_PEER for a in actions)
    m.checkpoint_reply(ADD_PEER, None, now)
    assert m.stage == Stage.RUNNING
    assert any(isinstance(ev, HelloReceived) for ev in r.feed(take_out(m, now)))
    r.approve_add_peer()
    return m, r


# -- per-message read deadline --------------------------------------------

def test_drip_fed_message_is_dropped_idle_s_after_its_first_byte():
    m, r = running(now=10.0)
    wire = r.codec.encode(CODE, bytes(100_000))
    m.received(wire[:33], 10.0)  # the header and one byte of the body
    assert m.deadlines["frame"] == 12.0
    t, pos = 10.0, 33
    while t + 0.25 < 12.0:  # one byte every 0.25 s: the idle deadline never passes
        t += 0.25
        assert m.on_time(t) == []
        m.received(wire[pos:pos + 1], t)
        pos += 1
        assert m.deadlines["frame"] == 12.0 and m.stage == Stage.RUNNING
    m.on_time(12.0)
    assert m.closing and m.reason == DiscReason.NETWORK_ERROR and m.cause == "timeout"
    assert "within 2 s of its first byte" in m.error
    assert not m.out  # NETWORK_ERROR: no Disconnect is sent


def test_each_frame_gets_its_own_read_deadline():
    m, r = running(now=0.0)
    a = r.codec.encode(CODE, b"a" * 5000)
    b = r.codec.encode(CODE + 1, b"b" * 5000)
    m.received(a[:100], 0.0)
    assert m.deadlines["frame"] == 2.0
    m.received(a[100:] + b[:100], 1.5)  # a completes, b begins
    assert m.deadlines["frame"] == 3.5
    assert m.on_time(2.0) == [] and m.stage == Stage.RUNNING
    m.received(b[100:], 3.0)
    assert "frame" not in m.deadlines and m.stage == Stage.RUNNING


def test_read_deadline_waits_while_we_do_not_read():
    m, r = running(now=0.0)
    m.received(r.codec.encode(CODE, bytes(5000))[:100], 0.0)
    m.eof_pending = ("closed", "closed")  # one of the reasons not to read (a checkpoint holds the input)
    assert not m.reading()
    assert m.on_time(2.0) == [] and m.deadlines["frame"] == 4.0


# -- per-message write deadline -------------------------------------------

def _queue(m: PeerMachine, seq: int, size: int, now: float) -> None:
    m.from_protocol("test", FromProtocol("test", seq, ((0, bytes(size)),)), now)


def test_write_deadline_counts_from_when_the_message_was_queued_not_from_progress():
    m, r = running(now=0.0, timeouts=QUIET_REMOTE)
    _queue(m, 1, 200_000, 1.0)
    take_out(m, 1.0, 1000)
    assert m.deadlines["write"] == 4.0
    t = 1.0
    while t + 0.5 < 4.0:  # bytes trickle out
        t += 0.5
        assert m.on_time(t) == []
        take_out(m, t, 1000)
        assert m.deadlines["write"] == 4.0 and m.stage == Stage.RUNNING
    m.on_time(4.0)
    assert m.closing and m.reason == DiscReason.NETWORK_ERROR and m.cause == "timeout"
    assert "not written within 3 s of being queued" in m.error
    assert not m.out  # what was not written is dropped; no Disconnect


def test_write_deadline_moves_to_the_next_message_once_the_oldest_is_written():
    m, r = running(now=0.0, timeouts=QUIET_REMOTE)
    _queue(m, 1, 10_000, 1.0)
    take_out(m, 1.0, 100)
    _queue(m, 2, 10_000, 2.0)
    take_out(m, 2.0, 0)
    assert m.deadlines["write"] == 4.0
    first_end = m.written + len(m.out) - len(r.codec.encode(CODE, bytes(10_000)))  # end of message 1
    take_out(m, 3.5, first_end - m.written)  # message 1 is complete, message 2 is not
    assert m.deadlines["write"] == 5.0
    assert m.on_time(4.0) == [] and m.stage == Stage.RUNNING
    take_out(m, 4.5)
    assert "write" not in m.deadlines and m.stage == Stage.RUNNING


# -- resuming after the Listener's auth/ack -------------------------------

def test_machine_resumes_at_checkpoint_1_from_the_listeners_handshake():
    from node.inbound_handshakes import InboundHandshakes

    m = machine()
    r = remote_for(m)
    pending = InboundHandshakes(m.cfg.private_key, 50, 5.0)
    pending.accepted("c", ("127.0.0.1", 40000), 0.0)
    answered = pending.received("c", bytes(r.out), 0.0)
    r.out.clear()
    actions = m.handshake_done(("127.0.0.1", 30303), answered.secrets, b"", answered.ack[10:], 0.0)
    assert [a.message.stage for a in actions if isinstance(a, ToServer)] == [POST_HANDSHAKE]
    assert m.stage == Stage.POST_HANDSHAKE and m.remote_node_id == r.local_hello.node_id
    assert m.conn.decode_budget == WINDOW_BYTES  # bounded decoding, as for a connection made here
    assert m.deadlines["write"] == TIMEOUTS.write_s  # the ack's tail is queued
    r.feed(answered.ack[:10])
    r.feed(take_out(m, 0.0))  # the rest of the ack: the remote's handshake completes
    r.approve_post_handshake()
    m.checkpoint_reply(POST_HANDSHAKE, None, 0.1)
    m.received(bytes(r.out), 0.1)
    r.out.clear()
    m.checkpoint_reply(ADD_PEER, None, 0.1)
    assert m.stage == Stage.RUNNING
    assert any(isinstance(ev, HelloReceived) for ev in r.feed(take_out(m, 0.1)))
