"""Disconnect reasons (rlpx.md "Disconnect (0x01)"; go-ethereum p2p/peer_error.go).

Member names follow go-ethereum's ``Disc*`` constants; ``description`` is the spec's text.
Codes outside the table (sent by other implementations) decode to a pseudo-member named
``UNKNOWN_0xNN`` instead of failing, so a strange reason never breaks a connection's close.
"""

from __future__ import annotations

import enum


class DiscReason(enum.IntEnum):
    """A Disconnect reason code, 0x00-0x0b and 0x10 (rlpx.md)."""

    REQUESTED = 0x00
    NETWORK_ERROR = 0x01
    PROTOCOL_ERROR = 0x02
    USELESS_PEER = 0x03
    TOO_MANY_PEERS = 0x04
    ALREADY_CONNECTED = 0x05
    INCOMPATIBLE_VERSION = 0x06
    INVALID_IDENTITY = 0x07
    QUITTING = 0x08
    UNEXPECTED_IDENTITY = 0x09
    SELF = 0x0A
    READ_TIMEOUT = 0x0B
    SUBPROTOCOL_ERROR = 0x10

    @classmethod
    def _missing_(cls, value):
        if not isinstance(value, int) or value < 0:
            return None
        member = int.__new__(cls, value)
        member._name_ = f"UNKNOWN_0x{value:02x}"
        member._value_ = value
        return member

    @property
    def description(self) -> str:
        """The spec's description of this reason."""
        return _DESCRIPTIONS.get(self.value, "unknown disconnect reason")


_DESCRIPTIONS = {
    0x00: "disconnect requested",
    0x01: "TCP sub-system error",
    0x02: "breach of protocol, e.g. a malformed message, bad RLP",
    0x03: "useless peer",
    0x04: "too many peers",
    0x05: "already connected",
    0x06: "incompatible P2P protocol version",
    0x07: "null node identity received - this is automatically invalid",
    0x08: "client quitting",
    0x09: "unexpected identity in handshake",
    0x0A: "identity is the same as this node (i.e. connected to itself)",
    0x0B: "ping timeout",
    0x10: "some other reason specific to a subprotocol",
}
