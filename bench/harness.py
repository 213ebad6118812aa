"""Shared machinery of the node-vs-ethereumjs benchmarks (bench/run_all.py).

* :class:`BenchSystem`: the tests' system under test (tests/support/system.py) with benchmark
  defaults; :meth:`BenchSystem.close` shuts it down and kills whatever is left of its group.
* :class:`EjsBench`: one bench/ejs_bench.mjs process (an @ethereumjs/devp2p RLPx instance),
  JSON-line events on stdout, commands on stdin.
* :class:`GoBench`: one bench/gop2p process (a go-ethereum ``p2p.Server`` with test/1, built by
  scripts/tools.sh), driven exactly like :class:`EjsBench`: the same options, events and
  commands.
* :class:`Clients`: bench/rlpx_clients.py in a separate process (raw RLPx initiators).
* memory helpers: PSS and USS from /proc/<pid>/smaps_rollup.

Everything talks to 127.0.0.1 only and every wait is bounded.
"""

from __future__ import annotations

import json
import os
import pathlib
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from actors.system import stop_node  # noqa: E402
from config.model import ProtocolConfig, Timeouts  # noqa: E402
from rlpx.keys import generate_private_key, node_id_from_private_key  # noqa: E402
from support.system import LOOPBACK, Node, NodeSystem, free_port, tree_pids  # noqa: E402,F401 - re-exported
from support.memory import memory_of, smaps_rollup  # noqa: E402,F401 - re-exported
from support.geth import pinned_version  # noqa: E402,F401 - re-exported
from support.gop2p import gop2p_missing, gop2p_path  # noqa: E402
from support.wait import wait_until  # noqa: E402,F401 - re-exported

INTEROP = ROOT / "tests" / "interop"
EJS_SCRIPT = BENCH / "ejs_bench.mjs"
CLIENTS_SCRIPT = BENCH / "rlpx_clients.py"

BENCH_TIMEOUTS = Timeouts(handshake_s=10.0, ping_interval_s=15.0, idle_s=60.0, write_s=30.0, dial_s=10.0,
                          dial_history_s=0.05, inbound_throttle_s=30.0, dial_backoff_max_s=1.0,
                          disconnect_grace_s=0.5)
"""go-ethereum's ping interval; generous read/write/handshake deadlines so that a loaded 2-core
machine does not drop peers mid-benchmark; a short dial history so one node can dial the same
target again right after a disconnect (handshake-latency runs)."""


class BenchError(RuntimeError):
    """A benchmark could not produce its figure (printed as n/a with the reason)."""


def echo_proto(**options) -> ProtocolConfig:
    opts = {"echo": True}
    opts.update(options)
    return ProtocolConfig("test", 1, tuple(opts.items()))


def sender_proto(count: int, size: int, window: int, **options) -> ProtocolConfig:
    opts = {"send_count": count, "send_size": size, "window": window}
    opts.update(options)
    return ProtocolConfig("test", 1, tuple(opts.items()))


# -- processes and memory ----------------------------------------------------------------

def _stat(pid: int):
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[2])


# -- the node side -----------------------------------------------------------------------

class BenchSystem(NodeSystem):
    """The tests' :class:`support.system.NodeSystem` with benchmark defaults: generous timeouts,
    nodes restricted to loopback, waits that raise :class:`BenchError` listing what came."""

    TIMEOUTS = BENCH_TIMEOUTS

    def __init__(self, log_file: str | None = None, level: str = "WARNING"):
        super().__init__(log_file=log_file, level=level)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self, name, protocols, **kw) -> Node:
        kw.setdefault("net_restrict", ("127.0.0.0/8",))
        return super().start(name, kw.pop("key", None), protocols=tuple(protocols), **kw)

    def connect(self, a: Node, enode: str) -> None:
        self.admin(a, "add_peer", enode)

    def wait(self, event, node=None, count=1, since=0, timeout_s=30.0, **match) -> list:
        """Bounded wait for ``count`` events; raises BenchError (listing what came) on timeout."""
        found = super().wait(event, node, count, since, timeout_s, **match)
        if not found.ok:
            seen = [(e.node, e.kind, e.data.get("reason") or e.data.get("kind") or "")
                    for e in self.events(since)][-12:]
            raise BenchError(f"waited {timeout_s:.0f} s for {count} x {event} on {node} {match}: "
                             f"got {len(found.events)}; last events {seen}")
        return list(found.events)

    def reports(self, node: Node, count: int, since: int, timeout_s: float) -> list[dict]:
        evs = self.wait("protocol_event", node=node.name, count=count, since=since, timeout_s=timeout_s,
                        kind="test_report")
        return [e.data["data"] for e in evs]

    def pids(self) -> list[int]:
        return sorted(super().pids())

    def close(self, wait_s: float = 5.0) -> list[int]:
        """Stop the nodes, shut the system down; return the PIDs that had to be killed."""
        if not self.closed:
            for node in list(self.nodes.values()):
                try:
                    stop_node(self.asys, node.server, 5)
                except Exception:  # noqa: BLE001 - closing anyway
                    pass
        return sorted(super().close(wait_s))


# -- subprocesses with JSON-line output ---------------------------------------------------

class _JsonLineProcess:
    """A subprocess printing one JSON object per line; a reader thread queues them."""

    def __init__(self, argv, cwd, name: str, log_dir: str | None = None):
        self.name = name
        self.err_path = os.path.join(log_dir or "/tmp", f"bench-{name}-{os.getpid()}.err")
        self._err = open(self.err_path, "w")
        self.proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._err, text=True, bufsize=1, start_new_session=True)
        self.q: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        self._t = threading.Thread(target=self._reader, daemon=True)
        self._t.start()

    def _reader(self):
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("{"):
                try:
                    self.q.put(json.loads(line))
                except ValueError:
                    pass
        self.q.put(None)

    def next(self, kinds, timeout_s: float, **match) -> dict:
        """The next event whose ``event`` is in ``kinds`` and matches; others are kept in ``seen``."""
        if isinstance(kinds, str):
            kinds = (kinds,)
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchError(f"{self.name}: no {kinds} {match} within {timeout_s:.0f} s; "
                                 f"last events {self.seen[-5:]}; stderr: {self.stderr()[-500:]}")
            try:
                ev = self.q.get(timeout=remaining)
            except queue.Empty:
                continue
            if ev is None:
                self.q.put(None)
                raise BenchError(f"{self.name}: exited (rc={self.proc.poll()}) waiting for {kinds}; "
                                 f"last events {self.seen[-5:]}; stderr: {self.stderr()[-800:]}")
            self.seen.append(ev)
            if ev.get("event") in kinds and all(ev.get(k) == v for k, v in match.items()):
                return ev

    def stderr(self) -> str:
        try:
            with open(self.err_path) as f:
                return f.read()
        except OSError:
            return ""

    def command(self, line: str) -> None:
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):
            pass

    def close(self, wait_s: float = 5.0) -> None:
        if self.proc.poll() is None:
            self.command("quit")
            try:
                self.proc.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=5)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except (OSError, ValueError):
                pass
        self._err.close()
        try:
            os.unlink(self.err_path)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def node_binary() -> str:
    path = shutil.which("node")
    if not path:
        raise BenchError("node (Node.js) is not installed")
    if not (INTEROP / "node_modules" / "@ethereumjs" / "devp2p").is_dir():
        raise BenchError("tests/interop/node_modules is missing: run `npm ci --prefix tests/interop`")
    return path


def gop2p_binary() -> str:
    """Path of bench/gop2p's binary (.tools/gop2p-<version>/gop2p); BenchError if it is not built."""
    why = gop2p_missing()
    if why:
        raise BenchError(why)
    return str(gop2p_path())


class _PeerBench(_JsonLineProcess):
    """A peer process with ejs_bench.mjs's contract: JSON options as the last argument, a
    ``listening`` line first, then events; stdin commands ``quit | dial <enode> | peers``."""

    KIND = ""
    """Short name in process names and messages ("ejs", "go")."""
    LABEL = ""
    """Name of the implementation in messages ("ethereumjs", "go-ethereum p2p")."""

    def argv(self, options_json: str) -> list[str]:
        raise NotImplementedError

    def __init__(self, name: str, key: bytes | None = None, **options):
        self.key = key or generate_private_key()
        self.node_id = node_id_from_private_key(self.key)
        options["key"] = self.key.hex()
        options.setdefault("clientId", f"{self.client_prefix}-{name}")
        super().__init__(self.argv(json.dumps(options)), str(BENCH), f"{self.KIND}-{name}")
        try:
            ev = self.next("listening", 30)
        except BaseException:
            self.close()
            raise
        self.port = ev["port"]
        self.enode = f"enode://{self.node_id.hex()}@{LOOPBACK}:{self.port}"

    @property
    def id_hex(self) -> str:
        return self.node_id.hex()


class EjsBench(_PeerBench):
    """One @ethereumjs/devp2p instance running bench/ejs_bench.mjs with ``options`` (documented
    there); waits (30 s) for its ``listening`` line, BenchError otherwise.  ``port``, ``enode``,
    ``node_id`` (64 bytes) are set; :meth:`next` returns its events."""

    KIND, LABEL, client_prefix = "ejs", "ethereumjs", "ethereumjs"

    def argv(self, options_json: str) -> list[str]:
        return [node_binary(), str(EJS_SCRIPT), options_json]


class GoBench(_PeerBench):
    """One go-ethereum ``p2p.Server`` running bench/gop2p with ``options`` (the same as
    :class:`EjsBench`'s; bench/gop2p/main.go documents them and a few of its own: maxPending,
    dialRatio, verbosity).  BenchError if the binary is not built (``bash scripts/tools.sh``)
    or it prints no ``listening`` line within 30 s."""

    KIND, LABEL, client_prefix = "go", "go-ethereum p2p", "gop2p"

    def argv(self, options_json: str) -> list[str]:
        return [gop2p_binary(), options_json]


class Clients(_JsonLineProcess):
    """bench/rlpx_clients.py: ``count`` raw RLPx initiators to ``enode`` in a separate process."""

    def __init__(self, enode: str, count: int, timeout_s: float = 60.0, name: str = "clients"):
        argv = [sys.executable, str(CLIENTS_SCRIPT), "--enode", enode, "--count", str(count),
                "--timeout", str(timeout_s)]
        super().__init__(argv, str(ROOT), name)

    def ready(self, timeout_s: float = 60.0) -> dict:
        return self.next("prepared", timeout_s)

    def go(self) -> float:
        t0 = time.time()
        self.command("go")
        return t0


# -- statistics ------------------------------------------------------------------------

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def percentile(xs, p: float):
    """Nearest-rank percentile."""
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    k = max(0, min(len(xs) - 1, -(-int(p * len(xs)) // 100) - 1))
    return xs[k]
