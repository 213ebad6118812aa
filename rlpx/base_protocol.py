"""The ``p2p`` base protocol messages: Hello, Disconnect, Ping, Pong (rlpx.md "p2p Capability").

Codes 0x00-0x0f belong to the base protocol; subprotocols start at 0x10
(:data:`BASE_PROTOCOL_LENGTH`, go-ethereum p2p/protocol.go ``baseProtocolLength``).
Hello is never compressed; the rest are snappy-compressed when both sides speak version >= 5.
"""

from __future__ import annotations

from dataclasses import dataclass

import rlp
from rlp.codec import consume_item
from rlp.exceptions import DecodingError, DeserializationError

from .disc import DiscReason
from .errors import HelloError, MessageDecodeError

HELLO, DISCONNECT, PING, PONG = 0x00, 0x01, 0x02, 0x03
"""Base protocol message codes (rlpx.md)."""

BASE_PROTOCOL_VERSION = 5
"""p2p version we announce (rlpx.md; go-ethereum p2p/peer.go ``baseProtocolVersion``)."""

SNAPPY_PROTOCOL_VERSION = 5
"""Snappy is used when the remote's Hello version is at least this (EIP-706)."""

BASE_PROTOCOL_LENGTH = 16
"""Message codes reserved for the base protocol (go-ethereum p2p/peer.go)."""

BASE_PROTOCOL_MAX_MSG_SIZE = 2 * 1024
"""Largest Hello accepted, bytes (go-ethereum p2p/peer.go ``baseProtocolMaxMsgSize``)."""

PING_PAYLOAD = b"\xc0"
"""Ping and Pong carry an empty RLP list (rlpx.md)."""


def _decode(payload: bytes, what: str):
    """Decode the first RLP item of ``payload`` (trailing bytes ignored, truncation rejected).

    consume_item, not rlp.decode(strict=False): the latter accepts a top-level item whose
    declared length runs past the end of the payload.  pyrlp decodes nested lists recursively:
    lists nested deeper than Python's recursion limit (~1,000 levels, 3 KiB of ``c3 c2 c1 c0``
    style bytes) raise RecursionError, reported here as malformed like any other bad RLP.
    """
    try:
        item, _, end = consume_item(payload, 0)
    except RecursionError:
        raise MessageDecodeError(f"malformed {what} RLP: lists nested too deeply") from None
    except (DecodingError, DeserializationError, IndexError) as exc:
        raise MessageDecodeError(f"malformed {what} RLP: {exc}") from None
    if end > len(payload):
        raise MessageDecodeError(f"malformed {what} RLP: truncated")
    return item


def _decode_list(payload: bytes, what: str) -> list:
    items = _decode(payload, what)
    if not isinstance(items, list):
        raise MessageDecodeError(f"{what} must be an RLP list")
    return items


def _uint(item, what: str, max_bytes: int = 8) -> int:
    """An RLP unsigned integer of at most ``max_bytes`` significant bytes.

    Leading zero bytes are tolerated: ethereumjs encodes a listen port of 0 as the byte 0x00
    (``intToBytes(0)``), and the Hello's integers carry no meaning that a stricter check
    would protect.
    """
    if not isinstance(item, bytes) or len(item.lstrip(b"\x00")) > max_bytes:
        raise MessageDecodeError(f"{what} is not an unsigned integer of at most {max_bytes} bytes")
    return int.from_bytes(item, "big")


@dataclass(frozen=True)
class Capability:
    """A (name, version) pair as announced in Hello; ``name`` is ASCII, at most 8 bytes by convention."""

    name: str
    version: int

    def __str__(self) -> str:
        return f"{self.name}/{self.version}"


@dataclass(frozen=True)
class Hello:
    """Hello (0x00): ``[protocolVersion, clientId, [[cap-name, cap-version], ...], listenPort, nodeId, ...]``.

    ``node_id`` is 64 raw bytes; extra trailing list elements are ignored on decode (EIP-8).
    """

    version: int
    client_id: str
    capabilities: tuple[Capability, ...]
    listen_port: int
    node_id: bytes

    def encode(self) -> bytes:
        """Return the RLP payload (without the message code)."""
        caps = [[c.name.encode(), c.version] for c in self.capabilities]
        return rlp.encode([self.version, self.client_id.encode(), caps, self.listen_port, self.node_id])

    @classmethod
    def decode(cls, payload: bytes) -> "Hello":
        """Decode a Hello payload.

        Raises :class:`HelloError` if it is larger than 2 KiB, malformed, or its node id is not
        64 bytes or is all zeros (go-ethereum p2p/peer.go ``readProtocolHandshake``,
        rlpx.md: null node identity is invalid).
        """
        if len(payload) > BASE_PROTOCOL_MAX_MSG_SIZE:
            raise HelloError(f"Hello of {len(payload)} bytes exceeds {BASE_PROTOCOL_MAX_MSG_SIZE}")
        try:
            items = _decode_list(payload, "Hello")
            if len(items) < 5:
                raise HelloError(f"Hello has {len(items)} fields, expected at least 5")
            version = _uint(items[0], "Hello version")
            if not isinstance(items[1], bytes):
                raise HelloError("Hello client id is not a string")
            client_id = items[1].decode("utf-8", errors="replace")
            if not isinstance(items[2], list):
                raise HelloError("Hello capabilities is not a list")
            caps = []
            for cap in items[2]:
                if not isinstance(cap, list) or len(cap) < 2 or not isinstance(cap[0], bytes):
                    raise HelloError("Hello capability is not [name, version]")
                try:
                    name = cap[0].decode("ascii")
                except UnicodeDecodeError:
                    raise HelloError("Hello capability name is not ASCII") from None
                caps.append(Capability(name, _uint(cap[1], "capability version")))
            listen_port = _uint(items[3], "Hello listen port", max_bytes=2)
            node_id = items[4]
        except HelloError:
            raise
        except MessageDecodeError as exc:
            raise HelloError(str(exc)) from None
        if not isinstance(node_id, bytes) or len(node_id) != 64:
            raise HelloError("Hello node id must be 64 bytes")
        if not any(node_id):
            raise HelloError("Hello node id is all zeros (null node identity)")
        return cls(version, client_id, tuple(caps), listen_port, node_id)


def encode_disconnect(reason: DiscReason | int) -> bytes:
    """Return the Disconnect payload ``rlp([reason])``."""
    return rlp.encode([int(reason)])


def decode_disconnect(payload: bytes) -> DiscReason:
    """Decode a Disconnect payload into a :class:`DiscReason`.

    Accepts ``[reason]`` (the spec), a bare RLP integer or raw single byte (ethereumjs and old
    clients), and an empty list or empty payload (read as ``REQUESTED``), as go-ethereum
    p2p/peer.go does.  Raises :class:`MessageDecodeError` for anything else.
    """
    if payload in (b"", b"\xc0"):
        return DiscReason.REQUESTED
    item = _decode(payload, "Disconnect")
    if isinstance(item, list):
        if not item:
            return DiscReason.REQUESTED
        item = item[0]
    if isinstance(item, list):
        raise MessageDecodeError("Disconnect reason is not an integer")
    if item == b"":
        return DiscReason.REQUESTED
    if len(item) > 1:
        raise MessageDecodeError("Disconnect reason is not a single byte")
    return DiscReason(item[0])


def encode_ping() -> bytes:
    """Return the Ping payload (empty list)."""
    return PING_PAYLOAD


def encode_pong() -> bytes:
    """Return the Pong payload (empty list)."""
    return PING_PAYLOAD


def check_empty_list(payload: bytes, what: str) -> None:
    """Validate a Ping/Pong payload: an RLP list (contents ignored); raise :class:`MessageDecodeError`."""
    if payload == b"":
        return  # some clients send nothing at all; go-ethereum does not read the payload either
    _decode_list(payload, what)


__all__ = ["Hello", "Capability", "encode_disconnect", "decode_disconnect", "encode_ping", "encode_pong",
           "check_empty_list", "HELLO", "DISCONNECT", "PING", "PONG", "BASE_PROTOCOL_VERSION",
           "BASE_PROTOCOL_LENGTH", "BASE_PROTOCOL_MAX_MSG_SIZE", "SNAPPY_PROTOCOL_VERSION"]
