"""Helpers for the actor-core integration tests (tests/test_node_*.py).

* :class:`NodeSystem`: a fresh multiprocTCPBase ActorSystem on a free loopback admin port
  (:func:`actors.system.start_actor_system`: Thespian bound to 127.0.0.1, transientUnique),
  an :class:`actors.collector.EventCollector`, and nodes started in it.  :meth:`NodeSystem.close`
  shuts the system down and then checks that no process of its process group is left
  (docs/thespian-facts.md §7): leftovers are SIGKILLed with ``killpg`` and reported.
* the ``nodes`` fixture: one NodeSystem per test; teardown fails the test on leftovers.
* :class:`RawPeer`: an RLPx peer driven from the test process with
  :class:`rlpx.connection.Connection` over a plain blocking socket (for silent, misbehaving
  and observing peers).
* :func:`listening_sockets`: the TCP/UDP sockets that the processes of a group listen on,
  from /proc (psutil is not installed).

Everything talks to 127.0.0.1 only; every wait is bounded.  Event waits go through the
collector (``WaitFor`` asks answered as soon as the events are there), never sleeps.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from dataclasses import dataclass, field

import pytest
from thespian.actors import Actor, ActorExitRequest

from actors.collector import CollectFrom, EventCollector, Found, GetEvents, WaitFor
from actors.system import (live_group_members, port_in_use, reap_process_group, start_actor_system, start_node,
                           stop_node)
from config.model import NodeConfig, ProtocolConfig, Timeouts
from messages.admin import AdminCommand, AdminResult, GetPeers, PeersReply
from rlpx import base_protocol as bp
from rlpx.caps import LocalProtocol
from rlpx.connection import Connection, DisconnectReceived, HandshakeDone, HelloReceived, Messages, PingReceived
from rlpx.disc import DiscReason
from rlpx.enode import Enode, parse_enode
from rlpx.keys import generate_private_key, node_id_from_private_key

LOOPBACK = "127.0.0.1"

FAST = Timeouts(handshake_s=2.0, ping_interval_s=1.0, idle_s=5.0, write_s=5.0, dial_s=3.0,
                dial_history_s=0.5, inbound_throttle_s=30.0, dial_backoff_max_s=1.0,
                disconnect_grace_s=0.5)
"""Short protocol timers so tests are fast (go-ethereum's defaults are 5/15/30/20/15/35 s)."""

STRESS = "protocols.testing_protocols.StressTestProtocol"
TEST_PROTO = "protocols.test_protocol.TestProtocol"


def echo(name="test", version=1, length=None, actor=None, **options) -> ProtocolConfig:
    """A test protocol that echoes (plus ``options``)."""
    opts = {"echo": True}
    opts.update(options)
    return ProtocolConfig(name, version, tuple(opts.items()), length=length, actor=actor)


def sender(count, size=100, name="test", version=1, length=None, actor=None, **options) -> ProtocolConfig:
    """A test protocol that sends ``count`` messages of ``size`` bytes and reports."""
    opts = {"send_count": count, "send_size": size}
    opts.update(options)
    return ProtocolConfig(name, version, tuple(opts.items()), length=length, actor=actor)


def free_port() -> int:
    s = socket.socket()
    s.bind((LOOPBACK, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_free(port: int) -> bool:
    """True if 127.0.0.1:``port`` can be bound (nothing listens there)."""
    return not port_in_use(LOOPBACK, port)


def wait_until(pred, timeout_s: float, interval_s: float = 0.02):
    """Poll ``pred`` until it returns a truthy value or ``timeout_s`` passes; return its last value.

    Only for conditions no event reports (a process exiting, a port being released)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = pred()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval_s)


# -- processes ---------------------------------------------------------------------------

class PgidProbe(Actor):
    """Replies to "pgid" with its process group: the ActorSystem's group (docs/thespian-facts.md §7)."""

    def receiveMessage(self, msg, sender):
        if msg == "pgid":
            self.send(sender, os.getpgid(0))


class ParentProbe(Actor):
    """Replies to "ppid" with its parent's pid: a top-level actor's parent is the system's admin."""

    def receiveMessage(self, msg, sender):
        if msg == "ppid":
            self.send(sender, os.getppid())


def tree_pids(root: int) -> set[int]:
    """``root`` and its live descendants, from /proc/<pid>/task/*/children (that tree only)."""
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read()
            if st[st.rindex(")") + 2] in "ZX":
                continue
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        found.add(pid)
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
            except OSError:
                continue
    return found


def group_pids(pgid: int) -> dict[int, str]:
    """Live (not zombie) processes of process group ``pgid``: pid -> command line."""
    out = {}
    for pid in live_group_members(pgid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                out[pid] = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
    return out


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


# -- the system under test ---------------------------------------------------------------

@dataclass
class Node:
    name: str
    key: bytes
    server: object
    enode: str
    port: int
    config: NodeConfig
    node_id: bytes = field(init=False)

    def __post_init__(self):
        self.node_id = node_id_from_private_key(self.key)

    @property
    def id_hex(self) -> str:
        return self.node_id.hex()


class NodeSystem:
    """One ActorSystem with an event collector and the nodes of one test."""

    def __init__(self, log_file: str | None = None):
        self.admin_port = free_port()
        self.asys = start_actor_system(self.admin_port, level="INFO", log_file=log_file)
        self.closed = False
        self.sigkilled = False  # set by tests that SIGKILL actors on purpose
        self.pgid = None
        try:
            probe = self.asys.createActor(PgidProbe)
            pgid = self.asys.ask(probe, "pgid", 10)
            self.asys.tell(probe, ActorExitRequest())
            assert isinstance(pgid, int), f"no process group from the probe actor: {pgid!r}"
            assert pgid != os.getpgid(0), "the actor system shares the test's process group"
            self.pgid = pgid
            self.collector = self.asys.createActor(EventCollector)
        except BaseException:
            self.close()
            raise
        self.nodes: dict[str, Node] = {}

    # -- nodes -------------------------------------------------------------------------
    def config(self, name, key=None, **kw) -> NodeConfig:
        kw.setdefault("listen_port", 0)
        kw.setdefault("timeouts", FAST)
        kw.setdefault("protocols", (echo(),))
        for k in ("static_nodes", "trusted_nodes", "protocols"):
            if k in kw:
                kw[k] = tuple(kw[k])
        return NodeConfig(name, key or generate_private_key(), **kw)

    def start(self, name, key=None, **kw) -> Node:
        """Start node ``name`` (test timeouts, echo protocol unless given) and subscribe to it."""
        cfg = self.config(name, key, **kw)
        server, started = start_node(self.asys, cfg, timeout_s=15)
        reply = self.asys.ask(self.collector, CollectFrom(server), 10)
        assert isinstance(reply, Found), f"collector did not subscribe: {reply!r}"
        node = Node(name, cfg.private_key, server, started.enode, started.listen_port, cfg)
        self.nodes[name] = node
        return node

    def stop(self, node: Node, timeout_s: float = 10.0):
        reply = stop_node(self.asys, node.server, timeout_s)
        self.nodes.pop(node.name, None)
        return reply

    def admin(self, node: Node, op: str, enode: str) -> AdminResult:
        reply = self.asys.ask(node.server, AdminCommand(op, enode), 10)
        assert isinstance(reply, AdminResult) and reply.ok, f"{op} on {node.name}: {reply!r}"
        return reply

    def connect(self, a: Node, b: Node) -> None:
        """``a`` adds ``b`` as a static peer."""
        self.admin(a, "add_peer", b.enode)

    def peers(self, node: Node) -> tuple:
        reply = self.asys.ask(node.server, GetPeers(), 10)
        assert isinstance(reply, PeersReply), f"GetPeers on {node.name}: {reply!r}"
        return reply.peers

    # -- events ------------------------------------------------------------------------
    def mark(self) -> int:
        """Index of the next event (use as ``since``)."""
        return self.asys.ask(self.collector, GetEvents(since=1 << 62), 10).index

    def events(self, since=0, kind=None, node=None) -> list:
        reply = self.asys.ask(self.collector, GetEvents(since=since), 10)
        return [e for e in reply.events
                if (kind is None or e.kind == kind) and (node is None or e.node == node)]

    def wait(self, event, node=None, count=1, since=0, timeout_s=10.0, **match) -> Found:
        """Wait (bounded) for ``count`` events whose data match ``match`` (``a__b`` = data["a"]["b"])."""
        m = tuple((k.replace("__", "."), v) for k, v in match.items())
        reply = self.asys.ask(self.collector, WaitFor(event, m, count, node, since, timeout_s), timeout_s + 10)
        assert isinstance(reply, Found), f"collector did not answer: {reply!r}"
        return reply

    def expect(self, event, node=None, count=1, since=0, timeout_s=10.0, **match) -> list:
        """Like :meth:`wait` but fail the test (listing what did arrive) unless all came."""
        found = self.wait(event, node, count, since, timeout_s, **match)
        if not found.ok:
            seen = [(e.node, e.kind, {k: v for k, v in e.data.items() if k != "data"})
                    for e in self.events(since) if e.kind != "protocol_event"]
            pytest.fail(f"waited {timeout_s} s for {count} x {event} node={node} {match}; "
                        f"got {len(found.events)}; events: {seen}")
        return list(found.events)

    def expect_none(self, event, within_s, node=None, since=0, **match) -> None:
        """Fail if a matching event arrives within ``within_s`` (a bounded wait for an event that
        must not come)."""
        found = self.wait(event, node, 1, since, within_s, **match)
        assert not found.ok, f"unexpected {event} on {node}: {[e.data for e in found.events]}"

    def report(self, node: Node, peer: Node | None = None, protocol="test", since=0, timeout_s=30.0) -> dict:
        """The ``test_report`` data of ``node``'s protocol (towards ``peer``)."""
        match = {"kind": "test_report", "protocol": protocol}
        if peer is not None:
            match["peer_id"] = peer.id_hex
        ev = self.expect("protocol_event", node=node.name, since=since, timeout_s=timeout_s, **match)
        return ev[0].data["data"]

    # -- processes ---------------------------------------------------------------------
    def admin_pid(self) -> int:
        """The pid of the system's admin process (the parent of every top-level actor)."""
        probe = self.asys.createActor(ParentProbe)
        ppid = self.asys.ask(probe, "ppid", 10)
        self.asys.tell(probe, ActorExitRequest())
        assert isinstance(ppid, int), f"no pid from the probe actor: {ppid!r}"
        return ppid

    def pids(self) -> dict[int, str]:
        return group_pids(self.pgid) if self.pgid else {}

    def close(self, wait_s: float = 5.0) -> dict[int, str]:
        """Shut the system down; return the processes of its group that had to be killed."""
        if self.closed:
            return {}
        self.closed = True
        try:
            self.asys.shutdown()
        finally:
            left = {}
            if self.pgid:
                before = group_pids(self.pgid)
                left = {pid: before.get(pid, "?") for pid in reap_process_group(self.pgid, wait_s)}
        return left


def _log_tail(path, lines: int = 20) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


@pytest.fixture
def nodes(tmp_path):
    """A fresh NodeSystem per test; teardown fails the test if any process of it survives.

    The actors' own log ("devp2p" logger) goes to ``tmp_path/node.log``: Thespian replaces the
    logging root in every actor process, and the inherited "devp2p" logger still points at this
    process's old root, so without a handler installed before the fork its records reach
    neither the Thespian log (``thespian.log``) nor pytest's output."""
    handler = logging.FileHandler(tmp_path / "node.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s pid=%(process)d %(message)s"))
    logging.getLogger("devp2p").addHandler(handler)
    system = NodeSystem(log_file=str(tmp_path / "thespian.log"))
    try:
        yield system
    finally:
        try:
            left = system.close()
        finally:
            logging.getLogger("devp2p").removeHandler(handler)
            handler.close()
        if left and system.sigkilled:
            # Thespian 4.0.1: after actors were SIGKILLed, shutdown() can leave its admin and
            # logger (and top-level actors) running (docs/thespian-facts.md §3: "the test fixture's killpg
            # is needed").  close() has killed them; check that nothing survived that.
            assert not group_pids(system.pgid), f"processes survive killpg: {group_pids(system.pgid)}"
        elif left:
            pytest.fail(f"processes left after ActorSystem.shutdown() (killed): {left}\n"
                        f"last lines of node.log:\n{_log_tail(tmp_path / 'node.log')}")


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
