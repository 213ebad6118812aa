"""The member hosts of a multi-host deployment as the convention leader sees them (plain state,
no Thespian: the HostWatch actor carries out what it returns; docs/multi-host.md).

A member host is *joined* from the moment its actor system registers with the leader's (a
Thespian ``ActorSystemConventionUpdate`` with ``remoteAdded``) until it is *lost*: it left the
convention (``remoteAdded`` false), its HostAgent stopped answering pings for ``lost_after_s``
seconds, its agent exited, or it registered afresh (a restarted member).  Thespian itself takes
three missed re-registrations of 7 min 22 s each (about 22 min) to declare a crashed member
dead (docs/thespian-facts.md §6), hence the pings.

A host lost for silence or a dead agent may still be in the convention (cut off for a while,
or too busy to answer): Thespian then sends no new registration notice.  So such a host is
*probed*: after ``lost_after_s``, and then at doubling intervals up to
:data:`PROBE_BACKOFF_MAX_S`, a new agent is tried; the host counts as joined again (a
``host_joined`` event) only once that agent answers, and a silent probe is dropped without a
second ``host_lost``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from messages.events import HostJoined, HostLost

HOST_CAPABILITY = "devp2p-host"
"""The Thespian capability that names a host's actor system after its ``hosts:`` key; the
HostAgent's ``actorSystemCapabilityCheck`` matches it (docs/thespian-facts.md §6)."""

LEFT, NO_ANSWER, RESTARTED, AGENT_EXITED = "left", "no answer", "restarted", "agent exited"
"""The ``reason`` values of a ``host_lost`` event."""

PROBE_BACKOFF_MAX_S = 60.0
"""Longest pause between two probes of a lost host that is still in the convention, seconds."""


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
    registered: bool = False
    probing: bool = False
    probe_at: float | None = None
    backoff_s: float = 0.0

    @property
    def joined(self) -> bool:
        """True while the host has an agent: a confirmed one, or one being probed."""
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

    def registered(self, host: str, present: bool) -> None:
        """``host``'s actor system joined (``present``) or left the convention; a host that left
        is not probed."""
        h = self.hosts.get(host)
        if h is not None:
            h.registered = present
            if not present:
                h.probe_at = None

    def joined(self, host: str, agent, now: float, probe: bool = False) -> HostJoined | None:
        """``host`` has a new agent ``agent``: it joined (returns the event), or with ``probe``
        it is being probed (returns None: the event comes from :meth:`heard`)."""
        h = self.hosts[host]
        h.agent, h.heard, h.servers, h.probing, h.probe_at = agent, now, {}, probe, None
        if probe:
            return None
        h.backoff_s = 0.0
        return HostJoined(host, h.address, list(h.nodes))

    def probes_due(self, now: float) -> list[str]:
        """Lost hosts still in the convention whose next probe is due at ``now``."""
        return [h.name for h in self.hosts.values()
                if not h.joined and h.registered and h.probe_at is not None and now >= h.probe_at]

    def is_joined(self, host: str) -> bool:
        """True if ``host`` is a member host with a live agent."""
        h = self.hosts.get(host)
        return h is not None and h.joined

    def started(self, host: str, servers: dict) -> None:
        """The agent of ``host`` reports the Servers it started (node name -> address)."""
        h = self.hosts.get(host)
        if h is not None and h.joined:
            h.servers.update(servers)

    def heard(self, host: str, now: float) -> HostJoined | None:
        """An answer came from ``host``'s agent at ``now``; returns the ``host_joined`` event
        when it is the first answer of a probe (the host is back), else None."""
        h = self.hosts.get(host)
        if h is None or not h.joined:
            return None
        h.heard = now
        if h.probing:
            h.probing, h.backoff_s = False, 0.0
            return HostJoined(host, h.address, list(h.nodes))
        return None

    def silent(self, now: float) -> list[str]:
        """Joined hosts not heard from for more than ``lost_after_s`` seconds."""
        return [h.name for h in self.hosts.values() if h.joined and now - h.heard > self.lost_after_s]

    def lost(self, host: str, reason: str, now: float) -> HostLost | None:
        """``host`` is gone (one of the reasons above); returns the event, or None if it was not
        joined (a second notice of the same loss)."""
        h = self.hosts.get(host)
        if h is None or not h.joined:
            return None
        was_probe = h.probing
        silent = round(now - h.heard, 3) if reason == NO_ANSWER else None
        h.agent, h.servers, h.probing = None, {}, False
        if reason in (NO_ANSWER, AGENT_EXITED) and h.registered:
            h.backoff_s = min(PROBE_BACKOFF_MAX_S, 2 * h.backoff_s if h.backoff_s else self.lost_after_s)
            h.probe_at = now + h.backoff_s
        else:
            h.probe_at = None
        if was_probe:
            return None  # a probe that got no answer: the loss was reported already
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
