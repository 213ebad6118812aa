"""go-ethereum's geth and devp2p tool, as built by scripts/tools.sh, for the interop tests.

* :func:`tool`: the path of ``geth`` or ``devp2p`` at the pinned version
  (requirements/go-ethereum.txt); fails the test with the command to run when it is missing.
* :class:`Geth`: one geth process on loopback with a custom chain (go-ethereum's eth test chain),
  no discovery unless asked (``discovery=True``: discv4 only, UDP on the TCP port), NetRestrict
  127.0.0.0/8, HTTP JSON-RPC with ``admin,net,eth`` (``http_api``); its log goes to a file.  :meth:`Geth.rpc` calls a method; :meth:`Geth.stop` ends the process (SIGTERM, then SIGKILL).

Everything listens on 127.0.0.1 (geth's p2p listener binds every interface; NetRestrict keeps
others out) and every wait is bounded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import pathlib
import re
import signal
import subprocess
import time
import urllib.request

import pytest

from .system import free_port

ROOT = pathlib.Path(__file__).resolve().parents[2]


def pinned_version() -> str:
    """The go-ethereum version of requirements/go-ethereum.txt, e.g. "v1.17.10"."""
    for line in (ROOT / "requirements" / "go-ethereum.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            return line.split()[1]
    raise AssertionError("requirements/go-ethereum.txt names no version")


def tools_dir() -> pathlib.Path:
    """Where scripts/tools.sh puts the binaries and the eth test chain (``ethtest/``)."""
    return ROOT / ".tools" / f"go-ethereum-{pinned_version()}"


def tool(name: str) -> pathlib.Path:
    """Path of ``geth`` or ``devp2p``; fails the test if scripts/tools.sh has not built it."""
    path = tools_dir() / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: run `bash scripts/tools.sh` (scripts/test.sh does)")
    return path


def ethtest_chain() -> pathlib.Path:
    """go-ethereum's eth test chain folder (genesis.json, chain.rlp, headstate.json, ...)."""
    path = tools_dir() / "ethtest"
    if not (path / "genesis.json").is_file():
        pytest.fail(f"{path} is missing: run `bash scripts/tools.sh` (scripts/test.sh does)")
    return path


class Geth:
    """One geth node on loopback, initialised with ``genesis`` (a genesis.json path)."""

    def __init__(self, workdir: pathlib.Path, genesis: pathlib.Path, verbosity: int = 4,
                 chain: pathlib.Path | None = None, extra_args: tuple[str, ...] = (),
                 discovery: bool = False, binary: pathlib.Path | None = None,
                 http_api: str = "admin,net,eth"):
        """``chain``: a chain file (``geth export`` layout) imported with ``geth import`` before
        the start, so geth serves it; without it geth holds only the genesis block.
        ``extra_args``: more geth flags (e.g. ``--syncmode full``).  ``discovery``: run discv4
        (no ``--nodiscover``; ``--discovery.v5=false``; UDP on the TCP port, as geth's default
        ``DiscAddr`` is the listen address); NetRestrict 127.0.0.0/8 stays, which also filters
        out geth's built-in mainnet bootnodes (p2p/discover/table.go).  ``binary``: another
        geth than :func:`tool` ``("geth")`` (e.g. one built with cgo, bench/discv4_bench.py).
        ``http_api``: the namespaces served on HTTP (``--http.api``)."""
        self.dir = pathlib.Path(workdir)
        self.datadir = self.dir / "geth-data"
        self.log_path = self.dir / "geth.log"
        self.port, self.http_port, self.auth_port = free_port(), free_port(), free_port()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.jwt_secret = os.urandom(32)
        (self.dir / "jwt.hex").write_text(self.jwt_secret.hex())
        self.network_id = json.loads(genesis.read_text())["config"]["chainId"]
        self.binary = str(binary or tool("geth"))
        init = subprocess.run([self.binary, "--datadir", str(self.datadir), "init", str(genesis)],
                              capture_output=True, text=True, timeout=120)
        assert init.returncode == 0, init.stderr[-2000:]
        if chain is not None:
            imp = subprocess.run([self.binary, "--datadir", str(self.datadir), "import", str(chain)],
                                 capture_output=True, text=True, timeout=300)
            assert imp.returncode == 0, imp.stderr[-2000:]
        self._log = open(self.log_path, "w")
        disc = ("--discovery.v5=false",) if discovery else ("--nodiscover",)
        self.proc = subprocess.Popen(
            [self.binary, "--datadir", str(self.datadir), "--networkid", str(self.network_id),
             "--port", str(self.port), "--nat", "extip:127.0.0.1", "--netrestrict", "127.0.0.0/8",
             *disc, "--ipcdisable", "--http", "--http.addr", "127.0.0.1",
             "--http.port", str(self.http_port), "--http.api", http_api,
             "--authrpc.addr", "127.0.0.1", "--authrpc.port", str(self.auth_port),
             "--authrpc.jwtsecret", str(self.dir / "jwt.hex"), *extra_args,
             "--verbosity", str(verbosity)],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.enode = self._wait_started(60.0)
        except BaseException:
            self.stop()
            raise

    def _wait_started(self, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"geth exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                info = self.rpc("admin_nodeInfo")
                return info["enode"]
            except OSError:
                time.sleep(0.2)  # geth's HTTP server is not up yet: nothing to wait on but a retry
        raise AssertionError(f"geth's RPC did not answer within {timeout_s} s:\n{self.log_tail()}")

    def rpc(self, method: str, *params, timeout_s: float = 10.0):
        """Call JSON-RPC ``method``; returns its result, raises AssertionError on an error reply
        and OSError when geth cannot be reached."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.http_port}", body,
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            reply = json.loads(resp.read())
        assert "error" not in reply, f"{method}: {reply['error']}"
        return reply["result"]

    def engine(self, method: str, *params, timeout_s: float = 10.0):
        """Call engine API ``method`` on the authenticated port, with a JWT (HS256, ``iat`` now)
        signed by our secret as go-ethereum's node/jwt_auth.go checks it; returns the result."""
        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
        claims = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps({"iat": int(time.time())}).encode())
        token = claims + "." + b64(hmac.new(self.jwt_secret, claims.encode(), hashlib.sha256).digest())
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.auth_port}", body,
                                     {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            reply = json.loads(resp.read())
        assert "error" not in reply, f"{method}: {reply['error']}"
        return reply["result"]

    def peers(self) -> list[dict]:
        """geth's ``admin_peers``."""
        return self.rpc("admin_peers")

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of geth's log."""
        try:
            return "".join(self.log_path.read_text(errors="replace").splitlines(True)[-lines:])
        except OSError:
            return ""

    def log_lines(self, pattern: str) -> list[str]:
        """Lines of geth's log matching the regular expression ``pattern``."""
        rx = re.compile(pattern)
        return [ln for ln in self.log_path.read_text(errors="replace").splitlines() if rx.search(ln)]

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout_s``; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL the process (a crash, as far as its peers can tell)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


def devp2p(*args: str, timeout_s: float = 120.0) -> subprocess.CompletedProcess:
    """Run go-ethereum's devp2p tool with ``args``; output captured as text."""
    return subprocess.run([str(tool("devp2p")), *args], capture_output=True, text=True, timeout=timeout_s)
