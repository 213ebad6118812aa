"""The Server's admission checks as a plain class (go-ethereum p2p/server.go
``postHandshakeChecks`` and ``addPeerChecks``).

* not trusted and ``added >= max_peers``                      -> TOO_MANY_PEERS
* not trusted, inbound and ``inbound added >= max_inbound``   -> TOO_MANY_PEERS
* the node id is already an added peer                        -> ALREADY_CONNECTED
* the node id is ours                                         -> SELF
* at ADD_PEER also: no shared capability (when we run any)    -> USELESS_PEER
Static nodes get no exemption; trusted nodes skip both peer-count checks.
"""

from __future__ import annotations

from rlpx.disc import DiscReason


class Admission:
    """Counts added peers and answers the two checkpoints.

    ``local_id`` 64-byte node id; ``max_peers``/``max_inbound`` from the config;
    ``trusted`` a set of 64-byte node ids (mutable at run time).
    """

    def __init__(self, local_id: bytes, max_peers: int, max_inbound: int, trusted=(), have_protocols: bool = True):
        self.local_id = local_id
        self.max_peers = max_peers
        self.max_inbound = max_inbound
        self.trusted = set(trusted)
        self.have_protocols = have_protocols
        self.added: dict[bytes, bool] = {}  # node id -> inbound

    def inbound_count(self) -> int:
        """Number of added peers that connected to us (go-ethereum p2p/server.go ``inboundCount``)."""
        return sum(1 for inbound in self.added.values() if inbound)

    def post_handshake(self, node_id: bytes, inbound: bool) -> DiscReason | None:
        """Checkpoint 1: None to continue, else the reason to disconnect with."""
        trusted = node_id in self.trusted
        if not trusted and len(self.added) >= self.max_peers:
            return DiscReason.TOO_MANY_PEERS
        if not trusted and inbound and self.inbound_count() >= self.max_inbound:
            return DiscReason.TOO_MANY_PEERS
        if node_id in self.added:
            return DiscReason.ALREADY_CONNECTED
        if node_id == self.local_id:
            return DiscReason.SELF
        return None

    def add_peer(self, node_id: bytes, inbound: bool, matched: int) -> DiscReason | None:
        """Checkpoint 2: useless peer, then checkpoint 1 again; on success the peer is added."""
        if self.have_protocols and matched == 0:
            return DiscReason.USELESS_PEER
        reason = self.post_handshake(node_id, inbound)
        if reason is None:
            self.added[node_id] = inbound
        return reason

    def remove(self, node_id: bytes) -> None:
        """Forget the added peer with 64-byte ``node_id``, freeing its slot; no-op if not added."""
        self.added.pop(node_id, None)
