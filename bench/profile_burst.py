"""Where the time of the inbound handshake burst goes (bench/run_all.py ``burst``):
CPU seconds per process role, the peer_added timeline, and optionally py-spy samples of the
Server and Listener (a script, not a test).

    .venv/bin/python bench/profile_burst.py [--clients N] [--runs R] [--pyspy] [--rate HZ]

Starts node alpha (test/1 echo, max_peers N + 20), prepares N raw RLPx clients
(bench/rlpx_clients.py, one process), reads every process's CPU time, sends ``go``, waits for N
``peer_added`` and reads the CPU times again.  CPU time is the scheduler's exact run time
(/proc/<pid>/schedstat, ns); the kernel's share of it is estimated from utime/stime in
/proc/<pid>/stat, which are sampled at clock ticks: on this VM the ticks missed two thirds of
the run time of the short-lived, briefly-running Peers (1.2 s against 3.0 s measured by the
scheduler and by ``perf sched``), so they are used only for the split.  Roles: the node's
processes are labelled from the process tree (the Server is the parent of the Listener and
Dialer, which report their pids; Peers are the Server's other children; Protocols are the
Peers' children); "clients" is bench/rlpx_clients.py; "system" is the Thespian admin, logger
and the bench's event collector.  With ``--pyspy`` the Server and the
Listener are sampled during the burst (``py-spy record --idle --nonblocking``) and their
busy share and top categories are printed (categories of bench/profile_node.py).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from harness import BenchSystem, Clients, echo_proto, median, _stat  # noqa: E402
from profile_node import OUT_DIR, parse_collapsed  # noqa: E402


def cpu_s(pid: int) -> tuple[float, float]:
    """(run time, estimated kernel part of it) of ``pid`` in seconds ((0, 0) if gone).

    Run time: ``/proc/<pid>/schedstat`` (first field, ns: exact).  Kernel part: that run time
    times stime / (utime + stime) from ``/proc/<pid>/stat`` (tick-sampled, so an estimate).
    """
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            run_s = int(f.read().split()[0]) / 1e9
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0
    fields = raw[raw.rindex(")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])
    return run_s, (run_s * stime / (utime + stime) if utime + stime else 0.0)


def roles(pids: list[int], server: int, clients: int) -> dict[int, str]:
    out = {}
    for pid in pids:
        st = _stat(pid)
        if st is None:
            continue
        ppid = st[1]
        if pid == server:
            out[pid] = "server"
        elif ppid == server:
            out[pid] = "peer"   # Listener and Dialer relabelled by the caller
        elif (_stat(ppid) or ("", 0))[1] == server:
            out[pid] = "protocol"
        else:
            out[pid] = "system"
    out[clients] = "clients"
    return out


def busy_profile(path: pathlib.Path):
    """Collapsed py-spy stacks -> (samples, busy samples, Counter inclusive function over busy
    samples, Counter self function over busy samples); idle = innermost frame waits in select."""
    total, cats, selfs, incl = parse_collapsed(path, busy_only=True)
    idle = sum(n for cat, n in cats.items() if cat.startswith("idle"))
    return total, total - idle, incl, selfs


def one_run(n: int, pyspy: str | None, rate: int, tree: bool = False) -> dict:
    import tempfile
    logf = tempfile.mktemp(prefix="devp2p-burst-", suffix=".log")
    with BenchSystem(log_file=logf) as s:
        before = set(s.pids())
        node = s.start("alpha", [echo_proto()], max_peers=n + 20, no_dial=True)
        time.sleep(1.5)  # the node settles (the Listener's and the Dialer's start-up)
        mine = set(s.pids()) - before
        # the Server is the node process whose children include others of the node
        server = next(p for p in mine if any((_stat(q) or ("", 0))[1] == p for q in mine))
        # the Listener and the Dialer are the Server's first two children
        infra = set(sorted(p for p in mine if p != server and (_stat(p) or ("", 0))[1] == server)[:2])
        with Clients(node.enode, n, timeout_s=120) as c:
            c.ready(120)
            pids0 = set(s.pids()) | {c.proc.pid}
            cpu0 = {p: cpu_s(p) for p in pids0}
            spies = []
            if pyspy:
                OUT_DIR.mkdir(exist_ok=True)
                for label, pid in [("server", server)] + [(f"infra{p}", p) for p in sorted(infra)] + (
                        [("tree", server)] if tree else []):
                    path = OUT_DIR / f"burst-{label}.txt"
                    path.unlink(missing_ok=True)
                    spies.append((label, path, subprocess.Popen(
                        [pyspy, "record", "--pid", str(pid), "--duration", "30", "--rate", str(rate), "--idle",
                         "--nonblocking", "--format", "raw", "--output", str(path)]
                        + (["--subprocesses", "--threads"] if label == "tree" else []),
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)))
                time.sleep(1.0)
            since = s.mark()
            t0 = c.go()
            try:
                evs = s.wait("peer_added", node="alpha", count=n, since=since, timeout_s=60)
            except Exception:
                import collections
                print("events:", collections.Counter(e.kind for e in s.events(since)), "log:", logf)
                raise
            t1 = time.time()
            times = sorted(e.time - t0 for e in evs)
            pids1 = set(s.pids()) | {c.proc.pid}
            cpu1 = {p: cpu_s(p) for p in pids1}
            role = roles(sorted(pids1), server, c.proc.pid)
            for p in infra:
                role[p] = "listener/dialer"
            for label, path, proc in spies:
                proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT, not on SIGTERM
                try:
                    proc.communicate(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()
    per_role: dict[str, float] = {}
    sys_role: dict[str, float] = {}
    counts: dict[str, int] = {}
    for p in pids1:
        r = role.get(p, "system")
        run0, kernel0 = cpu0.get(p, (0.0, 0.0))
        run1, kernel1 = cpu1[p]
        per_role[r] = per_role.get(r, 0.0) + (run1 - run0)
        sys_role[r] = sys_role.get(r, 0.0) + (kernel1 - kernel0)
        counts[r] = counts.get(r, 0) + 1
    res = {"wall_s": times[-1], "rate": n / times[-1], "first_s": times[0], "median_s": times[len(times) // 2],
           "cpu": per_role, "sys": sys_role, "procs": counts, "t1": t1 - t0}
    if pyspy:
        res["spy"] = {}
        for label, path, _ in spies:
            res["spy"][label] = busy_profile(path)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--pyspy", action="store_true")
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--tree", action="store_true", help="also sample the Server's descendants (Peers, Protocols)")
    ap.add_argument("--without", choices=("delay-patch",), help="A/B: leave out a change (bench-only)")
    args = ap.parse_args()
    if args.without == "delay-patch":
        import actors.adapter.thespian_patches as tp
        tp._delay_applied = True  # patch_cheap_incoming_delay() then does nothing
    pyspy = None
    if args.pyspy:
        pyspy = shutil.which("py-spy") or str(pathlib.Path(sys.executable).parent / "py-spy")
    rates = []
    for i in range(args.runs):
        r = one_run(args.clients, pyspy, args.rate, args.tree)
        rates.append(r["rate"])
        print(f"run {i}: {r['rate']:.1f} hs/s; first peer_added {1000 * r['first_s']:.0f} ms, median "
              f"{1000 * r['median_s']:.0f} ms, last {1000 * r['wall_s']:.0f} ms; load {os.getloadavg()[0]:.2f}")
        wall = r["wall_s"]
        for name, secs in sorted(r["cpu"].items(), key=lambda kv: -kv[1]):
            print(f"   {name:16s} {r['procs'][name]:4d} procs  {secs:6.2f} CPU s (kernel ~{r['sys'][name]:5.2f})  "
                  f"= {100 * secs / wall:5.1f} % of one core over the burst")
        total = sum(r["cpu"].values())
        print(f"   total {total:.2f} CPU s over {wall:.2f} s wall (2 cores = {2 * wall:.2f} core s)")
        for label, (total_n, busy, incl, selfs) in r.get("spy", {}).items():
            if not total_n:
                print(f"   py-spy {label}: no samples")
                continue
            print(f"   py-spy {label}: {total_n} samples, busy {100 * busy / total_n:.0f} %")
            b = busy or 1
            for fn, k in incl.most_common(60):
                if k >= 0.97 * b:
                    continue  # the frames every busy stack has (main loop)
                print(f"      {100 * k / b:5.1f} % of busy incl  {fn}")
            for fn, k in selfs.most_common(10):
                print(f"      {100 * k / b:5.1f} % of busy self  {fn}")
    print(f"median rate {median(rates):.1f} hs/s over {len(rates)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
