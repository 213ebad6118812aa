"""Two in-memory RLPx endpoints for wire-level tests: :class:`Pair` pumps bytes between two
:class:`rlpx.connection.Connection` objects (no sockets, no actors); :func:`seal_eip8` builds
an EIP-8 handshake packet around any plaintext."""

from __future__ import annotations

from rlpx import base_protocol as bp
from rlpx import ecies
from rlpx.caps import LocalProtocol
from rlpx.connection import RUNNING, Connection, HandshakeDone, HelloReceived
from rlpx.keys import generate_private_key, node_id_from_private_key

PROTOS = [LocalProtocol("aaa", 1, 3), LocalProtocol("test", 1, 8)]


def hello(name, key, protos=PROTOS, node_id=None):
    caps = tuple(bp.Capability(p.name, p.version) for p in protos)
    return bp.Hello(bp.BASE_PROTOCOL_VERSION, name, caps, 30303, node_id or node_id_from_private_key(key))


class Pair:
    """a = initiator, b = recipient."""

    def __init__(self, a_protos=PROTOS, b_protos=PROTOS, a_hello_id=None):
        self.ka, self.kb = generate_private_key(), generate_private_key()
        self.id_a, self.id_b = node_id_from_private_key(self.ka), node_id_from_private_key(self.kb)
        self.hello_a = hello("a", self.ka, a_protos, a_hello_id)
        self.hello_b = hello("b", self.kb, b_protos)
        self.a = Connection(self.ka, self.hello_a, a_protos, remote_node_id=self.id_b)
        self.b = Connection(self.kb, self.hello_b, b_protos)

    @staticmethod
    def pump(src: Connection, dst: Connection) -> list:
        data = bytes(src.out)
        src.out.clear()
        return dst.feed(data)

    def a_to_b(self):
        return self.pump(self.a, self.b)

    def b_to_a(self):
        return self.pump(self.b, self.a)

    def handshake(self):
        assert self.a_to_b() == [HandshakeDone(self.id_a)]
        assert self.b_to_a() == [HandshakeDone(self.id_b)]

    def running(self):
        self.handshake()
        self.a.approve_post_handshake()
        self.b.approve_post_handshake()
        assert isinstance(self.a_to_b()[0], HelloReceived)
        assert isinstance(self.b_to_a()[0], HelloReceived)
        assert self.a.approve_add_peer() == [] and self.b.approve_add_peer() == []
        assert self.a.state == self.b.state == RUNNING


def seal_eip8(recipient_id: bytes, body: bytes) -> bytes:
    """An EIP-8 handshake packet with arbitrary plaintext, correctly encrypted and prefixed."""
    prefix = (len(body) + ecies.OVERHEAD).to_bytes(2, "big")
    return prefix + ecies.encrypt(recipient_id, body, shared_mac_data=prefix)
