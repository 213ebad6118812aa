"""An eth/69 peer driven from the test process: :class:`EthPeer` runs RLPx and Hello with
:class:`support.nodes.RawPeer`, answers the node's Status with the same chain, then sends eth
requests and reads the answers (tests/integration/test_eth_bad_requests.py, bench/eth_headers.py).

Only eth runs, so its messages start at offset 0x10 (devp2p rlpx.md, "Message Id-based
Multiplexing").  Every wait is bounded.
"""

from __future__ import annotations

import time

from protocols.eth.messages import LENGTHS, MESSAGES_69, BlockHeaders, GetBlockHeaders, HeadersQuery, Status69
from rlpx.connection import DisconnectReceived, Messages

from .nodes import RawPeer

OFFSET = 0x10
"""The first code after the base protocol's (rlpx.md): eth's offset when it is the only cap."""

BY_CODE = {cls.CODE: cls for cls in MESSAGES_69}


def number_origin(number: int) -> bytes:
    """GetBlockHeaders' origin for a block number: big-endian, no leading zeros."""
    return number.to_bytes(8, "big").lstrip(b"\x00")


class EthPeer(RawPeer):
    """An RLPx initiator speaking eth/69 only; :meth:`start` does everything up to Status."""

    def __init__(self, enode: str, **kw):
        super().__init__(enode, caps=(("eth", 69, LENGTHS[69]),), client_id="eth-test-peer/1", **kw)
        self.status: Status69 | None = None
        self.disconnect = None  # the node's DiscReason, once it disconnected us
        self._pending: list = []  # eth messages read and not yet returned

    def start(self, timeout_s: float = 10.0) -> Status69:
        """Handshake, read the node's Status and send the same one back; returns the node's."""
        hello = self.handshake(timeout_s)
        assert not isinstance(hello, DisconnectReceived), f"node disconnected in the Hello phase: {hello}"
        msg = self.next_message(timeout_s)
        assert isinstance(msg, Status69), f"expected the node's Status first, got {msg!r}"
        self.status = msg
        self.send(msg)
        return msg

    def send(self, msg) -> None:
        """Send one eth message (a message object with ``CODE`` and ``encode()``)."""
        self.conn.send(OFFSET + msg.CODE, msg.encode())
        self.flush()

    def send_many(self, msgs) -> None:
        """Send several eth messages in one write."""
        for msg in msgs:
            self.conn.send(OFFSET + msg.CODE, msg.encode())
        self.flush()

    def _fill(self, deadline: float) -> None:
        for ev in self.read(deadline):
            if isinstance(ev, DisconnectReceived):
                self.disconnect = ev.reason
            elif isinstance(ev, Messages):
                for code, payload in ev.by_protocol.get("eth", ()):
                    self._pending.append(BY_CODE[code].decode(payload))
        self.flush()  # Pongs

    def next_message(self, timeout_s: float):
        """The next eth message from the node (decoded), or None on timeout, EOF or Disconnect."""
        deadline = time.monotonic() + timeout_s
        while not self._pending and time.monotonic() < deadline and not self.eof and self.disconnect is None:
            self._fill(deadline)
        return self._pending.pop(0) if self._pending else None

    def answer(self, request_id: int, timeout_s: float = 10.0):
        """The next message that answers ``request_id`` (others, e.g. BlockRangeUpdate, skipped)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = self.next_message(deadline - time.monotonic())
            if msg is None:
                return None
            if getattr(msg, "request_id", None) == request_id:
                return msg
        return None

    def headers(self, request_id: int, origin: bytes, amount: int, skip: int = 0, reverse: bool = False,
                timeout_s: float = 10.0) -> BlockHeaders | None:
        """Send GetBlockHeaders and return its BlockHeaders (None if none came in time)."""
        self.send(GetBlockHeaders(request_id, HeadersQuery(origin, amount, skip, reverse)))
        return self.answer(request_id, timeout_s)
