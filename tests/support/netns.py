"""Network namespaces made by a test: one per simulated host, joined by a bridge.

:class:`NetnsLab` creates a hub namespace holding a Linux bridge, and one namespace per host
with a veth pair whose other end is on that bridge; host ``i`` gets ``10.<net>.0.<i+1>/24``.
Nothing is changed outside the namespaces it creates, and :meth:`NetnsLab.close` deletes them
(which deletes their veths and bridge).  Needs root and ``ip`` (iproute2):
:func:`unavailable` says why not, for a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess


def _ip(*args: str, ns: str | None = None) -> subprocess.CompletedProcess:
    cmd = (["ip", "netns", "exec", ns, "ip"] if ns else ["ip"]) + list(args)
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=10)


def unavailable() -> str | None:
    """Why namespaces cannot be made here (not root, no ``ip``, no netns or bridge support), or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    probe = f"t22probe{os.getpid()}"
    try:
        _ip("netns", "add", probe)
    except (subprocess.SubprocessError, OSError) as exc:
        return f"cannot create a network namespace: {getattr(exc, 'stderr', '') or exc}".strip()
    try:
        _ip("link", "add", "brprobe", "type", "bridge", ns=probe)
    except (subprocess.SubprocessError, OSError) as exc:
        return f"cannot create a bridge in a namespace: {getattr(exc, 'stderr', '') or exc}".strip()
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=10)
    return None


class NetnsLab:
    """Namespaces ``<prefix>-<host>`` for ``hosts`` (names), addresses ``10.<net>.0.<i+1>``."""

    def __init__(self, hosts, net: int = 77, prefix: str | None = None):
        self.prefix = prefix or f"t{os.getpid() % 100000}"
        self.hub = f"{self.prefix}-hub"
        self.hosts = list(hosts)
        self.address = {h: f"10.{net}.0.{i + 1}" for i, h in enumerate(self.hosts)}
        self.made: list[str] = []
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def ns(self, host: str) -> str:
        """The namespace name of ``host``."""
        return f"{self.prefix}-{host}"

    def _build(self) -> None:
        _ip("netns", "add", self.hub)
        self.made.append(self.hub)
        _ip("link", "add", "br0", "type", "bridge", ns=self.hub)
        _ip("link", "set", "br0", "up", ns=self.hub)
        for i, host in enumerate(self.hosts):
            ns = self.ns(host)
            _ip("netns", "add", ns)
            self.made.append(ns)
            _ip("link", "set", "lo", "up", ns=ns)
            # both ends are made inside the host's namespace, then one moves to the hub
            _ip("link", "add", "eth0", "type", "veth", "peer", "name", f"p{i}", ns=ns)
            _ip("link", "set", f"p{i}", "netns", self.hub, ns=ns)
            _ip("addr", "add", f"{self.address[host]}/24", "dev", "eth0", ns=ns)
            _ip("link", "set", "eth0", "up", ns=ns)
            _ip("link", "set", f"p{i}", "master", "br0", ns=self.hub)
            _ip("link", "set", f"p{i}", "up", ns=self.hub)

    def link(self, host: str, up: bool) -> None:
        """Cut ``host`` off the bridge (its interface down), or connect it again."""
        _ip("link", "set", "eth0", "up" if up else "down", ns=self.ns(host))

    def cmd(self, host: str, argv: list[str]) -> list[str]:
        """``argv`` to run inside ``host``'s namespace."""
        return ["ip", "netns", "exec", self.ns(host)] + list(argv)

    def pids_of(self, host: str) -> list[int]:
        """Live (non-zombie) processes in ``host``'s namespace (``ip netns pids``)."""
        return self._pids(self.ns(host))

    def pids(self) -> list[int]:
        """Live processes in any namespace of this lab."""
        out = []
        for ns in self.made:
            out += self._pids(ns)
        return out

    @staticmethod
    def _pids(ns: str) -> list[int]:
        r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, timeout=10)
        live = []
        for p in r.stdout.split():
            try:
                with open(f"/proc/{p}/stat") as f:
                    st = f.read()
            except OSError:
                continue
            if st[st.rindex(")") + 2] not in "ZX":
                live.append(int(p))
        return live

    def close(self) -> None:
        """SIGKILL whatever still runs in the lab's namespaces, then delete them."""
        import signal

        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for ns in reversed(self.made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        self.made = []
