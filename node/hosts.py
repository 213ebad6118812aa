"""The member hosts of a multi-host deployment as the convention leader sees them (plain state,
no Thespian: the HostWatch actor carries out what it returns; docs/multi-host.md).

A member host is *joined* from the moment its actor system registers with the leader's (a
Thespian ``ActorSystemConventionUpdate`` with ``remoteAdded``) until it is *lost*: it left the
convention (``remoteAdded`` false), its HostAgent stopped answering pings for ``lost_after_s``
seconds, its agent exited, or it registered afresh (a restarted member).  Thespian itself takes
three missed re-registrations of 7 min 22 s each (about 22 min) to declare a crashed member
dead (docs/thespian-facts.md §6), hence the pings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from messages.events import HostJoined, HostLost

HOST_CAPABILITY = "devp2p-host"
"""The Thespian capability that names a host's actor system after its ``hosts:`` key; the
HostAgent's ``actorSystemCapabilityCheck`` matches it (docs/thespian-facts.md §6)."""

LEFT, NO_ANSWER, RESTARTED, AGENT_EXITED = "left", "no answer", "restarted", "agent exited"
"""The ``reason`` values of a ``host_lost`` event."""


@dataclass
class MemberHost:
    """One member host: its config name, IP ``address``, the names of its nodes, and while
    joined its agent's address (opaque here), when it was last heard (monotonic seconds) and
    the Servers its agent started (node name -> address)."""

    name: str
    address: str
    nodes: tuple
    agent: object = None
    heard: float = 0.0
    servers: dict = field(default_factory=dict)

    @property
    def joined(self) -> bool:
        """True while the host has a live agent."""
        return self.agent is not None


class HostTable:
    """Member hosts by name.  ``nodes``: host name -> node names; ``addresses``: host name -> IP
    address; ``lost_after_s``: silence (seconds) after which a joined host is lost."""

    def __init__(self, nodes: dict, addresses: dict, lost_after_s: float = 5.0):
        self.lost_after_s = lost_after_s
        self.hosts = {h: MemberHost(h, addresses.get(h, ""), tuple(names)) for h, names in nodes.items()}

    def check_member(self, host: str | None, ip: str | None) -> str | None:
        """Why a registering actor system that names itself ``host`` (its HOST_CAPABILITY) from
        ``ip`` is not one of our member hosts, or None if it is."""
        if host is None:
            return "its actor system has no devp2p-host capability"
        if host not in self.hosts:
            return f"host {host!r} is not a member host of the config (have: {', '.join(sorted(self.hosts)) or 'none'})"
        want = self.hosts[host].address
        if ip is not None and want and ip != want:
            return f"host {host!r} registered from {ip}, but the config gives it address {want}"
        return None

    def joined(self, host: str, agent, now: float) -> HostJoined:
        """``host`` joined and its agent is ``agent``; returns the event."""
        h = self.hosts[host]
        h.agent, h.heard, h.servers = agent, now, {}
        return HostJoined(host, h.address, list(h.nodes))

    def is_joined(self, host: str) -> bool:
        """True if ``host`` is a member host with a live agent."""
        h = self.hosts.get(host)
        return h is not None and h.joined

    def started(self, host: str, servers: dict) -> None:
        """The agent of ``host`` reports the Servers it started (node name -> address)."""
        h = self.hosts.get(host)
        if h is not None and h.joined:
            h.servers.update(servers)

    def heard(self, host: str, now: float) -> None:
        """An answer came from ``host``'s agent at ``now``."""
        h = self.hosts.get(host)
        if h is not None and h.joined:
            h.heard = now

    def silent(self, now: float) -> list[str]:
        """Joined hosts not heard from for more than ``lost_after_s`` seconds."""
        return [h.name for h in self.hosts.values() if h.joined and now - h.heard > self.lost_after_s]

    def lost(self, host: str, reason: str, now: float) -> HostLost | None:
        """``host`` is gone (one of the reasons above); returns the event, or None if it was not
        joined (a second notice of the same loss)."""
        h = self.hosts.get(host)
        if h is None or not h.joined:
            return None
        silent = round(now - h.heard, 3) if reason == NO_ANSWER else None
        h.agent, h.servers = None, {}
        return HostLost(host, h.address, list(h.nodes), reason, silent)

    def host_of_agent(self, agent) -> str | None:
        """The joined host whose agent is ``agent``, or None (e.g. an agent replaced since)."""
        for h in self.hosts.values():
            if h.joined and h.agent == agent:
                return h.name
        return None

    def agents(self) -> list[tuple[str, object]]:
        """(host, agent) of every joined host."""
        return [(h.name, h.agent) for h in self.hosts.values() if h.joined]

    def locate(self, node: str) -> tuple[str | None, object, str]:
        """(host, Server address or None, error) of node ``node``."""
        for h in self.hosts.values():
            if node in h.nodes:
                if not h.joined:
                    return h.name, None, f"node {node} runs on host {h.name}, which has not joined (or is lost)"
                server = h.servers.get(node)
                if server is None:
                    return h.name, None, f"node {node} on host {h.name} is not running (starting, or it failed)"
                return h.name, server, ""
        return None, None, f"node {node} is on no member host"
