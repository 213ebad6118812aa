"""Liveness: pings keep a quiet connection alive past the idle timeout; a peer that goes silent
is dropped (handshake timeout for a bare TCP client, READ_TIMEOUT for an RLPx peer)."""

from __future__ import annotations

import socket
import time

from support.nodes import FAST, LOOPBACK, RawPeer
from config.model import Timeouts
from rlpx.connection import DisconnectReceived, HelloReceived
from rlpx.disc import DiscReason
from rlpx.enode import parse_enode

QUICK = Timeouts(**{**FAST.__dict__, "idle_s": 1.5, "ping_interval_s": 0.5, "handshake_s": 1.0})


def test_pings_keep_idle_connection_alive(nodes):
    """No subprotocol traffic at all for ~4 s (> 2 x idle_s): the Ping/Pong exchange alone
    keeps both ends from timing out."""
    a = nodes.start("alpha", timeouts=QUICK)
    b = nodes.start("beta", timeouts=QUICK)
    nodes.connect(a, b)
    nodes.expect("peer_added", node="alpha")
    nodes.expect("peer_added", node="beta")
    # a bounded wait for an event that must not come
    nodes.expect_none("peer_removed", 4.0)
    assert [p["name"] for p in nodes.peers(a)] == ["beta"]
    assert [p["name"] for p in nodes.peers(b)] == ["alpha"]


def test_silent_tcp_client_dropped_at_handshake_timeout(nodes):
    """A TCP client that connects and sends nothing is closed after handshake_s (1 s), and its
    accept slot is freed: with max_pending_peers=1 a real node can connect afterwards."""
    a = nodes.start("alpha", timeouts=QUICK, max_pending_peers=1)
    host, port = parse_enode(a.enode).address
    assert host == LOOPBACK
    with socket.create_connection((host, port), timeout=5) as s:
        t0 = time.monotonic()
        s.settimeout(6.0)
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            data = b""
        elapsed = time.monotonic() - t0
    assert data == b"", f"the node sent {len(data)} bytes to a client that never sent auth"
    assert 0.8 <= elapsed <= 4.0, f"closed after {elapsed:.2f} s, handshake_s is 1 s"
    b = nodes.start("beta", timeouts=QUICK)
    nodes.connect(b, a)
    ev = nodes.expect("peer_added", node="alpha", peer_id=b.id_hex)[0].data
    assert ev["inbound"] is True


def test_silent_rlpx_peer_dropped_with_read_timeout(nodes):
    """Two raw RLPx peers complete the handshake and Hello; one answers Pings, the other goes
    silent.  The silent one reads Disconnect(READ_TIMEOUT) about idle_s (1.5 s) after its last
    byte, having been pinged; the answering one stays connected."""
    a = nodes.start("alpha", timeouts=QUICK)
    with RawPeer(a.enode, client_id="silent") as silent, RawPeer(a.enode, client_id="talker") as talker:
        for raw in (silent, talker):
            assert isinstance(raw.handshake(), HelloReceived)
        last_sent = time.monotonic()
        nodes.expect("peer_added", node="alpha", count=2)
        reason = None
        deadline = time.monotonic() + 6.0
        while time.monotonic() < deadline and reason is None:
            for ev in silent.read(time.monotonic() + 0.05):
                if isinstance(ev, DisconnectReceived):
                    reason = ev.reason
            silent.discard_out()  # never answer
            for ev in talker.read(time.monotonic() + 0.05):
                assert not isinstance(ev, DisconnectReceived), f"talker dropped: {ev}"
            talker.flush()  # Pongs
        elapsed = time.monotonic() - last_sent
        assert reason == DiscReason.READ_TIMEOUT, reason
        assert 1.2 <= elapsed <= 4.0, f"dropped after {elapsed:.2f} s of silence, idle_s is 1.5 s"
        assert silent.pings >= 1, "the node never pinged the silent peer"
        assert silent.wait_eof(3.0)
        ev = nodes.expect("peer_removed", node="alpha", peer_id=silent.id_hex)[0].data
        assert ev["reason"] == "READ_TIMEOUT" and ev["remote_requested"] is False, ev
        # the talker is still there, well past idle_s since its own last non-Pong byte
        assert talker.pings >= 2 and not talker.eof
        assert [p["name"] for p in nodes.peers(a)] == ["talker"]
