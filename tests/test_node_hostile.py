"""Hostile peers against a real node (issue 18): per-message read and write deadlines."""

from __future__ import annotations

import os
import time
from dataclasses import replace

import pytest

from node_fixtures import FAST, RawPeer, nodes, sender  # noqa: F401 - fixture
from rlpx.connection import HelloReceived


def test_drip_fed_message_is_dropped_idle_s_after_its_first_byte(nodes):
    """A frame header announcing 1 MiB, then one byte every 0.5 s: the node drops the peer with
    NETWORK_ERROR once idle_s have passed since the frame's first byte (go-ethereum
    ``frameReadTimeout``), although it never went idle_s without a byte."""
    idle_s = 2.0
    a = nodes.start("alpha", timeouts=replace(FAST, idle_s=idle_s, ping_interval_s=1.0))
    with RawPeer(a.enode, client_id="drip") as raw:
        assert isinstance(raw.handshake(), HelloReceived)
        nodes.expect("peer_added", node="alpha", peer_id=raw.id_hex)
        wire = raw.conn.codec.frames.encode(b"\x10" + os.urandom(1 << 20))
        first = time.monotonic()
        raw.send_raw(wire[:33])  # the header and the first byte of the body
        pos, give_up = 33, first + 4 * idle_s
        while time.monotonic() < give_up and not raw.wait_eof(0.5):  # the drip's pace, not a sync
            try:
                raw.send_raw(wire[pos:pos + 1])
            except OSError:
                break  # the node has closed the connection
            pos += 1
        closed_after = time.monotonic() - first
        assert raw.wait_eof(5.0), "the drip-fed connection was not closed"
    ev = nodes.expect("peer_removed", node="alpha", peer_id=raw.id_hex)[0].data
    assert ev["reason"] == "NETWORK_ERROR" and ev["cause"] == "timeout", ev
    assert "of its first byte" in ev["error"], ev
    assert closed_after >= idle_s and pos - 33 >= 2, (closed_after, pos)


def _trickle(raw: RawPeer, nodes, peer_id: str, limit_s: float):
    """Read 64 KiB every 0.5 s (a window update each time, so the node's writes progress) until
    the node removes the peer or ``limit_s`` pass; return the peer_removed event or None."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        found = nodes.wait("peer_removed", node="alpha", peer_id=peer_id, timeout_s=0.5)
        if found.ok:
            return found.events[0]
        raw.sock.settimeout(0.5)
        try:
            if not raw.sock.recv(65536):
                break
        except OSError:
            break
    return nodes.expect("peer_removed", node="alpha", peer_id=peer_id, timeout_s=5)[0]


@pytest.mark.parametrize("reader", ["never", "trickle"])
def test_peer_that_does_not_read_is_dropped_write_s_after_the_message_was_queued(nodes, reader):
    """A peer completes Hello and then never reads, or reads a trickle, while the node sends:
    once the oldest message not fully written is write_s old, the node drops it with
    NETWORK_ERROR (go-ethereum ``frameWriteTimeout``), though bytes still trickle out."""
    write_s = 2.0
    a = nodes.start("alpha", protocols=[sender(1000, 1 << 20, window=32)],
                    timeouts=replace(FAST, write_s=write_s, idle_s=60.0, ping_interval_s=1.0))
    with RawPeer(a.enode, client_id=f"{reader}-reader") as raw:
        assert isinstance(raw.handshake(), HelloReceived)
        added = nodes.expect("peer_added", node="alpha", peer_id=raw.id_hex)[0]
        if reader == "never":
            removed = nodes.expect("peer_removed", node="alpha", peer_id=raw.id_hex, timeout_s=20)[0]
        else:
            removed = _trickle(raw, nodes, raw.id_hex, 20)
    ev = removed.data
    assert ev["reason"] == "NETWORK_ERROR" and ev["cause"] == "timeout", ev
    assert f"not written within {write_s:g} s of being queued" in ev["error"], ev
    # the stuck message was queued after the peer was added
    assert removed.time - added.time >= write_s, (added.time, removed.time)
