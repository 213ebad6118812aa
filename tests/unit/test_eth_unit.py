"""protocols/eth.py on the protocol harness (no actor system): Status, requests, bad input, options."""

import pytest
import rlp

from config.loader import ConfigError, load_text
from protocols.api import MessageError
from protocols.eth import (BlockBodies, BlockHeaders, EthError, EthProtocol, ForkID, GetBlockBodies, GetBlockHeaders,
                           HeadersQuery, NewPooledTransactionHashes, Status, Transactions, chain_from_option)
from protocols.forkid import MAINNET
from protocols.harness import ProtocolHarness
from rlpx.disc import DiscReason

G = MAINNET.genesis_hash


def status(**over):
    fields = {"version": 68, "net": 1, "td": 17179869184, "head": G, "genesis": G, "fid": [b"\xfc\x64\xec\x04", 1150000]}
    fields.update(over)
    return rlp.encode([fields["version"], fields["net"], fields["td"], fields["head"], fields["genesis"], fields["fid"]])


def connected() -> ProtocolHarness:
    """An eth/68 protocol whose handshake with the scripted remote is done."""
    h = ProtocolHarness(EthProtocol)
    ours = h.take()
    assert [type(m) for m in ours] == [Status]
    h.deliver(ours[0])  # the remote is on our chain: it answers with the same Status
    assert h.ended is None and h.events[-1][1]["accepted"] is True
    return h


def test_status_decodes():
    st = Status.decode(status())
    assert (st.version, st.network_id, st.td, st.genesis) == (68, 1, 17179869184, G)
    assert (st.fork_id.hash.hex(), st.fork_id.next) == ("fc64ec04", 1150000)
    assert st.encode() == status()


@pytest.mark.parametrize("payload", [
    b"\xc0", b"\x01\x02", rlp.encode([68, 1]), status(genesis=b"\x01" * 31), status(fid=[b"\x01\x02", 0]),
    status(fid=b"abcd"), status(head=[b"x"]), status(version=2 ** 32), status(net=b"\x00\x01"),
    status() + b"\x00", rlp.encode(rlp.decode(status()) + [b""]),
])
def test_bad_status_raises(payload):
    with pytest.raises(MessageError):
        Status.decode(payload)


def test_bad_status_disconnects_with_subprotocol_error():
    h = ProtocolHarness(EthProtocol)
    h.deliver(Status.CODE, status(genesis=b"\x01" * 31))
    assert h.ended.reason == DiscReason.SUBPROTOCOL_ERROR and "Status" in h.ended.error


@pytest.mark.parametrize("over, why", [
    ({"version": 67}, "version mismatch"), ({"net": 5}, "network id mismatch"),
    ({"genesis": b"\x01" * 32}, "genesis mismatch"), ({"fid": [b"\x01\x02\x03\x04", 0]}, "fork id rejected"),
])
def test_status_mismatch_is_published_and_disconnects(over, why):
    h = ProtocolHarness(EthProtocol)
    h.deliver(Status.CODE, status(**over))
    assert isinstance(h.error, EthError) and why in str(h.error)
    assert h.ended.reason == DiscReason.SUBPROTOCOL_ERROR
    kind, data = h.events[-1]
    assert kind == "eth_status" and data["accepted"] is False and why in data["error"]


def test_no_status_in_time_is_a_read_timeout():
    h = ProtocolHarness(EthProtocol, {"status_timeout_s": 2.0})
    h.advance(1.9)
    assert h.ended is None
    h.advance(0.2)
    assert h.ended.reason == DiscReason.READ_TIMEOUT


def test_status_cancels_the_timeout():
    h = connected()
    h.advance(60)
    assert h.ended is None


def test_requests_get_empty_answers_with_their_id():
    h = connected()
    h.deliver(GetBlockHeaders(7, HeadersQuery(b"\x01", 10, 0, False)))
    h.deliver(GetBlockHeaders(8, HeadersQuery(G, 1, 0, True)))
    h.deliver(GetBlockBodies(2 ** 64 - 1, (G,)))
    assert h.take() == [BlockHeaders(7, ()), BlockHeaders(8, ()), BlockBodies(2 ** 64 - 1, ())]
    assert h.ended is None


def test_announcements_are_checked_then_ignored():
    h = connected()
    h.deliver(Transactions([b"\x01", [b"a"]]))
    h.deliver(NewPooledTransactionHashes(b"\x02\x02", (100, 200), (G, G)))
    assert h.take() == [] and h.ended is None
    h.deliver(NewPooledTransactionHashes(b"\x02", (100, 200), (G, G)))
    assert h.ended.reason == DiscReason.SUBPROTOCOL_ERROR and "2 sizes" in h.ended.error


@pytest.mark.parametrize("code, payload, why", [
    (GetBlockHeaders.CODE, rlp.encode([1, [b"\x01" * 9, 1, 0, 0]]), "origin of 9 bytes"),
    (GetBlockHeaders.CODE, rlp.encode([1, [b"\x00\x01", 1, 0, 0]]), "origin of 2 bytes"),
    (GetBlockHeaders.CODE, rlp.encode([b"\x01" * 9, [b"\x01", 1, 0, 0]]), "malformed"),
    (0x0C, b"\xc0", "invalid message code 0x0c"),
    (Status.CODE, status(), "second Status"),
])
def test_bad_messages_after_status_disconnect(code, payload, why):
    h = connected()
    h.deliver(code, payload)
    assert h.ended.reason == DiscReason.SUBPROTOCOL_ERROR and why in h.ended.error


def test_request_before_status_disconnects():
    h = ProtocolHarness(EthProtocol)
    h.take()
    h.deliver(GetBlockBodies(1, ()))
    assert h.ended.reason == DiscReason.SUBPROTOCOL_ERROR and "first eth message must be Status" in h.ended.error
    assert h.take() == []


def test_peer_info_after_status():
    h = ProtocolHarness(EthProtocol)
    assert h.proto.peer_info() is None  # "handshake", as go-ethereum shows it
    h.deliver(Status(68, 1, 5, b"\x07" * 32, G, ForkID(b"\xfc\x64\xec\x04", 1150000)))
    assert h.proto.peer_info() == {"version": 68, "difficulty": 5, "head": "0x" + "07" * 32}


def test_chain_option():
    assert chain_from_option(None) is MAINNET and chain_from_option("mainnet") is MAINNET
    c = chain_from_option({"network_id": 7, "genesis_hash": "0x" + "ab" * 32, "fork_blocks": [5, 10]})
    assert (c.network_id, c.genesis_hash, c.fork_blocks) == (7, b"\xab" * 32, (5, 10))
    for bad in ("goerli", 5, {"network_id": 1}, {"network_id": 1, "genesis_hash": "00"},
                {"network_id": -1, "genesis_hash": "ab" * 32}, {"network_id": 1, "genesis_hash": "ab" * 32, "x": 1},
                {"network_id": 1, "genesis_hash": "ab" * 32, "fork_times": ["soon"]}):
        with pytest.raises(ValueError):
            chain_from_option(bad)


def test_config_rejects_bad_chain(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_text("node: {name: a, protocols: [{name: eth, version: 68, chain: {network_id: 1}}]}", str(tmp_path))
    assert info.value.path == "node.protocols[0].chain" and "genesis_hash" in str(info.value)
    cfg = load_text("node: {name: a, protocols: [{name: eth, version: 68, chain: {network_id: 9, "
                    "genesis_hash: '" + "cd" * 32 + "', fork_blocks: [1, 2]}}]}", str(tmp_path))
    assert dict(cfg.nodes[0].protocols[0].options)["chain"]["network_id"] == 9


def test_deeply_nested_status_is_a_message_error():
    item = b"\xc0"
    for _ in range(1000):  # deeper than the recursion limit pyrlp's decoder runs into
        item = rlp.codec.length_prefix(len(item), 0xC0) + item
    with pytest.raises(MessageError, match="RecursionError"):
        Status.decode(item)
