"""Unit tests for :mod:`actors.io.channel` over plain local sockets (no actor system, one process).

Covered:
- round trip of the typed Peer <-> Protocol messages and plain objects, in order, in both
  directions, with several messages decoded by one ``receive()``;
- a message whose length prefix and body arrive split across reads (raw bytes fed by hand);
- a message larger than the socket buffer: ``send()`` returns with bytes ``pending`` and
  alternating ``receive()`` / ``flush()`` delivers it intact;
- end of stream: messages sent before a close arrive before ``eof``; ``send()`` and ``flush()``
  towards a closed peer raise ``ChannelClosed``; ``close()`` is idempotent, ``fileno()`` is -1
  and ``send()`` raises ``ChannelClosed`` afterwards;
- ``Channel.adopt(fd)`` on the child's end made by ``Channel.pair()``.
"""

import os
import pickle
import select
import time

import pytest

from actors.io.channel import LENGTH_BYTES, Channel, ChannelClosed
from messages.protocol import FromProtocol, OutboundCredit, ProtocolStop, ToProtocol

TIMEOUT = 5.0
"""Seconds to wait for a local socket to become readable."""


@pytest.fixture
def pair():
    """Two connected Channels (the Peer's end and the Protocol's end)."""
    ours, child = Channel.pair()
    theirs = Channel(child)
    yield ours, theirs
    ours.close()
    theirs.close()


def wait_readable(sock, timeout=TIMEOUT):
    readable, _, _ = select.select([sock], [], [], timeout)
    assert readable, "socket did not become readable in time"


def receive_until_eof(ch, max_calls=100):
    """All messages ``ch`` receives up to end of stream (bounded)."""
    got = []
    for _ in range(max_calls):
        wait_readable(ch.sock)
        msgs, eof = ch.receive()
        got += msgs
        if eof:
            return got
    pytest.fail("no end of stream after %d receive() calls" % max_calls)


def frame(msg) -> bytes:
    data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(LENGTH_BYTES, "big") + data


def test_round_trip_typed_and_plain_messages_in_order(pair):
    ours, theirs = pair
    down = [
        ToProtocol(seq=1, messages=((0, b"\x01\x02"), (3, b"")), credit=0),
        OutboundCredit(seq=1),
        ToProtocol(seq=2, messages=((1, b"x" * 1000),), credit=1),
        ProtocolStop(reason=8, remote_requested=True),
        {"plain": [1, 2, 3]},
        None,
    ]
    up = [FromProtocol(name="eth", seq=1, messages=((2, b"hi"),), ack=2), ("tuple", 42), b"raw"]
    for msg in down:
        ours.send(msg)
    for msg in up:
        theirs.send(msg)
    assert ours.pending == 0 and theirs.pending == 0

    wait_readable(theirs.sock)
    assert theirs.receive() == (down, False)  # all of them from one receive()
    wait_readable(ours.sock)
    assert ours.receive() == (up, False)
    assert theirs.receive() == ([], False)  # nothing left over


def test_message_split_across_reads(pair):
    ours, theirs = pair
    raw = theirs.sock  # write raw bytes as the other end
    first, second = frame(OutboundCredit(seq=7)), frame(ProtocolStop(reason=4))
    pieces = [
        first[:2],  # half the length prefix
        first[2:LENGTH_BYTES + 3],  # rest of the prefix, start of the body
        first[LENGTH_BYTES + 3:] + second[:LENGTH_BYTES + 1],  # end of first, start of second
        second[LENGTH_BYTES + 1:],
    ]
    expected = [[], [], [OutboundCredit(seq=7)], [ProtocolStop(reason=4)]]
    for piece, want in zip(pieces, expected):
        raw.sendall(piece)
        wait_readable(ours.sock)
        assert ours.receive() == (want, False)


def test_message_larger_than_socket_buffer(pair):
    ours, theirs = pair
    payload = os.urandom(8 << 20)
    msg = ToProtocol(seq=1, messages=((0, payload),))
    assert ours.sock.getblocking() is False  # else the send below would hang, not fail
    start = time.monotonic()
    ours.send(msg)  # must not block although the socket buffer is far smaller
    assert time.monotonic() - start < TIMEOUT
    assert ours.pending > 0

    got = []
    deadline = time.monotonic() + 60
    for _ in range(10_000):
        if got or time.monotonic() > deadline:
            break
        wait_readable(theirs.sock)
        msgs, eof = theirs.receive()
        assert not eof
        got += msgs
        ours.flush()
    assert got == [msg]
    assert got[0].messages[0][1] == payload
    assert ours.pending == 0


def test_eof_after_messages_sent_before_close(pair):
    ours, theirs = pair
    sent = [OutboundCredit(seq=1), ProtocolStop(reason=0)]
    for msg in sent:
        ours.send(msg)
    ours.close()
    assert receive_until_eof(theirs) == sent


def test_send_to_closed_peer_raises(pair):
    ours, theirs = pair
    theirs.close()
    with pytest.raises(ChannelClosed):
        for i in range(100):  # EPIPE may take a few writes
            ours.send(OutboundCredit(seq=i))
    assert ours.pending == 0


def test_flush_to_closed_peer_raises(pair):
    ours, theirs = pair
    ours.send(b"x" * (8 << 20))
    assert ours.pending > 0
    theirs.close()
    with pytest.raises(ChannelClosed):
        for _ in range(100):
            ours.flush()
    assert ours.pending == 0


def test_close_is_idempotent_and_final(pair):
    ours, theirs = pair
    assert ours.fileno() == ours.sock.fileno() >= 0
    ours.close()
    ours.close()
    assert ours.closed
    assert ours.fileno() == -1
    assert ours.flush() == 0
    with pytest.raises(ChannelClosed):
        ours.send(OutboundCredit(seq=1))
    assert receive_until_eof(theirs) == []


def test_adopt_child_end_by_fd():
    ours, child = Channel.pair()
    fd = child.detach()
    theirs = Channel.adopt(fd)
    try:
        assert theirs.fileno() == fd
        assert theirs.sock.getblocking() is False

        ours.send(ToProtocol(seq=1, messages=((0, b"ping"),)))
        wait_readable(theirs.sock)
        assert theirs.receive() == ([ToProtocol(seq=1, messages=((0, b"ping"),))], False)

        theirs.send(FromProtocol(name="p2p", seq=1, messages=((0, b"pong"),), ack=1))
        theirs.close()
        assert receive_until_eof(ours) == [FromProtocol(name="p2p", seq=1, messages=((0, b"pong"),), ack=1)]
    finally:
        ours.close()
        theirs.close()
