"""The system under test: one ActorSystem with an event collector and the nodes started in it.

:class:`NodeSystem` starts a fresh multiprocTCPBase ActorSystem on a free loopback admin port
(:func:`actors.system.start_actor_system`: Thespian bound to 127.0.0.1, transientUnique) and an
:class:`actors.collector.EventCollector`; :meth:`NodeSystem.close` shuts it down, then kills
whatever is left of its process group (docs/thespian-facts.md §7) and returns it.  The tests'
``nodes`` fixture (tests/conftest.py) and bench/harness.py's ``BenchSystem`` are built on it.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

import pytest
from thespian.actors import Actor, ActorExitRequest

from actors.adapter.probe import PgidProbe
from actors.collector import CollectFrom, EventCollector, Found, GetEvents, WaitFor
from actors.system import live_group_members, port_in_use, reap_process_group, start_actor_system, start_node, stop_node
from config.model import NodeConfig, ProtocolConfig, Timeouts
from messages.admin import AdminCommand, AdminResult, GetPeers, PeersReply
from rlpx.keys import generate_private_key, node_id_from_private_key

LOOPBACK = "127.0.0.1"

FAST = Timeouts(handshake_s=2.0, ping_interval_s=1.0, idle_s=5.0, write_s=5.0, dial_s=3.0,
                dial_history_s=0.5, inbound_throttle_s=30.0, dial_backoff_max_s=1.0,
                disconnect_grace_s=0.5)
"""Short protocol timers so tests are fast (go-ethereum's defaults are 5/15/30/20/15/35 s)."""


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


# -- the system under test ---------------------------------------------------------------

@dataclass
class Node:
    name: str
    key: bytes
    server: object
    enode: str
    port: int
    config: NodeConfig
    http: str = ""  # "host:port" of its HTTP endpoint, "" without one
    node_id: bytes = field(init=False)

    def __post_init__(self):
        self.node_id = node_id_from_private_key(self.key)

    @property
    def id_hex(self) -> str:
        return self.node_id.hex()


class NodeSystem:
    """One ActorSystem with an event collector and the nodes of one test."""

    TIMEOUTS = FAST
    """Protocol timers of the nodes started here unless given."""

    def __init__(self, log_file: str | None = None, level: str = "INFO"):
        self.admin_port = free_port()
        self.asys = start_actor_system(self.admin_port, level=level, log_file=log_file)
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
        kw.setdefault("timeouts", self.TIMEOUTS)
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
        node = Node(name, cfg.private_key, server, started.enode, started.listen_port, cfg, started.http)
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


def log_tail(path, lines: int = 20) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


