"""The Server's admission checkpoints (go-ethereum p2p/server.go ``checkpointPostHandshake``
and ``checkpointAddPeer``), as a request/reply between a Peer and the Server."""

from __future__ import annotations

from dataclasses import dataclass, field

POST_HANDSHAKE = "post_handshake"
ADD_PEER = "add_peer"


@dataclass(frozen=True)
class CheckpointRequest:
    """Peer -> Server.  ``stage`` is POST_HANDSHAKE (after auth/ack) or ADD_PEER (after Hello).

    ``node_id`` is the remote's 64-byte id; ``matched`` the number of shared capabilities,
    ``info`` the admin_peers entry of the connection and ``setup_s`` the seconds since the
    connection began (outbound: the TCP connect; inbound: the Peer's start), ADD_PEER only.
    """

    stage: str
    node_id: bytes
    inbound: bool
    matched: int = 0
    info: dict | None = field(default=None, repr=False)  # messages.peer.CONFIG_REPR_NOTE
    setup_s: float = 0.0


@dataclass(frozen=True)
class CheckpointReply:
    """Server -> Peer: ``reason`` is None to go on, else the DiscReason code to disconnect with."""

    stage: str
    reason: int | None
