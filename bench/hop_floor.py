"""The floor of a round trip through N processes on this machine: no RLPx, no actors, minimal
Python per hop (a script, not a test).

    .venv/bin/python bench/hop_floor.py [--runs 5] [--count 2000]

Two chains, measured alternately, each a round trip of one 100-byte message, sequential
(window 1), from the first process and back:

``six``  the node's shape: sender -unix- relay -tcp- relay -unix- echo, i.e. Protocol actor,
         Peer, remote Peer, remote Protocol actor (four processes, six process wake-ups per
         round trip);
``two``  ethereumjs's shape: sender -tcp- echo (two processes, two wake-ups).

Every process waits in poll(2), reads what is there and writes it on: the cost of the
wake-ups and the kernel's socket paths alone.  Prints the median round trip of each run and
the median over runs, in ms.  Against the node's round trip (bench/run_all.py ``rtt``) it
tells how much of it is the hops themselves and how much the work each actor does per hop.
TCP is on 127.0.0.1 with TCP_NODELAY; every forked process is waited for.
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import statistics
import time

MESSAGE = 100
"""Bytes per message."""

WARMUP = 100
"""Round trips per run that are not counted."""


def _relay(a: socket.socket, b: socket.socket) -> None:
    """Forward whatever arrives on one socket to the other until either end closes."""
    poll = select.poll()
    poll.register(a, select.POLLIN)
    poll.register(b, select.POLLIN)
    other = {a.fileno(): (a, b), b.fileno(): (b, a)}
    while True:
        for fd, _ in poll.poll():
            src, dst = other[fd]
            data = src.recv(65536)
            if not data:
                return
            dst.sendall(data)


def _echo(s: socket.socket) -> None:
    """Send back whatever arrives until the other end closes."""
    poll = select.poll()
    poll.register(s, select.POLLIN)
    while True:
        poll.poll()
        data = s.recv(65536)
        if not data:
            return
        s.sendall(data)


def _tcp_pair() -> tuple[socket.socket, socket.socket]:
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    listener.close()
    for s in (client, server):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return client, server


def _fork(target, keep: tuple, every: list) -> int:
    """Fork a process running ``target(*keep)`` with only ``keep`` of ``every`` open."""
    pid = os.fork()
    if pid == 0:
        try:
            for s in every:
                if s not in keep:
                    s.close()
            target(*keep)
        finally:
            os._exit(0)
    return pid


def run_chain(shape: str, count: int) -> float:
    """Median round trip in ms of ``count`` sequential round trips through chain ``shape``."""
    if shape == "six":
        mine, p_end = socket.socketpair()
        ta, tb = _tcp_pair()
        q_end, e_end = socket.socketpair()
        every = [mine, p_end, ta, tb, q_end, e_end]
        pids = [_fork(_relay, (p_end, ta), every), _fork(_relay, (tb, q_end), every), _fork(_echo, (e_end,), every)]
    else:
        mine, e_end = _tcp_pair()
        every = [mine, e_end]
        pids = [_fork(_echo, (e_end,), every)]
    for s in every:
        if s is not mine:
            s.close()
    mine.settimeout(5.0)  # every wait bounded: a stuck chain raises instead of hanging
    msg = os.urandom(MESSAGE)
    times = []
    try:
        for i in range(WARMUP + count):
            t0 = time.perf_counter()
            mine.sendall(msg)
            got = 0
            while got < MESSAGE:
                chunk = mine.recv(65536)
                if not chunk:
                    raise RuntimeError("chain closed")
                got += len(chunk)
            if i >= WARMUP:
                times.append((time.perf_counter() - t0) * 1e3)
    finally:
        mine.close()  # end of stream walks down the chain: every process returns
        for pid in pids:
            os.waitpid(pid, 0)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--count", type=int, default=2000, help="round trips per run")
    args = ap.parse_args()
    results: dict[str, list[float]] = {"six": [], "two": []}
    for _ in range(args.runs):
        for shape in results:
            results[shape].append(run_chain(shape, args.count))
    for shape, runs in results.items():
        label = "6 wake-ups (4 processes)" if shape == "six" else "2 wake-ups (2 processes)"
        print(f"{label}: round trip median {statistics.median(runs):.3f} ms "
              f"(runs: {', '.join(f'{r:.3f}' for r in runs)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
