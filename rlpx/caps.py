"""Capability matching and the message-code offset table (rlpx.md "Message ID-based
multiplexing"; go-ethereum p2p/peer.go ``matchProtocols``).

The remote's capabilities are sorted by (name, version); each one that a local protocol
supports with the same name and version is matched, and a later (higher) version of a name
replaces an earlier match, giving back the earlier one's code space.  Offsets are assigned
in that order starting at 16 (``baseProtocolLength``), each protocol taking ``length`` codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .base_protocol import BASE_PROTOCOL_LENGTH, Capability


@dataclass(frozen=True)
class LocalProtocol:
    """A subprotocol this node runs: ``name`` (ASCII), ``version``, ``length`` message codes."""

    name: str
    version: int
    length: int

    @property
    def capability(self) -> Capability:
        """This protocol as the ``(name, version)`` pair of a Hello ``caps`` entry (rlpx.md "Hello");
        ``length`` is not part of it."""
        return Capability(self.name, self.version)


@dataclass(frozen=True)
class MatchedProtocol:
    """One row of the offset table: absolute codes ``offset .. offset + length - 1``."""

    name: str
    version: int
    offset: int
    length: int

    def owns(self, code: int) -> bool:
        """True if absolute ``code`` belongs to this protocol."""
        return self.offset <= code < self.offset + self.length


def match_capabilities(local: Iterable[LocalProtocol], remote: Iterable[Capability]) -> tuple[MatchedProtocol, ...]:
    """Return the offset table for ``local`` protocols against ``remote`` caps, sorted by offset.

    An empty table means no shared capability: go-ethereum disconnects with USELESS_PEER.
    """
    local = list(local)
    result: dict[str, MatchedProtocol] = {}
    offset = BASE_PROTOCOL_LENGTH
    for cap in sorted(set(remote), key=lambda c: (c.name, c.version)):
        for proto in local:
            if proto.name == cap.name and proto.version == cap.version:
                old = result.get(cap.name)
                if old is not None:
                    offset -= old.length
                result[cap.name] = MatchedProtocol(proto.name, proto.version, offset, proto.length)
                offset += proto.length
                break
    return tuple(sorted(result.values(), key=lambda m: m.offset))


class OffsetTable:
    """Routes absolute message codes to (protocol name, relative code) and back.

    Built from :func:`match_capabilities`; lookups are O(log n) over the few rows.
    """

    def __init__(self, rows: Iterable[MatchedProtocol]):
        self.rows = tuple(sorted(rows, key=lambda m: m.offset))
        self.by_name = {r.name: r for r in self.rows}

    def route(self, code: int) -> tuple[MatchedProtocol, int] | None:
        """Return (row, code - offset) for an inbound absolute ``code``, or None if unowned."""
        for row in self.rows:
            if row.owns(code):
                return row, code - row.offset
        return None

    def absolute(self, name: str, relative_code: int) -> int:
        """Return ``relative_code + offset`` for protocol ``name``.

        Raises :class:`ValueError` if ``relative_code`` is not below the protocol's length
        (go-ethereum p2p/peer.go protoRW.WriteMsg: "msg code out of range").
        """
        row = self.by_name[name]
        if not 0 <= relative_code < row.length:
            raise ValueError(f"{name} message code {relative_code} out of range (length {row.length})")
        return row.offset + relative_code
