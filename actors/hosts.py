"""Multi-host deployments on Thespian's convention (docs/multi-host.md).

* :class:`HostWatch` runs on the convention leader.  It is told of every member actor system
  that registers or leaves (``notifyOnSystemRegistrationChanges``).  For each member host of the
  config that joins, it creates a :class:`HostAgent` there (by capability: Thespian forwards the
  creation to the member whose ``devp2p-host`` matches) and hands it that host's node configs.
  It pings every agent, publishes ``host_joined`` / ``host_lost`` events, and tells admin
  clients where each remote node's Server is.
* :class:`HostAgent` runs on a member host.  It starts that host's Servers as its own children
  (so their Listener, Dialer, Peers and Protocol actors run on the same host), answers pings,
  and stops its nodes when the leader has been silent too long.

Decisions are in :class:`node.hosts.HostTable`; these actors own the addresses and timers.
"""

from __future__ import annotations

import time

from thespian.actors import ActorExitRequest

from messages.events import NodeEvent, NodeStartFailed
from messages.hosts import (HostPing, HostPong, LocateNode, NodeAt, NodesStarted, NodesStopped, RunNodes,
                            StopNodes, WatchHosts)
from messages.lifecycle import BeginDialing, NodeStarted, NodeStopped, StartFailed, StartServer, StopNode
from node.hosts import AGENT_EXITED, HOST_CAPABILITY, LEFT, NO_ANSWER, RESTARTED, HostTable

from .adapter.addresses import ip_of
from .base import NodeActor

HOSTS_GLOBAL_NAME = "devp2p-hosts"
"""Thespian globalName of the leader's HostWatch (admin commands find remote nodes through it)."""

START_WAIT_S = 20.0
"""How long a HostAgent waits for its Servers to listen before reporting, seconds (plus the
time it may spend retrying)."""

RETRY_S = 1.0
"""Pause before a HostAgent starts a node that failed to start again, seconds."""


class HostWatch(NodeActor):
    """The leader's view of the member hosts (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.table: HostTable | None = None
        self.nodes: dict = {}
        self.subscribers: tuple = ()
        self.ping_s = 1.0
        self.seq = 0
        self.stop_asker = None
        self.stop_waiting: dict = {}
        self.stopped: list = []

    def on_WatchHosts(self, msg: WatchHosts, sender):
        self.nodes = {h: tuple(cfgs) for h, cfgs in msg.nodes.items()}
        self.table = HostTable({h: [c.name for c in cfgs] for h, cfgs in self.nodes.items()}, msg.addresses,
                               msg.lost_after_s)
        self.subscribers = tuple(msg.subscribers)
        self.ping_s = msg.ping_s
        self.notifyOnSystemRegistrationChanges(True)
        self.after("ping", self.ping_s)
        self.send(sender, True)

    def _publish(self, record, node: str = "") -> None:
        ev = NodeEvent.of(record, node, time.time())
        for sub in self.subscribers:
            self.send(sub, ev)

    def _lose(self, host: str, reason: str) -> None:
        h = self.table.hosts[host]
        agent, joined = h.agent, h.joined
        record = self.table.lost(host, reason, time.monotonic())
        if joined and agent is not None and reason != AGENT_EXITED:
            # an agent still alive (a restarted member's, or one cut off) must not linger
            self.send(agent, ActorExitRequest())
        if record is None:
            return
        self.log.warning("host %s (%s) lost: %s; its nodes %s are gone until it joins again", host,
                         record.address, reason, ", ".join(record.nodes) or "(none)")
        self._publish(record)
        self.stop_waiting.pop(host, None)
        self._stop_done_if_all()

    def _start_agent(self, host: str, probe: bool = False) -> None:
        """Create ``host``'s agent and hand it the host's nodes (``probe``: a lost host tried again)."""
        agent = self.createActor(HostAgent, targetActorRequirements={HOST_CAPABILITY: host})
        record = self.table.joined(host, agent, time.monotonic(), probe)
        if record is not None:
            self.log.info("host %s (%s) joined: starting %s", host, record.address,
                          ", ".join(record.nodes) or "no node")
            self._publish(record)
        self.send(agent, RunNodes(host, self.nodes.get(host, ()), self.subscribers,
                                  leader_lost_s=2 * self.table.lost_after_s))

    def _heard(self, host: str) -> None:
        record = self.table.heard(host, time.monotonic())
        if record is not None:  # a probe answered: the host is back
            self.log.info("host %s (%s) answers again: starting %s", host, record.address,
                          ", ".join(record.nodes) or "no node")
            self._publish(record)

    def on_ActorSystemConventionUpdate(self, msg, sender):
        if self.table is None:
            return
        caps = msg.remoteCapabilities or {}
        host = caps.get(HOST_CAPABILITY)
        if not msg.remoteAdded:
            if host in self.table.hosts:
                self.table.registered(host, False)
                self._lose(host, LEFT)
            return
        why = self.table.check_member(host, ip_of(msg.remoteAdminAddress))
        if why is not None:
            self.log.warning("actor system %s joined the convention but is ignored: %s", msg.remoteAdminAddress, why)
            return
        self.table.registered(host, True)
        if self.table.is_joined(host):
            self._lose(host, RESTARTED)  # a fresh registration of a host we thought alive
        if self.stop_asker is not None:
            return  # stopping: start nothing new
        self._start_agent(host)

    def on_NodesStarted(self, msg: NodesStarted, sender):
        if self.table.host_of_agent(sender) != msg.host:
            return  # from an agent replaced since
        self.table.started(msg.host, msg.servers)
        self._heard(msg.host)
        for name, error in msg.failed.items():
            self.log.error("node %s on host %s could not start: %s", name, msg.host, error)
            self._publish(NodeStartFailed(msg.host, error), name)

    def on_HostPong(self, msg: HostPong, sender):
        if self.table.host_of_agent(sender) == msg.host:
            self._heard(msg.host)

    def on_timer(self, name: str) -> None:
        if name == "ping":
            now = time.monotonic()
            for host in self.table.silent(now):
                self._lose(host, NO_ANSWER)
            if self.stop_asker is None:
                for host in self.table.probes_due(now):
                    self._start_agent(host, probe=True)
            self.seq += 1
            for _host, agent in self.table.agents():
                self.send(agent, HostPing(self.seq))
            self.after("ping", self.ping_s)
        elif name == "stop":
            self._stop_done()

    def on_ChildActorExited(self, msg, sender):
        host = self.table.host_of_agent(msg.childAddress) if self.table else None
        if host is not None:
            self._lose(host, AGENT_EXITED)

    def on_LocateNode(self, msg: LocateNode, sender):
        host, server, error = self.table.locate(msg.name) if self.table else (None, None, "no member hosts")
        self.send(sender, NodeAt(msg.name, host, server, error))

    # -- stopping every member host's nodes ----------------------------------------------
    def on_StopNodes(self, msg: StopNodes, sender):
        self.stop_asker = sender
        self.stop_waiting = {}
        for host, agent in self.table.agents() if self.table else ():
            self.stop_waiting[host] = agent
            self.send(agent, StopNodes(msg.timeout_s))
        self.after("stop", msg.timeout_s + 1.0)
        self._stop_done_if_all()

    def on_NodesStopped(self, msg: NodesStopped, sender):
        host = self.table.host_of_agent(sender)
        if host is not None and self.stop_waiting.pop(host, None) is not None:
            self.stopped += list(msg.stopped)
            self._stop_done_if_all()

    def _stop_done_if_all(self) -> None:
        if self.stop_asker is not None and not self.stop_waiting:
            self._stop_done()

    def _stop_done(self) -> None:
        if self.stop_asker is None:
            return
        unanswered = []
        for host in self.stop_waiting:
            unanswered += list(self.table.hosts[host].nodes)
        self.send(self.stop_asker, NodesStopped(tuple(self.stopped), tuple(unanswered)))
        self.stop_asker = None
        self.timers.cancel("stop")


class HostAgent(NodeActor):
    """Runs one member host's nodes for the leader's HostWatch (see the module docstring)."""

    @staticmethod
    def actorSystemCapabilityCheck(capabilities, requirements):
        """Thespian's placement check: only the actor system whose ``devp2p-host`` capability is
        the requested host runs this agent."""
        want = requirements.get(HOST_CAPABILITY) if requirements else None
        return want is None or (capabilities or {}).get(HOST_CAPABILITY) == want

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.host = ""
        self.watch_addr = None
        self.pending: list = []  # (node name, Server address) not yet listening
        self.servers: dict = {}  # node name -> Server address
        self.failed: dict = {}
        self.reported = False
        self.configs: dict = {}
        self.subscribers: tuple = ()
        self.retrying: list = []  # node names to start again
        self.retry_until = 0.0
        self.last_ping = time.monotonic()
        self.leader_lost_s = 15.0
        self.stop_asker = None
        self.stop_waiting: dict = {}  # node name -> Server address
        self.stopped: list = []

    def on_RunNodes(self, msg: RunNodes, sender):
        self.host, self.watch_addr, self.leader_lost_s = msg.host, sender, msg.leader_lost_s
        self.configs = {cfg.name: cfg for cfg in msg.configs}
        self.subscribers = tuple(msg.subscribers)
        self.last_ping = time.monotonic()
        self.retry_until = self.last_ping + self.leader_lost_s + 2 * RETRY_S
        for cfg in msg.configs:
            self._start(cfg)
        self.after("start", START_WAIT_S + self.leader_lost_s + 2 * RETRY_S)
        self.after("leader", self.leader_lost_s)
        self._report_if_done()

    def _take_pending(self, sender):
        # by address equality: a Server's str(address) as sender and as createActor returned it differ
        for i, (name, server) in enumerate(self.pending):
            if server == sender:
                return self.pending.pop(i)
        return None

    def on_NodeStarted(self, msg: NodeStarted, sender):
        entry = self._take_pending(sender)
        if entry is not None:
            self.servers[entry[0]] = entry[1]
        self._report_if_done()

    def on_StartFailed(self, msg: StartFailed, sender):
        entry = self._take_pending(sender)
        if entry is None:
            return
        name, server = entry
        self.send(server, ActorExitRequest())
        if time.monotonic() < self.retry_until:
            # most often the listen port of this node's previous run, whose agent stops it only
            # once the old leader has been silent for leader_lost_s (a restarted leader)
            self.log.info("host %s: node %s did not start (%s); trying again in %.0f s", self.host, name, msg.error,
                          RETRY_S)
            self.retrying.append(name)
            self.after("retry", RETRY_S)
            return
        self.failed[name] = msg.error
        self._report_if_done()

    def _start(self, cfg) -> None:
        from .server import Server

        server = self.createActor(Server)
        self.pending.append((cfg.name, server))
        self.send(server, StartServer(cfg, self.subscribers, True))

    def _report_if_done(self, force: bool = False) -> None:
        if self.reported or ((self.pending or self.retrying) and not force):
            return
        for name in self.retrying:
            self.failed[name] = "still failing to start"
        self.retrying = []
        for name, server in self.pending:
            self.failed[name] = f"no answer from its Server within {START_WAIT_S} s"
            self.send(server, ActorExitRequest())
        self.pending = []
        self.reported = True
        self.timers.cancel("start")
        for server in self.servers.values():  # every node of this host listens: now they may dial
            self.send(server, BeginDialing())
        self.send(self.watch_addr, NodesStarted(self.host, dict(self.servers), dict(self.failed)))

    def on_HostPing(self, msg: HostPing, sender):
        self.last_ping = time.monotonic()
        self.send(sender, HostPong(self.host, msg.seq))

    def on_timer(self, name: str) -> None:
        if name == "start":
            self._report_if_done(force=True)
        elif name == "retry" and not self.reported:
            names, self.retrying = self.retrying, []
            for n in names:
                self._start(self.configs[n])
        elif name == "leader":
            silent = time.monotonic() - self.last_ping
            if silent >= self.leader_lost_s and self.stop_asker is None:
                self.log.warning("host %s: no ping from the convention leader for %.1f s: stopping its nodes",
                                 self.host, silent)
                self._stop(self.myAddress, 10.0)
            else:
                self.after("leader", max(0.1, self.leader_lost_s - silent))
        elif name == "stop":
            self._stop_done()

    def on_StopNodes(self, msg: StopNodes, sender):
        self._stop(sender, msg.timeout_s)

    def _stop(self, asker, timeout_s: float) -> None:
        self.stop_asker = asker
        self.stop_waiting = dict(self.servers)  # node name -> Server address
        for server in self.servers.values():
            self.send(server, StopNode())
        self.after("stop", timeout_s)
        if not self.stop_waiting:
            self._stop_done()

    def on_NodeStopped(self, msg: NodeStopped, sender):
        for name, server in list(self.stop_waiting.items()):
            if server == sender:
                del self.stop_waiting[name]
                self.stopped.append(name)
        if self.stop_asker is not None and not self.stop_waiting:
            self._stop_done()

    def _stop_done(self) -> None:
        if self.stop_asker is None:
            return
        asker, self.stop_asker = self.stop_asker, None
        self.timers.cancel("stop")
        for server in self.servers.values():
            self.send(server, ActorExitRequest())
        if asker == self.myAddress:  # the leader is gone: nobody to tell; leave
            self.send(self.myAddress, ActorExitRequest())
        else:
            self.send(asker, NodesStopped(tuple(self.stopped), tuple(self.stop_waiting)))
        self.servers = {}

    def on_ChildActorExited(self, msg, sender):
        for name, server in list(self.servers.items()):
            if server == msg.childAddress:
                del self.servers[name]
