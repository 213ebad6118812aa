"""Peers that try to make the node hold memory (docs/architecture.md
"Memory per peer"): a peer that sends requests and never reads costs a bounded amount and is
dropped at the write deadline, while a well-behaved peer's traffic goes on."""

from __future__ import annotations

import socket
import threading
import time

from config.model import Timeouts
from rlpx.disc import DiscReason
from support.memory import memory_of
from support.nodes import FAST, RawPeer, echo, sender

MIB = 1 << 20

BOUND_MIB = 36
"""docs/architecture.md "Memory per peer": out-buffer 8 + batches in flight 16 + the Protocol
actor's queue 4 + the inbound window of 8 reads of 1 MiB."""

OVERHEAD_MIB = 40
"""A peer's two processes (Peer and Protocol actor, ~11 MiB PSS: docs/performance.md) plus what
the allocators keep of the copies of 64 KiB payloads (decompression, pickling between actors).
Eight runs measured 51-64 MiB per peer in all; 60 failed one CI run (docs/architecture.md)."""

WRITE_S = 4.0


def _push_until_blocked(raw: RawPeer, size: int, stop: threading.Event, result: dict) -> None:
    """Send test/1 echo requests of ``size`` bytes, never reading, until the node stops taking them."""
    payload = bytes(size)
    raw.sock.settimeout(1.0)
    sent = 0
    try:
        while not stop.is_set():
            raw.conn.send(16, payload)  # test/1 code 0 at offset 16
            raw.sock.sendall(bytes(raw.conn.out))
            raw.conn.out.clear()
            sent += size
    except (socket.timeout, OSError) as exc:
        result["stopped_by"] = type(exc).__name__
    result["sent"] = sent


def test_peers_that_do_not_read_are_bounded_and_dropped(nodes):
    t = Timeouts(**{**FAST.__dict__, "write_s": WRITE_S, "idle_s": 60.0, "ping_interval_s": 60.0})
    alpha = nodes.start("alpha", protocols=[echo()], timeouts=t)
    beta = nodes.start("beta", protocols=[sender(400, 1000, window=1, rtt=True, repeat_every_s=0.01)],
                       timeouts=Timeouts(**{**FAST.__dict__, "idle_s": 60.0}))
    nodes.connect(beta, alpha)
    nodes.expect("peer_added", node="alpha")
    nodes.report(beta, alpha)  # the healthy peer's traffic runs
    base = memory_of(nodes.pids())["pss"]

    hostile = [RawPeer(alpha.enode) for _ in range(4)]
    stop = threading.Event()
    results = [dict() for _ in hostile]
    threads = []
    try:
        for raw in hostile:
            raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
            raw.handshake()
        mark = nodes.mark()
        for raw, res in zip(hostile, results):
            th = threading.Thread(target=_push_until_blocked, args=(raw, 64 << 10, stop, res), daemon=True)
            th.start()
            threads.append(th)
        peak = base
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            peak = max(peak, memory_of(nodes.pids())["pss"])
            gone = nodes.events(since=mark, kind="peer_removed", node="alpha")
            if len({e.data["peer_id"] for e in gone} & {r.id_hex for r in hostile}) == len(hostile):
                break
            time.sleep(0.2)  # sampling memory, not synchronising: the loop ends on the events
        removed = {e.data["peer_id"]: e.data for e in nodes.events(since=mark, kind="peer_removed", node="alpha")}
    finally:
        stop.set()
        for th in threads:
            th.join(5.0)
        for raw in hostile:
            raw.sock.close()

    for raw in hostile:
        ev = removed.get(raw.id_hex)
        assert ev is not None, f"a peer that does not read was not dropped: {sorted(removed)}"
        assert ev["reason"] == DiscReason.NETWORK_ERROR.name and ev["cause"] == "timeout", ev
    assert all(r.get("stopped_by") for r in results), results  # the node stopped reading them
    grew = peak - base
    assert grew < 4 * (BOUND_MIB + OVERHEAD_MIB) * MIB, f"node PSS grew {grew / MIB:.0f} MiB for 4 peers"

    # the healthy peer was never dropped, and none of its round trips took a second
    assert not [e for e in nodes.events(kind="peer_removed", node="beta")]
    reports = [e.data["data"] for e in nodes.events(since=mark, kind="protocol_event", node="beta")
               if e.data.get("kind") == "test_report"]
    assert len(reports) >= 2, "the healthy peer's traffic stopped"
    assert max(r["rtt_ms"]["max"] for r in reports) < 1000.0
    assert all(r["mismatches"] == 0 for r in reports)
