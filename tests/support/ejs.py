"""An @ethereumjs/devp2p peer (tests/interop/peer.mjs) as a subprocess of a test.

Its JSON-line output goes to a file (read with bounded waits), commands go to its stdin.
Skips nothing: if node or the npm packages are missing, the tests fail with a clear message
(``bash scripts/test.sh`` installs them with ``npm ci``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

from rlpx.keys import generate_private_key, node_id_from_private_key

INTEROP_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "interop")
PEER_SCRIPT = os.path.join(INTEROP_DIR, "peer.mjs")


def node_binary() -> str:
    path = shutil.which("node")
    assert path, "node (Node.js 20) is required for the interop tests"
    assert os.path.isdir(os.path.join(INTEROP_DIR, "node_modules", "@ethereumjs", "devp2p")), (
        "tests/interop/node_modules is missing: run `npm ci --prefix tests/interop` (scripts/test.sh does)")
    return path


class EjsPeer:
    """One ethereumjs RLPx instance.  ``options`` as documented in peer.mjs."""

    def __init__(self, tmp_path, name: str, key: bytes | None = None, **options):
        self.key = key or generate_private_key()
        self.node_id = node_id_from_private_key(self.key)
        options.setdefault("clientId", f"ethereumjs-{name}")
        options["key"] = self.key.hex()
        self.log_path = os.path.join(str(tmp_path), f"ejs-{name}.jsonl")
        self.err_path = os.path.join(str(tmp_path), f"ejs-{name}.err")
        self._out = open(self.log_path, "w")
        self._err = open(self.err_path, "w")
        self.proc = subprocess.Popen([node_binary(), PEER_SCRIPT, json.dumps(options)], cwd=INTEROP_DIR,
                                     stdin=subprocess.PIPE, stdout=self._out, stderr=self._err, text=True)
        self.listening = self.expect("listening", timeout_s=20)[0]
        self.port = self.listening["port"]
        self.enode = f"enode://{self.node_id.hex()}@127.0.0.1:{self.port}"

    @property
    def id_hex(self) -> str:
        return self.node_id.hex()

    def events(self, kind: str | None = None) -> list[dict]:
        with open(self.log_path) as f:
            evs = [json.loads(line) for line in f if line.strip().startswith("{")]
        return [e for e in evs if kind is None or e["event"] == kind]

    def wait(self, kind: str, count: int = 1, timeout_s: float = 20.0, **match) -> list[dict]:
        """Bounded wait for ``count`` events of ``kind`` matching ``match``; returns what came."""
        deadline = time.monotonic() + timeout_s
        while True:
            hits = [e for e in self.events(kind) if all(e.get(k) == v for k, v in match.items())]
            if len(hits) >= count or time.monotonic() >= deadline or self.proc.poll() is not None:
                return hits
            time.sleep(0.05)

    def expect(self, kind: str, count: int = 1, timeout_s: float = 20.0, **match) -> list[dict]:
        hits = self.wait(kind, count, timeout_s, **match)
        if len(hits) < count:
            with open(self.err_path) as f:
                err = f.read()[-2000:]
            raise AssertionError(f"ethereumjs peer: waited {timeout_s} s for {count} x {kind} {match}; "
                                 f"events: {self.events()[-10:]}; stderr: {err}")
        return hits

    def command(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.command("quit")
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._out.close()
        self._err.close()
