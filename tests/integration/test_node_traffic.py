"""Traffic between two nodes: many small messages complete and in order, the largest message
the wire allows, both ends writing large messages at the same moment, and a protocol that
only sends (outbound credit without inbound traffic to ride on)."""

from __future__ import annotations

import time

from support.nodes import STRESS, RawPeer, echo, sender
from messages.protocol import OUTBOUND_WINDOW
from rlpx.connection import Messages
from rlpx.frame import MAX_FRAME_SIZE
from rlpx.snappy import MAX_DECODED_SIZE


def test_20000_echoes_complete_and_in_order(nodes):
    a = nodes.start("alpha", protocols=[echo()])
    b = nodes.start("beta", protocols=[sender(20000, 100)])
    nodes.connect(b, a)
    rep = nodes.report(b, a, timeout_s=90)
    # every echo came back, byte-identical, in the order sent (the report counts any
    # difference or gap as a mismatch, and outstanding ones at the end too)
    assert rep["count"] == 20000 and rep["size"] == 100
    assert rep["mismatches"] == 0, rep
    # the echoing side reports how many it received through admin_peers
    peers = nodes.peers(a)
    assert len(peers) == 1 and peers[0]["name"] == "beta"


def test_largest_message_round_trips(nodes):
    """A message whose payload is 16 MiB - 1 bytes (2**24 - 1) goes there and back.

    Both nodes speak p2p v5, so payloads are snappy-compressed, and two limits apply:
    frame-data (1-byte message code + compressed payload) <= 2**24 - 1 bytes, and the payload
    may decompress to at most 2**24 - 1 bytes (EIP-706; go-ethereum rlpx.go).  So the largest
    payload is 2**24 - 1 bytes, provided it compresses (random bytes grow under snappy and
    would overflow the frame): the filler after the 8-byte sequence number is zeros.
    """
    size = 2**24 - 1
    assert size == MAX_DECODED_SIZE == MAX_FRAME_SIZE
    a = nodes.start("alpha", protocols=[echo()])
    b = nodes.start("beta", protocols=[sender(1, size, actor=STRESS, filler="zero")])
    nodes.connect(b, a)
    rep = nodes.report(b, a, timeout_s=60)
    assert rep["count"] == 1 and rep["size"] == size
    assert rep["mismatches"] == 0, rep
    assert nodes.events(kind="peer_removed") == []


def test_both_ends_send_8mib_at_once_without_deadlock(nodes):
    """Both sides start writing 8 MiB messages as soon as the peer is added, echoing the
    other's at the same time: neither may block on a full socket while the other does too.
    Random filler, so the frames on the wire are ~8 MiB each."""
    size, count = 8 << 20, 1
    proto = dict(actor=STRESS, duplex=True, window=1)
    a = nodes.start("alpha", protocols=[sender(count, size, **proto)])
    b = nodes.start("beta", protocols=[sender(count, size, **proto)])
    nodes.connect(a, b)
    for me, other in ((a, b), (b, a)):
        rep = nodes.report(me, other, timeout_s=60)
        assert rep["count"] == count and rep["mismatches"] == 0, (me.name, rep)
        # and the other side's messages reached us complete and in order
        assert rep["duplex_received"] == {"count": count, "out_of_order": 0}, (me.name, rep)
    assert nodes.events(kind="peer_removed") == []


TICK_SENDER = "protocols.testing_protocols.TickSenderProtocol"


def test_send_only_protocol_gets_credit_without_inbound_traffic(nodes):
    """A Protocol actor that sends one batch per handler to a silent remote must not stall:
    the Peer's credit usually rides on the next inbound batch (ToProtocol), and with none
    coming it must be granted explicitly.  Many more batches than OUTBOUND_WINDOW arrive,
    complete and in order."""
    count = 10 * OUTBOUND_WINDOW
    a = nodes.start("alpha", protocols=[echo(actor=TICK_SENDER, echo=False, tick_count=count, tick_s=0.002)])
    with RawPeer(a.enode) as raw:
        raw.handshake()
        got = []
        deadline = time.monotonic() + 20.0
        while len(got) < count and time.monotonic() < deadline and not raw.eof:
            for ev in raw.read(deadline):
                if isinstance(ev, Messages):
                    got.extend(payload for _code, payload in ev.by_protocol.get("test", ()))
            raw.flush()  # Pongs only: the raw peer sends no protocol message
        assert not raw.eof, nodes.events(kind="peer_removed")
        assert [int.from_bytes(p, "big") for p in got] == list(range(count))
