"""Bad input on a live connection drops only that peer, with the right Disconnect reason, while
another peer's echo stream through the same node goes on without loss."""

from __future__ import annotations

import os

import pytest
import rlp

from support.nodes import RawPeer, echo, sender
from rlpx.connection import DisconnectReceived, HelloReceived
from rlpx.disc import DiscReason

STREAM = 10000
"""Echoed messages on the concurrent node-to-node stream (~1.5-2 s here)."""


def _snappy_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _garbage(raw: RawPeer) -> bytes:
    return os.urandom(256)  # not a frame: the header MAC cannot verify


def _bad_mac(raw: RawPeer) -> bytes:
    frame = bytearray(raw.conn.codec.encode(16, b"a valid test/1 message"))
    frame[-1] ^= 0x01  # last byte of the frame MAC
    return bytes(frame)


def _unknown_code(raw: RawPeer) -> bytes:
    # test/1 owns codes 16..23; 24 belongs to no protocol (and is not a base-protocol code)
    return raw.conn.codec.encode(24, b"nobody's message")


def _oversize(raw: RawPeer) -> bytes:
    # The frame itself is small, but its snappy payload declares 2**24 decoded bytes, above
    # the 2**24 - 1 limit (EIP-706); the 3-byte frame size cannot express a larger frame, so
    # this is how an oversize message reaches a node.
    payload = _snappy_varint(2**24) + b"\x00" * 32
    return raw.conn.codec.frames.encode(b"\x10" + payload)


def _nested_disconnect(raw: RawPeer) -> bytes:
    # A Disconnect whose reason is 1,000 nested lists: pyrlp recursed into a RecursionError (an
    # internal error, NETWORK_ERROR) before the decoders mapped it to a malformed message.
    item = b"\xc0"
    for _ in range(1000):
        item = rlp.codec.length_prefix(len(item), 0xC0) + item
    return raw.conn.codec.encode(0x01, item)


CASES = {"garbage": _garbage, "bad_mac": _bad_mac, "unknown_code": _unknown_code, "oversize": _oversize,
         "nested_disconnect": _nested_disconnect}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_drops_only_that_peer(nodes, case):
    a = nodes.start("alpha", protocols=[echo()])
    b = nodes.start("beta", protocols=[sender(STREAM, 100)])
    nodes.connect(b, a)
    nodes.expect("peer_added", node="alpha", peer_id=b.id_hex)

    with RawPeer(a.enode, client_id=f"bad-{case}") as raw:
        assert isinstance(raw.handshake(), HelloReceived)
        nodes.expect("peer_added", node="alpha", peer_id=raw.id_hex)
        raw.send_raw(CASES[case](raw))
        reason, _ = raw.read_until_disconnect(10.0)
        assert reason == DiscReason.PROTOCOL_ERROR, reason
        # the stream was still running when the bad peer was dropped
        assert nodes.events(kind="protocol_event", node="beta") == [], "stream ended too early to overlap"
        assert raw.wait_eof(5.0)

    ev = nodes.expect("peer_removed", node="alpha", peer_id=raw.id_hex)[0].data
    assert ev["reason"] == "PROTOCOL_ERROR" and ev["remote_requested"] is False, ev
    rep = nodes.report(b, a, timeout_s=60)
    assert rep["count"] == STREAM and rep["mismatches"] == 0, rep
    removed = nodes.events(kind="peer_removed")
    assert [e.data["peer_id"] for e in removed] == [raw.id_hex], removed


def test_oversize_hello_rejected(nodes):
    """A Hello above 2 KiB (go-ethereum baseProtocolMaxMsgSize) is a protocol error."""
    a = nodes.start("alpha")
    with RawPeer(a.enode, client_id="x" * 3000) as raw:
        ev = raw.handshake()  # the node's own Hello may come first
        reason = ev.reason if isinstance(ev, DisconnectReceived) else raw.read_until_disconnect(5.0)[0]
        assert reason == DiscReason.PROTOCOL_ERROR, ev
        assert raw.wait_eof(5.0)
    assert nodes.peers(a) == ()
