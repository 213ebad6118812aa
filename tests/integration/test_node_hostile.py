"""Hostile peers against a real node: per-message read and write deadlines, a flood of
silent connections, a bad auth."""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import replace

import pytest

from support.nodes import FAST, RawPeer, sender, wait_until
from support.system import tree_pids
from rlpx.connection import HelloReceived
from rlpx.enode import parse_enode
from rlpx.handshake import Initiator
from rlpx.keys import generate_private_key


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


# -- handshakes before forks ----------------------------------------------

FLOOD = 1000
"""Silent TCP connections opened against the node."""

BATCH, BATCH_EVERY_S = 50, 0.5
"""The flood's pace: 100 connections/s."""


def test_flood_of_silent_connections_neither_locks_out_a_real_peer_nor_forks(nodes):
    """1,000 connections that send nothing, opened in batches while a real RLPx peer connects:
    the peer gets its Hello within 2 s, and the node forks no process for the silent ones (the
    Listener reads every auth itself, closing the oldest silent connection when too many are
    read at once).  The failed handshakes show as rate-limited handshake_failed events."""
    a = nodes.start("alpha", max_peers=10)
    admin = nodes.admin_pid()
    baseline = len(tree_pids(admin))
    since = nodes.mark()
    opened: list[socket.socket] = []
    counts: list[int] = []
    done = threading.Event()

    def flood():
        give_up = time.monotonic() + 30
        while len(opened) < FLOOD and time.monotonic() < give_up:
            for _ in range(BATCH):
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", a.port))
                opened.append(s)
            counts.append(len(tree_pids(admin)))
            time.sleep(BATCH_EVERY_S)  # the flood's pace, not a synchronisation
        done.set()

    flooder = threading.Thread(target=flood, daemon=True)
    flooder.start()
    try:
        assert wait_until(lambda: len(opened) >= 4 * BATCH, 10.0)  # the slots are taken by now
        t0 = time.monotonic()
        with RawPeer(a.enode, client_id="real-peer") as raw:
            ev = raw.handshake(timeout_s=2.0)
            hello_after = time.monotonic() - t0
            assert isinstance(ev, HelloReceived), ev
            nodes.expect("peer_added", node="alpha", peer_id=raw.id_hex)
            assert done.wait(40), "the flood did not finish"
            counts.append(len(tree_pids(admin)))
    finally:
        done.wait(40)
        for s in opened:
            s.close()
    assert hello_after < 2.0, hello_after
    assert len(opened) == FLOOD
    # the real peer's Peer and its Protocol actor, nothing for the silent connections
    assert max(counts) <= baseline + 2, (baseline, counts)
    failed = nodes.events(since, kind="handshake_failed", node="alpha")
    assert failed, "no handshake_failed event"
    assert {e.data["stage"] for e in failed} == {"auth"}, failed[:3]
    assert {e.data["cause"] for e in failed} <= {"evicted", "timeout", "closed"}, failed[:3]
    assert sum(e.data["suppressed"] for e in failed) > 0  # far more than 10 per second failed


VALID_SILENT = 20
"""Connections that send a valid auth (a throwaway key) and then nothing."""


def test_fast_flood_and_valid_auths_gone_silent_do_not_lock_out_a_real_peer(nodes):
    """A set of connections that send a valid auth and go silent (each gets a Peer, which waits
    for a Hello), then 1,000 silent connections opened as fast as the client can (faster than the
    200/s at which the Listener once evicted).  A real peer that connects meanwhile gets its Hello
    within 2 s, and no process is forked for the silent ones."""
    a = nodes.start("alpha", max_peers=10)
    node_id = parse_enode(a.enode).node_id
    admin = nodes.admin_pid()
    baseline = len(tree_pids(admin))
    opened: list[socket.socket] = []
    done = threading.Event()

    def flood():
        try:
            for _ in range(VALID_SILENT):
                s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
                s.sendall(Initiator(generate_private_key(), node_id).auth)
                opened.append(s)
            give_up = time.monotonic() + 30
            while len(opened) < VALID_SILENT + FLOOD and time.monotonic() < give_up:
                try:  # blocking: the next one as soon as the node's accept queue has room
                    opened.append(socket.create_connection(("127.0.0.1", a.port), timeout=5))
                except OSError:
                    pass  # a SYN not answered in time: the queue stayed full
        finally:
            done.set()

    flooder = threading.Thread(target=flood, daemon=True)
    flooder.start()
    try:
        assert wait_until(lambda: len(opened) >= VALID_SILENT + 200, 10.0)  # the slots are taken by now
        t0 = time.monotonic()
        with RawPeer(a.enode, client_id="real-peer") as raw:
            ev = raw.handshake(timeout_s=2.0)
            hello_after = time.monotonic() - t0
            assert isinstance(ev, HelloReceived), ev
            nodes.expect("peer_added", node="alpha", peer_id=raw.id_hex)
            assert done.wait(40), "the flood did not finish"
            peak = len(tree_pids(admin))
    finally:
        done.wait(40)
        for s in opened:
            s.close()
    assert hello_after < 2.0, hello_after
    assert len(opened) == VALID_SILENT + FLOOD
    # at most a Peer for each valid auth, and the real peer's Peer and Protocol actor
    assert peak <= baseline + VALID_SILENT + 2, (baseline, peak)


def test_bad_auth_is_a_handshake_failed_event_and_no_process(nodes):
    a = nodes.start("alpha")
    admin = nodes.admin_pid()
    baseline = tree_pids(admin)  # may still hold the pid probe, which exits meanwhile
    with socket.create_connection(("127.0.0.1", a.port), timeout=5) as s:
        s.sendall(b"\x01\x00" + os.urandom(256))  # an EIP-8 size prefix, then no ECIES packet
        ev = nodes.expect("handshake_failed", node="alpha")[0].data
        s.settimeout(5)
        assert s.recv(10) == b""  # closed, no ack
    assert ev["stage"] == "auth" and ev["cause"] == "protocol_error", ev
    assert ev["remote_address"].startswith("127.0.0.1:") and ev["suppressed"] == 0, ev
    assert tree_pids(admin) <= baseline  # no process was started for it
