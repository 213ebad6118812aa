"""Helpers of the integration tests: peers and sockets seen from the test process.

* :class:`RawPeer`: an RLPx peer driven from the test process with
  :class:`rlpx.connection.Connection` over a plain blocking socket (for silent, misbehaving
  and observing peers).
* :func:`listening_sockets`: the TCP/UDP sockets that the processes of a group listen on,
  from /proc (psutil is not installed).
* re-exported from :mod:`support.system` and :mod:`support.wait`: the system under test, test
  protocol configs and ``wait_until``; the ``nodes`` fixture is in tests/conftest.py.

Everything talks to 127.0.0.1 only; every wait is bounded.  Event waits go through the
collector (``WaitFor`` asks answered as soon as the events are there), never sleeps.
"""

from __future__ import annotations

import os
import socket
import time

from rlpx import base_protocol as bp
from rlpx.caps import LocalProtocol
from rlpx.connection import Connection, DisconnectReceived, HandshakeDone, HelloReceived, Messages, PingReceived
from rlpx.disc import DiscReason
from rlpx.enode import Enode, parse_enode
from rlpx.keys import generate_private_key, node_id_from_private_key

from .system import (FAST, LOOPBACK, Node, NodeSystem, echo, free_port, group_pids, port_free,  # noqa: F401
                     sender)
from .wait import wait_until  # noqa: F401

STRESS = "protocols.testing_protocols.StressTestProtocol"
TEST_PROTO = "protocols.test_protocol.TestProtocol"


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for fd in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _parse_addr(hexaddr: str, v6: bool) -> tuple[str, int]:
    host, port = hexaddr.split(":")
    raw = bytes.fromhex(host)
    if v6:
        # four 32-bit words, each in host (little-endian) order
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
        ip = socket.inet_ntop(socket.AF_INET6, raw)
    else:
        ip = socket.inet_ntop(socket.AF_INET, raw[::-1])
    return ip, int(port, 16)


def listening_sockets(pids) -> list[dict]:
    """Listening TCP sockets and bound UDP sockets held by ``pids``, from /proc/<pid>/net and fds.

    Each entry: proto, host, port, pid.
    """
    owner: dict[int, int] = {}
    for pid in pids:
        for inode in _socket_inodes(pid):
            owner.setdefault(inode, pid)
    found = []
    seen = set()
    for pid in pids:
        for proto, fname, v6 in (("tcp", "tcp", False), ("tcp6", "tcp6", True),
                                 ("udp", "udp", False), ("udp6", "udp6", True)):
            try:
                with open(f"/proc/{pid}/net/{fname}") as f:
                    lines = f.readlines()[1:]
            except OSError:
                continue
            for line in lines:
                cols = line.split()
                local, state, inode = cols[1], cols[3], int(cols[9])
                if inode not in owner or (proto, inode) in seen:
                    continue
                if proto.startswith("tcp") and state != "0A":  # 0A = LISTEN
                    continue
                seen.add((proto, inode))
                host, port = _parse_addr(local, v6)
                found.append({"proto": proto, "host": host, "port": port, "pid": owner[inode]})
    return found


# -- a raw RLPx peer in the test process ---------------------------------------------------

class RawPeer:
    """An RLPx initiator driven from the test process over a blocking socket.

    ``key`` our private key (random by default); ``caps`` (name, version, length) triples;
    ``hello_node_id`` overrides the node id in our Hello (identity-mismatch tests).
    """

    def __init__(self, enode: str, key: bytes | None = None, caps=(("test", 1, 8),), client_id="raw-peer/test",
                 hello_node_id: bytes | None = None, connect_timeout_s: float = 5.0):
        self.key = key or generate_private_key()
        self.node_id = node_id_from_private_key(self.key)
        self.remote: Enode = parse_enode(enode)
        assert self.remote.host == LOOPBACK
        hello = bp.Hello(bp.BASE_PROTOCOL_VERSION, client_id,
                         tuple(bp.Capability(n, v) for n, v, _ in caps), 0, hello_node_id or self.node_id)
        self.conn = Connection(self.key, hello, [LocalProtocol(n, v, ln) for n, v, ln in caps],
                               remote_node_id=self.remote.node_id)
        self.sock = socket.create_connection(self.remote.address, timeout=connect_timeout_s)
        self.eof = False
        self.hello: HelloReceived | None = None
        self.pings = 0
        self._backlog: list = []  # events decoded but not yet returned (after a Hello)

    @property
    def id_hex(self) -> str:
        return self.node_id.hex()

    def flush(self) -> None:
        if self.conn.out:
            self.sock.sendall(bytes(self.conn.out))
            self.conn.out.clear()

    def discard_out(self) -> None:
        """Drop what the Connection queued (e.g. Pongs) without sending it: stay silent."""
        self.conn.out.clear()

    def read(self, deadline: float) -> list:
        """One socket read fed to the Connection (events; [] on timeout); sets ``eof``."""
        if self._backlog:
            events, self._backlog = self._backlog, []
            return events
        remaining = deadline - time.monotonic()
        if remaining <= 0 or self.eof:
            return []
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            return []
        except ConnectionResetError:
            self.eof = True
            return []
        if not data:
            self.eof = True
            return []
        events = self.conn.feed(data)
        self.pings += sum(1 for ev in events if isinstance(ev, PingReceived))
        return events

    def handshake(self, timeout_s: float = 5.0):
        """Run auth/ack and the Hello exchange (approving both checkpoints at once).

        Returns the remote's HelloReceived event, or the DisconnectReceived event if the
        remote disconnected first; raises AssertionError on timeout or EOF.
        """
        deadline = time.monotonic() + timeout_s
        self.flush()
        while time.monotonic() < deadline and not self.eof:
            events = self.read(deadline)
            for i, ev in enumerate(events):
                if isinstance(ev, HandshakeDone):
                    events_after = self.conn.approve_post_handshake()
                    self.flush()
                    events.extend(events_after)
                elif isinstance(ev, HelloReceived):
                    self.hello = ev
                    # what followed the Hello in the same read (held by the checkpoint)
                    self._backlog = events[i + 1:] + self.conn.approve_add_peer()
                    self.flush()
                    return ev
                elif isinstance(ev, DisconnectReceived):
                    return ev
            self.flush()
        raise AssertionError(f"raw peer: no Hello from the node within {timeout_s} s (eof={self.eof})")

    def read_until_disconnect(self, timeout_s: float, answer_pings: bool = True):
        """Read until Disconnect arrives; return (reason or None on EOF/timeout, messages seen)."""
        deadline = time.monotonic() + timeout_s
        msgs = []
        while time.monotonic() < deadline and not self.eof:
            for ev in self.read(deadline):
                if isinstance(ev, DisconnectReceived):
                    return ev.reason, msgs
                if isinstance(ev, Messages):
                    for name, items in ev.by_protocol.items():
                        msgs.extend((name, code, payload) for code, payload in items)
            if answer_pings:
                self.flush()
            else:
                self.discard_out()
        return None, msgs

    def wait_eof(self, timeout_s: float) -> bool:
        """Read and discard until the remote closes; True if EOF came within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self.eof:
            remaining = deadline - time.monotonic()
            self.sock.settimeout(max(0.001, remaining))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                self.eof = True
                break
            if not data:
                self.eof = True
        return self.eof

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def reasons(events) -> list[tuple[str, bool]]:
    return [(e.data["reason"], e.data["remote_requested"]) for e in events]


__all__ = [name for name in dir() if not name.startswith("_")]
