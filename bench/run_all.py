"""The node against go-ethereum's p2p package and @ethereumjs/devp2p 10, measured in the same run
on the same machine.

    .venv/bin/python bench/run_all.py [--quick] [--only NAMES] [--json FILE]

(from the project root; needs Node.js and tests/interop/node_modules, and bench/gop2p built
into .tools/gop2p-<version>/ - ``bash scripts/test.sh`` installs and builds both, the latter
with scripts/tools.sh).  ``--quick`` takes ~3-5 minutes, the full run ~20-25 (with burst500 and peers250).

Every figure is the median of several runs (full: 5 for small-message throughput, round trip
and dial latency, 3 for the 1 MiB throughput, the handshake burst and memory; ``--quick``: 3,
and 1 for the burst and memory), printed next to the same figure for go-ethereum p2p <->
go-ethereum p2p (bench/gop2p: a ``p2p.Server`` with test/1, driven like ejs_bench.mjs) and
for ethereumjs <-> ethereumjs, with the ratios (go-ethereum in burst and memory: one gop2p
process, MaxPendingPeers at go-ethereum's default of 50 handshakes at once, DialRatio set so
that n + 19 inbound slots are free).  Without the gop2p binary the go-ethereum column is n/a
(with a note).  The benchmarks (``--only`` takes a
comma-separated subset of these names):

small   echo throughput, node <-> node vs ethereumjs <-> ethereumjs: 20,000 x 100-byte test/1
        messages (quick: 5,000), window 256 un-echoed; msgs/s from the sender's report.  One
        connection per setup, the first round is a warm-up and not counted.
large   the same with 200 x 1 MiB random messages (quick: 20), window 16; MB/s (10**6 B/s of
        payload sent and echoed back).  No warm-up round.
mixed   node <-> ethereumjs and node <-> go-ethereum p2p for small and large, both directions:
        node sends / the other echoes, and the other sends / node echoes (compared with
        ethereumjs <-> ethereumjs and go-ethereum p2p <-> go-ethereum p2p).
        The 1 MiB mixed runs send 100 messages per run (quick: 20), to bound the run time: at
        ~3 MB/s (ethereumjs's rate) 200 MiB take over a minute per run.
rtt     round-trip time of one 100-byte message on an established connection: window 1, 1,000
        sequential send->echo times per run (quick: 300) measured by the sender (test/1 option
        ``rtt``; ethereumjs with TCP_NODELAY); median and p99 per run, median over runs.  Each
        run is a new connection (a warm-up round, then the measured one), and node and
        ethereumjs runs alternate, so both meet the same slow and fast phases of a shared
        machine (measured one after the other, one side's five runs could all fall in a phase
        that doubled every round trip); the paired ratios are logged too.  Runs first: right
        after the 1 MiB stage both sides' round trips stay 2-3x slower for minutes, ours more
        (six process wake-ups per round trip against two; docs/performance.md, "Method").
dial    handshake latency: one node dials another, from the dial request to the dialler's
        ``peer_added`` (node: admin add_peer -> peer_added event time; ethereumjs:
        rlpx.connect() -> 'peer:added'; go-ethereum: TCP connect + Server.SetupConn -> test/1
        started, as its dialer does it, bypassing the dial history that refuses a redial of the
        same node for 35 s); 1 warm-up dial + 5 (quick: 3), disconnecting between.
burst   100 raw RLPx clients (bench/rlpx_clients.py, one separate process, the same for both)
        connect at once; inbound handshakes completed per second = 100 / (last ``peer_added``
        on the server - the moment the clients start connecting).  The server then holds the
        100 peers (full: 16 s on the first run, past one Ping interval) and its total memory
        (PSS) and any lost peer or logged error are reported.
memory  unique memory per connected peer: (PSS of every process of the node - PSS before any
        peer) / peers, at 10 and 50 raw-client peers; PSS from /proc/<pid>/smaps_rollup.
        ethereumjs: the same for its single process.
burst500  the burst with 500 clients at once (issue 21): the same code and figures as burst
        (handshakes/s, total PSS, held without errors), one run in both modes (timeouts scaled
        with the count: 400 s for the handshakes).
peers250  the peers one node holds (issue 21): raw-client peers (one rlpx_clients.py process
        per step of 50) connected to one node, one gop2p and one ethereumjs process, up to 250;
        after each step and 3 s the server must list every peer, with no peer removed, no
        failed client handshake and (node) no error in the Thespian log, else the stage stops
        there; it also stops, with the reason, before a step that would leave under 1 GiB of
        MemAvailable or need more file descriptors than the soft limit.  Figures: the peers
        of the last clean step, and (PSS of the server - PSS before any peer) / those peers.

burst500 and peers250 are part of the full run but not of ``--quick`` (together some 5-10
minutes and ~1,000 node processes at once); name them in ``--only`` to run them.

Targets (docs/performance.md): small >= 3x ethereumjs, large >= 10x, rtt and dial and burst no slower,
<= 12 MiB per peer and 100 peers held without errors; against go-ethereum p2p (issue 21):
small and large >= 0.5x, round-trip median <= 1.5x, dial <= 2x, inbound
handshakes/s (burst, burst500) >= 0.25x, 250 peers held by one node at <= 12 MiB each.  Ratios are ours/theirs; for
times and memory lower is better.

Everything talks to 127.0.0.1 only; every wait is bounded; every actor system is shut down
and its process group SIGKILLed if anything is left, every subprocess is closed (they also
exit when this script's pipes close).  A benchmark that fails prints n/a with the reason and
the run goes on; an ethereumjs sender that loses its connection fails its figure at once (it
does not dial again, so waiting would only use up the timeout).  Profiling the node is a
separate command: bench/profile_node.py.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

if str(pathlib.Path(__file__).resolve().parent) not in sys.path:  # imported by a test: bench/ stays last
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from harness import (BenchError, BenchSystem, Clients, EjsBench, GoBench, echo_proto, gop2p_binary,  # noqa: E402
                     median, memory_of, node_binary, pinned_version, sender_proto, tree_pids, _stat)

MiB = 1 << 20
ROUND_PAUSE_S = 0.3

FULL = dict(small_count=20000, large_count=200, mixed_large_count=100, rtt_count=1000, runs=5, large_runs=3, dials=5,
            burst_runs=3, memory_runs=3, burst_clients=100, hold_s=16.0, burst500_clients=500, burst500_runs=1,
            peers_target=250, peers_step=50)
QUICK = dict(small_count=5000, large_count=20, mixed_large_count=20, rtt_count=300, runs=3, large_runs=3, dials=3,
             burst_runs=1, memory_runs=1, burst_clients=100, hold_s=2.0, burst500_clients=500, burst500_runs=1,
             peers_target=250, peers_step=50)
SMALL_WINDOW = 256
ALL = ("small", "large", "mixed", "rtt", "dial", "burst", "memory", "burst500", "peers250")
QUICK_DEFAULT = ALL[:7]
"""``--quick`` without ``--only`` leaves out burst500 and peers250 (together ~5-10 minutes)."""
LARGE_WINDOW = 16

LOG_DIR = pathlib.Path(tempfile.gettempdir()) / f"devp2p-bench-{os.getpid()}"
"""Thespian logs of this run; made by the first node started (importing this module makes nothing)."""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def load() -> str:
    return "load %.2f %.2f %.2f" % os.getloadavg()


def thespian_log() -> str:
    LOG_DIR.mkdir(exist_ok=True)
    return str(LOG_DIR / f"thespian-{time.monotonic_ns()}.log")


def log_errors(path: str) -> int:
    try:
        with open(path) as f:
            return sum(1 for line in f if " ERROR " in line or "Traceback" in line)
    except OSError:
        return 0


# -- throughput and round trips ------------------------------------------------------------

def _check(reps: list[dict], what: str) -> list[dict]:
    bad = [r for r in reps if r.get("mismatches")]
    if bad:
        raise BenchError(f"{what}: mismatched echoes {bad[0]}")
    return reps


def node_node(count, size, window, rounds, timeout_s, **extra) -> list[dict]:
    with BenchSystem(log_file=thespian_log()) as s:
        a = s.start("alpha", [echo_proto()])
        b = s.start("beta", [sender_proto(count, size, window, repeat_every_s=ROUND_PAUSE_S, **extra)])
        since = s.mark()
        s.connect(b, a.enode)
        return _check(s.reports(b, rounds, since, timeout_s), "node<->node")


def _peer_reports(snd, rounds: int, timeout_s: float, what: str) -> list[dict]:
    """``rounds`` test reports of an ethereumjs or go-ethereum sender (EjsBench / GoBench);
    BenchError at once if it loses its peer.

    The ethereumjs sender does not dial again after a disconnect, so without this a lost
    connection would hold the run for the whole timeout (seen: ethereumjs's own 10 s ping
    timeout, rlpx.js ``options.timeout ?? 10000``, dropped a node echoing 1 MiB messages with
    TIMEOUT while 16 MiB of its echoes waited unread on its side).  gop2p dials its peer as a
    static one, which go-ethereum redials, but its sender restarts at round 0 on the new
    connection, so a lost peer fails the figure there too.
    """
    reps: list[dict] = []
    for _ in range(rounds):
        ev = snd.next(("test_report", "peer_removed"), timeout_s)
        if ev.get("event") == "peer_removed":
            raise BenchError(f"{what}: the {getattr(snd, 'LABEL', 'peer')} sender lost its peer (DiscReason {ev.get('reason')}, "
                             f"{ev.get('error') or ''} disconnectWe={ev.get('disconnectWe')}) after {len(reps)} "
                             f"of {rounds} rounds")
        reps.append(ev)
    return _check(reps, what)


_ejs_reports = _peer_reports


def _send_opts(count, size, window, rounds, **extra) -> dict:
    return dict(count=count, size=size, window=window, rounds=rounds, pauseMs=int(ROUND_PAUSE_S * 1000), **extra)


def peer_peer(cls, count, size, window, rounds, timeout_s, **extra) -> list[dict]:
    """``cls`` (EjsBench or GoBench) <-> ``cls``: one echoes, the other sends ``rounds`` rounds;
    the sender's test reports (msgs_per_s, mb_per_s, rtt_ms with ``rtt=True``)."""
    send = _send_opts(count, size, window, rounds, **extra)
    with cls("echo", echo=True) as e, cls("sender", dial=e.enode, send=send) as snd:
        return _peer_reports(snd, rounds, timeout_s, f"{cls.KIND}<->{cls.KIND}")


def node_to_peer(cls, count, size, window, rounds, timeout_s, **extra) -> list[dict]:
    """The node sends, ``cls`` (EjsBench or GoBench) echoes; the node's test reports."""
    with cls("echo", echo=True) as e, BenchSystem(log_file=thespian_log()) as s:
        b = s.start("beta", [sender_proto(count, size, window, repeat_every_s=ROUND_PAUSE_S, **extra)])
        since = s.mark()
        s.connect(b, e.enode)
        return _check(s.reports(b, rounds, since, timeout_s), f"node->{cls.KIND}")


def peer_to_node(cls, count, size, window, rounds, timeout_s, **extra) -> list[dict]:
    """``cls`` (EjsBench or GoBench) sends, the node echoes; the peer's test reports."""
    send = _send_opts(count, size, window, rounds, **extra)
    with BenchSystem(log_file=thespian_log()) as s:
        a = s.start("alpha", [echo_proto()])
        with cls("sender", dial=a.enode, send=send) as snd:
            return _peer_reports(snd, rounds, timeout_s, f"{cls.KIND}->node")


def ejs_ejs(*args, **kw) -> list[dict]:
    """ethereumjs <-> ethereumjs (:func:`peer_peer`)."""
    return peer_peer(EjsBench, *args, **kw)


def go_go(*args, **kw) -> list[dict]:
    """go-ethereum p2p <-> go-ethereum p2p (:func:`peer_peer`)."""
    return peer_peer(GoBench, *args, **kw)


def node_to_ejs(*args, **kw) -> list[dict]:
    """The node sends, ethereumjs echoes."""
    return node_to_peer(EjsBench, *args, **kw)


def ejs_to_node(*args, **kw) -> list[dict]:
    """ethereumjs sends, the node echoes."""
    return peer_to_node(EjsBench, *args, **kw)


def node_to_go(*args, **kw) -> list[dict]:
    """The node sends, go-ethereum p2p echoes."""
    return node_to_peer(GoBench, *args, **kw)


def go_to_node(*args, **kw) -> list[dict]:
    """go-ethereum p2p sends, the node echoes."""
    return peer_to_node(GoBench, *args, **kw)


# -- handshakes ------------------------------------------------------------------------------

def node_dials(n: int) -> list[float]:
    """ms from admin add_peer to the dialler's peer_added, n + 1 dials (the first dropped)."""
    out = []
    with BenchSystem(log_file=thespian_log()) as s:
        a = s.start("alpha", [echo_proto()])
        b = s.start("beta", [echo_proto()])
        for _ in range(n + 1):
            since = s.mark()
            t0 = time.time()
            s.connect(b, a.enode)
            ev = s.wait("peer_added", node="beta", since=since, timeout_s=30)[0]
            out.append((ev.time - t0) * 1000)
            s.wait("peer_added", node="alpha", since=since, timeout_s=30)
            since = s.mark()
            s.admin(b, "remove_peer", a.enode)
            s.wait("peer_removed", node="beta", since=since, timeout_s=30)
            s.wait("peer_removed", node="alpha", since=since, timeout_s=30)
            time.sleep(0.2)
    return out[1:]


def peer_dials(cls, n: int) -> list[float]:
    """ms from the dial to the dialler's peer added, ``cls`` (EjsBench / GoBench) dialling
    ``cls``; n + 1 dials, the first dropped."""
    with cls("target", echo=True, quietPeers=True) as e, \
            cls("dialer", echo=True, quietPeers=True, dialBench={"enode": e.enode, "count": n + 1, "pauseMs": 200}) as d:
        return d.next("dial_report", 30 + 5 * n)["latencies_ms"][1:]


def ejs_dials(n: int) -> list[float]:
    """:func:`peer_dials` for ethereumjs (rlpx.connect() -> 'peer:added')."""
    return peer_dials(EjsBench, n)


def go_dials(n: int) -> list[float]:
    """:func:`peer_dials` for go-ethereum p2p (TCP connect + Server.SetupConn -> test/1 start)."""
    return peer_dials(GoBench, n)


def _hold(check, hold_s: float) -> None:
    deadline = time.monotonic() + hold_s
    while time.monotonic() < deadline:
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        check()


def _burst_timeout(n: int) -> float:
    """Seconds for ``n`` inbound handshakes: 150 for the 100-client burst, 400 for 500."""
    return 150.0 + max(0, n - 100) * 0.625


STALL_S = 60.0
"""A burst with no new peer for this long has stalled (the 100-client one takes ~3-5 s in all)."""


def _await_added(added, c: Clients, n: int, timeout_s: float, what: str) -> dict:
    """Wait until ``added()`` (the server's peer_added count since the clients went) reaches
    ``n``; the clients' ``done`` event.  Ends early with a BenchError when the clients report
    that some of their handshakes failed (closed by the server, timed out: those do not
    connect again, so waiting on would only use up the timeout), or when no peer was added for
    :data:`STALL_S`."""
    deadline = time.monotonic() + timeout_s
    done = None
    last, last_t = -1, time.monotonic()
    while True:
        got = added()
        if got != last:
            last, last_t = got, time.monotonic()
        elif time.monotonic() - last_t > STALL_S:
            raise BenchError(f"{what}: {got} of {n} inbound handshakes completed, none in the last {STALL_S:.0f} s"
                             f" (clients: {_client_state(c)})")
        if got >= n:
            return done if done is not None else c.next("done", 60)
        if done is None:
            try:
                done = c.next("done", 0.5)
            except BenchError:
                if c.proc.poll() is not None:
                    raise
        elif done["failed"]:
            time.sleep(2.0)  # peers whose Hello crossed the done event
            raise BenchError(f"{what}: {added()} of {n} inbound handshakes completed; {done['failed']} clients "
                             f"failed ({done['errors']})")
        else:
            time.sleep(0.2)
        if time.monotonic() > deadline:
            raise BenchError(f"{what}: {added()} of {n} inbound handshakes completed within {timeout_s:.0f} s")


def _client_state(c: Clients) -> str:
    """How many of the clients' sockets are still open (from /proc), for a stalled burst."""
    try:
        return f"{len(os.listdir(f'/proc/{c.proc.pid}/fd'))} fds open in the client process"
    except OSError:
        return "client process gone"


def node_burst(n: int, hold_s: float) -> dict:
    logf = thespian_log()
    with BenchSystem(log_file=logf) as s:
        node = s.start("alpha", [echo_proto()], max_peers=n + 20, no_dial=True)
        with Clients(node.enode, n, timeout_s=_burst_timeout(n) - 30) as c:
            c.ready(120)
            since = s.mark()
            t0 = c.go()
            done = _await_added(lambda: len(s.events(since, kind="peer_added", node="alpha")), c, n,
                                _burst_timeout(n), "node")
            t_last = max(e.time for e in s.events(since, kind="peer_added", node="alpha"))

            def lost():
                removed = s.events(since, kind="peer_removed")
                if removed:
                    raise BenchError(f"{len(removed)} peers removed while held: {removed[0].data}")
            _hold(lost, hold_s)
            time.sleep(1.0)
            mem = memory_of(s.pids())
            c.command("status")
            st = c.next("status", 10)
            peers = len(s.peers(node))
            lost()
    return {"rate": n / (t_last - t0), "last_s": t_last - t0, "client_ok": done["ok"], "alive": st["alive"],
            "peers": peers, "pss": mem["pss"], "procs": mem["procs"], "log_errors": log_errors(logf)}


def _server_opts(cls, n: int) -> dict:
    """Options for a ``cls`` server that takes ``n`` inbound peers (and 20 more): go-ethereum
    keeps MaxPeers/DialRatio slots for dialled peers, so its DialRatio is set high enough that
    it keeps one (p2p/server.go MaxDialedConns); MaxPendingPeers stays go-ethereum's default."""
    opts = {"echo": True, "maxPeers": n + 20}
    if cls is GoBench:
        opts["dialRatio"] = n + 21
    return opts


def ejs_burst(n: int, hold_s: float, cls=EjsBench) -> dict:
    """``n`` raw clients connect at once to one ``cls`` (EjsBench or GoBench) server: rate
    (handshakes/s), last_s, the clients' and server's counts, PSS (bytes) after ``hold_s``,
    procs, and lost peers + error events as ``log_errors``."""
    with cls("server", **_server_opts(cls, n)) as e:
        with Clients(e.enode, n, timeout_s=_burst_timeout(n) - 30) as c:
            c.ready(120)
            added = _peers_added(e)
            t0 = c.go()
            times = added.times
            done = _await_added(added, c, n, _burst_timeout(n), cls.KIND)
            _hold(lambda: None, hold_s)
            time.sleep(1.0)
            mem = memory_of(tree_pids(e.proc.pid))
            c.command("status")
            st = c.next("status", 10)
            e.command("peers")
            peers = e.next("peers", 10)["count"]
            removed = [ev for ev in e.seen if ev.get("event") == "peer_removed"]
            errors = [ev for ev in e.seen if ev.get("event") == "error"]
    return {"rate": n / (max(times) - t0), "last_s": max(times) - t0, "client_ok": done["ok"], "alive": st["alive"],
            "peers": peers, "pss": mem["pss"], "procs": mem["procs"], "log_errors": len(errors) + len(removed)}


def node_memory(steps=(10, 50)) -> dict:
    """PSS per peer at each step (cumulative clients), plus per-process detail at the first."""
    out = {}
    clients = []
    with BenchSystem(log_file=thespian_log()) as s:
        node = s.start("alpha", [echo_proto()], max_peers=max(steps) + 20, no_dial=True)
        time.sleep(1.0)
        base_pids = set(s.pids())
        m0 = memory_of(s.pids())
        have = 0
        try:
            for step in steps:
                c = Clients(node.enode, step - have, timeout_s=120, name=f"clients{step}")
                clients.append(c)
                c.ready(120)
                since = s.mark()
                c.go()
                s.wait("peer_added", node="alpha", count=step - have, since=since, timeout_s=120)
                have = step
                time.sleep(1.5)
                pids = s.pids()
                m = memory_of(pids)
                out[step] = (m["pss"] - m0["pss"]) / step
                if "detail" not in out:
                    new = [p for p in pids if p not in base_pids]
                    protos = [p for p in new if (_stat(p) or (0, 0))[1] in new]
                    peers_ = [p for p in new if p not in protos]
                    out["detail"] = {
                        "peer_pss": memory_of(peers_)["pss"] / max(1, len(peers_)),
                        "peer_uss": memory_of(peers_)["uss"] / max(1, len(peers_)),
                        "proto_pss": memory_of(protos)["pss"] / max(1, len(protos)),
                        "proto_uss": memory_of(protos)["uss"] / max(1, len(protos)),
                        "base_pss": m0["pss"], "base_procs": m0["procs"]}
            removed = s.events(kind="peer_removed")
            if removed:
                raise BenchError(f"{len(removed)} peers removed during the memory run")
        finally:
            for c in clients:
                c.close()
    return out


def ejs_memory(steps=(10, 50), cls=EjsBench) -> dict:
    """PSS per peer (bytes) of one ``cls`` (EjsBench or GoBench) process at each step of raw
    clients (cumulative), and its PSS without peers in ``detail``."""
    out = {}
    clients = []
    with cls("server", quietPeers=False, **_server_opts(cls, max(steps))) as e:
        time.sleep(1.0)
        m0 = memory_of(tree_pids(e.proc.pid))
        have = 0
        try:
            for step in steps:
                c = Clients(e.enode, step - have, timeout_s=120, name=f"clients{step}")
                clients.append(c)
                c.ready(120)
                c.go()
                for _ in range(step - have):
                    e.next("peer_added", 120)
                have = step
                time.sleep(1.5)
                out[step] = (memory_of(tree_pids(e.proc.pid))["pss"] - m0["pss"]) / step
            out["detail"] = {"base_pss": m0["pss"]}
        finally:
            for c in clients:
                c.close()
    return out


# -- peers one node holds ----------------------------------------------------------------------

def _mem_available() -> int:
    """MemAvailable from /proc/meminfo, bytes (0 if unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _room_for(more: int, per_peer: float) -> str | None:
    """Why ``more`` peers more would not fit (memory, file descriptors), or None: the stage stops
    before a step that would leave under 1 GiB available or need more fds than the soft limit
    (each peer costs a few in the node's processes and one in the client process)."""
    need = more * max(per_peer, 16 * MiB) + (1 << 30)
    avail = _mem_available()
    if avail and avail < need:
        return f"stopped before {more} more peers: MemAvailable {avail / MiB:.0f} MiB < {need / MiB:.0f} MiB needed"
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < 8 * more + 256:
        return f"stopped: RLIMIT_NOFILE soft limit {soft} too low for {more} more peers"
    return None


def _hold_result(held, target, m0, m, error, steps, log_errors_=0) -> dict:
    return {"target": target, "held": held, "error": error, "steps": steps, "log_errors": log_errors_,
            "base_pss": m0["pss"], "pss": m["pss"] if m else None,
            "per_peer": (m["pss"] - m0["pss"]) / held if m and held else None,
            "procs": m["procs"] if m else None}


def _peers_added(e) -> callable:
    """A counter of ``e``'s (EjsBench / GoBench) peer_added events from now on, for
    :func:`_await_added`; the times (seconds) are kept in its ``times`` list."""
    times = []

    def added():
        while True:
            try:
                times.append(e.next("peer_added", 0.05)["t"] / 1000)
            except BenchError:
                if e.proc.poll() is not None:
                    raise
                return len(times)
    added.times = times
    return added


def _hold_in_steps(enode: str, pids, kind: str, start_count, check, target: int, step: int,
                   settle_s: float) -> dict:
    """Raw-client peers connected to the server at ``enode`` in steps of ``step`` up to
    ``target``, as :func:`node_peers` describes.  ``pids()``: the server's processes (for PSS);
    ``start_count()``: called just before each step's clients go, returns its peer_added
    counter; ``check(expected)``: raises BenchError if the server does not hold ``expected``
    peers cleanly after a step.  Returns :func:`_hold_result`'s fields but log errors."""
    clients, steps = [], []
    held, m, error = 0, None, None
    m0 = memory_of(pids())
    try:
        while held < target:
            k = min(step, target - held)
            why = _room_for(k, ((m["pss"] - m0["pss"]) / held) if m and held else 0)
            if why:
                error = why
                break
            try:
                c = Clients(enode, k, timeout_s=_burst_timeout(k), name=f"clients{held + k}")
                clients.append(c)
                c.ready(120)
                added = start_count()
                c.go()
                _await_added(added, c, k, _burst_timeout(k), kind)
                time.sleep(settle_s)
                check(held + k)
            except Exception as exc:  # noqa: BLE001
                error = f"at {held} + {k} peers: {exc}"
                break
            held += k
            m = memory_of(pids())
            steps.append((held, (m["pss"] - m0["pss"]) / held))
            log(f"   {kind} holds {held} peers: {m['procs']} processes, PSS {m['pss'] / MiB:.0f} MiB, "
                f"{steps[-1][1] / MiB:.2f} MiB per peer ({load()})")
    finally:
        for c in clients:
            c.close()
    return dict(held=held, m0=m0, m=m, error=error, steps=steps)


def node_peers(target: int = 250, step: int = 50, settle_s: float = 3.0) -> dict:
    """Raw-client peers connected to one node in steps of ``step`` up to ``target``; after each
    step (and ``settle_s``) the node must hold every peer so far, with no peer_removed, no failed
    client handshake and no error in the Thespian log, else the stage stops there.  ``held``:
    the peers of the last clean step; ``per_peer``: (PSS of every node process - PSS without
    peers) / held; ``error``: why it stopped early (None if it reached ``target``)."""
    logf = thespian_log()
    with BenchSystem(log_file=logf) as s:
        node = s.start("alpha", [echo_proto()], max_peers=target + 20, no_dial=True)
        time.sleep(1.0)

        def start_count():
            since = s.mark()
            return lambda: len(s.events(since, kind="peer_added", node="alpha"))

        def check(expected: int) -> None:
            removed = s.events(kind="peer_removed")
            if removed:
                raise BenchError(f"{len(removed)} peers removed: {removed[0].data}")
            errs = log_errors(logf)
            if errs:
                raise BenchError(f"{errs} errors in the Thespian log ({logf})")
            have = len(s.peers(node))
            if have != expected:
                raise BenchError(f"the node lists {have} peers, {expected} expected")

        r = _hold_in_steps(node.enode, s.pids, "node", start_count, check, target, step, settle_s)
    return _hold_result(r["held"], target, r["m0"], r["m"], r["error"], r["steps"], log_errors(logf))


def peer_peers(cls, target: int = 250, step: int = 50, settle_s: float = 3.0) -> dict:
    """:func:`node_peers` for one ``cls`` (EjsBench or GoBench) process: its peer_removed and
    error events stop the stage."""
    with cls("server", quietPeers=False, **_server_opts(cls, target)) as e:
        time.sleep(1.0)

        def check(expected: int) -> None:
            bad = [ev for ev in e.seen if ev.get("event") in ("peer_removed", "error")]
            if bad:
                raise BenchError(f"{len(bad)} peer_removed/error events: {bad[0]}")
            e.command("peers")
            have = e.next("peers", 10)["count"]
            if have != expected:
                raise BenchError(f"{cls.KIND} lists {have} peers, {expected} expected")

        r = _hold_in_steps(e.enode, lambda: tree_pids(e.proc.pid), cls.KIND, lambda: _peers_added(e), check,
                           target, step, settle_s)
    return _hold_result(r["held"], target, r["m0"], r["m"], r["error"], r["steps"])


# -- the run ---------------------------------------------------------------------------------

def _ratio(a, b):
    return (a / b) if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None


def _met(target, ratio, value):
    """Whether ``target`` (("ratio>=" | "ratio<=" | "abs<=" | "abs>=", number) or None) is met; None if
    there is no target or nothing to compare."""
    if target is None:
        return None
    kind, v = target
    if kind in ("abs<=", "abs>="):
        if not isinstance(value, (int, float)):
            return None
        return value <= v if kind == "abs<=" else value >= v
    if ratio is None:
        return None
    return {"ratio>=": ratio >= v, "ratio<=": ratio <= v}.get(kind)


class Results:
    """The rows of the table: each figure ours, go-ethereum p2p's and ethereumjs's (any may be
    None: not measured or failed), the ratios ours/theirs and the targets against each."""

    def __init__(self):
        self.rows: list[dict] = []
        self.notes: list[str] = []

    def add(self, bench, figure, ours, theirs, unit, better="higher", target=None, runs_ours=(), runs_theirs=(),
            go=None, runs_go=(), target_go=None):
        """One figure: ``ours``, ``theirs`` (ethereumjs) and ``go`` (go-ethereum p2p) are the
        medians (numbers, or strings such as "yes"; None = n/a), ``runs_*`` the runs they
        come from; ``target`` is against ethereumjs, ``target_go`` against go-ethereum, each
        ("ratio>=" | "ratio<=" | "abs<=", number) or None."""
        ratio, ratio_go = _ratio(ours, theirs), _ratio(ours, go)
        row = dict(bench=bench, figure=figure, ours=ours, theirs=theirs, go=go, unit=unit, ratio=ratio,
                   ratio_go=ratio_go, better=better, target=target, met=_met(target, ratio, ours),
                   target_go=target_go, met_go=_met(target_go, ratio_go, ours), runs_ours=list(runs_ours),
                   runs_theirs=list(runs_theirs), runs_go=list(runs_go))
        self.rows.append(row)
        log(f"{figure}: ours {fmt(ours)} {unit} | go-ethereum {fmt(go)} {unit} | ethereumjs {fmt(theirs)} {unit} | "
            f"ratio vs go {fmt(ratio_go, 2)}, vs ejs {fmt(ratio, 2)}   runs ours {[fmt(x) for x in runs_ours]} "
            f"go {[fmt(x) for x in runs_go]} ethereumjs {[fmt(x) for x in runs_theirs]}")

    def fail(self, bench, figure, error):
        """A figure that could not be measured at all (n/a with the reason)."""
        self.rows.append(dict(bench=bench, figure=figure, ours=None, theirs=None, go=None, unit="", ratio=None,
                              ratio_go=None, better="", target=None, met=None, target_go=None, met_go=None,
                              error=str(error)))
        log(f"{figure}: n/a ({error})")


def fmt(x, digits=None) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, str):
        return x
    if digits is not None:
        return f"{x:.{digits}f}"
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def target_text(t) -> str:
    if t is None:
        return ""
    kind, v = t
    return {"ratio>=": f">= {v:g}x", "ratio<=": f"ratio <= {v:g}", "abs<=": f"<= {v:g}", "abs>=": f">= {v:g}"}[kind]


def print_table(res: Results) -> None:
    """The table on stdout: per figure ours, go-ethereum p2p, ethereumjs, the ratios ours/go and
    ours/ejs, and each target with whether it is met; then the notes."""
    head = ("figure", "ours", "go-ethereum", "ethereumjs", "vs go", "target", "met", "vs ejs", "target", "met")
    rows = []

    def yes(m):
        return "" if m is None else ("yes" if m else "NO")
    for r in sorted(res.rows, key=lambda r: r["figure"].split(" ", 1)[0]):
        if "error" in r:
            rows.append((r["figure"], "n/a", "n/a", "n/a", "", "", "", "", "", r["error"][:60]))
            continue
        unit = f" {r['unit']}" if r["unit"] else ""

        def val(x):
            return fmt(x) + unit if x is not None else "-"
        rows.append((r["figure"], val(r["ours"]), val(r.get("go")), val(r["theirs"]),
                     fmt(r["ratio_go"], 2) if r.get("ratio_go") is not None else "-", target_text(r.get("target_go")),
                     yes(r.get("met_go")), fmt(r["ratio"], 2) if r["ratio"] is not None else "-",
                     target_text(r["target"]), yes(r["met"])))
    widths = [max(len(str(x[i])) for x in rows + [head]) for i in range(len(head))]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths))
    print("\n" + line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    for n in res.notes:
        print("note: " + n)


def run(names: set[str], cfg: dict, res: Results) -> None:
    """Measure the figures in ``names`` with counts and runs from ``cfg`` (FULL or QUICK) into
    ``res``; go-ethereum p2p's column is left out (n/a, with a note) when bench/gop2p is not
    built."""
    runs, warm = cfg["runs"], 1
    try:
        gop2p_binary()
        go_ok = True
    except BenchError as exc:
        go_ok = False
        res.notes.append(f"go-ethereum p2p column not measured: {exc}")
        log(f"go-ethereum p2p column not measured: {exc}")

    def attempt(what, fn):
        """fn()'s value, or None after logging why it failed."""
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001
            log(f"{what}: n/a ({exc})")
            return None

    def throughput(bench, label, count, size, window, nruns, warmup, key, unit, target, target_go, per_round_s,
                   mixed_count=None):
        timeout = (nruns + warmup) * per_round_s
        rounds = nruns + warmup

        def figures(fn, c=count):
            return [r[key] for r in fn(c, size, window, rounds, timeout)[warmup:]]
        theirs = gos = None
        if bench in names:
            try:
                ours = figures(node_node)
            except Exception as exc:  # noqa: BLE001
                res.fail(bench, f"{label} node<->node", exc)
                ours = None
            if go_ok:
                gos = attempt(f"{label} go<->go", lambda: figures(go_go))
            theirs = attempt(f"{label} ejs<->ejs", lambda: figures(ejs_ejs))
            if ours is not None:
                res.add(bench, f"{label} node<->node", median(ours), median(theirs or []), unit, target=target,
                        runs_ours=ours, runs_theirs=theirs or [], go=median(gos or []), runs_go=gos or [],
                        target_go=target_go)
        if "mixed" in names:
            mc = mixed_count or count
            what = label if mc == count else label.replace(f" {count} x", f" {mc} x")
            peers = [("node sends, ejs echoes", node_to_ejs, "ejs"), ("ejs sends, node echoes", ejs_to_node, "ejs")]
            if go_ok:
                peers += [("node sends, geth-p2p echoes", node_to_go, "go"),
                          ("geth-p2p sends, node echoes", go_to_node, "go")]
            for name, fn, kind in peers:
                try:
                    mixed = figures(fn, mc)
                    if kind == "ejs":
                        if theirs is None:
                            theirs = figures(ejs_ejs)
                        res.add("mixed", f"6. {what[3:]} {name}", median(mixed), median(theirs), unit,
                                runs_ours=mixed, runs_theirs=theirs)
                    else:
                        if gos is None:
                            gos = figures(go_go)
                        res.add("mixed", f"6. {what[3:]} {name}", median(mixed), None, unit, runs_ours=mixed,
                                go=median(gos), runs_go=gos)
                except Exception as exc:  # noqa: BLE001
                    res.fail("mixed", f"{label} {name}", exc)

    if "rtt" in names:
        n = cfg["rtt_count"]
        log(f"-- round trip, {n} x 100 B sequential (window 1), {runs} alternating runs of each, "
            f"a new connection and a warm-up round per run ({load()})")
        try:
            ours, theirs, gos = [], [], []
            for _ in range(runs):
                ours.append(node_node(n, 100, 1, 1 + warm, 60 * (1 + warm), rtt=True)[-1]["rtt_ms"])
                if go_ok:
                    got = attempt("rtt go<->go", lambda: go_go(n, 100, 1, 1 + warm, 60, rtt=True)[-1]["rtt_ms"])
                    if got is not None:
                        gos.append(got)
                theirs.append(ejs_ejs(n, 100, 1, 1 + warm, 60, rtt=True)[-1]["rtt_ms"])
            for stat in ("median", "p99"):
                o, t, g = [x[stat] for x in ours], [x[stat] for x in theirs], [x[stat] for x in gos]
                log(f"   {stat} ratio of each pair of runs: vs ejs {[fmt(a / b, 2) for a, b in zip(o, t)]}, "
                    f"vs go {[fmt(a / b, 2) for a, b in zip(o, g)]}")
                res.add("rtt", f"3. round trip 100 B, {stat}", median(o), median(t), "ms", better="lower",
                        target=("ratio<=", 1), runs_ours=o, runs_theirs=t, go=median(g), runs_go=g,
                        target_go=("ratio<=", 1.5) if stat == "median" else None)
        except Exception as exc:  # noqa: BLE001
            res.fail("rtt", "3. round trip 100 B", exc)
    if names & {"small", "mixed"}:
        n = cfg["small_count"]
        log(f"-- echo throughput, {n:,} x 100 B, window {SMALL_WINDOW}, {runs} runs + 1 warm-up ({load()})")
        throughput("small", f"1. echo {n // 1000}k x 100 B", n, 100, SMALL_WINDOW, runs, warm, "msgs_per_s", "msg/s",
                   ("ratio>=", 3), ("ratio>=", 0.5), per_round_s=120)
    if names & {"large", "mixed"}:
        n, lr = cfg["large_count"], cfg["large_runs"]
        log(f"-- echo throughput, {n} x 1 MiB random, window {LARGE_WINDOW}, {lr} runs ({load()})")
        throughput("large", f"2. echo {n} x 1 MiB", n, MiB, LARGE_WINDOW, lr, 0, "mb_per_s", "MB/s",
                   ("ratio>=", 10), ("ratio>=", 0.5), per_round_s=max(60, 2.0 * n),
                   mixed_count=cfg["mixed_large_count"])
    if "dial" in names:
        n = cfg["dials"]
        log(f"-- handshake latency, dial -> peer added, 1 warm-up + {n} dials ({load()})")
        try:
            ours = node_dials(n)
            gos = attempt("dial go", lambda: go_dials(n)) if go_ok else None
            theirs = ejs_dials(n)
            res.add("dial", "4a. dial -> peer added", median(ours), median(theirs), "ms", better="lower",
                    target=("ratio<=", 1), runs_ours=ours, runs_theirs=theirs, go=median(gos or []),
                    runs_go=gos or [], target_go=("ratio<=", 2))
        except Exception as exc:  # noqa: BLE001
            res.fail("dial", "4a. dial -> peer added", exc)
    def burst(n, br, hold_s, fig_rate, fig_pss, fig_held):
        """The inbound handshake burst of ``n`` clients, ``br`` runs (the first held ``hold_s``)."""
        bench = "burst" if n == cfg["burst_clients"] else f"burst{n}"
        log(f"-- {n} clients connect at once, {br} runs ({load()})")
        try:
            ours, theirs, gos, errors = [], [], [], []
            for i in range(br):
                hold = hold_s if i == 0 else 0.0
                try:
                    ours.append(node_burst(n, hold))
                    log(f"   node run {i}: {ours[-1]}")
                except Exception as exc:  # noqa: BLE001 - the other columns are still measured
                    errors.append(str(exc))
                    log(f"   node run {i}: n/a ({exc})")
                if go_ok:
                    got = attempt(f"burst go run {i}", lambda: ejs_burst(n, hold, cls=GoBench))
                    if got is not None:
                        gos.append(got)
                        log(f"   go   run {i}: {got}")
                theirs.append(ejs_burst(n, hold))
                log(f"   ejs  run {i}: {theirs[-1]}")

            def col(rs, key, scale=1):
                return [r[key] / scale for r in rs]

            def held_all(rs):
                if not rs:
                    return None
                return "yes" if all(r["peers"] == n and r["alive"] == n and r["log_errors"] == 0 for r in rs) else "NO"
            o, t, g = col(ours, "rate"), col(theirs, "rate"), col(gos, "rate")
            res.add(bench, fig_rate, median(o), median(t), "hs/s",
                    target=("ratio>=", 1), runs_ours=o, runs_theirs=t, go=median(g), runs_go=g,
                    target_go=("ratio>=", 0.25))
            if errors and not ours:  # our side could not do it: both targets missed
                res.rows[-1].update(met=False, met_go=False)
            o, t, g = col(ours, "pss", MiB), col(theirs, "pss", MiB), col(gos, "pss", MiB)
            res.add(bench, fig_pss, median(o), median(t), "MiB", better="lower",
                    runs_ours=o, runs_theirs=t, go=median(g), runs_go=g)
            held = held_all(ours) == "yes" and not errors
            res.add(bench, fig_held, "yes" if held else "NO", held_all(theirs),
                    "", target=None, go=held_all(gos))
            res.rows[-1]["met"] = held
            if ours:
                res.notes.append(f"{bench}: node processes holding {n} peers: {ours[0]['procs']}; "
                                 f"held {hold_s:g} s on the first run; errors in the Thespian log: "
                                 f"{[r['log_errors'] for r in ours]}")
            for err in errors:
                res.notes.append(f"{bench}: a node run failed: {err}")
        except Exception as exc:  # noqa: BLE001
            res.fail(bench, fig_rate, exc)
    if "burst" in names:
        n = cfg["burst_clients"]
        burst(n, cfg["burst_runs"], cfg["hold_s"], f"4b. inbound handshakes/s, {n} at once",
              f"5c. total PSS holding {n} peers", f"5d. {n} peers held without errors")
    if "burst500" in names:
        n = cfg["burst500_clients"]
        burst(n, cfg["burst500_runs"], cfg["hold_s"], f"4c. inbound handshakes/s, {n} at once",
              f"5e. total PSS holding {n} peers", f"5f. {n} peers held without errors")
    if "memory" in names:
        mr = cfg["memory_runs"]
        log(f"-- memory per peer at 10 and 50 peers, {mr} runs ({load()})")
        try:
            ours = [node_memory() for _ in range(mr)]
            gos = [g for g in (attempt("memory go", lambda: ejs_memory(cls=GoBench)) for _ in range(mr if go_ok else 0))
                   if g is not None]
            theirs = [ejs_memory() for _ in range(mr)]
            for step in (10, 50):
                o, t = [r[step] / MiB for r in ours], [r[step] / MiB for r in theirs]
                g = [r[step] / MiB for r in gos]
                res.add("memory", f"5{'a' if step == 10 else 'b'}. PSS per peer at {step} peers", median(o), median(t),
                        "MiB", better="lower", target=("abs<=", 12), runs_ours=o, runs_theirs=t, go=median(g),
                        runs_go=g, target_go=("abs<=", 12))
            d = ours[0]["detail"]
            res.notes.append(
                "memory: per connection the node runs a Peer process (PSS %.1f MiB, USS %.1f MiB) and a test/1 "
                "Protocol process (PSS %.1f MiB, USS %.1f MiB); the node without peers: %d processes, %.1f MiB PSS"
                % (d["peer_pss"] / MiB, d["peer_uss"] / MiB, d["proto_pss"] / MiB, d["proto_uss"] / MiB,
                   d["base_procs"], d["base_pss"] / MiB))
        except Exception as exc:  # noqa: BLE001
            res.fail("memory", "5. memory per peer", exc)

    if "peers250" in names:
        target, step = cfg["peers_target"], cfg["peers_step"]
        log(f"-- peers one node holds: up to {target} raw-client peers in steps of {step}, stopping at the first "
            f"step with an error ({load()})")
        try:
            ours = node_peers(target, step)
            log(f"   node: {ours}")
            gos = attempt("peers go", lambda: peer_peers(GoBench, target, step)) if go_ok else None
            if gos:
                log(f"   go:   {gos}")
            theirs = attempt("peers ejs", lambda: peer_peers(EjsBench, target, step))
            if theirs:
                log(f"   ejs:  {theirs}")

            def get(r, key, scale=1):
                return r[key] / scale if r and r.get(key) is not None else None
            res.add("peers250", f"7a. peers held by one node (tried {target})", ours["held"], get(theirs, "held"),
                    "peers", target=("abs>=", target), go=get(gos, "held"), target_go=("abs>=", target))
            res.add("peers250", "7b. PSS per peer holding them", get(ours, "per_peer", MiB),
                    get(theirs, "per_peer", MiB), "MiB", better="lower", target=("abs<=", 12),
                    go=get(gos, "per_peer", MiB), target_go=("abs<=", 12))
            for who, r in (("node", ours), ("go-ethereum p2p", gos), ("ethereumjs", theirs)):
                if r and r["error"]:
                    res.notes.append(f"peers250: {who} stopped at {r['held']} peers: {r['error']}")
            if ours.get("procs"):
                res.notes.append(f"peers250: the node holding {ours['held']} peers: {ours['procs']} processes, "
                                 f"{ours['pss'] / MiB:.0f} MiB PSS ({ours['base_pss'] / MiB:.0f} MiB without peers); "
                                 f"per peer by step: {[(h, round(v / MiB, 2)) for h, v in ours['steps']]}")
        except Exception as exc:  # noqa: BLE001
            res.fail("peers250", f"7a. peers held by one node (tried {target})", exc)

def leftovers(start_pids: set[int]) -> list[str]:
    """Processes started by this run that are still alive (actor systems, node, clients,
    ethereumjs and gop2p peers): new since ``start_pids``, with a command line of ours and a
    working directory in this checkout (every process this run starts has one; the same
    commands run by others from other checkouts on a shared machine are not counted)."""
    me = os.getpid()
    root = str(pathlib.Path(__file__).resolve().parent.parent)
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in start_pids or int(name) == me:
            continue
        st = _stat(int(name))
        if st is None or st[0] in ("Z", "X"):
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(f"/proc/{name}/cwd")
        except OSError:
            continue
        if cwd != root and not cwd.startswith(root + os.sep):
            continue
        if "ejs_bench.mjs" in cmd or "rlpx_clients.py" in cmd or cmd.split(" ", 1)[0].endswith("/gop2p") or (
                "run_all.py" in cmd and int(name) != me):
            out.append(f"{name} {cmd[:80]}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description="node vs ethereumjs benchmarks (see the module docstring)")
    ap.add_argument("--quick", action="store_true", help="fewer runs and smaller counts (~3-5 minutes)")
    ap.add_argument("--only", default=None,
                    help="comma-separated subset of: " + ",".join(ALL) + " (default: all of them; with --quick: "
                         + ",".join(QUICK_DEFAULT) + ")")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()
    only = args.only if args.only is not None else ",".join(QUICK_DEFAULT if args.quick else ALL)
    names = {n.strip() for n in only.split(",") if n.strip()}
    unknown = names - set(ALL)
    if unknown:
        ap.error(f"unknown benchmark(s): {sorted(unknown)}")
    cfg = QUICK if args.quick else FULL

    def on_signal(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    start_pids = {int(p) for p in os.listdir("/proc") if p.isdigit()}
    t0 = time.monotonic()
    try:
        node_version = subprocess.run([node_binary(), "--version"], capture_output=True, text=True,
                                      timeout=10).stdout.strip()
    except Exception as exc:  # noqa: BLE001
        print(f"ethereumjs side unavailable: {exc}")
        return 1
    try:
        go_side = f"go-ethereum p2p {pinned_version()} ({gop2p_binary()})"
    except BenchError as exc:
        go_side = f"no go-ethereum p2p ({exc})"
    log(f"devp2p node vs {go_side} and @ethereumjs/devp2p 10 ({'quick' if args.quick else 'full'} run): "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, Node.js {node_version}, {load()}; "
        f"Thespian logs in {LOG_DIR} (removed at the end unless they hold errors)")
    res = Results()
    try:
        run(names, cfg, res)
    except (KeyboardInterrupt, SystemExit) as exc:
        log(f"interrupted: {exc}")
        print_table(res)
        if not any(log_errors(str(f)) for f in LOG_DIR.glob("*.log")):
            shutil.rmtree(LOG_DIR, ignore_errors=True)  # else kept, as at the end of a run
        return 130
    except Exception:  # noqa: BLE001
        traceback.print_exc()
    elapsed = time.monotonic() - t0
    time.sleep(0.5)
    left = leftovers(start_pids)
    res.notes.append(f"run took {elapsed / 60:.1f} min; {load()} at the end; leftover processes: {left or 'none'}")
    res.notes.append("vs go = ours / go-ethereum p2p (bench/gop2p), vs ejs = ours / ethereumjs; times and memory: "
                     "lower is better. Medians of the runs listed in the log lines above.")
    errors = {f.name: log_errors(str(f)) for f in LOG_DIR.glob("*.log")}
    if any(errors.values()):
        res.notes.append(f"errors in Thespian logs (kept in {LOG_DIR}): "
                         f"{ {k: v for k, v in errors.items() if v} }")
    else:
        shutil.rmtree(LOG_DIR, ignore_errors=True)
    print_table(res)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": cfg, "quick": args.quick, "rows": res.rows, "notes": res.notes}, f, indent=1)
    return 0 if not left else 1


if __name__ == "__main__":
    sys.exit(main())
