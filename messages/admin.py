"""Admin queries and commands (go-ethereum admin_peers, admin_nodeInfo, admin_addPeer, ...)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GetPeers:
    """-> Server: reply :class:`PeersReply` in the shape of go-ethereum's admin_peers."""


@dataclass(frozen=True)
class PeersReply:
    peers: tuple


@dataclass(frozen=True)
class GetNodeInfo:
    """-> Server: reply :class:`NodeInfoReply` in the shape of admin_nodeInfo."""


@dataclass(frozen=True)
class NodeInfoReply:
    info: dict


@dataclass(frozen=True)
class AdminCommand:
    """-> Server: ``op`` is "add_peer", "remove_peer", "add_trusted" or "remove_trusted"; reply :class:`AdminResult`."""

    op: str
    enode: str


@dataclass(frozen=True)
class AdminResult:
    ok: bool
    error: str = ""


@dataclass(frozen=True)
class PeerInfoRequest:
    """Server -> Peer: reply :class:`PeerInfoReply` with the admin_peers entry of this connection."""

    token: int


@dataclass(frozen=True)
class PeerInfoReply:
    token: int
    info: dict
