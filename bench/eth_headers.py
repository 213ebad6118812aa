"""Headers served per second over eth, and the memory of an eth Protocol actor with its chain
open (issue "serve a chain", point 7).  A script that prints figures; nothing here is asserted.

    .venv/bin/python bench/eth_headers.py [--runs 5] [--seconds 5] [--peers 1,10] [--window 2]

Figures, each the median of ``--runs`` runs (a fresh set of client connections each run):

* ``ethtest``: go-ethereum's ethtest chain (blocks 0..600, from .tools).  Every request is
  GetBlockHeaders [origin 0, amount 1,024], answered with the 601 headers there are.  Servers: our
  node (eth/69) and geth v1.17.10 with the same chain imported (``geth import``), measured in the
  same run with the same clients: headers/s summed over the clients, and ours/geth.
* ``full``: our node only, on a synthetic 10,000-block chain (tests/support/eth_chain.py):
  every answer carries the full 1,024 headers (about 560 KB).
* ``memory``: PSS and USS of the eth Protocol actor of one connected peer after it served
  requests, against a test/1 echo Protocol actor in the same node shape.

Clients are separate processes (``eth_headers.py client ...``): an eth/69 RLPx initiator each
(tests/support/eth_peer.py) keeping ``--window`` requests outstanding for ``--seconds``; they
start together on a "go" line.  Everything talks to 127.0.0.1; every process started is stopped.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter

import harness  # noqa: F401 - puts the project and tests/ on sys.path
from harness import BenchError, BenchSystem, echo_proto, memory_of, tree_pids
from config.model import ProtocolConfig
from protocols.eth.store import ensure_imported
from support.eth_chain import write_chain
from support.eth_peer import EthPeer

HERE = pathlib.Path(__file__).resolve()
AMOUNT = 1024
"""Headers asked for per request (go-ethereum's ``maxHeadersServe``, handler.go)."""

FULL_BLOCKS = 10_000


# -- the client process ----------------------------------------------------------------------

def client_main(enode: str, seconds: float, window: int, blocks: int) -> int:
    """Connect, print "ready", wait for "go" on stdin, then keep ``window`` GetBlockHeaders of
    ``AMOUNT`` headers outstanding for ``seconds``; print one JSON line of counts."""
    import rlp
    from protocols.eth.messages import GetBlockHeaders, HeadersQuery
    from rlpx.connection import DisconnectReceived, Messages
    from rlpx.disc import DiscReason
    from support.eth_peer import OFFSET, number_origin

    peer = EthPeer(enode)
    peer.start(30)
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    span = max(1, blocks - AMOUNT)
    next_id, outstanding, headers, nbytes, answers = 0, set(), 0, 0, 0

    def ask():
        nonlocal next_id
        q = HeadersQuery(number_origin((next_id * AMOUNT) % span), AMOUNT, 0, False)
        peer.conn.send(OFFSET + GetBlockHeaders.CODE, GetBlockHeaders(next_id, q).encode())
        outstanding.add(next_id)
        next_id += 1

    t0, cpu0 = time.monotonic(), time.process_time()
    end = t0 + seconds
    for _ in range(window):
        ask()
    peer.flush()
    while time.monotonic() < end and not peer.eof:
        for ev in peer.read(end):
            if isinstance(ev, DisconnectReceived):
                print(json.dumps({"error": f"disconnected: {ev.reason!r}"}), flush=True)
                return 1
            if isinstance(ev, Messages):
                for code, payload in ev.by_protocol.get("eth", ()):
                    if code != 0x04:  # BlockHeaders; anything else (BlockRangeUpdate...) ignored
                        continue
                    lazy = rlp.decode_lazy(payload)
                    rid = int.from_bytes(lazy[0], "big")
                    if rid in outstanding:
                        outstanding.discard(rid)
                        headers += len(lazy[1])
                        nbytes += len(payload)
                        answers += 1
                        if time.monotonic() < end:
                            ask()
        peer.flush()
    elapsed = time.monotonic() - t0
    print(json.dumps({"headers": headers, "bytes": nbytes, "answers": answers, "seconds": elapsed,
                      "cpu_s": time.process_time() - cpu0}), flush=True)
    peer.conn.disconnect(DiscReason.QUITTING)
    peer.flush()
    peer.close()
    return 0


class Clients:
    """``n`` client processes against ``enode``; :meth:`run` starts them together."""

    def __init__(self, enode: str, n: int, seconds: float, window: int, blocks: int):
        self.procs = [subprocess.Popen([sys.executable, str(HERE), "client", enode, str(seconds), str(window),
                                        str(blocks)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                      for _ in range(n)]
        self.seconds = seconds

    def run(self) -> dict:
        for p in self.procs:
            line = p.stdout.readline().strip()
            if line != "ready":
                raise BenchError(f"client did not get ready: {line!r}")
        for p in self.procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        results = []
        for p in self.procs:
            out, _ = p.communicate(timeout=self.seconds + 60)
            r = json.loads(out.strip().splitlines()[-1])
            if "error" in r:
                raise BenchError(r["error"])
            results.append(r)
        secs = max(r["seconds"] for r in results)
        return {"headers_s": sum(r["headers"] for r in results) / secs,
                "mb_s": sum(r["bytes"] for r in results) / secs / 1e6,
                "answers": sum(r["answers"] for r in results),
                "client_cpu": sum(r["cpu_s"] for r in results) / secs}

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait(10)


def measure(enode: str, peers: int, seconds: float, window: int, blocks: int) -> dict:
    clients = Clients(enode, peers, seconds, window, blocks)
    try:
        return clients.run()
    finally:
        clients.close()


# -- servers ---------------------------------------------------------------------------------

def ethtest_options(workdir: pathlib.Path) -> dict:
    from support.geth import ethtest_chain
    chain = ethtest_chain()
    db = str(workdir / "ethtest.sqlite")
    ensure_imported(str(chain / "chain.rlp"), db, 0, str(chain / "genesis.json"))
    return {"genesis": str(chain / "genesis.json"), "chain_file": str(chain / "chain.rlp"), "db": db}


def node_runs(opts: dict, peer_counts, runs: int, seconds: float, window: int, blocks: int) -> dict:
    out = {n: [] for n in peer_counts}
    with BenchSystem() as s:
        node = s.start("eth", [ProtocolConfig("eth", 69, tuple(opts.items()))], max_peers=50, no_dial=True)
        for _ in range(runs):
            for n in peer_counts:
                out[n].append(measure(node.enode, n, seconds, window, blocks))
        reasons = Counter(e.data.get("reason") for e in s.events(kind="peer_removed"))
        print(f"  peers removed by reason (the clients end with Disconnect(QUITTING)): {dict(reasons)}", flush=True)
    return out


def geth_runs(workdir: pathlib.Path, peer_counts, runs: int, seconds: float, window: int, blocks: int) -> dict:
    from support.geth import Geth, ethtest_chain
    chain = ethtest_chain()
    geth = Geth(workdir / "geth", chain / "genesis.json", verbosity=2, chain=chain / "chain.rlp")
    out = {n: [] for n in peer_counts}
    try:
        for _ in range(runs):
            for n in peer_counts:
                out[n].append(measure(geth.enode, n, seconds, window, blocks))
    finally:
        geth.stop()
    return out


def protocol_actor_memory(opts: dict) -> dict:
    """PSS/USS of one peer's Protocol actor: eth/69 with the chain open (after 20 requests) and
    test/1 echo, each in a fresh node."""
    out = {}
    for label, proto, caps in (("eth", ProtocolConfig("eth", 69, tuple(opts.items())), None),
                               ("test", echo_proto(), (("test", 1, 8),))):
        with BenchSystem() as s:
            node = s.start("m", [proto], max_peers=10, no_dial=True)
            time.sleep(1.0)
            before = set(s.pids())
            if label == "eth":
                peer = EthPeer(node.enode)
                peer.start(30)
                for i in range(20):
                    if peer.headers(i, (i * 30).to_bytes(2, "big").lstrip(b"\x00"), AMOUNT) is None:
                        raise BenchError("no answer from the eth protocol")
            else:
                from support.nodes import RawPeer
                peer = RawPeer(node.enode, caps=caps)
                peer.handshake(30)
            s.wait("peer_added", node="m", timeout_s=30)
            time.sleep(1.0)
            new = [p for p in s.pids() if p not in before]
            # the Protocol actor is the Peer's child (actors/peer.py creates it)
            protos = [p for p in new if any(p in tree_pids(q) and p != q for q in new)]
            if len(protos) != 1:
                peer.close()
                raise BenchError(f"{label}: expected one Protocol actor among {new}, found {protos}")
            out[label] = memory_of(protos)
            peer.close()
    return out


# -- the command -----------------------------------------------------------------------------

def median(rows, key) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        return client_main(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--peers", default="1,10")
    ap.add_argument("--window", type=int, default=2)
    ap.add_argument("--only", default="ethtest,full,memory")
    args = ap.parse_args()
    peer_counts = [int(x) for x in args.peers.split(",")]
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="eth-headers-") as tmp:
        work = pathlib.Path(tmp)
        rows = []
        if "ethtest" in only:
            opts = ethtest_options(work)
            ours = node_runs(opts, peer_counts, args.runs, args.seconds, args.window, 601)
            theirs = geth_runs(work, peer_counts, args.runs, args.seconds, args.window, 601)
            for n in peer_counts:
                a, b = median(ours[n], "headers_s"), median(theirs[n], "headers_s")
                rows.append((f"ethtest, {n} peer(s): node", a, median(ours[n], "mb_s")))
                rows.append((f"ethtest, {n} peer(s): geth", b, median(theirs[n], "mb_s")))
                rows.append((f"ethtest, {n} peer(s): node/geth", a / b, None))
                print(f"ethtest {n} peers: node runs {[round(r['headers_s']) for r in ours[n]]}, "
                      f"geth runs {[round(r['headers_s']) for r in theirs[n]]}; the clients' CPU, cores: "
                      f"{median(ours[n], 'client_cpu'):.2f} (node), {median(theirs[n], 'client_cpu'):.2f} (geth)",
                      flush=True)
        if "full" in only:
            (work / "full").mkdir()
            opts = write_chain(work / "full", FULL_BLOCKS)
            ensure_imported(opts["chain_file"], opts["db"], 0, opts["genesis"])
            full = node_runs(opts, peer_counts, args.runs, args.seconds, args.window, FULL_BLOCKS)
            for n in peer_counts:
                rows.append((f"full 1,024-header answers, {n} peer(s): node", median(full[n], "headers_s"),
                             median(full[n], "mb_s")))
                print(f"full {n} peers: node runs {[round(r['headers_s']) for r in full[n]]}; the clients' CPU, "
                      f"cores: {median(full[n], 'client_cpu'):.2f}", flush=True)
        if "memory" in only:
            opts = write_chain(work, FULL_BLOCKS) if "full" not in only else opts
            ensure_imported(opts["chain_file"], opts["db"], 0, opts["genesis"])
            mem = protocol_actor_memory(opts)
            for label in ("eth", "test"):
                rows.append((f"{label} Protocol actor PSS, MiB", mem[label]["pss"] / 2 ** 20, None))
                rows.append((f"{label} Protocol actor USS, MiB", mem[label]["uss"] / 2 ** 20, None))
            rows.append(("eth / test Protocol actor PSS", mem["eth"]["pss"] / mem["test"]["pss"], None))
    print()
    print(f"{'figure':<48} {'value':>12} {'MB/s':>8}")
    for name, value, mbs in rows:
        print(f"{name:<48} {value:>12,.2f} {'' if mbs is None else f'{mbs:8.1f}'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
