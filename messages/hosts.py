"""Messages between the convention leader's HostWatch and each member host's HostAgent
(multi-host deployments: docs/multi-host.md).

The HostWatch (on the leader) creates one HostAgent on every member host that joins, hands it
the configs of that host's nodes, pings it, and routes admin commands to the Servers it started.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # messages load no Thespian: the address is only a field's type
    from thespian.actors import ActorAddress



@dataclass(frozen=True)
class WatchHosts:
    """run_node -> HostWatch: run ``nodes`` (host name -> tuple of NodeConfig) on the member hosts
    as each joins; events go to ``subscribers``.  ``addresses``: host name -> IP address (for the
    events).  ``ping_s``: interval of the liveness ping, seconds; ``lost_after_s``: a member whose
    agent has not answered for this long is lost.  Reply: True."""

    nodes: dict
    addresses: dict
    subscribers: tuple = ()
    ping_s: float = 1.0
    lost_after_s: float = 5.0


@dataclass(frozen=True)
class RunNodes:
    """HostWatch -> HostAgent: start a Server for each of ``configs`` on this host (subscribed by
    ``subscribers``), let them dial once all listen, and answer :class:`NodesStarted`.
    ``leader_lost_s``: with no :class:`HostPing` for this long the agent stops its nodes and exits."""

    host: str
    configs: tuple = ()
    subscribers: tuple = ()
    leader_lost_s: float = 15.0


@dataclass(frozen=True)
class NodesStarted:
    """HostAgent -> HostWatch: ``servers`` node name -> Server address of those that listen
    (their ``ready`` events carry the enode URLs), and ``failed`` node name -> one-line error."""

    host: str
    servers: dict = field(default_factory=dict)
    failed: dict = field(default_factory=dict)


@dataclass(frozen=True)
class HostPing:
    """HostWatch -> HostAgent, every ``WatchHosts.ping_s``: answer :class:`HostPong` with ``seq``."""

    seq: int


@dataclass(frozen=True)
class HostPong:
    """HostAgent -> HostWatch: the answer to :class:`HostPing` ``seq``."""

    host: str
    seq: int


@dataclass(frozen=True)
class StopNodes:
    """-> HostWatch (every member host's nodes) or -> HostAgent (its nodes): stop them
    (Disconnect QUITTING to their peers); reply :class:`NodesStopped` when each has answered
    NodeStopped or ``timeout_s`` seconds have passed."""

    timeout_s: float = 10.0


@dataclass(frozen=True)
class NodesStopped:
    """The answer to :class:`StopNodes`: the names of the nodes that stopped in time, and of
    those that did not answer."""

    stopped: tuple = ()
    unanswered: tuple = ()


@dataclass(frozen=True)
class LocateNode:
    """Admin client -> HostWatch: where does node ``name`` run?  Reply :class:`NodeAt`."""

    name: str


@dataclass(frozen=True)
class NodeAt:
    """HostWatch -> admin client: node ``name`` runs on ``host``; ``server`` its Server's address,
    None while that host has not joined (or is lost); ``error`` why not, for the user."""

    name: str
    host: str | None
    server: ActorAddress | None = None
    error: str = ""
