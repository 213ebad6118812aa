"""Benchmark of the rlpx wire layer (a script, not a test).

Run from the project root:  .venv/bin/python bench/bench_rlpx.py [--runs N]

Prints the median of N runs (default 5) of:
  * full auth/ack handshakes per second, both sides in this process, and the CPU time each
    side spends per handshake (initiator: build auth + process ack; recipient: process auth
    + build ack), measured separately with the process CPU clock;
  * MessageCodec throughput for 100 B, 64 KiB and 1 MiB random payloads, in MB/s (10**6
    bytes of payload per second): encode on one side + decode on the other together in one
    thread ("enc+dec"), each half alone, and "per link" = min(encode, decode), the rate one
    connection carries when, as in the node, the sender's Peer process encodes while the
    receiver's decodes; snappy on, then off for comparison.  The best run of enc+dec is shown
    too: this VM's throughput varies by +-30 % from minute to minute;
  * keccak256 throughput of the library used for the frame MACs (pycryptodome) at 1 MiB: each
    side MACs every frame byte once, so one thread doing both halves cannot exceed half of it.

Targets on the 2-core project machine: < 5 ms CPU per side per handshake, >= 150 MB/s at 1 MiB.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from Crypto.Hash import keccak  # noqa: E402

from rlpx.handshake import Initiator, Recipient  # noqa: E402
from rlpx.keys import generate_private_key, node_id_from_private_key  # noqa: E402
from rlpx.session import MessageCodec  # noqa: E402

HANDSHAKES_PER_RUN = 200


def handshake_run(key_a: bytes, key_b: bytes) -> tuple[float, float, float]:
    """Return (handshakes/s wall, initiator CPU ms per handshake, recipient CPU ms per handshake)."""
    id_b = node_id_from_private_key(key_b)
    cpu = time.process_time_ns
    ini_ns = rec_ns = 0
    wall0 = time.perf_counter()
    for _ in range(HANDSHAKES_PER_RUN):
        t0 = cpu()
        ini = Initiator(key_a, id_b)
        t1 = cpu()
        rec = Recipient(key_b)
        ack = rec.feed(ini.auth)
        t2 = cpu()
        secrets = ini.feed(ack)
        t3 = cpu()
        if secrets is None or rec.secrets is None or secrets.aes_secret != rec.secrets.aes_secret:
            raise SystemExit("handshake failed")
        ini_ns += (t1 - t0) + (t3 - t2)
        rec_ns += t2 - t1
    wall = time.perf_counter() - wall0
    n = HANDSHAKES_PER_RUN
    return n / wall, ini_ns / n / 1e6, rec_ns / n / 1e6


def codec_pair(key_a: bytes, key_b: bytes, snappy: bool) -> tuple[MessageCodec, MessageCodec]:
    ini = Initiator(key_a, node_id_from_private_key(key_b))
    rec = Recipient(key_b)
    secrets_a = ini.feed(rec.feed(ini.auth))
    a, b = MessageCodec(secrets_a), MessageCodec(rec.secrets)
    a.snappy = b.snappy = snappy
    return a, b


def throughput_run(sender: MessageCodec, receiver: MessageCodec, payload: bytes,
                   count: int) -> tuple[float, float, float]:
    """Encode ``count`` messages, then decode them on the other side.

    Returns payload MB/s of (encode + decode together, encode alone, decode alone).
    """
    t0 = time.perf_counter()
    wires = [sender.encode(0x10, payload) for _ in range(count)]
    t1 = time.perf_counter()
    for wire in wires:
        got = receiver.feed(wire)
        if len(got) != 1 or len(got[0][1]) != len(payload):
            raise SystemExit("codec round trip failed")
    t2 = time.perf_counter()
    total = len(payload) * count / 1e6
    return total / (t2 - t0), total / (t1 - t0), total / (t2 - t1)


def keccak_run(data: bytes, count: int = 32) -> float:
    """MB/s of keccak256 over ``data`` (pycryptodome, as rlpx/frame.py uses it)."""
    t0 = time.perf_counter()
    for _ in range(count):
        keccak.new(digest_bits=256, data=data).digest()
    return len(data) * count / 1e6 / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure; the median is printed")
    args = parser.parse_args()
    runs = args.runs
    key_a, key_b = generate_private_key(), generate_private_key()

    results = [handshake_run(key_a, key_b) for _ in range(runs)]
    rate = statistics.median(r[0] for r in results)
    ini_ms = statistics.median(r[1] for r in results)
    rec_ms = statistics.median(r[2] for r in results)
    print(f"handshakes: {rate:8.0f} /s (both sides in one process, {HANDSHAKES_PER_RUN} per run, "
          f"median of {runs})")
    print(f"  CPU per handshake: initiator {ini_ms:.3f} ms, recipient {rec_ms:.3f} ms  (target < 5 ms each)")

    sizes = [(100, "100 B", 20000), (64 * 1024, "64 KiB", 1000), (1024 * 1024, "1 MiB", 64)]
    for snappy in (True, False):
        print(f"MessageCodec, random payloads, snappy {'on' if snappy else 'off'} (MB/s, median of {runs}):")
        print(f"  {'payload':>7}  {'enc+dec':>8}  {'encode':>8}  {'decode':>8}  {'per link':>8}  "
              f"{'(best enc+dec)':>14}")
        for size, label, count in sizes:
            payload = os.urandom(size)
            results = []
            for _ in range(runs):
                a, b = codec_pair(key_a, key_b, snappy)
                results.append(throughput_run(a, b, payload, count))
            both, enc, dec = (statistics.median(r[i] for r in results) for i in range(3))
            best = max(r[0] for r in results)
            link = statistics.median(min(r[1], r[2]) for r in results)
            note = "  (target >= 150 MB/s)" if snappy and size == 1024 * 1024 else ""
            print(f"  {label:>7}  {both:8.1f}  {enc:8.1f}  {dec:8.1f}  {link:8.1f}  {best:14.1f}{note}")
    data = os.urandom(1 << 20)
    kmbs = statistics.median(keccak_run(data) for _ in range(runs))
    print(f"keccak256 (pycryptodome), 1 MiB: {kmbs:.1f} MB/s, median of {runs}: one thread doing both "
          f"MACs of a frame (enc+dec) is bound by {kmbs / 2:.1f} MB/s")

if __name__ == "__main__":
    main()
