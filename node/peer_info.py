"""A connection's admin_peers entry (go-ethereum p2p/peer.go ``PeerInfo``), built from plain data."""

from __future__ import annotations

from rlpx import base_protocol as bp
from rlpx.caps import OffsetTable
from rlpx.enode import Enode
from rlpx.keys import node_hash

HANDSHAKE_INFO = "handshake"
"""What admin_peers shows for a protocol without info (go-ethereum p2p/peer.go ``Peer.Info``)."""


def peer_info(hello: bp.Hello, table: OffsetTable, inbound: bool, local: tuple, remote: tuple,
              trusted: bool, static: bool, protocols: dict | None = None) -> dict:
    """The admin_peers entry of one connection.

    ``hello`` is the remote's Hello; ``local``/``remote`` (host, port) of the TCP connection
    (empty when unknown); ``protocols`` maps each matched protocol's name to its info (None or
    missing: :data:`HANDSHAKE_INFO`).  The enode's port is the remote's listen port for an
    inbound peer and the dialled port for an outbound one, as go-ethereum records it.
    """
    host = remote[0] if remote else "0.0.0.0"
    port = hello.listen_port if inbound else (remote[1] if remote else 0)
    protocols = protocols or {}
    return {
        "enode": Enode(hello.node_id, host, port, port).url(),
        "id": node_hash(hello.node_id).hex(),
        "name": hello.client_id,
        "caps": [str(c) for c in hello.capabilities],
        "network": {"localAddress": f"{local[0]}:{local[1]}" if local else "",
                    "remoteAddress": f"{remote[0]}:{remote[1]}" if remote else "",
                    "inbound": inbound, "trusted": trusted, "static": static},
        "protocols": {r.name: HANDSHAKE_INFO if protocols.get(r.name) is None else protocols[r.name]
                      for r in table.rows},
        "offsets": [{"name": r.name, "version": r.version, "offset": r.offset, "length": r.length}
                    for r in table.rows],
    }
