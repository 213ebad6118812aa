"""Bad and abusive eth requests against a running node that serves a chain (issue: serve a chain,
point 6).  Each is answered as go-ethereum v1.17's eth/protocols/eth/handlers.go answers it, or
the peer is dropped as go-ethereum drops it (a decode error: SUBPROTOCOL_ERROR); the node stays
up and another peer's requests are answered meanwhile.

The chain: 1,100 synthetic blocks (support/eth_chain.py), so the 1,024-header cap shows.
"""

from __future__ import annotations

import threading

import pytest
import rlp

from config.model import ProtocolConfig, Timeouts
from discovery.enr import parse_text
from messages.admin import GetNodeInfo
from protocols.eth.messages import GetBlockHeaders, HeadersQuery
from rlpx.disc import DiscReason
from rlpx.keys import keccak256
from support.eth_chain import build_chain, write_chain
from support.eth_peer import OFFSET, EthPeer, number_origin

pytestmark = pytest.mark.integration

U64MAX = 2 ** 64 - 1
BLOCKS = 1100
BURST = 10_000


@pytest.fixture
def served(nodes, tmp_path):
    """A node serving eth/69 on the 1,100-block chain, with go-ethereum's default timers."""
    opts = write_chain(tmp_path, BLOCKS)
    node = nodes.start("a", protocols=(ProtocolConfig("eth", 69, tuple(opts.items())),), timeouts=Timeouts())
    return node


def test_the_node_record_carries_the_fork_id_at_the_head(served, nodes):
    """admin_nodeInfo.enr's ``eth`` entry (EIP-868) is the fork id at our head, as our Status's."""
    reply = nodes.asys.ask(served.server, GetNodeInfo(), 10)
    record = parse_text(reply.info["enr"])
    with EthPeer(served.enode) as peer:
        status = peer.start()
    assert record.eth == (status.fork_id.hash, status.fork_id.next)
    assert record.tcp == served.port and record.node_id == served.node_id


def numbers(answer) -> list[int]:
    return [int.from_bytes(h[8], "big") for h in answer.headers]


def test_bad_header_queries_are_answered_as_go_ethereum_answers(served):
    _, headers, _ = build_chain(BLOCKS)
    with EthPeer(served.enode) as peer:
        status = peer.start()
        assert status.latest == BLOCKS - 1
        cases = [
            # (origin, amount, skip, reverse) -> block numbers in the answer
            ((number_origin(5), 0, 0, False), []),                        # amount 0: nothing
            ((number_origin(0), U64MAX, 0, False), list(range(1024))),     # capped at 1,024
            ((number_origin(1099), U64MAX, 0, True), list(range(1099, 75, -1))),
            ((number_origin(7), 5, U64MAX, False), [7]),                   # skip overflow: origin only
            ((number_origin(7), 5, U64MAX, True), [7]),
            ((keccak256(headers[7]), 5, U64MAX, False), [7]),
            ((keccak256(headers[7]), 5, U64MAX, True), [7]),
            ((b"\x42" * 32, 10, 0, False), []),                            # a hash not on the chain
            ((b"\x42" * 32, 10, 3, True), []),
            ((number_origin(U64MAX), U64MAX, U64MAX, False), []),          # past the head
            ((number_origin(1000), U64MAX, 0, False), list(range(1000, 1100))),
        ]
        for i, ((origin, amount, skip, reverse), want) in enumerate(cases):
            answer = peer.headers(100 + i, origin, amount, skip, reverse)
            assert answer is not None, f"case {i}: no answer ({peer.disconnect})"
            assert numbers(answer) == want, f"case {i}: {numbers(answer)[:5]}..."
        assert peer.disconnect is None and not peer.eof


def test_a_burst_of_10000_requests_is_answered_while_another_peer_is_served(served, nodes):
    with EthPeer(served.enode) as flooder, EthPeer(served.enode) as other:
        flooder.start()
        other.start()
        # every request encoded up front, sent by a thread while this one reads the answers
        for i in range(BURST):
            q = HeadersQuery(number_origin(i % BLOCKS), 1, 0, False)
            flooder.conn.send(OFFSET + GetBlockHeaders.CODE, GetBlockHeaders(i, q).encode())
        blob = bytes(flooder.conn.out)
        flooder.conn.out.clear()
        sender = threading.Thread(target=flooder.sock.sendall, args=(blob,), daemon=True)
        others: list = []

        def well_behaved():
            for j in range(20):
                answer = other.headers(j, number_origin(j * 50), 3)
                others.append(None if answer is None else numbers(answer))

        helper = threading.Thread(target=well_behaved, daemon=True)
        sender.start()
        helper.start()
        seen = []
        while len(seen) < BURST:
            # no flush while the sender thread writes the socket: Pongs would interleave frames
            msg = flooder.next_message(120.0) if sender.is_alive() else None
            if msg is None and not sender.is_alive():
                flooder.flush()
                msg = flooder.next_message(120.0)
            if msg is None:
                break
            if hasattr(msg, "request_id"):
                seen.append((msg.request_id, numbers(msg)))
        sender.join(30)
        helper.join(60)
        assert not sender.is_alive() and not helper.is_alive()
        assert len(seen) == BURST, f"{len(seen)} of {BURST} answered (disconnect: {flooder.disconnect})"
        assert [rid for rid, _ in seen] == list(range(BURST)), "answers out of order or missing"
        assert all(nums == [rid % BLOCKS] for rid, nums in seen)
        assert others == [[j * 50, j * 50 + 1, j * 50 + 2] for j in range(20)]
        assert flooder.disconnect is None and other.disconnect is None


def test_a_malformed_request_drops_that_peer_only(served, nodes):
    with EthPeer(served.enode) as bad, EthPeer(served.enode) as good:
        bad.start()
        good.start()
        mark = nodes.mark()
        # a 9-byte origin: go-ethereum's HashOrNumber.DecodeRLP "invalid input size" -> errDecode
        bad.conn.send(OFFSET + GetBlockHeaders.CODE, rlp.encode([1, [b"\x01" * 9, 1, 0, False]]))
        bad.flush()
        reason, _ = bad.read_until_disconnect(10)
        assert reason == DiscReason.SUBPROTOCOL_ERROR
        answer = good.headers(5, number_origin(600), 2)
        assert answer is not None and numbers(answer) == [600, 601]
        [ev] = nodes.expect("peer_removed", node="a", since=mark, peer_id=bad.id_hex)
        assert ev.data["reason"] == "SUBPROTOCOL_ERROR"
        assert nodes.events(since=mark, kind="peer_removed", node="a") == [ev]
    # the node still takes new peers and answers them
    with EthPeer(served.enode) as late:
        late.start()
        assert numbers(late.headers(1, number_origin(1099), 1)) == [1099]
