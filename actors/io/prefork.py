"""Make a process that forks Peer actors leave more of its memory shared with them.

Every Peer process is forked from the Server, and every Protocol actor from its Peer; what a
child writes of its creator's pages becomes its own (copy on write) and counts in full against
the peer.  Part of it was one-time lazy set-up inside the wire layer's libraries (OpenSSL's
AES-CTR and keccak state, secp256k1 contexts, snappy, RLP sedes, the frame codec's paths),
redone in every Peer because the Server had never run it.  :func:`rehearse_connection` runs one
complete RLPx connection in memory in the creating process, so that set-up is done once there
and shared by every child (docs/performance.md, "Memory").
"""

from __future__ import annotations

from rlpx import base_protocol as bp
from rlpx.caps import LocalProtocol
from rlpx.connection import RUNNING, Connection
from rlpx.disc import DiscReason
from rlpx.keys import generate_private_key, node_id_from_private_key

REHEARSAL_PAYLOAD_SIZES = (100, 65536)
"""Bytes of the sub-protocol messages sent each way: a small one and one that snappy and the
frame codec handle in several chunks."""


def rehearse_connection(protocols) -> None:
    """Connect two in-memory :class:`rlpx.connection.Connection` objects with throw-away keys and
    run what a Peer runs: auth/ack (EIP-8), Hello both ways, snappy on, Ping/Pong, one message
    of each size in :data:`REHEARSAL_PAYLOAD_SIZES` each way on the first protocol, Disconnect.

    ``protocols``: the node's ``(name, version, length)`` triples (:class:`LocalProtocol` or
    tuples); with none, the rehearsal stops after the Hellos.  No sockets, no actors; ~3 ms of
    CPU.  Raises RuntimeError if the two ends do not reach RUNNING (a bug in ``rlpx/``).
    """
    local = [p if isinstance(p, LocalProtocol) else LocalProtocol(*p) for p in protocols]
    caps = tuple(bp.Capability(p.name, p.version) for p in local)
    key_a, key_b = generate_private_key(), generate_private_key()
    id_a, id_b = node_id_from_private_key(key_a), node_id_from_private_key(key_b)
    a = Connection(key_a, bp.Hello(bp.BASE_PROTOCOL_VERSION, "rehearsal", caps, 0, id_a), local, remote_node_id=id_b)
    b = Connection(key_b, bp.Hello(bp.BASE_PROTOCOL_VERSION, "rehearsal", caps, 0, id_b), local)

    def pump(src: Connection, dst: Connection) -> list:
        data = bytes(src.out)
        src.out.clear()
        return dst.feed(data)

    pump(a, b)
    pump(b, a)
    a.approve_post_handshake()
    b.approve_post_handshake()
    pump(a, b)
    pump(b, a)
    if not local:
        return
    a.approve_add_peer()
    b.approve_add_peer()
    if a.state != RUNNING or b.state != RUNNING or not (a.codec.snappy and b.codec.snappy):
        raise RuntimeError("rehearsal connection did not reach RUNNING with snappy")
    a.send_ping()
    pump(a, b)
    pump(b, a)
    first = bp.BASE_PROTOCOL_LENGTH  # the first protocol's offset (devp2p rlpx.md, "Message ID-based Multiplexing")
    for size in REHEARSAL_PAYLOAD_SIZES:
        a.send(first, bytes(size))
        pump(a, b)
        b.send(first, bytes(size))
        pump(b, a)
    a.disconnect(DiscReason.QUITTING)
    pump(a, b)
