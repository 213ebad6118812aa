"""The bounds of docs/architecture.md "Memory per peer" on plain objects: the Connection's
decode budget, and a ProtocolLink's windows and credit in bytes."""

from __future__ import annotations

import os

from config.model import ProtocolConfig
from messages.protocol import INBOUND_WINDOW, WINDOW_BYTES, OutboundCredit
from node.links import ProtocolLink, ProtocolSpec
from rlpx.connection import Messages
from support.rlpx_pair import Pair

MIB = 1 << 20


def _payloads(events) -> list[bytes]:
    return [p for ev in events if isinstance(ev, Messages) for _, p in ev.by_protocol.get("test", ())]


def test_decode_budget_holds_frames_until_resumed():
    pair = Pair()
    pair.running()
    for conn in (pair.a, pair.b):
        conn.codec.snappy = True  # as after a Hello of version 5: zeros compress ~20x
    pair.b.decode_budget = 1 * MIB
    code = pair.a.table.absolute("test", 0)
    for _ in range(10):
        pair.a.send(code, bytes(MIB // 2))
    wire = len(pair.a.out)
    assert wire < MIB  # ten 512 KiB messages on the wire in less than 1 MiB
    got = _payloads(pair.a_to_b())
    assert len(got) == 2 and pair.b.backlog  # 1 MiB decoded, the rest held undecoded
    seen = len(got)
    while pair.b.backlog:
        more = _payloads(pair.b.resume())
        assert 1 <= len(more) <= 2
        seen += len(more)
    assert seen == 10 and pair.b.resume() == []


def test_no_budget_decodes_everything_at_once():
    pair = Pair()
    pair.running()
    code = pair.a.table.absolute("test", 0)
    for _ in range(5):
        pair.a.send(code, bytes(MIB))
    assert len(_payloads(pair.a_to_b())) == 5 and not pair.b.backlog


def _link() -> ProtocolLink:
    spec = ProtocolSpec("test", 1, 8, "protocols.test_protocol.TestProtocol")
    link = ProtocolLink(spec, 16, ProtocolConfig("test", 1))
    link.started()
    return link


def test_inbound_window_counts_bytes_as_well_as_batches():
    link = _link()
    link.pending.extend((0, bytes(MIB)) for _ in range(12))
    batches = link.batches()
    sent = sum(len(p) for b in batches for _, p in b.messages)
    assert sent == WINDOW_BYTES and len(batches) < INBOUND_WINDOW
    assert link.window_full and len(link.pending) == 8
    assert link.acknowledge(batches[0].seq)
    assert link.batches()  # acknowledging reopens the window


def test_one_batch_larger_than_the_window_still_goes():
    link = _link()
    link.pending.append((0, bytes(WINDOW_BYTES + 1)))
    assert len(link.batches()) == 1 and link.window_full


def test_credit_goes_at_once_for_half_a_window_of_bytes():
    link = _link()
    assert link.written(1, False, 100) is None  # small: rides on the next inbound batch
    assert link.written(2, False, WINDOW_BYTES // 2) == OutboundCredit(2)
    assert link.written(3, True, WINDOW_BYTES) is None  # over the high-water mark: withheld
    assert link.release() == OutboundCredit(3)


# -- a peer that sends before a checkpoint is answered (issue 18, audit point 1) ----------------
from messages.protocol import ToProtocol as ProtocolBatch  # noqa: E402
from node import peer_machine  # noqa: E402
from node.peer_machine import Stage  # noqa: E402
from rlpx import base_protocol as bp  # noqa: E402
from rlpx.connection import HELD_MAX  # noqa: E402
from rlpx.disc import DiscReason  # noqa: E402
from support.peer_harness import PeerHarness  # noqa: E402

READ_MAX = 1 << 20  # actors/peer.py: what the shell reads per readiness event


def _shell_reads(h: PeerHarness) -> int:
    """Feed the remote's queued bytes to the machine as the shell would: READ_MAX at a time,
    only while the machine is reading.  Returns the bytes left unread (in the kernel)."""
    data = bytes(h.remote.out)
    h.remote.out.clear()
    while data and h.m.reading() and not h.m.closing:
        chunk, data = data[:READ_MAX], data[READ_MAX:]
        h.record(h.m.received(chunk, h.now))
    return len(data)


def _batched_bytes(h: PeerHarness) -> int:
    return sum(len(p) for b in h.to_protocol("test", ProtocolBatch) for _, p in b.messages)


def test_no_read_and_no_decoding_while_checkpoint_2_is_pending():
    h = PeerHarness(inbound=True)
    h.run_to_hello()  # the remote is RUNNING (snappy on) and has queued its Hello
    code = h.remote.table.absolute("test", 0)
    for _ in range(100):
        h.remote.send(code, bytes(MIB))  # zeros: ~21x smaller on the wire
    unread = _shell_reads(h)
    assert h.m.stage == Stage.ADD_PEER and not h.m.reading()
    assert unread > 0 and h.m.conn.held_bytes <= READ_MAX  # one read held, undecoded
    assert _batched_bytes(h) == 0
    h.approve()
    assert h.m.stage == Stage.RUNNING
    assert 0 < _batched_bytes(h) <= peer_machine.WINDOW_BYTES + MIB  # decoded up to the budget only
    assert not h.m.reading()  # the rest waits for the protocol's ack


def test_no_read_while_checkpoint_1_is_pending_and_too_much_held_is_protocol_error():
    h = PeerHarness()
    h.start()
    h.write()  # our auth; the remote acks and sends its Hello at once
    h.pump_in()
    assert h.m.stage == Stage.POST_HANDSHAKE and not h.m.reading()
    # a shell that ignored reading() would hold everything: the Connection refuses
    h.record(h.m.received(bytes(HELD_MAX + 1), h.now))
    assert h.m.closing and h.m.reason == DiscReason.PROTOCOL_ERROR
    assert "checkpoint" in h.m.error and h.m.conn.held_bytes == 0  # nothing kept once failed


def test_frames_past_held_max_at_checkpoint_2_are_protocol_error_with_a_disconnect():
    h = PeerHarness(inbound=True)
    h.run_to_hello()
    code = h.remote.table.absolute("test", 0)
    for _ in range(4):
        h.remote.send(code, os.urandom(MIB))  # 1 MiB that does not compress
    h.pump_in()  # one read of everything, ignoring reading()
    assert h.m.reason == DiscReason.PROTOCOL_ERROR and _batched_bytes(h) == 0
    h.write()
    assert h.remote_disconnects() == [DiscReason.PROTOCOL_ERROR]


# -- bytes the Peer queues itself (audit point 2) ---------------------------------------------
def test_ping_flood_stops_reading_above_the_high_water_mark_and_resumes_once_drained(monkeypatch):
    monkeypatch.setattr(peer_machine, "OUT_HIGH_WATER", 16 << 10)
    h = PeerHarness()
    h.run_to_running()
    for _ in range(2000):
        h.remote.send(bp.PING, bp.encode_ping())
    wire = len(h.remote.out)
    data = bytes(h.remote.out)
    h.remote.out.clear()
    step = 4096
    fed = 0
    while fed < len(data) and h.m.reading():  # the remote never reads its Pongs
        h.record(h.m.received(data[fed:fed + step], h.now))
        fed += step
    assert fed < wire and not h.m.reading() and not h.m.watch_socket(h.now)
    assert 16 << 10 < len(h.m.out) <= (16 << 10) + step  # one read's Pongs past the mark at most
    h.write()  # the remote reads: reading resumes
    assert h.m.reading() and h.m.watch_socket(h.now)


def test_ping_flood_that_never_reads_is_dropped_at_the_write_deadline(monkeypatch):
    monkeypatch.setattr(peer_machine, "OUT_HIGH_WATER", 16 << 10)
    h = PeerHarness(timeouts={"write_s": 20.0})
    h.run_to_running()
    for _ in range(1000):
        h.remote.send(bp.PING, bp.encode_ping())
    h.pump_in()
    h.write(0)
    assert not h.m.reading()
    h.advance(20.0)
    assert h.m.closing and h.m.reason == DiscReason.NETWORK_ERROR
    h.advance(h.cfg.timeouts.disconnect_grace_s)
    gone = h.gone()
    assert gone.reason == DiscReason.NETWORK_ERROR and "write timeout" in gone.error
