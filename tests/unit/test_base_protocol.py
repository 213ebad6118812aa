"""Base protocol messages (rlpx.base_protocol) and Disconnect reasons (rlpx.disc)."""

from __future__ import annotations

import pickle

import pytest
import rlp

from rlpx import base_protocol as bp
from rlpx.disc import DiscReason
from rlpx.keys import generate_private_key, node_id_from_private_key

NODE_ID = node_id_from_private_key(generate_private_key())


# --------------------------------------------------------------------------- Hello


def test_hello_round_trip():
    hello = bp.Hello(5, "thespian-devp2p/v0.1/linux/python3.11",
                     (bp.Capability("eth", 68), bp.Capability("snap", 1), bp.Capability("eth", 67)),
                     30303, NODE_ID)
    payload = hello.encode()
    assert bp.Hello.decode(payload) == hello
    assert rlp.decode(payload) == [b"\x05", hello.client_id.encode(),
                                   [[b"eth", b"\x44"], [b"snap", b"\x01"], [b"eth", b"\x43"]],
                                   (30303).to_bytes(2, "big"), NODE_ID]


@pytest.mark.parametrize("version,port,caps", [(0, 0, ()), (4, 1, (bp.Capability("a", 0),)),
                                               (255, 65535, (bp.Capability("les", 4),))])
def test_hello_round_trip_edge_values(version, port, caps):
    hello = bp.Hello(version, "", caps, port, NODE_ID)
    assert bp.Hello.decode(hello.encode()) == hello


def test_hello_extra_fields_are_ignored():
    fields = [5, b"client", [[b"eth", 68, b"extra cap field"]], 30303, NODE_ID, b"future", [b"more", [b""]]]
    hello = bp.Hello.decode(rlp.encode(fields))
    assert hello == bp.Hello(5, "client", (bp.Capability("eth", 68),), 30303, NODE_ID)


def test_hello_trailing_bytes_after_the_list_are_ignored():
    payload = bp.Hello(5, "c", (), 1, NODE_ID).encode()
    assert bp.Hello.decode(payload + b"\x00\x01").client_id == "c"


def test_hello_invalid_utf8_client_id_is_replaced_not_fatal():
    hello = bp.Hello.decode(rlp.encode([5, b"\xff\xfeclient", [], 0, NODE_ID]))
    assert hello.client_id.endswith("client")


def test_capability_str():
    assert str(bp.Capability("eth", 68)) == "eth/68"


def test_base_protocol_constants():
    assert (bp.HELLO, bp.DISCONNECT, bp.PING, bp.PONG) == (0, 1, 2, 3)
    assert bp.BASE_PROTOCOL_VERSION == 5 and bp.SNAPPY_PROTOCOL_VERSION == 5
    assert bp.BASE_PROTOCOL_LENGTH == 16
    assert bp.BASE_PROTOCOL_MAX_MSG_SIZE == 2048


def test_ping_pong_payloads():
    assert bp.encode_ping() == bp.encode_pong() == b"\xc0"
    for payload in (b"\xc0", b"", b"\xc2\x01\x02", b"\xc0\x00"):
        assert bp.check_empty_list(payload, "Ping") is None


# --------------------------------------------------------------------------- Disconnect


@pytest.mark.parametrize("reason", list(DiscReason))
def test_disconnect_list_form_round_trip(reason):
    payload = bp.encode_disconnect(reason)
    assert payload == rlp.encode([int(reason)])
    assert bp.decode_disconnect(payload) is reason


def test_encode_disconnect_bytes():
    assert bp.encode_disconnect(DiscReason.TOO_MANY_PEERS) == b"\xc1\x04"
    assert bp.encode_disconnect(DiscReason.REQUESTED) == b"\xc1\x80"
    assert bp.encode_disconnect(DiscReason.SUBPROTOCOL_ERROR) == b"\xc1\x10"
    assert bp.encode_disconnect(0x08) == b"\xc1\x08"


@pytest.mark.parametrize("payload,expected", [
    (b"\xc1\x08", DiscReason.QUITTING),         # [reason], the spec
    (b"\xc1\x80", DiscReason.REQUESTED),        # [0]
    (b"\xc2\x04\x05", DiscReason.TOO_MANY_PEERS),  # extra list elements ignored
    (b"\x08", DiscReason.QUITTING),             # bare RLP int byte
    (b"\x10", DiscReason.SUBPROTOCOL_ERROR),
    (b"\x00", DiscReason.REQUESTED),            # raw 0x00 byte
    (b"\xc0", DiscReason.REQUESTED),            # empty list
    (b"", DiscReason.REQUESTED),                # empty payload
    (b"\x80", DiscReason.REQUESTED),            # empty string / RLP zero
    (b"\xc1\x00", DiscReason.REQUESTED),
], ids=["list", "list-zero", "list-extra", "bare", "bare-0x10", "raw-00", "empty-list", "empty", "0x80",
        "list-raw-00"])
def test_decode_disconnect_forms(payload, expected):
    assert bp.decode_disconnect(payload) is expected


@pytest.mark.parametrize("payload", [b"\x42", b"\xc1\x42"])
def test_unknown_disconnect_reason(payload):
    reason = bp.decode_disconnect(payload)
    assert isinstance(reason, DiscReason)
    assert reason.name == "UNKNOWN_0x42"
    assert reason.value == 0x42 and reason == 0x42 and int(reason) == 0x42
    assert reason.description == "unknown disconnect reason"


def test_unknown_reason_via_constructor_and_pickle():
    assert DiscReason(0xff).name == "UNKNOWN_0xff"
    assert DiscReason(0x0c).name == "UNKNOWN_0x0c"
    assert pickle.loads(pickle.dumps(DiscReason.QUITTING)) is DiscReason.QUITTING
    with pytest.raises(ValueError):
        DiscReason(-1)


EXPECTED_REASONS = {
    0x00: "REQUESTED",
    0x01: "NETWORK_ERROR",
    0x02: "PROTOCOL_ERROR",
    0x03: "USELESS_PEER",
    0x04: "TOO_MANY_PEERS",
    0x05: "ALREADY_CONNECTED",
    0x06: "INCOMPATIBLE_VERSION",
    0x07: "INVALID_IDENTITY",
    0x08: "QUITTING",
    0x09: "UNEXPECTED_IDENTITY",
    0x0A: "SELF",
    0x0B: "READ_TIMEOUT",
    0x10: "SUBPROTOCOL_ERROR",
}


def test_disc_reason_table():
    assert {r.value: r.name for r in DiscReason} == EXPECTED_REASONS
    for value, name in EXPECTED_REASONS.items():
        reason = DiscReason(value)
        assert reason is DiscReason[name]
        assert reason.description and reason.description != "unknown disconnect reason"
    assert DiscReason.TOO_MANY_PEERS.description == "too many peers"
    assert DiscReason.SUBPROTOCOL_ERROR.description == "some other reason specific to a subprotocol"
