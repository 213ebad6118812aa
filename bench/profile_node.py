"""Where a node spends its time during the echo benchmarks: py-spy on the Peer and Protocol actor
processes of both nodes (a script, not a test).

    .venv/bin/python bench/profile_node.py [--case small|large|both] [--seconds S] [--rate HZ]

Starts node alpha (test/1 echo) and node beta (test/1 sender: ``small`` = 20,000 x 100 B,
window 256; ``large`` = 1 MiB messages, window 16; rounds repeated), connects them, waits for
the first report (warm-up), then samples the four actor processes of the connection - beta's
Peer and Protocol (sender), alpha's Peer and Protocol (echo) - with ``py-spy record --idle
--nonblocking`` for S seconds at once.  For each process it prints the share of samples per
category (the innermost frame that matches one, see CATEGORIES) and the top functions by self
time.  Raw collapsed stacks are kept in $TMPDIR/devp2p-profiles/.

Needs py-spy (``.venv/bin/pip install py-spy``) and ptrace permission over the actor processes.
"""

from __future__ import annotations

import argparse
import collections
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from harness import BenchSystem, echo_proto, sender_proto, _stat  # noqa: E402

OUT_DIR = pathlib.Path(tempfile.gettempdir()) / "devp2p-profiles"

# (category, predicate on one frame "func (file:line)"); the innermost matching frame decides.
CATEGORIES = [
    ("idle: waiting in select/poll", lambda f: f.startswith(("select (", "poll (", "epoll", "_wait (", "wait ("))
        or "selectors.py" in f or "loop_selector.py" in f),  # actors/adapter/loop_selector.py: Thespian's wait
    ("keccak MAC (pycryptodome)", lambda f: "Crypto/Hash" in f or "_update_mac" in f or "mac_" in f.split(" (")[0]),
    ("AES-CTR (cryptography)", lambda f: "cryptography/" in f),
    ("snappy (cramjam)", lambda f: "rlpx/snappy.py" in f),
    ("RLP (pyrlp)", lambda f: "/rlp/" in f),
    ("pickle / unpickle", lambda f: "pickle" in f or "copyreg" in f or f.startswith(("dumps ", "loads ", "__reduce"))),
    ("socket send/recv (kernel)", lambda f: f.startswith(("send (", "recv (", "sendall (", "recv_into (", "accept ("))),
    ("Thespian transport (TCP, framing)", lambda f: "thespian/system/transport" in f),
    ("Thespian system (dispatch, timers)", lambda f: "thespian/" in f),
    ("rlpx frame codec (python)", lambda f: "rlpx/frame.py" in f or "rlpx/session.py" in f),
    ("rlpx connection (python)", lambda f: "rlpx/" in f),
    ("Peer actor (python)", lambda f: "actors/peer.py" in f),
    ("Protocol base + test/1 (python)", lambda f: "actors/protocol_host.py" in f or "protocols/" in f),
    ("node actor base / timers", lambda f: "actors/" in f),
    ("messages (dataclasses)", lambda f: "messages/" in f or "dataclasses" in f),
]


def categorize(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, pred in CATEGORIES:
            if pred(frame):
                return name
    return "other"


def parse_collapsed(path: pathlib.Path, busy_only: bool = False):
    """Collapsed stacks -> (total samples, Counter category, Counter self function, Counter incl function).

    With ``busy_only`` the function counters leave out idle samples (innermost frame waiting
    in select/poll); the category counter always has every sample."""
    total = 0
    cats: collections.Counter = collections.Counter()
    selfs: collections.Counter = collections.Counter()
    incl: collections.Counter = collections.Counter()
    if not path.exists():
        return 0, cats, selfs, incl
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            stack, _, n = line.rpartition(" ")
            try:
                n = int(n)
            except ValueError:
                continue
            frames = stack.split(";")
            # the first frame is the thread ("process 123:..." or "thread (0x...)") with --threads
            total += n
            cat = categorize(frames)
            cats[cat] += n
            if busy_only and cat.startswith("idle"):
                continue
            selfs[_short(frames[-1])] += n
            for fr in set(_short(x) for x in frames):
                incl[fr] += n
    return total, cats, selfs, incl


def _short(frame: str) -> str:
    func, _, loc = frame.partition(" (")
    loc = loc.rstrip(")")
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in loc:
            loc = loc.split(marker, 1)[1]
    return f"{func} ({loc.rsplit(':', 1)[0]})"


def actor_processes(system: BenchSystem, groups: dict[str, set[int]], new: set[int]) -> dict[str, int]:
    """Label the connection's processes: a new process whose parent is new too is a Protocol actor
    (created by its Peer); the others are Peers, whose parent (the Server) tells the node."""
    labels = {}
    for pid in new:
        st = _stat(pid)
        if st is None:
            continue
        ppid = st[1]
        if ppid in new:
            parent_node = next((n for n, g in groups.items() if (_stat(ppid) or (0, 0))[1] in g), "?")
            labels[f"{parent_node}/Protocol"] = pid
        else:
            node = next((n for n, g in groups.items() if ppid in g), "?")
            labels[f"{node}/Peer"] = pid
    return labels


def profile_case(case: str, seconds: float, rate: int, pyspy: str, blocking: bool = False, profile: bool = True) -> None:
    extra = {}
    if case == "small":
        count, size, window, title = 20000, 100, 256, "20,000 x 100 B, window 256"
    elif case == "rtt":
        count, size, window, title = 1000, 100, 1, "1,000 x 100 B, window 1 (sequential round trips)"
        extra = {"rtt": True}
    else:
        count, size, window, title = 200, 1 << 20, 16, "200 x 1 MiB random, window 16"
    OUT_DIR.mkdir(exist_ok=True)
    with BenchSystem() as s:
        before = set(s.pids())
        a = s.start("alpha", [echo_proto()])
        after_a = set(s.pids())
        b = s.start("beta", [sender_proto(count, size, window, repeat_every_s=0.05, **extra)])
        after_b = set(s.pids())
        groups = {"alpha(echo)": after_a - before, "beta(sender)": after_b - after_a}
        since = s.mark()
        s.connect(b, a.enode)
        s.wait("peer_added", node="beta", since=since, timeout_s=30)
        s.wait("peer_added", node="alpha", since=since, timeout_s=30)
        time.sleep(0.3)
        new = set(s.pids()) - after_b
        labels = actor_processes(s, groups, new)
        # warm-up: the first report (small case) or a few seconds (large case)
        if case in ("small", "rtt"):
            s.reports(b, 1, since, 120)
        else:
            time.sleep(3)
        procs = {}
        if not profile:
            # measure only (e.g. to compare a --what-if with the node as it is): 3 more rounds
            reps = [r for r in s.reports(b, 4, since, 600) if r]
            print(f"\n=== {title}: " + ", ".join(
                f"{r['msgs_per_s']} msgs/s {r['mb_per_s']} MB/s" + (f" rtt median {r['rtt_ms']['median']} ms p99 "
                                                                  f"{r['rtt_ms']['p99']} ms" if 'rtt_ms' in r else "")
                for r in reps[1:]) + " (first round = warm-up, not shown) ===")
            return
        for label, pid in sorted(labels.items()):
            path = OUT_DIR / f"{case}-{label.replace('/', '-').replace('(', '_').replace(')', '')}.txt"
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            procs[label] = (path, subprocess.Popen(
                [pyspy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", str(rate),
                 "--idle", "--format", "raw", "--output", str(path)] + ([] if blocking else ["--nonblocking"]),
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        for label, (path, proc) in procs.items():
            try:
                _, err = proc.communicate(timeout=seconds + 30)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            if proc.returncode:
                print(f"py-spy on {label} failed: {err.strip()[-300:]}")
        reps = [e.data["data"] for e in s.events(since, kind="protocol_event", node="beta")
                if e.data.get("kind") == "test_report"]
    print(f"\n=== {title}: {len(reps)} rounds done; last: "
          + (f"{reps[-1]['msgs_per_s']} msgs/s, {reps[-1]['mb_per_s']} MB/s" if reps else "none") + " ===")
    for label, (path, _) in sorted(procs.items()):
        total, cats, selfs, incl = parse_collapsed(path)
        if not total:
            print(f"\n-- {label}: no samples")
            continue
        idle = cats.get("idle: waiting in select/poll", 0)
        print(f"\n-- {label} (pid {labels[label]}): {total} samples, busy {100 * (total - idle) / total:.0f} %")
        busy = total - idle or 1
        for name, n in cats.most_common():
            if name.startswith("idle"):
                continue
            print(f"   {100 * n / busy:5.1f} % of busy  {name}")
        print("   top self (busy):")
        shown = 0
        for fn, n in selfs.most_common():
            if fn.startswith(("select (", "poll (")) or "selectors.py" in fn or "loop_selector.py" in fn:
                continue
            print(f"     {100 * n / busy:5.1f} %  {fn}")
            shown += 1
            if shown == 8:
                break


def lazy_identify() -> None:
    """What-if (this process and the actor processes forked from it only; nothing is changed on
    disk): Thespian 4.0.1 formats ``str(message)`` for a DEBUG log line three times per message
    hop (systemCommon._send_intent_to_transport, asyncTransportBase._submitTransmit,
    actorManager._handleOneMessage call ``identify()`` eagerly, whatever the log level), and a
    dataclass repr of a batch holding 1 MiB of bytes is a ~4 MB string.  Replace ``identify``
    by the message type name."""
    from thespian.system import transport

    def cheap(self):
        return type(self.message).__name__
    transport.TransmitIntent.identify = cheap
    transport.ReceiveEnvelope.identify = cheap


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", choices=("small", "large", "rtt", "both"), default="both")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--blocking", action="store_true", help="let py-spy pause the processes (exact stacks, slower run)")
    ap.add_argument("--no-profile", action="store_true", help="no py-spy: print 3 rounds after a warm-up")
    ap.add_argument("--what-if", choices=("lazy-identify",), help="apply a bench-only patch first (see lazy_identify)")
    args = ap.parse_args()
    if args.what_if == "lazy-identify":
        lazy_identify()
    pyspy = shutil.which("py-spy") or str(pathlib.Path(sys.executable).parent / "py-spy")
    if not os.path.exists(pyspy) and not args.no_profile:
        print("py-spy not found: .venv/bin/pip install py-spy")
        return 1
    for case in (("small", "large") if args.case == "both" else (args.case,)):
        if args.no_profile:
            pyspy = ""
        profile_case(case, args.seconds, args.rate, pyspy, args.blocking, not args.no_profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
