"""Admin queries and commands (go-ethereum admin_peers, admin_nodeInfo, admin_addPeer, ...)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GetPeers:
    """-> Server: reply :class:`PeersReply` in the shape of go-ethereum's admin_peers."""


@dataclass(frozen=True)
class PeersReply:
    """Server's reply to :class:`GetPeers`, go-ethereum's admin_peers: ``peers`` is a tuple of dicts, one
    per added peer, sorted by ``id`` (p2p/peer.go ``PeerInfo``: enode, id = keccak256(pubkey) hex, name,
    caps as "name/version", network, protocols; plus our ``offsets`` table)."""

    peers: tuple


@dataclass(frozen=True)
class GetNodeInfo:
    """-> Server: reply :class:`NodeInfoReply` in the shape of admin_nodeInfo."""


@dataclass(frozen=True)
class NodeInfoReply:
    """Server's reply to :class:`GetNodeInfo`: ``info`` is an admin_nodeInfo dict (go-ethereum
    p2p/server.go ``NodeInfo``): id (keccak256 hex), name, enode, ip, ports, listenAddr, protocols;
    ``enr`` our record (``enr:...``, with the protocols' entries such as eth's fork id) and the
    discovery port 0 (no discovery yet)."""

    info: dict


@dataclass(frozen=True)
class AdminCommand:
    """-> Server: ``op`` is "add_peer", "remove_peer", "add_trusted" or "remove_trusted"; reply :class:`AdminResult`."""

    op: str
    enode: str


@dataclass(frozen=True)
class AdminResult:
    """Outcome of an :class:`AdminCommand` or fault request (like admin_addPeer's bool): ``ok``, else
    ``error`` says why in one line (also sent when the node is not running)."""

    ok: bool
    error: str = ""
