"""actors/protocol_host.py's send queue: bounded at MAX_QUEUED_BYTES, whatever the protocol sends."""

from __future__ import annotations

import pytest

import actors.base
from actors.protocol_host import MAX_QUEUED_BYTES, PAUSE_INBOUND_BYTES, ProtocolHost, ProtocolSendError
from rlpx.frame import MAX_FRAME_SIZE


def test_the_queue_holds_largest_messages_above_the_pause_and_fails_past_its_bound(monkeypatch):
    monkeypatch.setattr(actors.base, "die_with_parent", lambda sig: None)  # no parent-death signal for pytest
    host = ProtocolHost()
    host.name = "test"
    assert MAX_QUEUED_BYTES >= PAUSE_INBOUND_BYTES + MAX_FRAME_SIZE
    host.send_message(0, b"\0" * PAUSE_INBOUND_BYTES)
    host.send_message(1, b"\0" * MAX_FRAME_SIZE)  # a whole largest message still fits
    with pytest.raises(ProtocolSendError, match="bytes waiting for the peer to read"):
        while True:
            host.send_message(2, b"\0" * (1 << 20))
    assert host._queued_bytes <= MAX_QUEUED_BYTES + (1 << 20)
