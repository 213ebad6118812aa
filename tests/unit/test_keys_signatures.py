"""Signatures in rlpx.keys on eth-keys: sign_recoverable / recover_node_id (discv4) and
sign_v4 / verify_v4 (ENR "v4"), and the compressed-key conversions."""

from __future__ import annotations

import random

import coincurve
import pytest

from rlpx.errors import InvalidPointError, NodeKeyError, SignatureError
from rlpx.keys import (SECP256K1_N, compress_node_id, generate_private_key, keccak256, node_id_from_compressed,
                       node_id_from_private_key, recover_node_id, sign_recoverable, sign_v4, verify_v4)

# EIP-778's example key and its compressed public key (the record's "secp256k1" entry)
KEY = bytes.fromhex("b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291")
PUB33 = bytes.fromhex("03ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd3138")
HASH = keccak256(b"message")


def test_compressed_key_round_trip():
    node_id = node_id_from_private_key(KEY)
    assert compress_node_id(node_id) == PUB33
    assert node_id_from_compressed(PUB33) == node_id


@pytest.mark.parametrize("bad", [b"", PUB33[:32], b"\x04" + PUB33[1:], b"\x02" + b"\xff" * 32, "03" * 33])
def test_bad_compressed_key(bad):
    with pytest.raises(InvalidPointError):
        node_id_from_compressed(bad)


def test_recoverable_signature_matches_coincurve_and_recovers():
    sig = sign_recoverable(KEY, HASH)
    assert len(sig) == 65 and sig[64] in (0, 1)
    assert sig == coincurve.PrivateKey(KEY).sign_recoverable(HASH, hasher=None)
    assert recover_node_id(HASH, sig) == node_id_from_private_key(KEY)
    assert int.from_bytes(sig[32:64], "big") <= SECP256K1_N // 2  # low s


def test_recover_errors():
    sig = sign_recoverable(KEY, HASH)
    for bad in (sig[:64], sig + b"\x00", sig[:64] + b"\x02", bytes(65), b"\xff" * 64 + b"\x00"):
        with pytest.raises(SignatureError):
            recover_node_id(HASH, bad)
    with pytest.raises(SignatureError):
        recover_node_id(HASH[:31], sig)


def test_sign_errors():
    with pytest.raises(NodeKeyError):
        sign_v4(bytes(32), HASH)
    with pytest.raises(NodeKeyError):
        sign_recoverable(SECP256K1_N.to_bytes(32, "big"), HASH)
    with pytest.raises(SignatureError):
        sign_v4(KEY, b"short")


def test_v4_signature_verifies_with_either_key_form():
    sig = sign_v4(KEY, HASH)
    assert len(sig) == 64 and sig == sign_v4(KEY, HASH)  # deterministic (RFC 6979)
    node_id = node_id_from_private_key(KEY)
    assert verify_v4(node_id, HASH, sig) and verify_v4(PUB33, HASH, sig)
    assert not verify_v4(node_id, keccak256(b"other"), sig)
    assert not verify_v4(node_id_from_private_key(generate_private_key()), HASH, sig)


def test_v4_rejects_high_s_and_bad_shapes():
    sig = sign_v4(KEY, HASH)
    s = int.from_bytes(sig[32:], "big")
    high = sig[:32] + (SECP256K1_N - s).to_bytes(32, "big")  # same point, malleated
    assert not verify_v4(PUB33, HASH, high)
    for bad in (b"", sig[:63], sig + b"\x00", bytes(64), b"\xff" * 64, "x" * 64):
        assert not verify_v4(PUB33, HASH, bad)
    with pytest.raises(InvalidPointError):
        verify_v4(b"\x02" + b"\xff" * 32, HASH, sig)
    with pytest.raises(SignatureError):
        verify_v4(PUB33, b"", sig)


def test_v4_random_signatures_never_raise():
    rng = random.Random(778)
    for _ in range(300):
        sig = bytes(rng.getrandbits(8) for _ in range(rng.choice((63, 64, 64, 64, 65))))
        assert verify_v4(PUB33, HASH, sig) is False
