"""Admin queries and commands (go-ethereum admin_peers, admin_nodeInfo, admin_addPeer, ...)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GetPeers:
    """-> Server: reply :class:`PeersReply` in the shape of go-ethereum's admin_peers.  ``tag``,
    in this and the other requests here, comes back in the reply, so that an asker with several
    questions open (the HTTP actor) can tell the answers apart."""

    tag: int = 0


@dataclass(frozen=True)
class PeersReply:
    """Server's reply to :class:`GetPeers`, go-ethereum's admin_peers: ``peers`` is a tuple of dicts, one
    per added peer, sorted by ``id`` (p2p/peer.go ``PeerInfo``: enode, id = keccak256(pubkey) hex, name,
    caps as "name/version", network, protocols; plus our ``offsets`` table)."""

    peers: tuple
    tag: int = 0


@dataclass(frozen=True)
class GetNodeInfo:
    """-> Server: reply :class:`NodeInfoReply` in the shape of admin_nodeInfo."""

    tag: int = 0


@dataclass(frozen=True)
class NodeInfoReply:
    """Server's reply to :class:`GetNodeInfo`: ``info`` is an admin_nodeInfo dict (go-ethereum
    p2p/server.go ``NodeInfo``): id (keccak256 hex), name, enode, ip, ports, listenAddr, protocols;
    ``enr`` our record (``enr:...``, with the protocols' entries such as eth's fork id) and the
    discovery port (0 without discovery)."""

    info: dict
    tag: int = 0


@dataclass(frozen=True)
class AdminCommand:
    """-> Server: ``op`` is "add_peer", "remove_peer", "add_trusted" or "remove_trusted"; reply :class:`AdminResult`."""

    op: str
    enode: str
    tag: int = 0


@dataclass(frozen=True)
class AdminResult:
    """Outcome of an :class:`AdminCommand` or fault request (like admin_addPeer's bool): ``ok``, else
    ``error`` says why in one line (also sent when the node is not running)."""

    ok: bool
    error: str = ""
    tag: int = 0


@dataclass(frozen=True)
class GetStatus:
    """-> Server: reply :class:`StatusReply` at once (net_peerCount, net_listening, health)."""

    tag: int = 0


@dataclass(frozen=True)
class StatusReply:
    """The node's state: ``running`` (started and not stopping), ``listening`` (the Listener
    holds its TCP socket now), ``peers`` added peers, ``inbound`` of them inbound."""

    running: bool
    listening: bool
    peers: int
    inbound: int
    tag: int = 0


@dataclass(frozen=True)
class GetMetrics:
    """-> Server: reply :class:`MetricsReply`, the counters as of now (every peer asked for its
    traffic, discovery for its table)."""

    tag: int = 0


@dataclass(frozen=True)
class MetricFamily:
    """One metric in a picklable form (node/prometheus.py turns it into Prometheus text).

    ``kind`` "counter", "gauge" or "histogram"; ``name`` without the ``_total`` suffix of a
    counter; ``labels`` the label names; ``samples`` ``((label values, value), ...)``, for a
    histogram ``((label values, ((upper bound, cumulative count), ..., ("+Inf", count)), sum),
    ...)``."""

    name: str
    kind: str
    help: str
    labels: tuple
    samples: tuple


@dataclass(frozen=True)
class MetricsReply:
    """Server's reply to :class:`GetMetrics`: ``families`` a tuple of :class:`MetricFamily`."""

    families: tuple
    tag: int = 0
