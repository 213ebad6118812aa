"""kv/1: each side keeps a small key-value store the other side may write and read."""

from __future__ import annotations

from dataclasses import dataclass, field

from rlp.sedes import Binary, boolean

from protocols.api import Protocol, ProtocolError, RLPMessage, uint64


class Put(RLPMessage):
    """0x00 ``[key, value]``: store ``value`` under ``key``."""

    CODE = 0x00
    fields = [("key", Binary(max_length=32)), ("value", Binary())]


class Get(RLPMessage):
    """0x01 ``[request-id, key]``: ask for the value under ``key``."""

    CODE = 0x01
    fields = [("request_id", uint64), ("key", Binary(max_length=32))]


class Value(RLPMessage):
    """0x02 ``[request-id, found, value]``: the answer to a Get."""

    CODE = 0x02
    fields = [("request_id", uint64), ("found", boolean), ("value", Binary())]


@dataclass(frozen=True)
class KVOptions:
    """``max_keys`` keys a peer may store; ``max_value_bytes`` per value."""

    max_keys: int = field(default=1000, metadata={"min": 1})
    max_value_bytes: int = field(default=1024, metadata={"min": 0})


class KVProtocol(Protocol):
    """A key-value store per peer: Put writes, Get is answered with a Value."""

    NAME, VERSION, LENGTH = "kv", 1, 3
    MESSAGES = (Put, Get, Value)
    Options = KVOptions

    def started(self):
        self.store: dict[bytes, bytes] = {}
        self.answers: dict[int, bytes | None] = {}

    def on_Put(self, msg: Put):
        if len(msg.value) > self.options.max_value_bytes:
            raise ProtocolError(f"value of {len(msg.value)} bytes")
        if msg.key not in self.store and len(self.store) >= self.options.max_keys:
            raise ProtocolError(f"more than {self.options.max_keys} keys")
        self.store[msg.key] = msg.value

    def on_Get(self, msg: Get):
        value = self.store.get(msg.key)
        self.send(Value(msg.request_id, value is not None, value or b""))

    def on_Value(self, msg: Value):
        self.answers[msg.request_id] = msg.value if msg.found else None
        self.emit("kv_value", {"request_id": msg.request_id, "found": msg.found, "value": msg.value.hex()})

    def peer_info(self):
        return {"keys": len(self.store)}
