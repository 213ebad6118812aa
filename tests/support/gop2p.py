"""bench/gop2p (a go-ethereum ``p2p.Server`` with test/1, built by scripts/tools.sh) as a
subprocess of a test or a benchmark.

* :func:`gop2p_path`: where scripts/tools.sh puts the binary for the pinned go-ethereum
  version (requirements/go-ethereum.txt); :func:`gop2p_missing` says why it cannot run.
* :class:`GoPeer`: one gop2p process; its JSON lines (bench/gop2p/main.go documents them) are
  read by a thread into a list, and waits block on a condition variable until the events
  are there or the bound runs out (no polling); commands go to its stdin.

Everything listens on 127.0.0.1 only; every wait is bounded; :meth:`GoPeer.close` sends
``quit`` (go-ethereum then sends every peer a Disconnect, ``client quitting``) and SIGKILLs
the process group if it has not exited within the bound.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import threading
import time

from rlpx.keys import generate_private_key, node_id_from_private_key

from .geth import ROOT, pinned_version


GOP2P_BINARY_ENV = "GOP2P_BINARY"
"""Environment variable naming another gop2p binary, e.g. a cgo build (bench/README.md)."""


def gop2p_path() -> pathlib.Path:
    """Path of the gop2p binary: ``$GOP2P_BINARY`` if set, else ``.tools/gop2p-<pinned
    version>/gop2p`` as scripts/tools.sh builds it (may not exist)."""
    if os.environ.get(GOP2P_BINARY_ENV):
        return pathlib.Path(os.environ[GOP2P_BINARY_ENV])
    return ROOT / ".tools" / f"gop2p-{pinned_version()}" / "gop2p"


def gop2p_missing() -> str | None:
    """None if the binary is there and executable, else the reason (with the command to run)."""
    path = gop2p_path()
    if not os.access(path, os.X_OK):
        return f"{path} is missing: run `bash scripts/tools.sh` (needs Go and the Go module proxy)"
    return None


class GoPeer:
    """One gop2p process started with ``options`` (JSON, as bench/gop2p/main.go documents:
    key, port, clientId, maxPeers, echo, send, dial, dialBench, quietPeers, ...).

    ``key`` (32 bytes) defaults to a fresh one; ``clientId`` to ``gop2p-<name>``.  Raises
    AssertionError if the binary is missing or the process prints no ``listening`` line
    within ``start_timeout_s``.  Attributes: ``port``, ``enode``, ``node_id`` (64 bytes),
    ``proc``, ``err_path`` (its stderr, in ``log_dir``)."""

    def __init__(self, log_dir, name: str, key: bytes | None = None, start_timeout_s: float = 20.0,
                 binary: str | os.PathLike | None = None, **options):
        why = None if binary else gop2p_missing()
        assert why is None, why
        self.name = name
        self.key = key or generate_private_key()
        self.node_id = node_id_from_private_key(self.key)
        options["key"] = self.key.hex()
        options.setdefault("clientId", f"gop2p-{name}")
        self.err_path = os.path.join(str(log_dir), f"gop2p-{name}-{os.getpid()}-{id(self):x}.err")
        self._err = open(self.err_path, "w")
        self._events: list[dict] = []
        self._cond = threading.Condition()
        self._eof = False
        self.proc = subprocess.Popen([str(binary or gop2p_path()), json.dumps(options)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._err, text=True, bufsize=1,
                                     start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True, name=f"gop2p-{name}")
        self._reader.start()
        try:
            self.listening = self.expect("listening", timeout_s=start_timeout_s)[0]
        except BaseException:
            self.close()
            raise
        self.port = self.listening["port"]
        self.enode = f"enode://{self.node_id.hex()}@127.0.0.1:{self.port}"

    @property
    def id_hex(self) -> str:
        """The node id (64-byte public key) in hex, as gop2p prints peers' ``id``."""
        return self.node_id.hex()

    def _read(self) -> None:
        for line in self.proc.stdout:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            with self._cond:
                self._events.append(ev)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def events(self, kind: str | None = None, since: int = 0) -> list[dict]:
        """The events printed so far (from index ``since``), of ``kind`` if given."""
        with self._cond:
            evs = self._events[since:]
        return [e for e in evs if kind is None or e.get("event") == kind]

    def mark(self) -> int:
        """Index of the next event (use as ``since``)."""
        with self._cond:
            return len(self._events)

    def wait(self, kind: str, count: int = 1, timeout_s: float = 20.0, since: int = 0, **match) -> list[dict]:
        """Block until ``count`` events of ``kind`` matching ``match`` (equal values) have come
        since index ``since``, the process's stdout closes, or ``timeout_s`` passes; returns
        the matching events (possibly fewer than ``count``)."""
        deadline = time.monotonic() + timeout_s

        def hits():
            return [e for e in self._events[since:] if e.get("event") == kind
                    and all(e.get(k) == v for k, v in match.items())]
        with self._cond:
            while True:
                found = hits()
                remaining = deadline - time.monotonic()
                if len(found) >= count or self._eof or remaining <= 0:
                    return found
                self._cond.wait(remaining)

    def expect(self, kind: str, count: int = 1, timeout_s: float = 20.0, since: int = 0, **match) -> list[dict]:
        """Like :meth:`wait`, but raise AssertionError (with the last events and stderr) unless
        all ``count`` came."""
        found = self.wait(kind, count, timeout_s, since, **match)
        if len(found) < count:
            raise AssertionError(f"gop2p {self.name}: waited {timeout_s} s for {count} x {kind} {match}; "
                                 f"got {len(found)}; exit code {self.proc.poll()}; last events "
                                 f"{self.events()[-8:]}; stderr: {self.stderr()[-1500:]}")
        return found

    def stderr(self) -> str:
        """What the process wrote to stderr so far (go-ethereum's log with ``verbosity``)."""
        try:
            with open(self.err_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def command(self, line: str) -> None:
        """Send one stdin command: ``quit``, ``dial <enode>`` or ``peers``; ignored if it has gone."""
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):
            pass

    def close(self, wait_s: float = 8.0) -> int | None:
        """``quit``, wait up to ``wait_s``, then SIGKILL its process group; returns the exit code
        (0 after a clean quit)."""
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
        self._reader.join(5)  # the process has gone: its stdout is at EOF
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except (OSError, ValueError):
                pass
        self._err.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
