"""In-memory round trips of the RLPx handshake and the message codec (rlpx.handshake, rlpx.session).

Two nodes run Initiator and Recipient against each other with bytes delivered in awkward
chunks, then exchange messages over MessageCodec pairs with and without snappy.
"""

from __future__ import annotations

import os
import random

import pytest

from rlpx import ecies
from rlpx import handshake as hs
from rlpx.frame import MAX_FRAME_SIZE
from rlpx.keys import generate_private_key, keccak256, node_id_from_private_key
from rlpx.session import MessageCodec

KEY_A = generate_private_key()
KEY_B = generate_private_key()


def chunks(data: bytes, sizes) -> list[bytes]:
    """Cut ``data`` into pieces whose lengths cycle through ``sizes`` (the last piece may be shorter)."""
    out, pos, i = [], 0, 0
    while pos < len(data):
        n = sizes[i % len(sizes)]
        out.append(data[pos:pos + n])
        pos += n
        i += 1
    return out


def feed_all(side, data: bytes, sizes):
    """Feed ``data`` to a handshake side piece by piece; return the one non-None result.

    Asserts that nothing is returned before the last piece.
    """
    pieces = chunks(data, sizes)
    for piece in pieces[:-1]:
        assert side.feed(piece) is None
    result = side.feed(pieces[-1])
    assert result is not None
    return result


def run_handshake(initiator_key: bytes, recipient_key: bytes, auth_sizes=(1,), ack_sizes=(1,)):
    """Complete a handshake in memory; return (initiator, recipient, initiator secrets)."""
    ini = hs.Initiator(initiator_key, node_id_from_private_key(recipient_key))
    rec = hs.Recipient(recipient_key)
    ack = feed_all(rec, ini.auth, auth_sizes)
    secrets = feed_all(ini, ack, ack_sizes)
    return ini, rec, secrets


def codecs(snappy: bool = False):
    """A connected (initiator codec, recipient codec) pair."""
    _, rec, secrets = run_handshake(KEY_A, KEY_B, auth_sizes=(4096,), ack_sizes=(4096,))
    a, b = MessageCodec(secrets), MessageCodec(rec.secrets)
    a.snappy = b.snappy = snappy
    return a, b


def legacy_auth(initiator_key: bytes, remote_id: bytes, ephemeral_key: bytes, nonce: bytes) -> bytes:
    """Build a pre-EIP-8 auth: ECIES(sig || keccak(eph-pubk) || pubk || nonce || 0x00), no size prefix."""
    import coincurve

    token = hs.ecdh_x(initiator_key, remote_id)
    signed = bytes(a ^ b for a, b in zip(token, nonce))
    sig = coincurve.PrivateKey(ephemeral_key).sign_recoverable(signed, hasher=None)
    eph_id = node_id_from_private_key(ephemeral_key)
    plaintext = sig + keccak256(eph_id) + node_id_from_private_key(initiator_key) + nonce + b"\x00"
    assert len(plaintext) == 194
    return ecies.encrypt(remote_id, plaintext)


# --------------------------------------------------------------------------- handshake


ROLES = [pytest.param(KEY_A, KEY_B, id="A-initiates"), pytest.param(KEY_B, KEY_A, id="B-initiates")]
SPLITS = [
    pytest.param((1,), (1,), id="1-byte"),
    pytest.param((3, 1, 7), (5, 2), id="odd"),
    pytest.param((2, 305), (2, 97, 1), id="prefix-then-body"),
    pytest.param((100000,), (100000,), id="whole"),
]


@pytest.mark.parametrize("auth_sizes,ack_sizes", SPLITS)
@pytest.mark.parametrize("ini_key,rec_key", ROLES)
def test_handshake_secrets_agree(ini_key, rec_key, auth_sizes, ack_sizes):
    ini, rec, s_ini = run_handshake(ini_key, rec_key, auth_sizes, ack_sizes)
    s_rec = rec.secrets
    assert s_rec is not None
    assert s_ini.aes_secret == s_rec.aes_secret and len(s_ini.aes_secret) == 32
    assert s_ini.mac_secret == s_rec.mac_secret and len(s_ini.mac_secret) == 32
    assert s_ini.aes_secret != s_ini.mac_secret
    assert s_ini.egress_mac_seed == s_rec.ingress_mac_seed
    assert s_ini.ingress_mac_seed == s_rec.egress_mac_seed
    assert s_ini.remote_node_id == node_id_from_private_key(rec_key)
    assert s_rec.remote_node_id == node_id_from_private_key(ini_key)
    assert rec.remote_node_id == node_id_from_private_key(ini_key)
    assert rec.auth.nonce == ini.nonce
    assert rec.auth.ephemeral_node_id == node_id_from_private_key(ini.ephemeral_key)
    assert ini.ack.nonce == rec.nonce
    assert ini.ack.ephemeral_node_id == node_id_from_private_key(rec.ephemeral_key)
    assert ini.leftover == b"" and rec.leftover == b""


@pytest.mark.parametrize("ini_key,rec_key", ROLES)
def test_codecs_from_one_byte_handshake_talk_both_ways(ini_key, rec_key):
    _, rec, s_ini = run_handshake(ini_key, rec_key)
    a, b = MessageCodec(s_ini), MessageCodec(rec.secrets)
    assert b.feed(a.encode(0x10, b"from initiator")) == [(0x10, b"from initiator")]
    assert a.feed(b.encode(0x11, b"from recipient")) == [(0x11, b"from recipient")]


def test_every_auth_is_at_least_307_bytes_and_prefix_matches():
    sizes = set()
    for i in range(50):
        ini, rec, secrets = run_handshake(KEY_A, KEY_B, auth_sizes=(4096,), ack_sizes=(4096,))
        assert secrets.aes_secret == rec.secrets.aes_secret
        auth = ini.auth
        assert len(auth) >= hs.MIN_AUTH_SIZE == 307
        assert int.from_bytes(auth[:2], "big") == len(auth) - 2
        assert len(auth) - 2 <= hs.MAX_HANDSHAKE_PACKET
        sizes.add(len(auth))
    assert len(sizes) > 1  # the random padding varies the size


def test_eip8_auth_gets_eip8_ack():
    ini = hs.Initiator(KEY_A, node_id_from_private_key(KEY_B))
    rec = hs.Recipient(KEY_B)
    ack = rec.feed(ini.auth)
    assert rec.auth.eip8 is True
    assert int.from_bytes(ack[:2], "big") == len(ack) - 2
    decoded = hs.decode_ack(KEY_A, ack)
    assert decoded.eip8 is True and decoded.version == hs.HANDSHAKE_VERSION
    assert ini.feed(ack) is not None and ini.ack.eip8 is True


@pytest.mark.parametrize("ack_sizes", [(1,), (210,), (13, 50)])
def test_legacy_auth_gets_legacy_ack_and_session_works(ack_sizes):
    ini = hs.Initiator(KEY_A, node_id_from_private_key(KEY_B))
    # Replace the EIP-8 auth by a legacy one made with the same ephemeral key and nonce;
    # the Initiator derives its MAC seed from whatever ``auth`` holds.
    ini.auth = legacy_auth(KEY_A, node_id_from_private_key(KEY_B), ini.ephemeral_key, ini.nonce)
    assert len(ini.auth) == hs.LEGACY_AUTH_SIZE
    rec = hs.Recipient(KEY_B)
    ack = feed_all(rec, ini.auth, (1,))
    assert rec.auth.eip8 is False
    assert len(ack) == hs.LEGACY_ACK_SIZE and ack[0] == 0x04
    assert hs.decode_ack(KEY_A, ack).eip8 is False
    secrets = feed_all(ini, ack, ack_sizes)
    assert ini.ack.eip8 is False
    a, b = MessageCodec(secrets), MessageCodec(rec.secrets)
    assert b.feed(a.encode(0x00, b"hello")) == [(0x00, b"hello")]
    assert a.feed(b.encode(0x02, b"\xc0")) == [(0x02, b"\xc0")]


def test_bytes_after_ack_are_kept_as_leftover_and_are_the_first_frame():
    ini = hs.Initiator(KEY_A, node_id_from_private_key(KEY_B))
    rec = hs.Recipient(KEY_B)
    ack = rec.feed(ini.auth)
    b = MessageCodec(rec.secrets)
    first = b.encode(0x00, b"hello from recipient")
    second = b.encode(0x05, b"")
    stream = ack + first + second
    # Deliver the ack in pieces whose last piece also carries the start of the frames.
    assert ini.feed(stream[:100]) is None
    secrets = ini.feed(stream[100:len(ack) + 40])
    assert secrets is not None
    assert ini.leftover == first[:40]
    a = MessageCodec(secrets)
    assert a.feed(ini.leftover) == []
    assert a.feed(stream[len(ack) + 40:]) == [(0x00, b"hello from recipient"), (0x05, b"")]


def test_bytes_after_auth_are_kept_as_leftover_and_are_the_first_frame():
    # Frames from initiator to recipient are keyed by the ephemeral keys, the nonces and the
    # auth packet only (ingress seed = (mac-secret ^ recipient-nonce) || auth), so a
    # recipient with fixed ephemeral key and nonce can be replayed with auth + frame at once.
    eph, nonce = generate_private_key(), os.urandom(32)
    ini = hs.Initiator(KEY_A, node_id_from_private_key(KEY_B))
    secrets = ini.feed(hs.Recipient(KEY_B, eph, nonce).feed(ini.auth))
    a = MessageCodec(secrets)
    frames = a.encode(0x00, b"hello from initiator") + a.encode(0x7f, b"x" * 1000)

    rec = hs.Recipient(KEY_B, eph, nonce)
    assert rec.feed(ini.auth[:7]) is None
    ack = rec.feed(ini.auth[7:] + frames)
    assert ack is not None
    assert rec.leftover == frames
    b = MessageCodec(rec.secrets)
    assert b.feed(rec.leftover) == [(0x00, b"hello from initiator"), (0x7f, b"x" * 1000)]


def test_leftover_is_empty_when_ack_ends_a_chunk():
    ini = hs.Initiator(KEY_A, node_id_from_private_key(KEY_B))
    ack = hs.Recipient(KEY_B).feed(ini.auth)
    assert ini.feed(ack) is not None
    assert ini.leftover == b""


def big_eip8_auth(ini: hs.Initiator, remote_id: bytes, padding: int) -> bytes:
    """Re-seal ``ini``'s auth body with ``padding`` random bytes (EIP-8 allows any amount)."""
    import coincurve
    import rlp

    token = hs.ecdh_x(ini.private_key, remote_id)
    signed = bytes(a ^ b for a, b in zip(token, ini.nonce))
    sig = coincurve.PrivateKey(ini.ephemeral_key).sign_recoverable(signed, hasher=None)
    body = rlp.encode([sig, node_id_from_private_key(ini.private_key), ini.nonce, 4]) + os.urandom(padding)
    prefix = (len(body) + ecies.OVERHEAD).to_bytes(2, "big")
    return prefix + ecies.encrypt(remote_id, body, shared_mac_data=prefix)


def test_eip8_auth_whose_size_prefix_starts_with_0x04(monkeypatch):
    # A size prefix 0x04xx looks like a legacy packet's uncompressed point; the recipient
    # probes the legacy format once at 307 bytes, then waits for the full EIP-8 packet,
    # without re-trying ECIES decryption for every further byte.
    remote = node_id_from_private_key(KEY_B)
    ini = hs.Initiator(KEY_A, remote)
    ini.auth = big_eip8_auth(ini, remote, padding=850)
    assert ini.auth[0] == 0x04 and len(ini.auth) > hs.LEGACY_AUTH_SIZE + 500
    calls = []
    real_decrypt = ecies.decrypt
    monkeypatch.setattr(ecies, "decrypt", lambda *a, **k: calls.append(1) or real_decrypt(*a, **k))
    rec = hs.Recipient(KEY_B)
    ack = feed_all(rec, ini.auth, (1,))
    assert rec.auth.eip8 is True and rec.auth.nonce == ini.nonce
    assert len(calls) <= 2  # one failed legacy probe + the real decryption
    secrets = ini.feed(ack)
    a, b = MessageCodec(secrets), MessageCodec(rec.secrets)
    assert b.feed(a.encode(0x10, b"big auth ok")) == [(0x10, b"big auth ok")]


# --------------------------------------------------------------------------- messages


CODES = [0x00, 0x01, 0x0f, 0x10, 0x7f, 0x80, 0x81, 0xff, 0x100, 0xffff, 0x10000, 2**32 - 1, 2**63]


@pytest.mark.parametrize("snappy", [False, True], ids=["plain", "snappy"])
def test_all_codes_and_empty_payloads_both_ways(snappy):
    a, b = codecs(snappy)
    for code in list(range(0x80)) + CODES:
        for payload in (b"", bytes([code & 0xff]) * 3):
            assert b.feed(a.encode(code, payload)) == [(code, payload)]
            assert a.feed(b.encode(code, payload)) == [(code, payload)]


@pytest.mark.parametrize("snappy", [False, True], ids=["plain", "snappy"])
def test_one_mib_random_payload_both_ways(snappy):
    a, b = codecs(snappy)
    payload = os.urandom(1 << 20)
    assert b.feed(a.encode(0x21, payload)) == [(0x21, payload)]
    assert a.feed(b.encode(0x99, payload)) == [(0x99, payload)]


def test_largest_random_payload_without_snappy():
    a, b = codecs(snappy=False)
    # frame-data = rlp(code) (1 byte for 0x01..0x7f) || payload <= 2**24 - 1
    payload = os.urandom(MAX_FRAME_SIZE - 1)
    wire = a.encode(0x10, payload)
    assert len(wire) == 32 + (MAX_FRAME_SIZE + 1) + 16  # 2**24 - 1 padded up to 2**24
    got = b.feed(wire)
    assert len(got) == 1 and got[0][0] == 0x10 and got[0][1] == payload


def test_largest_compressible_payload_with_snappy():
    a, b = codecs(snappy=True)
    payload = (b"devp2p snappy " * ((MAX_FRAME_SIZE // 14) + 1))[:MAX_FRAME_SIZE]
    assert len(payload) == 2**24 - 1
    wire = a.encode(0x10, payload)
    assert len(wire) < len(payload) // 4  # really compressed
    got = b.feed(wire)
    assert len(got) == 1 and got[0][0] == 0x10 and got[0][1] == payload
    assert a.feed(b.encode(0x11, payload)) == [(0x11, payload)]


@pytest.mark.parametrize("snappy", [False, True], ids=["plain", "snappy"])
def test_many_messages_in_one_feed(snappy):
    a, b = codecs(snappy)
    rng = random.Random(7)
    msgs = [(rng.randrange(0, 300), rng.randbytes(rng.randrange(0, 3000))) for _ in range(300)]
    wire = b"".join(a.encode(code, payload) for code, payload in msgs)
    assert b.feed(wire) == msgs
    assert b.frames.buffered == 0


@pytest.mark.parametrize("snappy", [False, True], ids=["plain", "snappy"])
def test_frames_split_across_feeds(snappy):
    a, b = codecs(snappy)
    payload = os.urandom(777)
    wire = a.encode(0x42, payload)
    # one byte at a time: nothing until the very last byte
    for i in range(len(wire) - 1):
        assert b.feed(wire[i:i + 1]) == []
    assert b.frames.buffered == len(wire) - 1
    assert b.feed(wire[-1:]) == [(0x42, payload)]
    assert b.frames.buffered == 0
    # header in one feed, body in another, the next frame's start glued on
    w1, w2 = a.encode(0x43, b"one"), a.encode(0x44, b"two")
    assert b.feed(w1[:32]) == []
    assert b.feed(w1[32:] + w2[:5]) == [(0x43, b"one")]
    assert b.feed(w2[5:]) == [(0x44, b"two")]


@pytest.mark.parametrize("snappy", [False, True], ids=["plain", "snappy"])
def test_random_chunking_of_a_long_stream(snappy):
    a, b = codecs(snappy)
    rng = random.Random(11)
    msgs = [(rng.randrange(0, 0x200), rng.randbytes(rng.choice([0, 1, 15, 16, 17, 1000, 70000])))
            for _ in range(60)]
    wire = b"".join(a.encode(c, p) for c, p in msgs)
    got, pos = [], 0
    while pos < len(wire):
        n = rng.choice([1, 2, 31, 32, 33, 500, 65536])
        got += b.feed(wire[pos:pos + n])
        pos += n
    assert got == msgs


def test_snappy_actually_compresses_on_the_wire():
    plain_a, _ = codecs(snappy=False)
    snappy_a, _ = codecs(snappy=True)
    payload = b"\x00" * 10000
    assert len(snappy_a.encode(0x10, payload)) < 1000
    assert len(plain_a.encode(0x10, payload)) > 10000


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_feed_accepts_bytes_like_input_without_aliasing(kind):
    a, b = codecs(snappy=False)
    wire = a.encode(0x10, b"first") + a.encode(0x11, b"second")
    buf = bytearray(wire)
    cut = len(a.encode(0x12, b"first")) + 10  # same size as the first frame, plus 10 bytes
    got = b.feed(kind(buf[:cut]) if kind is not memoryview else memoryview(buf)[:cut])
    assert got == [(0x10, b"first")]
    buf[:] = bytes(len(buf))  # the caller reuses its receive buffer
    assert got == [(0x10, b"first")]
    assert b.feed(kind(wire[cut:])) == [(0x11, b"second")]
