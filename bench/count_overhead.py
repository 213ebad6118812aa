"""What the metrics counting (node/traffic.py) costs the PeerMachine's read and write paths.

    .venv/bin/python bench/count_overhead.py [--case small|large] [--rounds N] [--runs 3]

One PeerMachine (tests/support/peer_harness.py: no actors, no sockets) with a test/1 peer.
Each round the remote sends a batch (small: 16 x 100 B; large: 1 x 1 MiB, random), encoded
outside the timing; the machine reads it (``received``), the batch is echoed back
(``from_protocol``) and written (``wrote``).  The round is timed in thread CPU time (the
process's own, not the machine's other tenants'), with the Traffic counters on or replaced by
one whose ``count`` does nothing, the two chosen in random order within each pair of rounds,
so both meet the same phases of a shared machine.  Prints the median CPU per message of each
and the ratio on/off per run (the wire byte counts stay on in both: one addition per read or
write).  docs/performance.md "Metrics counting overhead" has the figures.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import random
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from messages.protocol import FromProtocol  # noqa: E402 - after the path is set
from messages.protocol import ToProtocol as Batch  # noqa: E402
from node.peer_machine import ToProtocol  # noqa: E402
from node.traffic import Traffic  # noqa: E402
from support.peer_harness import PeerHarness  # noqa: E402

CASES = {"small": (100, 16, 15000), "large": (1 << 20, 1, 150)}
"""case -> (payload bytes, messages per batch, default rounds)."""

TEST_CODE = 19
"""test/1's code 0 on the wire (the harness's protocols: aaa 16-18, test from 19)."""


class NoCount(Traffic):
    """Traffic whose per-message counting does nothing."""

    __slots__ = ()

    def count(self, direction, cap, msgs) -> None:
        pass


def run(case: str, rounds: int, seed: int) -> tuple[float, float]:
    """(median CPU seconds per message with counting on, the same with it off)."""
    size, batch, _ = CASES[case]
    rng = random.Random(seed)
    h = PeerHarness()
    h.run_to_running()
    m = h.machine
    variants = {True: m.traffic, False: NoCount()}
    payload = os.urandom(size)
    times: dict[bool, list] = {True: [], False: []}
    order = (True, False)
    for r in range(rounds):
        if r % 2 == 0:
            order = tuple(rng.sample((True, False), 2))
        on = order[r % 2]
        m.traffic = variants[on]
        for _ in range(batch):
            h.remote.send(TEST_CODE, payload)
        data = bytes(h.remote.out)
        h.remote.out.clear()
        t0 = time.thread_time()
        inbound = [a.message for a in m.received(data, h.now)
                   if isinstance(a, ToProtocol) and isinstance(a.message, Batch)]
        msgs = tuple(msg for b in inbound for msg in b.messages)
        m.from_protocol("test", FromProtocol("test", r + 1, msgs, inbound[-1].seq if inbound else 0), h.now)
        n = len(m.out)
        del m.out[:n]
        m.wrote(n, h.now)
        elapsed = time.thread_time() - t0
        assert len(msgs) == batch, f"round {r}: {len(msgs)} of {batch} messages delivered"
        times[on].append(elapsed / batch)
    skip = rounds // 20  # the first rounds warm up
    return statistics.median(times[True][skip:]), statistics.median(times[False][skip:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=sorted(CASES), default="small")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    rounds = args.rounds or CASES[args.case][2]
    for i in range(args.runs):
        on, off = run(args.case, rounds, seed=i + 1)
        load = " ".join(open("/proc/loadavg").read().split()[:3])
        print(f"{args.case} run {i + 1}: on {on * 1e6:.2f} us/msg, off {off * 1e6:.2f} us/msg, "
              f"on/off {on / off:.4f} (load {load})", flush=True)


if __name__ == "__main__":
    main()
