"""A discv4 Ping load client for bench/discv4_bench.py: one process, ``--keys`` node keys
(a UDP socket each), a window of outstanding Pings, Pongs counted.

What it does (JSON lines on stdout, commands on stdin):

0. opens one UDP socket per key, so that the target sees ``--keys`` distinct nodes and a Ping
   from the target (ping-back, revalidation) can be answered with the right key;
1. pre-signs ``--pool`` Pings up front, round-robin over the keys (each distinct: its
   expiration is ``now + 3600 + i``, far enough for the whole benchmark; go-ethereum and our node
   only reject expirations in the past), so no signing happens while measuring;
2. bonds each key with the target (unless ``--no-bond``): one Ping, and a signed Pong to the
   target's ping-back, so during the measurement the target answers Pings of bonded senders
   (go-ethereum ``handlePing`` pings back an unbonded sender on every Ping); prints
   ``{"event": "prepared", ...}``;
3. on ``go``: answers the target's Pings (revalidation) with a Pong signed then, and keeps
   ``--window`` Pings outstanding for ``--warmup`` + ``--seconds``; a datagram counts when it is a Pong whose hash is right (keccak of the rest) and whose ping hash is one of
   our outstanding Pings; a Ping without an answer after ``--lost-after`` seconds is counted lost
   and its slot reused.  Only Pongs within the ``--seconds`` after the warm-up count for the rate.
   The signatures of up to ``--verify`` counted Pongs are checked afterwards (the sender must be
   ``--node-id``), so recovering them costs nothing while measuring;
4. prints ``{"event": "result", ...}`` and exits on ``quit`` or end of input.

Everything to 127.0.0.1; every wait bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import resource
import select
import socket
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import rlp  # noqa: E402

from discovery import v4wire  # noqa: E402
from rlpx.keys import generate_private_key, keccak256  # noqa: E402


def emit(**ev) -> None:
    print(json.dumps(ev), flush=True)


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def pong_hash_of(datagram: bytes) -> bytes | None:
    """The ping hash a Pong quotes, after the cheap checks (size, type, keccak); None otherwise."""
    if len(datagram) < v4wire.MIN_PACKET_SIZE or datagram[v4wire.HEAD_SIZE] != v4wire.Pong.TYPE:
        return None
    if keccak256(datagram[v4wire.HASH_SIZE:]) != datagram[:v4wire.HASH_SIZE]:
        return None
    try:
        fields = rlp.decode(datagram[v4wire.HEAD_SIZE + 1:], strict=False)
        return bytes(fields[1])
    except Exception:  # noqa: BLE001 - not a Pong we can read
        return None


class Sockets:
    """One UDP socket per key (``--keys`` distinct nodes to the target, each its own port), so
    a Ping from the target (ping-back, revalidation) is answered with the right key's Pong."""

    def __init__(self, keys, target, node_id: bytes):
        self.keys, self.target, self.node_id = keys, target, node_id
        self.socks = []
        self.poll = select.epoll()
        self.by_fd = {}
        for k in range(len(keys)):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            s.bind(("127.0.0.1", 0))
            s.setblocking(False)
            self.socks.append(s)
            self.by_fd[s.fileno()] = k
            self.poll.register(s.fileno(), select.EPOLLIN)
        self.answered = [0] * len(keys)

    def port(self, k: int) -> int:
        return self.socks[k].getsockname()[1]

    def ready(self, timeout_s: float) -> list[int]:
        return [self.by_fd[fd] for fd, _ in self.poll.poll(timeout_s)]

    def answer_ping(self, k: int, data: bytes, src) -> bool:
        """Answer the target's Ping (a ping-back or a revalidation) with key ``k``'s Pong."""
        try:
            packet, sender, digest = v4wire.decode(data)
        except v4wire.PacketError:
            return False
        if sender != self.node_id or not isinstance(packet, v4wire.Ping):
            return False
        pong = v4wire.Pong(to=v4wire.Endpoint.of(src[0], src[1], packet.from_.tcp),
                           ping_hash=digest, expiration=int(time.time()) + 20)
        try:
            self.socks[k].sendto(v4wire.encode(pong, self.keys[k])[0], src)
        except BlockingIOError:
            return False
        self.answered[k] += 1
        return True

    def close(self) -> None:
        self.poll.close()
        for s in self.socks:
            s.close()


def bond(socks: Sockets, timeout_s: float) -> int:
    """A Ping from every key, then Pongs to the target's ping-backs; returns the keys whose
    ping-back was answered within ``timeout_s``."""
    ep_to = v4wire.Endpoint.of(socks.target[0], socks.target[1], socks.target[1])
    for k, key in enumerate(socks.keys):
        ep_from = v4wire.Endpoint.of("127.0.0.1", socks.port(k), 0)
        data, _ = v4wire.encode(v4wire.Ping(from_=ep_from, to=ep_to, expiration=int(time.time()) + 20), key)
        socks.socks[k].sendto(data, socks.target)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not all(socks.answered):
        for k in socks.ready(0.1):
            while True:
                try:
                    data, src = socks.socks[k].recvfrom(2048)
                except BlockingIOError:
                    break
                if len(data) > v4wire.HEAD_SIZE and data[v4wire.HEAD_SIZE] == v4wire.Ping.TYPE:
                    socks.answer_ping(k, data, src)
    return sum(1 for a in socks.answered if a)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--node-id", required=True, help="the target's node id, hex")
    ap.add_argument("--keys", type=int, default=16)
    ap.add_argument("--pool", type=int, default=4096)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--lost-after", type=float, default=1.0)
    ap.add_argument("--verify", type=int, default=1000)
    ap.add_argument("--no-bond", action="store_true")
    args = ap.parse_args()

    target = (args.host, args.port)
    node_id = bytes.fromhex(args.node_id)
    keys = [generate_private_key() for _ in range(args.keys)]
    socks = Sockets(keys, target, node_id)
    t0 = time.perf_counter()
    ep_to = v4wire.Endpoint.of(args.host, args.port, args.port)
    base = int(time.time()) + 3600
    pool: list[tuple[bytes, bytes]] = []
    for i in range(args.pool):
        k = i % len(keys)
        ping = v4wire.Ping(from_=v4wire.Endpoint.of("127.0.0.1", socks.port(k), 0), to=ep_to, expiration=base + i)
        pool.append(v4wire.encode(ping, keys[k]))
    sign_s = time.perf_counter() - t0
    bonded = 0 if args.no_bond else bond(socks, 10.0)
    # drain what the bonding left (Pongs to the bonding Pings, ENR requests), answering Pings
    while True:
        ks = socks.ready(0.3)
        if not ks:
            break
        for k in ks:
            try:
                data, src = socks.socks[k].recvfrom(2048)
            except BlockingIOError:
                continue
            if not args.no_bond and len(data) > v4wire.HEAD_SIZE and data[v4wire.HEAD_SIZE] == v4wire.Ping.TYPE:
                socks.answer_ping(k, data, src)
    emit(event="prepared", pool=len(pool), keys=len(keys), sign_s=round(sign_s, 3), bonded=bonded)

    for line in sys.stdin:
        if line.strip() == "go":
            break
        if line.strip() == "quit":
            return
    else:
        return

    outstanding: dict[bytes, tuple[int, float]] = {}
    free = list(range(len(pool)))
    random.shuffle(free)
    counted_pongs: list[bytes] = []
    other_types: dict[str, int] = {}
    sent = matched = in_window = lost = other = pingbacks = 0
    cpu0 = cpu_s()
    start = time.monotonic()
    t_from, t_to = start + args.warmup, start + args.warmup + args.seconds
    next_expiry = start + 0.05
    nkeys = len(keys)
    sends = [x.sendto for x in socks.socks]
    recvs = [x.recvfrom for x in socks.socks]
    answered0 = sum(socks.answered)
    while True:
        now = time.monotonic()
        if now >= t_to:
            break
        while len(outstanding) < args.window and free:
            idx = free.pop()
            data, digest = pool[idx]
            try:
                sends[idx % nkeys](data, target)
            except BlockingIOError:
                free.append(idx)
                break
            outstanding[digest] = (idx, now)
            sent += 1
        for k in socks.ready(0.01):
            recvfrom = recvs[k]
            for _ in range(256):
                try:
                    data, src = recvfrom(2048)
                except BlockingIOError:
                    break
                h = pong_hash_of(data)
                if h is None:
                    if len(data) > v4wire.HEAD_SIZE and data[v4wire.HEAD_SIZE] == v4wire.Ping.TYPE:
                        pingbacks += 1
                        if not args.no_bond:
                            socks.answer_ping(k, data, src)
                    else:
                        other += 1
                        t = v4wire.name_of(data[v4wire.HEAD_SIZE]) if len(data) > v4wire.HEAD_SIZE else "short"
                        other_types[t] = other_types.get(t, 0) + 1
                    continue
                entry = outstanding.pop(h, None)
                if entry is None:
                    other += 1
                    other_types["late PONG"] = other_types.get("late PONG", 0) + 1
                    continue
                free.append(entry[0])
                matched += 1
                t = time.monotonic()
                if t_from <= t < t_to:
                    in_window += 1
                    if len(counted_pongs) < args.verify:
                        counted_pongs.append(data)
        if now >= next_expiry:
            next_expiry = now + 0.05
            old = [h for h, (_, ts) in outstanding.items() if now - ts > args.lost_after]
            for h in old:
                free.append(outstanding.pop(h)[0])
                lost += 1
    cpu = cpu_s() - cpu0
    wall = time.monotonic() - start
    verified = bad = 0
    for data in counted_pongs:
        try:
            packet, sender, _ = v4wire.decode(data)
        except v4wire.PacketError:
            bad += 1
            continue
        if isinstance(packet, v4wire.Pong) and sender == node_id:
            verified += 1
        else:
            bad += 1
    emit(event="result", pongs=in_window, seconds=args.seconds, rate=in_window / args.seconds,
         sent=sent, matched=matched, lost=lost, outstanding=len(outstanding), other=other, other_types=other_types,
         pingbacks=pingbacks, answered=sum(socks.answered) - answered0, verified=verified, bad=bad, cpu_s=round(cpu, 3), wall_s=round(wall, 3))
    for line in sys.stdin:
        if line.strip() == "quit":
            break
    socks.close()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        os._exit(1)
