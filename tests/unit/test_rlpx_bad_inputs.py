"""Malformed bytes from the network must raise the specific rlpx error, nothing else.

Every check pins the exact exception class (``type(exc) is ...``) so that a broader
RLPxError, or a stray IndexError/ValueError from a dependency, fails the test.
"""

from __future__ import annotations

import os

import coincurve
import cramjam
import pytest
import rlp

from rlpx import base_protocol as bp
from rlpx import ecies
from rlpx import handshake as hs
from rlpx import snappy
from rlpx.errors import (ECIESError, ECIESMACError, FrameTooLargeError, HandshakeError, HelloError,
                         InvalidPointError, MACMismatchError, MessageDecodeError, RLPxError, SnappyError)
from rlpx.frame import MAX_FRAME_SIZE, FrameCodec
from rlpx.keys import generate_private_key, node_id_from_private_key
from rlpx.session import MessageCodec, split_code
from support.rlpx_pair import seal_eip8

KEY_A = generate_private_key()
KEY_B = generate_private_key()
ID_A = node_id_from_private_key(KEY_A)
ID_B = node_id_from_private_key(KEY_B)

# (1, 1) is not on secp256k1 (y^2 = x^3 + 7 gives 1 != 8)
OFF_CURVE = (1).to_bytes(32, "big") + (1).to_bytes(32, "big")


def raises_exactly(cls, func, *args, **kwargs):
    """Call ``func`` and return the exception, asserting its class is exactly ``cls``."""
    with pytest.raises(RLPxError) as info:
        func(*args, **kwargs)
    assert type(info.value) is cls, f"expected {cls.__name__}, got {type(info.value).__name__}: {info.value}"
    return info.value


def secrets_pair():
    ini = hs.Initiator(KEY_A, ID_B)
    rec = hs.Recipient(KEY_B)
    s_ini = ini.feed(rec.feed(ini.auth))
    return s_ini, rec.secrets


def codec_pair(snappy_on: bool = False, max_frame_size: int = MAX_FRAME_SIZE):
    s_ini, s_rec = secrets_pair()
    a, b = MessageCodec(s_ini), MessageCodec(s_rec, max_frame_size=max_frame_size)
    a.snappy = b.snappy = snappy_on
    return a, b


def auth_body(initiator_key: bytes, remote_id: bytes, initiator_id: bytes | None = None) -> bytes:
    eph = generate_private_key()
    nonce = os.urandom(32)
    token = hs.ecdh_x(initiator_key, remote_id)
    sig = coincurve.PrivateKey(eph).sign_recoverable(bytes(a ^ b for a, b in zip(token, nonce)), hasher=None)
    return rlp.encode([sig, initiator_id or node_id_from_private_key(initiator_key), nonce, 4]) + os.urandom(120)


# --------------------------------------------------------------------------- handshake size checks


@pytest.mark.parametrize("cut", [0, 1, 2, 100, 306, -1])
def test_truncated_auth(cut):
    auth = hs.Initiator(KEY_A, ID_B).auth
    raises_exactly(HandshakeError, hs.decode_auth, KEY_B, auth[:cut])


def test_truncated_ack():
    ini = hs.Initiator(KEY_A, ID_B)
    ack = hs.Recipient(KEY_B).feed(ini.auth)
    raises_exactly(HandshakeError, hs.decode_ack, KEY_A, ack[:-1])


def test_auth_with_trailing_bytes():
    auth = hs.Initiator(KEY_A, ID_B).auth
    raises_exactly(HandshakeError, hs.decode_auth, KEY_B, auth + b"\x00")


@pytest.mark.parametrize("size", [2049, 0x0900, 0xffff])
def test_oversized_size_prefix(size):
    packet = size.to_bytes(2, "big") + os.urandom(size)
    raises_exactly(HandshakeError, hs.decode_auth, KEY_B, packet)
    raises_exactly(HandshakeError, hs.decode_ack, KEY_A, packet)


@pytest.mark.parametrize("size", [2049, 0xffff])
def test_oversized_prefix_rejected_by_feed_after_two_bytes(size):
    prefix = size.to_bytes(2, "big")
    rec = hs.Recipient(KEY_B)
    assert rec.feed(prefix[:1]) is None
    raises_exactly(HandshakeError, rec.feed, prefix[1:])
    raises_exactly(HandshakeError, hs.Recipient(KEY_B).feed, prefix)
    raises_exactly(HandshakeError, hs.Initiator(KEY_A, ID_B).feed, prefix)


def test_largest_size_prefix_is_accepted_as_incomplete():
    # 2048 is the limit itself: still waiting for bytes, no error
    assert hs.Recipient(KEY_B).feed((2048).to_bytes(2, "big") + bytes(100)) is None


@pytest.mark.parametrize("size", [0, 1, 50, ecies.OVERHEAD])
def test_size_prefix_too_small(size):
    packet = size.to_bytes(2, "big") + bytes(size)
    raises_exactly(HandshakeError, hs.decode_auth, KEY_B, packet)
    raises_exactly(HandshakeError, hs.Recipient(KEY_B).feed, size.to_bytes(2, "big"))
    raises_exactly(HandshakeError, hs.Initiator(KEY_A, ID_B).feed, size.to_bytes(2, "big"))


# --------------------------------------------------------------------------- ECIES


def test_ecies_round_trip_sanity():
    assert ecies.decrypt(KEY_B, ecies.encrypt(ID_B, b"secret", b"mac"), b"mac") == b"secret"
    assert len(ecies.encrypt(ID_B, b"")) == ecies.OVERHEAD == 113


@pytest.mark.parametrize("where", ["iv", "ciphertext", "tag-first", "tag-last"])
def test_ecies_corruption_is_a_mac_error(where):
    data = bytearray(ecies.encrypt(ID_B, b"some plaintext bytes", b"\x01\x23"))
    index = {"iv": 70, "ciphertext": 65 + 16 + 3, "tag-first": -32, "tag-last": -1}[where]
    data[index] ^= 0x01
    raises_exactly(ECIESMACError, ecies.decrypt, KEY_B, bytes(data), b"\x01\x23")


def test_ecies_wrong_shared_mac_data_or_wrong_key():
    data = ecies.encrypt(ID_B, b"payload", b"\x01\x23")
    raises_exactly(ECIESMACError, ecies.decrypt, KEY_B, data, b"\x01\x24")
    raises_exactly(ECIESMACError, ecies.decrypt, KEY_B, data)
    raises_exactly(ECIESMACError, ecies.decrypt, KEY_A, data, b"\x01\x23")


def test_ecies_invalid_ephemeral_point():
    data = ecies.encrypt(ID_B, b"payload")
    raises_exactly(InvalidPointError, ecies.decrypt, KEY_B, b"\x04" + OFF_CURVE + data[65:])
    raises_exactly(InvalidPointError, ecies.decrypt, KEY_B, b"\x02" + data[1:])  # not uncompressed


def test_ecies_encrypt_to_invalid_point():
    raises_exactly(InvalidPointError, ecies.encrypt, OFF_CURVE, b"x")


@pytest.mark.parametrize("length", [0, 1, 65, 112])
def test_ecies_too_short(length):
    data = ecies.encrypt(ID_B, b"")[:length]
    raises_exactly(ECIESError, ecies.decrypt, KEY_B, data)


def test_corrupted_auth_and_ack_ciphertext_are_handshake_errors():
    ini = hs.Initiator(KEY_A, ID_B)
    auth = bytearray(ini.auth)
    auth[150] ^= 0x80
    exc = raises_exactly(HandshakeError, hs.decode_auth, KEY_B, bytes(auth))
    assert isinstance(exc.__cause__, ECIESMACError)
    raises_exactly(HandshakeError, hs.Recipient(KEY_B).feed, bytes(auth))
    ack = bytearray(hs.Recipient(KEY_B).feed(ini.auth))
    ack[-1] ^= 0x01
    raises_exactly(HandshakeError, hs.decode_ack, KEY_A, bytes(ack))
    raises_exactly(HandshakeError, ini.feed, bytes(ack))


def test_auth_for_another_node_is_a_handshake_error():
    auth = hs.Initiator(KEY_A, ID_B).auth
    raises_exactly(HandshakeError, hs.decode_auth, generate_private_key(), auth)


def test_auth_with_invalid_ephemeral_ecies_point():
    auth = hs.Initiator(KEY_A, ID_B).auth
    bad = auth[:2] + b"\x04" + OFF_CURVE + auth[67:]
    exc = raises_exactly(HandshakeError, hs.decode_auth, KEY_B, bad)
    assert isinstance(exc.__cause__, InvalidPointError)


def test_auth_with_initiator_key_not_on_curve():
    packet = seal_eip8(ID_B, auth_body(KEY_A, ID_B, initiator_id=OFF_CURVE))
    raises_exactly(HandshakeError, hs.decode_auth, KEY_B, packet)
    raises_exactly(HandshakeError, hs.Recipient(KEY_B).feed, packet)


def test_well_formed_auth_body_is_accepted():
    # control for the test above: the same construction with a real key decodes
    auth = hs.decode_auth(KEY_B, seal_eip8(ID_B, auth_body(KEY_A, ID_B)))
    assert auth.initiator_node_id == ID_A and auth.eip8


@pytest.mark.parametrize("body", [
    b"",
    b"\x80",
    rlp.encode([b"", b"", b"", b""]),
    rlp.encode([os.urandom(65), os.urandom(64), os.urandom(32)]),          # 3 items
    rlp.encode([os.urandom(64), ID_A, os.urandom(32), 4]),                 # short signature
    rlp.encode([os.urandom(65), ID_A[:63], os.urandom(32), 4]),            # short key
    rlp.encode([os.urandom(65), ID_A, os.urandom(31), 4]),                 # short nonce
    rlp.encode([os.urandom(65), ID_A, os.urandom(32), [4]]),               # version is a list
    rlp.encode([os.urandom(64) + b"\x07", ID_A, os.urandom(32), 4]),       # recovery id 7
    b"\xc5\x01",                                                            # truncated RLP
], ids=["empty", "string", "empty-items", "three", "sig64", "key63", "nonce31", "vsn-list", "recid7", "trunc"])
def test_malformed_auth_plaintext(body):
    raises_exactly(HandshakeError, hs.decode_auth, KEY_B, seal_eip8(ID_B, body + os.urandom(100)))


@pytest.mark.parametrize("body", [
    rlp.encode([OFF_CURVE, os.urandom(32), 4]),
    rlp.encode([ID_A, os.urandom(32)]),
    rlp.encode([ID_A[:10], os.urandom(32), 4]),
    b"\xff",
])
def test_malformed_ack_plaintext(body):
    raises_exactly(HandshakeError, hs.decode_ack, KEY_B, seal_eip8(ID_B, body + os.urandom(100)))


# --------------------------------------------------------------------------- frames


def test_wrong_header_mac():
    a, b = codec_pair()
    wire = bytearray(a.encode(0x10, b"payload"))
    wire[20] ^= 0x01
    exc = raises_exactly(MACMismatchError, b.feed, bytes(wire))
    assert exc.which == "header"


def test_corrupted_header_ciphertext_fails_the_header_mac():
    a, b = codec_pair()
    wire = bytearray(a.encode(0x10, b"payload"))
    wire[0] ^= 0x01  # would change the frame size if it were decrypted
    exc = raises_exactly(MACMismatchError, b.frames.feed, bytes(wire))
    assert exc.which == "header"


@pytest.mark.parametrize("where", [32, -17, -1])
def test_wrong_frame_mac(where):
    a, b = codec_pair()
    wire = bytearray(a.encode(0x10, b"payload" * 5))
    wire[where] ^= 0x01
    exc = raises_exactly(MACMismatchError, b.feed, bytes(wire))
    assert exc.which == "frame"


def test_frame_from_another_session_fails_the_mac():
    a, _ = codec_pair()
    _, b = codec_pair()
    exc = raises_exactly(MACMismatchError, b.feed, a.encode(0x10, b"x"))
    assert exc.which == "header"


def test_header_claiming_more_than_max_frame_size():
    a, b = codec_pair(max_frame_size=1000)
    ok = a.encode(0x10, bytes(999))  # 1000 bytes of frame-data: at the limit
    assert b.feed(ok) == [(0x10, bytes(999))]
    wire = a.encode(0x10, bytes(1000))  # 1001 bytes
    # the header alone is enough to reject it, before any body byte arrives
    raises_exactly(FrameTooLargeError, b.feed, wire[:32])


def test_frame_codec_max_frame_size_directly():
    s_ini, s_rec = secrets_pair()
    writer, reader = FrameCodec(s_ini), FrameCodec(s_rec, max_frame_size=16)
    assert reader.feed(writer.encode(bytes(16))) == [bytes(16)]
    raises_exactly(FrameTooLargeError, reader.feed, writer.encode(bytes(17)))


def test_encoding_frames_and_messages_over_the_limit():
    s_ini, _ = secrets_pair()
    raises_exactly(FrameTooLargeError, FrameCodec(s_ini).encode, bytes(MAX_FRAME_SIZE + 1))
    a, _ = codec_pair()
    # code byte + 2**24 - 1 payload bytes is one byte too many
    raises_exactly(FrameTooLargeError, a.encode, 0x10, bytes(MAX_FRAME_SIZE))
    raises_exactly(FrameTooLargeError, a.encode, 0x10, bytes(MAX_FRAME_SIZE + 1))
    a.snappy = True
    raises_exactly(FrameTooLargeError, a.encode, 0x10, bytes(MAX_FRAME_SIZE + 1))


# --------------------------------------------------------------------------- snappy


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7f, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


@pytest.mark.parametrize("declared", [MAX_FRAME_SIZE + 1, 2**32 - 1])
def test_snappy_length_bomb_rejected_before_decompressing(monkeypatch, declared):
    bomb = varint(declared) + b"\x00a" + b"\xfe\x01\x00" * 4  # a few bytes that claim a huge output

    calls = []

    def must_not_run(*_args, **_kwargs):
        calls.append(1)
        raise AssertionError("decompression started before the declared length was checked")

    monkeypatch.setattr(cramjam.snappy, "decompress_raw", must_not_run)
    monkeypatch.setattr(cramjam.snappy, "decompress_raw_into", must_not_run)
    exc = raises_exactly(SnappyError, snappy.decompress, bomb)
    assert str(declared) in str(exc)
    # the same through a snappy message codec
    a, b = codec_pair(snappy_on=False)
    b.snappy = True
    raises_exactly(SnappyError, b.feed, a.encode(0x10, bomb))
    assert calls == []  # rejected from the varint header alone, nothing was decompressed


def test_snappy_declared_length_equal_to_limit_is_not_a_bomb():
    data = varint(100) + b"\x00a"  # declares 100, holds 1: corrupt, but passes the length check
    assert snappy.decoded_length(data) == 100
    exc = raises_exactly(SnappyError, snappy.decompress, data, 100)
    assert "corrupt" in str(exc)
    raises_exactly(SnappyError, snappy.decompress, data, 99)


@pytest.mark.parametrize("data", [
    b"",                                # no header at all
    b"\xff\xff\xff\xff\xff\xff",        # unterminated varint
    b"\x0a\x08abc",                     # declares 10 bytes, literal gives 3
    b"\x0a\x01\x05\x00",                # copy from before the start of the output
    varint(5) + b"\x10abc",             # literal longer than the data
], ids=["empty", "varint", "short", "bad-offset", "literal-overrun"])
def test_corrupt_snappy_data(data):
    raises_exactly(SnappyError, snappy.decompress, data)


def test_corrupt_snappy_message_through_codec():
    a, b = codec_pair(snappy_on=True)
    good = snappy.compress(b"hello hello hello hello")
    a.snappy = False  # send hand-made (broken) compressed payloads as-is
    assert b.feed(a.encode(0x10, good)) == [(0x10, b"hello hello hello hello")]
    raises_exactly(SnappyError, b.feed, a.encode(0x10, good[:-3]))


def test_uncompressed_disconnect_after_snappy_is_tolerated():
    a, b = codec_pair(snappy_on=True)
    a.snappy = False
    payload = bp.encode_disconnect(4)
    assert b.feed(a.encode(bp.DISCONNECT, payload)) == [(bp.DISCONNECT, payload)]


# --------------------------------------------------------------------------- message codes


@pytest.mark.parametrize("frame_data", [
    b"",                    # no code at all
    b"\x81\x05",            # 5 must be the single byte 0x05
    b"\x81\x05payload",
    b"\x82\x00\x90",        # leading zero
    b"\x00",                # 0 must be 0x80
    b"\xc0",                # a list
    b"\xc2\x01\x02rest",
    b"\x89" + bytes([1]) * 9,  # more than 64 bits
    b"\x83\x01",            # truncated
    b"\xb8",                # truncated long string header
], ids=["empty", "nc-5", "nc-5-payload", "leading-zero", "zero-byte", "list", "list2", "9-bytes", "trunc", "trunc-long"])
def test_malformed_message_code(frame_data):
    raises_exactly(MessageDecodeError, split_code, frame_data)
    s_ini, s_rec = secrets_pair()
    writer, reader = FrameCodec(s_ini), MessageCodec(s_rec)
    raises_exactly(MessageDecodeError, reader.feed, writer.encode(frame_data))


def test_well_formed_codes_split():
    assert split_code(b"\x80") == (0, b"")
    assert split_code(b"\x05abc") == (5, b"abc")
    assert split_code(b"\x81\x80x") == (0x80, b"x")
    assert split_code(b"\x88" + b"\xff" * 8) == (2**64 - 1, b"")


# --------------------------------------------------------------------------- base protocol messages


@pytest.mark.parametrize("payload", [b"\xc5\x01", b"\xf8", b"\xc3\x80\x80", b"\x83ab", b"\xc1\x81\x00"],
                         ids=["truncated", "truncated-long", "short-list", "string", "nc-list"])
def test_malformed_hello(payload):
    raises_exactly(HelloError, bp.Hello.decode, payload)


@pytest.mark.parametrize("payload", [b"\xc2\x01", b"\xc1\xc0", b"\x82\x01\x02", b"\xc3\x82\x01\x02", b"\xb9"],
                         ids=["truncated", "nested-list", "two-bytes", "list-two-bytes", "truncated-long"])
def test_malformed_disconnect(payload):
    raises_exactly(MessageDecodeError, bp.decode_disconnect, payload)


@pytest.mark.parametrize("what", ["Ping", "Pong"])
@pytest.mark.parametrize("payload", [b"\xc3\x01", b"\x05", b"\x82ab", b"\xf9\x00"])
def test_malformed_ping_pong(what, payload):
    raises_exactly(MessageDecodeError, bp.check_empty_list, payload, what)


def hello_fields(**overrides):
    fields = {"version": 5, "client": b"test/1.0", "caps": [[b"eth", 68]], "port": 30303, "id": ID_A}
    fields.update(overrides)
    return [fields["version"], fields["client"], fields["caps"], fields["port"], fields["id"]]


def test_hello_larger_than_2_kib():
    big = bp.Hello(5, "x" * 2100, (), 0, ID_A).encode()
    assert len(big) > bp.BASE_PROTOCOL_MAX_MSG_SIZE
    raises_exactly(HelloError, bp.Hello.decode, big)
    # just below the limit decodes
    fits = bp.Hello(5, "x" * 1900, (), 0, ID_A).encode()
    assert len(fits) <= 2048 and bp.Hello.decode(fits).client_id == "x" * 1900


@pytest.mark.parametrize("node_id", [ID_A[:63], bytes(64), ID_A + b"\x01", b"", [ID_A]],
                         ids=["63-bytes", "all-zero", "65-bytes", "empty", "list"])
def test_hello_bad_node_id(node_id):
    raises_exactly(HelloError, bp.Hello.decode, rlp.encode(hello_fields(id=node_id)))


@pytest.mark.parametrize("count", [0, 1, 4])
def test_hello_with_fewer_than_five_fields(count):
    raises_exactly(HelloError, bp.Hello.decode, rlp.encode(hello_fields()[:count]))


@pytest.mark.parametrize("overrides", [
    {"version": [5]}, {"version": b"\x01" * 9}, {"client": [b"x"]}, {"caps": b"eth"},
    {"caps": [b"eth"]}, {"caps": [[b"eth"]]}, {"caps": [[[b"eth"], 68]]}, {"caps": [[b"\xff\xfe", 1]]},
    {"caps": [[b"eth", [68]]]}, {"port": 70000}, {"port": [1]},
], ids=["vsn-list", "vsn-9-bytes", "client-list", "caps-string", "cap-string", "cap-short", "cap-name-list",
        "cap-name-binary", "cap-vsn-list", "port-3-bytes", "port-list"])
def test_hello_malformed_fields(overrides):
    raises_exactly(HelloError, bp.Hello.decode, rlp.encode(hello_fields(**overrides)))


def test_hello_control_decodes():
    hello = bp.Hello.decode(rlp.encode(hello_fields()))
    assert hello.node_id == ID_A and hello.capabilities == (bp.Capability("eth", 68),)


# --------------------------------------------------------------------------- partial results


def test_bad_frame_after_good_ones_keeps_the_good_messages():
    a, b = codec_pair()
    good = [(0x10, b"one"), (0x11, b""), (0x90, b"three" * 100)]
    wire = b"".join(a.encode(c, p) for c, p in good)
    bad = bytearray(a.encode(0x12, b"four"))
    bad[-1] ^= 0xff
    exc = raises_exactly(MACMismatchError, b.feed, wire + bytes(bad) + a.encode(0x13, b"never"))
    assert exc.which == "frame"
    assert exc.partial == good


def test_bad_message_code_after_good_ones_keeps_the_good_messages():
    s_ini, s_rec = secrets_pair()
    writer, reader = FrameCodec(s_ini), MessageCodec(s_rec)
    wire = writer.encode(b"\x10abc") + writer.encode(b"\x80") + writer.encode(b"\x81\x05oops")
    exc = raises_exactly(MessageDecodeError, reader.feed, wire)
    assert exc.partial == [(0x10, b"abc"), (0x00, b"")]


def test_bad_snappy_after_good_ones_keeps_the_good_messages():
    a, b = codec_pair(snappy_on=True)
    wire = a.encode(0x10, b"fine")
    a.snappy = False
    wire += a.encode(0x11, b"\x0a\x08abc")
    exc = raises_exactly(SnappyError, b.feed, wire)
    assert exc.partial == [(0x10, b"fine")]


def test_bad_header_after_good_frames_in_frame_codec():
    s_ini, s_rec = secrets_pair()
    writer, reader = FrameCodec(s_ini), FrameCodec(s_rec)
    good = writer.encode(b"\x10first") + writer.encode(b"\x11second")
    bad = bytearray(writer.encode(b"\x12third"))
    bad[3] ^= 0x10
    exc = raises_exactly(MACMismatchError, reader.feed, good + bytes(bad))
    assert exc.which == "header"
    assert exc.partial == [b"\x10first", b"\x11second"]


def test_error_in_the_first_frame_has_empty_partial():
    a, b = codec_pair()
    wire = bytearray(a.encode(0x10, b"x"))
    wire[-1] ^= 1
    exc = raises_exactly(MACMismatchError, b.feed, bytes(wire))
    assert exc.partial == []


# --------------------------------------------------------------------------- truncated final RLP items
# pyrlp's decode(strict=False) never compares the top-level item's declared end with the data
# length, so these once decoded "successfully" to a shortened item.


@pytest.mark.parametrize("payload", [b"\x82\x04", b"\xc3\x82\x04", b"\xc4\x83\x01\x02"])
def test_disconnect_truncated_last_item(payload):
    raises_exactly(MessageDecodeError, bp.decode_disconnect, payload)


def test_hello_truncated_last_item():
    full = rlp.encode(hello_fields())
    raises_exactly(HelloError, bp.Hello.decode, full[:-1])
    # a trailing extra field (allowed) whose string is cut short: "82 01 02" -> "82 01"
    extra = rlp.encode(hello_fields() + [b"\x01\x02"])
    assert bp.Hello.decode(extra).node_id == ID_A
    raises_exactly(HelloError, bp.Hello.decode, extra[:-1])


def test_ping_truncated():
    raises_exactly(MessageDecodeError, bp.check_empty_list, b"\xc2\x01", "Ping")
    raises_exactly(MessageDecodeError, bp.check_empty_list, b"\xc3\x82\x01", "Ping")


@pytest.mark.parametrize("frame_data", [b"\x82\x01", b"\x83\x01\x02"])
def test_truncated_message_code(frame_data):
    raises_exactly(MessageDecodeError, split_code, frame_data)


def test_auth_plaintext_whose_list_runs_past_the_end():
    body = auth_body(KEY_A, ID_B)
    sig, initiator, nonce, _ = rlp.decode(body, strict=False)
    two_byte_version = rlp.encode([sig, initiator, nonce, 0x0104])
    assert hs.decode_auth(KEY_B, seal_eip8(ID_B, two_byte_version)).version == 0x0104
    # cut the last byte: the version "82 01 04" becomes "82 01", declared end past the data
    raises_exactly(HandshakeError, hs.decode_auth, KEY_B, seal_eip8(ID_B, two_byte_version[:-1]))


@pytest.mark.parametrize("bytewise", [False, True], ids=["one-chunk", "byte-by-byte"])
def test_feeding_after_an_error_only_raises_rlpx_errors(bytewise):
    # the stream is dead after an error, but a caller that keeps feeding must not get a
    # stray BufferError (e.g. from a memoryview still pinning the receive buffer)
    a, b = codec_pair()
    wire = bytearray(a.encode(0x10, b"x" * 100))
    wire[-1] ^= 1
    with pytest.raises(MACMismatchError):
        if bytewise:
            for i in range(len(wire)):
                b.feed(bytes(wire[i:i + 1]))
        else:
            b.feed(bytes(wire))
    for _ in range(3):
        try:
            b.feed(a.encode(0x11, b"y" * 50) + b"zz")
        except RLPxError:
            pass


def _nested_lists(depth: int) -> bytes:
    """RLP of ``depth`` lists nested in each other around an empty list (~2.8 KiB for 1,000)."""
    item = b"\xc0"
    for _ in range(depth):
        item = rlp.codec.length_prefix(len(item), 0xC0) + item
    return item


DEEP = _nested_lists(1000)
"""Deeper than Python's default recursion limit: pyrlp, which recurses per level, raises
RecursionError on it (found by tests/fuzz/test_rlpx_fuzz.py)."""


def test_deeply_nested_rlp_is_a_package_error_in_every_decoder():
    with pytest.raises(MessageDecodeError, match="nested too deeply"):
        bp.decode_disconnect(DEEP)
    with pytest.raises(MessageDecodeError):
        bp.Hello.decode(DEEP[:2000])  # a Hello is capped at 2 KiB; this still nests ~700 levels
    with pytest.raises(MessageDecodeError, match="not an RLP integer"):
        split_code(DEEP)
    with pytest.raises(HandshakeError, match="nested too deeply"):
        hs._rlp_list(DEEP, 4, "auth")


def test_deeply_nested_disconnect_closes_the_connection_with_protocol_error():
    from rlpx.connection import CLOSED, ConnectionFailure
    from rlpx.disc import DiscReason
    from test_connection_unit import Pair

    p = Pair()
    p.running()
    p.a.send(bp.DISCONNECT, DEEP)
    with pytest.raises(ConnectionFailure) as info:
        p.b.feed(bytes(p.a.out))
    assert info.value.reason == DiscReason.PROTOCOL_ERROR
    assert p.b.state == CLOSED
