"""rlpx.connection.Connection in memory: two Connections pumping bytes to each other, no sockets,
no actors.  Checkpoints, bytes held while a checkpoint is pending, Disconnect before Hello,
protocol errors and the identity check."""

from __future__ import annotations

import pytest

from rlpx import base_protocol as bp
from rlpx.caps import LocalProtocol
from rlpx.connection import (CHECKPOINT1, CHECKPOINT2, CLOSED, HANDSHAKE, HELLO, RUNNING, Connection,
                             ConnectionFailure, DisconnectReceived, HandshakeDone, HelloReceived, Messages,
                             PingReceived)
from rlpx.disc import DiscReason
from rlpx.keys import generate_private_key, node_id_from_private_key

from support.rlpx_pair import PROTOS, Pair, hello


def test_full_exchange_with_both_checkpoints():
    p = Pair()
    assert p.a.state == HANDSHAKE and p.a.out  # the auth is ready to go
    assert p.a_to_b() == [HandshakeDone(p.id_a)]
    assert p.b.state == CHECKPOINT1 and p.b.remote_node_id == p.id_a
    assert p.b_to_a() == [HandshakeDone(p.id_b)]
    assert p.a.state == CHECKPOINT1
    # nothing but the ack before the owner approves checkpoint 1: no Hello yet
    assert not p.a.out and not p.b.out

    assert p.a.approve_post_handshake() == []
    assert p.a.state == HELLO and p.a.out  # our Hello
    # b is still at checkpoint 1: a's Hello is held, unread
    assert p.a_to_b() == [] and p.b.state == CHECKPOINT1
    events = p.b.approve_post_handshake()  # b approves: its Hello goes out, the held one is read
    assert len(events) == 1 and isinstance(events[0], HelloReceived)
    assert events[0].hello == p.hello_a
    assert p.b.state == CHECKPOINT2

    [ev] = p.b_to_a()
    assert isinstance(ev, HelloReceived) and ev.hello == p.hello_b and p.a.state == CHECKPOINT2
    # offsets: names sorted, from 16
    assert [(r.name, r.offset, r.length) for r in ev.table.rows] == [("aaa", 16, 3), ("test", 19, 8)]
    assert p.a.codec.snappy and p.b.codec.snappy  # both speak p2p v5

    assert p.a.approve_add_peer() == [] and p.a.state == RUNNING
    p.a.send(19 + 2, b"early")  # test/1 code 2, sent while b is still at checkpoint 2
    p.a.send(16, b"aaa code 0")
    assert p.a_to_b() == [] and p.b.state == CHECKPOINT2  # held as messages
    assert p.b.approve_add_peer() == [Messages({"test": [(2, b"early")], "aaa": [(0, b"aaa code 0")]})]

    # running: relative codes, wire order, grouped per protocol in one event
    p.b.send(19 + 7, b"last test code")
    p.b.send(16 + 2, b"last aaa code")
    p.b.send(19, b"x" * 100000)
    assert p.b_to_a() == [Messages({"test": [(7, b"last test code"), (0, b"x" * 100000)],
                                    "aaa": [(2, b"last aaa code")]})]


def test_ping_pong():
    p = Pair()
    p.running()
    p.a.send_ping()
    assert p.a_to_b() == [PingReceived()]
    assert p.b.out  # the Pong, queued by the Connection itself
    assert p.b_to_a() == []  # Pong is consumed silently


def test_ack_and_hello_in_one_read_are_held_until_approval():
    """The recipient may approve before the initiator has the ack: ack + Hello arrive together;
    the Hello stays held while the initiator is at checkpoint 1."""
    p = Pair()
    assert p.a_to_b() == [HandshakeDone(p.id_a)]
    assert p.b.approve_post_handshake() == []  # b sends ack and Hello at once
    assert p.b_to_a() == [HandshakeDone(p.id_b)]
    assert p.a.state == CHECKPOINT1
    events = p.a.approve_post_handshake()
    assert len(events) == 1 and isinstance(events[0], HelloReceived) and events[0].hello == p.hello_b


def test_disconnect_before_hello():
    """b rejects a at checkpoint 1 (e.g. too many peers): a gets Disconnect instead of a Hello."""
    p = Pair()
    p.handshake()
    assert p.a.approve_post_handshake() == []
    assert p.b.disconnect(DiscReason.TOO_MANY_PEERS) is True
    assert p.b.state == CLOSED
    assert p.b.disconnect(DiscReason.TOO_MANY_PEERS) is False  # only once
    assert p.b_to_a() == [DisconnectReceived(DiscReason.TOO_MANY_PEERS)]
    assert p.a.state == CLOSED
    assert p.a.disconnect(DiscReason.QUITTING) is False  # never answer a Disconnect with one
    assert p.b_to_a() == [] and p.a.feed(b"anything") == []  # closed: input ignored


def test_disconnect_held_at_checkpoint1_is_read_after_approval():
    p = Pair()
    p.handshake()
    p.b.disconnect(DiscReason.ALREADY_CONNECTED)
    assert p.b_to_a() == [] and p.a.state == CHECKPOINT1  # held
    assert p.a.approve_post_handshake() == [DisconnectReceived(DiscReason.ALREADY_CONNECTED)]


def test_disconnect_held_at_checkpoint2_is_read_after_approval():
    """b finds a useless after the Hellos: a, still at checkpoint 2, reads it after approving."""
    p = Pair()
    p.handshake()
    p.a.approve_post_handshake()
    p.b.approve_post_handshake()
    p.a_to_b()
    p.b.disconnect(DiscReason.USELESS_PEER)
    [hello_ev] = p.b_to_a()
    assert isinstance(hello_ev, HelloReceived) and p.a.state == CHECKPOINT2
    assert p.a.approve_add_peer() == [DisconnectReceived(DiscReason.USELESS_PEER)]


def test_unknown_code_is_protocol_error_and_disconnect_can_still_be_sent():
    p = Pair()
    p.running()
    p.a.send(19 + 8, b"beyond test/1")  # code 27: owned by no protocol
    with pytest.raises(ConnectionFailure) as err:
        p.a_to_b()
    assert err.value.reason == DiscReason.PROTOCOL_ERROR
    assert p.b.state == CLOSED
    # the failure's reason is meant to be sent: egress still works after an ingress error
    assert p.b.disconnect(err.value.reason) is True
    assert p.b_to_a() == [DisconnectReceived(DiscReason.PROTOCOL_ERROR)]


def test_messages_before_the_bad_one_are_delivered():
    p = Pair()
    p.running()
    p.a.send(19, b"good")
    p.a.send(200, b"bad")
    with pytest.raises(ConnectionFailure) as err:
        p.a_to_b()
    assert err.value.events == [Messages({"test": [(0, b"good")]})]


def test_bad_mac_is_protocol_error():
    p = Pair()
    p.running()
    p.a.send(19, b"payload")
    data = bytearray(p.a.out)
    p.a.out.clear()
    data[-1] ^= 0x80
    with pytest.raises(ConnectionFailure) as err:
        p.b.feed(bytes(data))
    assert err.value.reason == DiscReason.PROTOCOL_ERROR


def test_message_other_than_hello_first_is_protocol_error():
    p = Pair()
    p.handshake()
    p.b.approve_post_handshake()
    p.a.state = HELLO  # a skips its Hello and sends a subprotocol message right away
    p.a.out += p.a.codec.encode(19, b"too early")
    with pytest.raises(ConnectionFailure) as err:
        p.a_to_b()
    assert err.value.reason == DiscReason.PROTOCOL_ERROR


def test_hello_identity_mismatch():
    """a's Hello claims another node id than the key a authenticated with in the handshake."""
    other = node_id_from_private_key(generate_private_key())
    p = Pair(a_hello_id=other)
    p.handshake()
    p.a.approve_post_handshake()
    p.a_to_b()  # held at b's checkpoint 1
    with pytest.raises(ConnectionFailure) as err:
        p.b.approve_post_handshake()
    assert err.value.reason == DiscReason.UNEXPECTED_IDENTITY
    assert p.b.state == CLOSED
    assert p.b.disconnect(err.value.reason) is True
    events = p.b_to_a()  # b's Hello went out before the check, then its Disconnect
    assert isinstance(events[0], HelloReceived)
    assert p.a.approve_add_peer() == [DisconnectReceived(DiscReason.UNEXPECTED_IDENTITY)]


def test_oversize_hello_is_protocol_error():
    p = Pair()
    p.a.local_hello = bp.Hello(5, "x" * 3000, p.hello_a.capabilities, 0, p.id_a)
    p.handshake()
    p.a.approve_post_handshake()
    p.b.approve_post_handshake()
    with pytest.raises(ConnectionFailure) as err:
        p.a_to_b()
    assert err.value.reason == DiscReason.PROTOCOL_ERROR


def test_garbage_during_handshake_fails_without_disconnect():
    """Before the handshake completes there is no encryption: nothing can be sent."""
    p = Pair()
    p.a.out.clear()
    with pytest.raises(ConnectionFailure) as err:
        p.b.feed(b"\x01\x02" + bytes(600))
    assert err.value.reason is None
    assert p.b.disconnect(DiscReason.PROTOCOL_ERROR) is False and not p.b.out


def test_no_shared_capability_gives_an_empty_table():
    p = Pair(a_protos=[LocalProtocol("aaa", 1, 3)], b_protos=[LocalProtocol("bbb", 1, 3)])
    p.handshake()
    p.a.approve_post_handshake()
    [ev] = p.b.approve_post_handshake() or p.a_to_b()
    assert isinstance(ev, HelloReceived) and ev.table.rows == ()
