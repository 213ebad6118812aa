"""The bounds of docs/architecture.md "Memory per peer" on plain objects: the Connection's
decode budget, and a ProtocolLink's windows and credit in bytes."""

from __future__ import annotations

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
