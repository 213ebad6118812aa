"""Hostile peers against one node (issue 18; docs/performance.md "Hostile peers").

    .venv/bin/python bench/hostile_flood.py [--runs 3] [--only flood,silent,nonreading]

* ``flood``: 20 connections that send a valid auth (a throwaway key) and go silent, then 1,000
  silent TCP connections opened as fast as this process can (blocking connects, so the next one
  as soon as the node's accept queue has room); once 200 are open a real RLPx peer connects.
  Prints the real peer's connect -> Hello time, and the peak growth of the node's process count
  and PSS (all processes of the actor system's group, sampled every 0.1 s and once the real
  peer is added) over the baseline (``base_procs`` processes, 1 s after the start).
* ``silent``: the same without the valid auths.
* ``nonreading``: 4 peers complete Hello with test/1 and push 64 KiB echo requests without ever
  reading (receive buffer 64 KiB), at the default ``write_s`` (20 s); prints the peak growth of
  the node's RSS and PSS, and when the last of them was dropped (s after the pushing began).

Each figure is the median of ``--runs`` runs (a new actor system each); every run's figures are
printed too.  Go-ethereum's default timeouts (config.model.Timeouts()).  Everything is on
127.0.0.1; every socket is closed and every actor system shut down, its group killed.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time

from harness import BenchSystem, echo_proto  # noqa: E402 - sets sys.path

from config.model import Timeouts  # noqa: E402
from rlpx.connection import HelloReceived  # noqa: E402
from rlpx.enode import parse_enode  # noqa: E402
from rlpx.handshake import Initiator  # noqa: E402
from rlpx.keys import generate_private_key  # noqa: E402
from support.memory import memory_of  # noqa: E402
from support.nodes import RawPeer  # noqa: E402

MIB = 1 << 20
FLOOD, VALID_SILENT = 1000, 20


class Sampler:
    """Peak process count, PSS and RSS of the system's processes, every 0.1 s, in a thread."""

    def __init__(self, system: BenchSystem):
        self.system = system
        self.peak = {"procs": 0, "pss": 0, "rss": 0}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def now(self) -> dict:
        return memory_of(self.system.pids())

    def sample(self) -> None:
        m = self.now()
        for k in self.peak:
            self.peak[k] = max(self.peak[k], m[k])

    def _run(self):
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(0.1)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)


def flood_run(valid: int) -> dict:
    with BenchSystem() as system:
        node = system.start("alpha", [echo_proto()], max_peers=10, timeouts=Timeouts())
        node_id = parse_enode(node.enode).node_id
        time.sleep(1.0)  # let the start-up settle before the baseline (a measurement, not a sync)
        opened: list[socket.socket] = []
        done = threading.Event()

        def flood():
            try:
                for _ in range(valid):
                    s = socket.create_connection(("127.0.0.1", node.port), timeout=5)
                    s.sendall(Initiator(generate_private_key(), node_id).auth)
                    opened.append(s)
                give_up = time.monotonic() + 30
                while len(opened) < valid + FLOOD and time.monotonic() < give_up:
                    try:
                        opened.append(socket.create_connection(("127.0.0.1", node.port), timeout=5))
                    except OSError:
                        pass
            finally:
                done.set()

        sampler = Sampler(system)
        base = sampler.now()
        try:
            with sampler:
                th = threading.Thread(target=flood, daemon=True)
                th.start()
                deadline = time.monotonic() + 10
                while len(opened) < valid + 200 and time.monotonic() < deadline and not done.is_set():
                    time.sleep(0.001)
                t0 = time.monotonic()
                with RawPeer(node.enode, client_id="real-peer") as raw:
                    ev = raw.handshake(timeout_s=10.0)
                    hello_s = time.monotonic() - t0
                    assert isinstance(ev, HelloReceived), ev
                    done.wait(40)
                    system.wait("peer_added", node="alpha", peer_id=raw.id_hex)
                    sampler.sample()  # with the real peer's processes, however short the run
        finally:
            done.wait(40)
            for s in opened:
                s.close()
        return {"hello_ms": hello_s * 1000, "base_procs": base["procs"], "procs": sampler.peak["procs"] - base["procs"],
                "pss_mib": (sampler.peak["pss"] - base["pss"]) / MIB}


def _push(raw: RawPeer, stop: threading.Event) -> None:
    payload = bytes(64 << 10)
    raw.sock.settimeout(1.0)
    try:
        while not stop.is_set():
            raw.conn.send(16, payload)  # test/1 code 0 at offset 16
            raw.sock.sendall(bytes(raw.conn.out))
            raw.conn.out.clear()
    except OSError:
        pass


def nonreading_run() -> dict:
    with BenchSystem() as system:
        node = system.start("alpha", [echo_proto()], timeouts=Timeouts())
        time.sleep(1.0)  # start-up settles before the baseline (a measurement, not a sync)
        hostile = [RawPeer(node.enode) for _ in range(4)]
        stop = threading.Event()
        threads = []
        sampler = Sampler(system)
        base = sampler.now()
        try:
            for raw in hostile:
                raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
                raw.handshake()
            mark = system.mark()
            with sampler:
                t0 = time.monotonic()
                for raw in hostile:
                    th = threading.Thread(target=_push, args=(raw, stop), daemon=True)
                    th.start()
                    threads.append(th)
                removed = system.wait("peer_removed", node="alpha", count=4, since=mark, timeout_s=60)
                dropped_s = time.monotonic() - t0
        finally:
            stop.set()
            for th in threads:
                th.join(5)
            for raw in hostile:
                raw.close()
        causes = sorted({(e.data["reason"], e.data["cause"]) for e in removed})
        return {"rss_mib": (sampler.peak["rss"] - base["rss"]) / MIB, "pss_mib": (sampler.peak["pss"] - base["pss"]) / MIB,
                "dropped_s": dropped_s, "causes": causes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="flood,silent,nonreading")
    args = ap.parse_args()
    cases = {"flood": lambda: flood_run(VALID_SILENT), "silent": lambda: flood_run(0), "nonreading": nonreading_run}
    for name in args.only.split(","):
        runs = []
        for i in range(args.runs):
            r = cases[name]()
            print(f"{name} run {i + 1}: {r}", flush=True)
            runs.append(r)
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if isinstance(runs[0][k], (int, float))}
        print(f"{name} median of {len(runs)}: " + ", ".join(f"{k} {v:.1f}" for k, v in med.items()), flush=True)


if __name__ == "__main__":
    main()
