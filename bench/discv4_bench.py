"""Discovery v4 benchmarks (docs/performance.md, "Discovery").  Prints figures; asserts nothing.

    .venv/bin/python bench/discv4_bench.py [--runs 5] [--seconds 5] [--only ping,lookup]

``ping``: Ping -> Pong packets per second that a node's discv4 handles.  The load comes from
``--clients`` separate processes (bench/discv4_load.py), each with one UDP socket and ``--keys``
node keys, Pings pre-signed up front (``--pool`` each, distinct by expiration) so that the
client does not sign while measuring; every key is bonded first (a Ping, and a Pong to the
target's ping-back), so what is measured is the steady state of a bonded sender: Pong out,
table entry refreshed.  Each client keeps ``--window`` Pings outstanding and counts the Pongs
that quote one of its outstanding Pings and hash correctly, in ``--seconds`` after a 1 s
warm-up (signatures of up to 1,000 of them checked afterwards).  A Ping unanswered for 1 s is
counted lost and its slot reused.  Targets, in the same run, alternating: our node (a
:class:`BenchSystem` node, ``discovery=True``, ``no_dial=True``, no bootnodes) and geth (the
pinned go-ethereum, ``tests/support/geth.py`` ``Geth(discovery=True)``: discv4 only,
NetRestrict 127.0.0.0/8).  Printed: median of ``--runs`` per target, and ours/geth.

go-ethereum v1.17.10 p2p/discover/v4_udp.go has no per-IP or per-node rate limit on Pings:
``readLoop`` reads and ``handlePacket`` answers every packet that decodes and is not expired
(``handlePing`` sends the Pong, then pings back an unbonded sender, or adds a bonded one to the
table); the only limits nearby are the table's IP limits (table.go: 2 per /24 per bucket, 10 per
/24 in the table, skipped for LAN addresses such as 127.0.0.1) and the bond check guarding
FindNode and ENRRequest.  Our node (node/discv4.py) likewise answers every valid Ping.

``lookup``: ``--nodes`` (30) of our nodes in one actor system, all with ``discovery=True``,
``bootstrap_nodes=(first.enode,)``, ``no_dial=True``; the time from the last node started to
every table holding ``--min-table`` (20) nodes (GetDiscoveryInfo polled, bounded by
``--lookup-timeout``; also given from the first node's start, as starting 30 nodes one after
the other takes ~25 s on 2 cores and the early ones are looking up meanwhile), and the ``lookup_done`` discovery events' ``seconds`` (median, p90, count)
up to that moment.

Everything on 127.0.0.1; every process started here is stopped, and every wait is bounded.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from harness import (BenchError, BenchSystem, ROOT, _JsonLineProcess, echo_proto, median,  # noqa: E402
                     percentile, wait_until)

from messages.discovery import DiscoveryInfo, GetDiscoveryInfo  # noqa: E402
from messages.admin import GetNodeInfo  # noqa: E402

LOAD_SCRIPT = ROOT / "bench" / "discv4_load.py"


def log(*a) -> None:
    print(*a, flush=True)


class LoadClient(_JsonLineProcess):
    """bench/discv4_load.py against ``port``/``node_id``; ``ready()`` once pre-signed and bonded."""

    def __init__(self, port: int, node_id: str, name: str, args):
        argv = [sys.executable, str(LOAD_SCRIPT), "--port", str(port), "--node-id", node_id,
                "--keys", str(args.keys), "--pool", str(args.pool), "--window", str(args.window),
                "--seconds", str(args.seconds)]
        super().__init__(argv, str(ROOT), name)


def cpu_ticks(pids) -> float:
    """CPU seconds (user + system) of ``pids`` so far, from /proc/<pid>/stat."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _types(results) -> str:
    merged: dict = {}
    for r in results:
        for k, v in r.get("other_types", {}).items():
            merged[k] = merged.get(k, 0) + v
    return ", ".join(f"{v} {k}" for k, v in sorted(merged.items())) or "0"


def ping_run(port: int, node_id: str, label: str, args, target_pids) -> dict:
    """One measurement: ``args.clients`` load processes at once; their summed rate, and the CPU
    the target's processes (``target_pids()``) used from ``go`` to the last result."""
    clients = []
    try:
        for i in range(args.clients):
            clients.append(LoadClient(port, node_id, f"disc-load-{label}-{i}", args))
        prepared = [c.next("prepared", 60) for c in clients]
        pids = target_pids()
        cpu0, t0 = cpu_ticks(pids), time.monotonic()
        for c in clients:
            c.command("go")
        results = [c.next("result", args.seconds + 30) for c in clients]
        target_cpu = (cpu_ticks(pids) - cpu0) / (time.monotonic() - t0)
    finally:
        for c in clients:
            c.close()
    total = sum(r["rate"] for r in results)
    return {"rate": total, "results": results, "prepared": prepared, "target_cpu": target_cpu}


def _geth_genesis(workdir: pathlib.Path) -> pathlib.Path:
    from support.geth import ethtest_chain
    return ethtest_chain() / "genesis.json"


def _start_geth(tmp: pathlib.Path, name: str, binary):
    from support.geth import Geth
    geth = Geth(tmp / name, _geth_genesis(tmp), verbosity=2, discovery=True, binary=binary)
    info = geth.rpc("admin_nodeInfo")
    # the node id in discv4 packets is the enode URL's 64-byte public key, not admin_nodeInfo's
    # "id" (its keccak)
    return geth, int(info["ports"]["discovery"]), geth.enode.split("//")[1].split("@")[0]


def bench_ping(args) -> dict:
    labels = ["ours", "geth"] + (["geth-cgo"] if args.geth_cgo else [])
    figures = {k: [] for lb in labels for k in (lb, lb + "_cpu")}
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-disc-"))
    geths = []
    with BenchSystem() as nodes:
        try:
            node = nodes.start("target", [echo_proto()], discovery=True, no_dial=True,
                               node_db=str(tmp / "target.nodes.sqlite"))
            udp = nodes.asys.ask(node.server, GetNodeInfo(), 10).info["ports"]["discovery"]
            targets = [("ours", udp, node.id_hex, nodes.pids)]
            for label, binary in (("geth", None), ("geth-cgo", args.geth_cgo)):
                if label not in labels:
                    continue
                geth, gport, gid = _start_geth(tmp, label, binary)
                geths.append(geth)
                targets.append((label, gport, gid, lambda g=geth: [g.proc.pid]))
            log("targets: " + ", ".join(f"{t[0]} udp {t[1]}" for t in targets))
            for run in range(args.runs):
                for label, port, nid, pids in targets:
                    try:
                        r = ping_run(port, nid, label, args, pids)
                    except BenchError as exc:
                        log(f"  run {run + 1} {label}: n/a ({exc})")
                        continue
                    figures[label].append(r["rate"])
                    figures[label + "_cpu"].append(r["target_cpu"])
                    res = r["results"]
                    log(f"  run {run + 1} {label}: {r['rate']:,.0f} Pongs/s  "
                        f"(sent {sum(x['sent'] for x in res):,}, lost {sum(x['lost'] for x in res)}, "
                        f"verified {sum(x['verified'] for x in res)}/"
                        f"{sum(x['verified'] + x['bad'] for x in res)}, "
                        f"Pings from it {sum(x['pingbacks'] for x in res)} "
                        f"(answered {sum(x['answered'] for x in res)}), other {_types(res)}, "
                        f"bonded {sum(p['bonded'] for p in r['prepared'])}/{args.clients * args.keys}, "
                        f"client CPU {sum(x['cpu_s'] for x in res) / sum(x['wall_s'] for x in res):.0%}, "
                        f"target CPU {r['target_cpu']:.0%})")
            counters = nodes.asys.ask(node.server, GetDiscoveryInfo(), 10)
            if isinstance(counters, DiscoveryInfo):
                bad = {k: v for k, v in counters.counters.items() if k.startswith("bad.")}
                log(f"  ours: table {counters.table}, bad packets {bad or 0}")
        finally:
            for geth in geths:
                geth.stop()
            shutil.rmtree(tmp, ignore_errors=True)
    out = {k: median(v) for k, v in figures.items()}
    out["runs"] = figures
    return out


def bench_lookup(args) -> dict:
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-disc-net-"))
    try:
        with BenchSystem() as nodes:
            t0 = time.monotonic()
            first = nodes.start("n00", [echo_proto()], discovery=True, no_dial=True,
                                node_db=str(tmp / "n00.sqlite"))
            all_nodes = [first]
            for i in range(1, args.nodes):
                all_nodes.append(nodes.start(f"n{i:02d}", [echo_proto()], discovery=True, no_dial=True,
                                             bootstrap_nodes=(first.enode,),
                                             node_db=str(tmp / f"n{i:02d}.sqlite")))
            started = time.monotonic()
            log(f"  {args.nodes} nodes started in {started - t0:.1f} s")
            sizes: list[int] = []
            last_print = [0.0]

            def converged() -> float | None:
                """The time every table holds ``min_table`` nodes, else None (progress every 5 s)."""
                sizes[:] = []
                for n in all_nodes:
                    reply = nodes.asys.ask(n.server, GetDiscoveryInfo(), 10)
                    sizes.append(reply.table if isinstance(reply, DiscoveryInfo) else -1)
                now = time.monotonic()
                if min(sizes) >= args.min_table:
                    return now
                if now - last_print[0] >= 5:
                    last_print[0] = now
                    log(f"  t={now - started:5.1f} s  tables min {min(sizes)} median {median(sizes)} "
                        f"max {max(sizes)}")
                return None

            # polled: table sizes send no event
            converged_at = wait_until(converged, args.lookup_timeout - (time.monotonic() - started),
                                      interval_s=0.2)
            done = [e for e in nodes.events(kind="discovery") if e.data.get("kind") == "lookup_done"]
            secs = [e.data["data"]["seconds"] if "data" in e.data else e.data.get("seconds") for e in done]
            secs = [s for s in secs if s is not None]
            found = [e.data.get("data", e.data).get("found") for e in done]
            return {"nodes": args.nodes, "min_table": args.min_table,
                    "converged_s": None if converged_at is None else converged_at - started,
                    "converged_from_first_s": None if converged_at is None else converged_at - t0,
                    "start_s": started - t0, "sizes": sorted(sizes),
                    "lookups": len(secs), "lookup_median_s": median(secs), "lookup_p90_s": percentile(secs, 90),
                    "lookup_found_median": median([f for f in found if f is not None])}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--keys", type=int, default=16)
    ap.add_argument("--pool", type=int, default=4096)
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--nodes", type=int, default=30)
    ap.add_argument("--min-table", type=int, default=20)
    ap.add_argument("--lookup-timeout", type=float, default=180.0)
    ap.add_argument("--only", default="ping,lookup")
    ap.add_argument("--geth-cgo", metavar="PATH", default=None,
                    help="also measure this geth binary (e.g. one built with CGO_ENABLED=1, i.e. "
                         "libsecp256k1; scripts/tools.sh builds the pinned one without cgo)")
    args = ap.parse_args()
    only = set(args.only.split(","))
    log(f"bench/discv4_bench.py on {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}")
    out = {}
    if "ping" in only:
        log(f"ping: {args.clients} client(s) x {args.keys} keys, window {args.window}, "
            f"{args.seconds:g} s per run, {args.runs} runs")
        out["ping"] = bench_ping(args)
    if "lookup" in only:
        log(f"lookup: {args.nodes} nodes, until every table holds >= {args.min_table}")
        out["lookup"] = bench_lookup(args)
    log("")
    if "ping" in out:
        p = out["ping"]
        fmt = lambda x: "n/a" if x is None else f"{x:,.0f}"  # noqa: E731
        for label in [k for k in p if k != "runs" and not k.endswith("_cpu")]:
            ratio = ("" if label == "ours" or not p["ours"] or not p[label]
                     else f"   ours/{label} {p['ours'] / p[label]:.2f}")
            cpu = "" if p[label + "_cpu"] is None else f"   CPU {p[label + '_cpu']:.0%} of a core"
            log(f"Ping -> Pong, median of {args.runs}: {label:9s} {fmt(p[label]):>7s} Pongs/s{ratio}{cpu}")
    if "lookup" in out:
        lk = out["lookup"]
        conv = ("not within the timeout" if lk["converged_s"] is None else
                f"{lk['converged_s']:.1f} s after the last node started "
                f"({lk['converged_from_first_s']:.1f} s after the first; starting took {lk['start_s']:.1f} s)")
        f2 = lambda x: "n/a" if x is None else f"{x:.2f}"  # noqa: E731
        log(f"Lookup, {lk['nodes']} nodes: every table >= {lk['min_table']} after {conv} "
            f"(tables {lk['sizes'][0]}..{lk['sizes'][-1]}); lookup_done: {lk['lookups']} lookups, "
            f"median {f2(lk['lookup_median_s'])} s, p90 {f2(lk['lookup_p90_s'])} s, "
            f"median found {lk['lookup_found_median']}")


if __name__ == "__main__":
    main()
