"""eth/69 (EIP-7642) and eth/70 (EIP-7975) on the protocol harness (no actor system): the 7-field
Status and its checks, BlockRangeUpdate both ways, the versions' codes and layouts, the empty
answers, the transaction checks and admin_peers.  Rules: go-ethereum eth/protocols/eth
(protocol.go, handshake.go, handler.go, handlers.go) and eth/peer.go."""

import pytest
import rlp

from config.loader import load_text
from protocols.api import MessageError
from protocols.eth import (LENGTHS, BlockBodies, BlockHeaders, BlockRangeUpdate, EthError, EthProtocol,
                           EthProtocol68, EthProtocol69, EthProtocol70, ForkID, GetBlockBodies, GetBlockHeaders,
                           GetPooledTransactions, GetReceipts, GetReceipts70, HeadersQuery, NewBlock, NewBlockHashes,
                           NewPooledTransactionHashes, PooledTransactions, Receipts, Receipts70, Status, Status69,
                           Transactions)
from protocols.forkid import MAINNET, SEPOLIA, fork_id
from protocols.harness import ProtocolHarness
from protocols.registry import load_class, resolve
from rlpx.base_protocol import Capability
from rlpx.caps import LocalProtocol, match_capabilities
from rlpx.disc import DiscReason

G = MAINNET.genesis_hash
FID = [b"\xfc\x64\xec\x04", 1150000]  # mainnet at genesis (go-ethereum core/forkid/forkid_test.go)
NEW = (EthProtocol69, EthProtocol70)


def status69(version=69, net=1, genesis=G, fid=FID, earliest=0, latest=0, latest_hash=G, extra=()):
    return rlp.encode([version, net, genesis, fid, earliest, latest, latest_hash, *extra])


def connected(cls, **status) -> ProtocolHarness:
    """``cls`` with its Status exchange done against a remote on our chain."""
    h = ProtocolHarness(cls)
    h.take()
    if cls is EthProtocol68:
        h.deliver(Status(68, 1, 5, G, G, ForkID(*FID)))
    else:
        h.deliver(Status69.CODE, status69(version=cls.VERSION, **status))
    assert h.ended is None and h.events[-1][1]["accepted"] is True
    return h


def raw_sends(h: ProtocolHarness) -> list:
    """Record the payload bytes ``h``'s protocol sends from now on."""
    out, orig = [], h.send_message
    h.send_message = lambda code, payload: (out.append((code, payload)), orig(code, payload))
    return out


# -- versions, lengths, registry ---------------------------------------------------------------

def test_versions_lengths_and_registry():
    assert [(c.VERSION, c.LENGTH) for c in (EthProtocol68, EthProtocol69, EthProtocol70)] == [(68, 17), (69, 18),
                                                                                              (70, 18)]
    assert LENGTHS == {68: 17, 69: 18, 70: 18} and EthProtocol is EthProtocol68
    cfg = load_text("node: {name: a, protocols: [{name: eth, version: 68}, {name: eth, version: 69}, "
                    "{name: eth, version: 70}]}", "/tmp", create_keys=False)
    resolved = [resolve(pc) for pc in cfg.nodes[0].protocols]
    assert [(r.version, r.length, load_class(r.cls)) for r in resolved] == [
        (68, 17, EthProtocol68), (69, 18, EthProtocol69), (70, 18, EthProtocol70)]


@pytest.mark.parametrize("remote, want", [((68, 69, 70), 70), ((68, 69), 69), ((68,), 68), ((69, 70, 71), 70)])
def test_highest_shared_version_wins(remote, want):
    local = [LocalProtocol("eth", v, LENGTHS[v]) for v in (68, 69, 70)]
    [m] = match_capabilities(local, [Capability("eth", v) for v in remote])
    assert (m.version, m.length) == (want, LENGTHS[want])


# -- Status -----------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", NEW)
def test_our_status_is_the_seven_field_one_at_genesis(cls):
    h = ProtocolHarness(cls)
    [st] = h.take()
    assert isinstance(st, Status69)
    assert (st.version, st.network_id, st.genesis, st.earliest, st.latest, st.latest_hash) == (cls.VERSION, 1, G, 0,
                                                                                               0, G)
    assert [st.fork_id.hash, st.fork_id.next] == FID
    assert len(rlp.decode(st.encode())) == 7
    kind, data = h.events[0]
    assert kind == "eth_status" and data["side"] == "local" and data["latest_hash"] == G.hex()


@pytest.mark.parametrize("payload", [
    rlp.encode([69, 1, G, FID, 0, 0]), status69(extra=[b""]), status69(latest_hash=G[:31]),
    status69(earliest=2 ** 64), status69(version=2 ** 32), status69(fid=[b"\x01\x02\x03", 0]),
    rlp.encode([69, 1, 5, G, G, FID]),  # an eth/68 Status
])
def test_status69_decoding_is_exact(payload):
    with pytest.raises(MessageError):
        Status69.decode(payload)


def test_status69_round_trip():
    st = Status69.decode(status69(earliest=3, latest=10, latest_hash=b"\x07" * 32))
    assert (st.earliest, st.latest, st.latest_hash) == (3, 10, b"\x07" * 32)
    assert st.encode() == status69(earliest=3, latest=10, latest_hash=b"\x07" * 32)


@pytest.mark.parametrize("cls", NEW)
@pytest.mark.parametrize("over, why", [
    ({"net": 5}, "network id mismatch"), ({"version": 68}, "protocol version mismatch"),
    ({"genesis": b"\x01" * 32}, "genesis mismatch"), ({"fid": [b"\x01\x02\x03\x04", 0]}, "fork id rejected"),
    ({"earliest": 5, "latest": 4}, "invalid block range in status: earliest > latest"),
    ({"latest_hash": b"\x00" * 32}, "invalid block range in status: zero latest hash"),
])
def test_status_mismatch_disconnects_with_subprotocol_error(cls, over, why):
    h = ProtocolHarness(cls)
    h.take()
    h.deliver(Status69.CODE, status69(**{"version": cls.VERSION, **over}))
    assert isinstance(h.error, EthError) and why in str(h.error)
    assert h.ended.reason == DiscReason.SUBPROTOCOL_ERROR and h.take() == []
    kind, data = h.events[-1]
    assert kind == "eth_status" and data["accepted"] is False and why in data["error"]


def test_status_checks_run_in_go_ethereums_order():
    # network id first, then version (go-ethereum handshake.go readStatus)
    h = ProtocolHarness(EthProtocol69)
    h.deliver(Status69.CODE, status69(version=70, net=5))
    assert "network id mismatch" in h.ended.error
    h = ProtocolHarness(EthProtocol69)
    h.deliver(Status69.CODE, status69(genesis=b"\x01" * 32, earliest=9, latest=1))
    assert "genesis mismatch" in h.ended.error


def test_a_future_or_pruned_range_is_accepted():
    h = connected(EthProtocol69, earliest=10 ** 6, latest=2 * 10 ** 6, latest_hash=b"\x05" * 32)
    assert h.proto.peer_info() == {"version": 69, "earliestBlock": 10 ** 6, "latestBlock": 2 * 10 ** 6,
                                   "latestBlockHash": "0x" + "05" * 32}


@pytest.mark.parametrize("cls", NEW)
def test_an_eth68_status_on_eth69_is_malformed(cls):
    h = ProtocolHarness(cls)
    h.deliver(Status.CODE, rlp.encode([cls.VERSION, 1, 5, G, G, FID]))
    assert h.ended.reason == DiscReason.SUBPROTOCOL_ERROR and "malformed Status69" in h.ended.error


@pytest.mark.parametrize("cls", NEW)
def test_no_status_in_time_is_a_read_timeout(cls):
    h = ProtocolHarness(cls)
    h.advance(4.9)
    assert h.ended is None
    h.advance(0.2)
    assert h.ended.reason == DiscReason.READ_TIMEOUT


def test_status_on_another_chain():
    h = ProtocolHarness(EthProtocol70, {"chain": "sepolia"})
    [st] = h.take()
    assert (st.network_id, st.genesis, st.latest_hash) == (11155111, SEPOLIA.genesis_hash, SEPOLIA.genesis_hash)
    assert (st.fork_id.hash, st.fork_id.next) == fork_id(SEPOLIA, 0, SEPOLIA.genesis_time)
    h.deliver(Status69.CODE, status69(version=70))  # a mainnet remote
    assert "network id mismatch" in h.ended.error


# -- BlockRangeUpdate -------------------------------------------------------------------------

@pytest.mark.parametrize("cls", NEW)
def test_block_range_update_is_kept_for_admin_peers(cls):
    h = connected(cls)
    assert h.proto.peer_info() == {"version": cls.VERSION, "earliestBlock": 0, "latestBlock": 0,
                                   "latestBlockHash": "0x" + G.hex()}
    h.deliver(BlockRangeUpdate(100, 200, b"\x09" * 32))
    h.deliver(BlockRangeUpdate(7, 7, b"\x0a" * 32))  # the range may move back
    assert h.ended is None and h.take() == []
    assert h.proto.peer_info() == {"version": cls.VERSION, "earliestBlock": 7, "latestBlock": 7,
                                   "latestBlockHash": "0x" + "0a" * 32}


@pytest.mark.parametrize("cls", NEW)
@pytest.mark.parametrize("payload, why", [
    (rlp.encode([5, 4, b"\x09" * 32]), "earliest > latest"),
    (rlp.encode([0, 4, b"\x00" * 32]), "zero latest hash"),
    (rlp.encode([0, 4, b"\x09" * 31]), "malformed BlockRangeUpdate"),
    (rlp.encode([0, 4, b"\x09" * 32, 1]), "malformed BlockRangeUpdate"),
    (rlp.encode([b"\x00\x01", 4, b"\x09" * 32]), "malformed BlockRangeUpdate"),
])
def test_invalid_block_range_update_disconnects(cls, payload, why):
    h = connected(cls)
    h.deliver(BlockRangeUpdate.CODE, payload)
    assert h.ended.reason == DiscReason.SUBPROTOCOL_ERROR and why in h.ended.error
    assert h.take() == []


def test_block_range_update_before_status_disconnects():
    h = ProtocolHarness(EthProtocol69)
    h.deliver(BlockRangeUpdate(1, 2, b"\x09" * 32))
    assert "first eth message must be Status" in h.ended.error


def test_our_block_range_update_is_sent_when_due():
    h = ProtocolHarness(EthProtocol70)
    h.take()
    h.proto.update_block_range(0, 40, b"\x01" * 32)  # before the handshake: not sent yet
    assert h.take() == []
    h.deliver(Status69.CODE, status69(version=70))
    assert h.take() == [BlockRangeUpdate(0, 40, b"\x01" * 32)]  # due once the remote is accepted
    h.proto.update_block_range(0, 71, b"\x02" * 32)  # 31 blocks on: not yet (go-ethereum shouldSend)
    assert h.take() == []
    h.proto.update_block_range(0, 72, b"\x03" * 32)
    assert h.take() == [BlockRangeUpdate(0, 72, b"\x03" * 32)]
    h.proto.update_block_range(0, 71, b"\x04" * 32)  # moved back: at once
    assert h.take() == [BlockRangeUpdate(0, 71, b"\x04" * 32)]
    for bad in ((5, 4, b"\x01" * 32), (0, 4, b"\x00" * 32), (0, 4, b"\x01" * 31)):
        with pytest.raises(ValueError):
            h.proto.update_block_range(*bad)
    assert h.take() == [] and h.ended is None


def test_a_constant_range_sends_no_update():
    h = connected(EthProtocol69)
    h.proto.update_block_range(0, 0, G)
    assert h.take() == []


def test_eth68_has_no_block_range_update():
    h = ProtocolHarness(EthProtocol68)
    h.deliver(Status(68, 1, 5, G, G, ForkID(*FID)))
    with pytest.raises(ValueError):
        h.deliver(BlockRangeUpdate.CODE, rlp.encode([0, 0, G]))  # code 0x11 is outside eth/68's 17


# -- codes and layouts ------------------------------------------------------------------------

@pytest.mark.parametrize("cls", NEW)
@pytest.mark.parametrize("code, payload", [
    (NewBlockHashes.CODE, NewBlockHashes([[G, 1]]).encode()), (NewBlock.CODE, NewBlock(b"\xc0", 1).encode()),
    (0x0B, b"\xc0"), (0x0E, b"\xc0"),
])
def test_codes_a_version_lacks_are_protocol_errors(cls, code, payload):
    h = connected(cls)
    h.deliver(code, payload)
    assert h.ended.reason == DiscReason.SUBPROTOCOL_ERROR
    assert f"invalid message code {code:#04x} for eth/{cls.VERSION}" in h.ended.error


def test_eth68_still_takes_new_block_announcements():
    h = ProtocolHarness(EthProtocol68)
    h.deliver(Status(68, 1, 5, G, G, ForkID(*FID)))
    h.deliver(NewBlockHashes([[G, 1]]))
    h.deliver(NewBlock(b"\xc0", 1))
    assert h.ended is None and h.take()[1:] == []


@pytest.mark.parametrize("cls", (EthProtocol68, EthProtocol69, EthProtocol70))
def test_requests_get_empty_answers_with_their_id(cls):
    h = connected(cls)
    receipts = GetReceipts70(9, 3, (G,)) if cls is EthProtocol70 else GetReceipts(9, (G,))
    for msg in (GetBlockHeaders(1, HeadersQuery(b"\x01", 10, 0, False)), GetBlockHeaders(2 ** 64 - 1,
                HeadersQuery(b"\xff" * 8, 1, 0, True)), GetBlockBodies(3, (G,)), GetPooledTransactions(0, (G, G)),
                receipts):
        h.deliver(msg)
    want_receipts = Receipts70(9, False, ()) if cls is EthProtocol70 else Receipts(9, ())
    assert h.take() == [BlockHeaders(1, ()), BlockHeaders(2 ** 64 - 1, ()), BlockBodies(3, ()),
                        PooledTransactions(0, ()), want_receipts]
    assert h.ended is None


def test_eth70_receipts_answer_writes_false_as_0x80():
    h = connected(EthProtocol70)
    sent = raw_sends(h)
    h.deliver(GetReceipts70.CODE, rlp.encode([0x1234, 0, [G]]))
    assert sent == [(Receipts70.CODE, bytes.fromhex("c5821234" "80" "c0"))]


@pytest.mark.parametrize("flag, ok", [(b"", False), (b"\x01", True)])
def test_receipts70_flag_decodes_as_go_ethereum_does(flag, ok):
    assert Receipts70.decode(rlp.encode([1, flag, []])).last_block_incomplete is ok


@pytest.mark.parametrize("flag", [b"\x00", b"\x02", b"\x00\x01", [b""]])
def test_receipts70_flag_other_than_0x80_or_0x01_is_rejected(flag):
    with pytest.raises(MessageError):
        Receipts70.decode(rlp.encode([1, flag, []]))


@pytest.mark.parametrize("cls, payload", [
    (EthProtocol70, rlp.encode([1, [G]])),          # eth/69's layout on eth/70
    (EthProtocol69, rlp.encode([1, 0, [G]])),       # eth/70's layout on eth/69
    (EthProtocol70, rlp.encode([1, b"\x00", [G]])),  # firstBlockReceiptIndex not canonical
])
def test_get_receipts_in_the_wrong_layout_is_malformed(cls, payload):
    h = connected(cls)
    h.deliver(GetReceipts.CODE, payload)
    assert h.ended.reason == DiscReason.SUBPROTOCOL_ERROR and "malformed GetReceipts" in h.ended.error


# -- transactions ----------------------------------------------------------------------------

@pytest.mark.parametrize("cls", (EthProtocol68, EthProtocol69, EthProtocol70))
def test_transactions_are_checked_then_ignored(cls):
    h = connected(cls)
    h.deliver(Transactions([b"\x02\x01"] * 5000))  # go-ethereum maxTransactionAnnouncements
    h.deliver(NewPooledTransactionHashes(b"\x02\x03", (100, 200), (G, G)))
    assert h.ended is None and h.take() == []
    h.deliver(Transactions([b"\x02\x01"] * 5001))
    assert h.ended.reason == DiscReason.SUBPROTOCOL_ERROR and "too many transactions: 5001" in h.ended.error


@pytest.mark.parametrize("cls", NEW)
def test_pooled_hashes_with_unequal_lists_disconnect(cls):
    h = connected(cls)
    h.deliver(NewPooledTransactionHashes(b"\x02", (100,), (G, G)))
    assert h.ended.reason == DiscReason.SUBPROTOCOL_ERROR and "2 hashes" in h.ended.error


@pytest.mark.parametrize("cls", (EthProtocol68, EthProtocol70))
def test_a_message_over_10_mib_disconnects(cls):
    h = ProtocolHarness(cls)
    h.deliver(Transactions.CODE, rlp.encode([b"\x01" * (10 * 1024 * 1024)]))
    assert h.ended.reason == DiscReason.SUBPROTOCOL_ERROR and "message too long" in h.ended.error


def test_peer_info_is_handshake_until_status():
    h = ProtocolHarness(EthProtocol69)
    assert h.proto.peer_info() is None
    h.deliver(Status69.CODE, status69(latest=0))
    assert h.proto.peer_info()["version"] == 69
