"""ECIES as RLPx uses it (rlpx.md, "ECIES Encryption"; go-ethereum crypto/ecies).

Ciphertext layout: ``R || iv || c || d`` where
  * ``R`` is the sender's ephemeral public key, 65 bytes uncompressed (0x04 prefix);
  * ``iv`` 16 random bytes; ``c = AES-128-CTR(kE, iv, m)``;
  * ``d = HMAC-SHA256(kM, iv || c || shared_mac_data)``, 32 bytes;
  * ``kE || kM' = KDF(S, 32)`` with the NIST SP 800-56 concatenation KDF over SHA-256,
    ``S`` the ECDH x coordinate, ``kE = kM'[:16]`` and ``kM = SHA-256(kM'[16:])``.
``shared_mac_data`` is the 2-byte size prefix for EIP-8 auth/ack packets and empty for
the legacy (pre-EIP-8) format (EIP-8, "Changes to the RLPx Handshake").
"""

from __future__ import annotations

import hashlib
import hmac
import os

import coincurve
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .errors import ECIESError, ECIESMACError, InvalidPointError
from .keys import ecdh_x

OVERHEAD = 65 + 16 + 32
"""Bytes ECIES adds to a plaintext: ephemeral point + IV + HMAC tag (113)."""


def concat_kdf(secret: bytes, length: int) -> bytes:
    """NIST SP 800-56 Concatenation KDF with SHA-256 and empty OtherInfo; ``length`` bytes.

    Rounds hash ``counter (4 bytes, big endian, from 1) || secret`` (go-ethereum
    crypto/ecies/ecies.go ``concatKDF``).
    """
    out = bytearray()
    counter = 1
    while len(out) < length:
        out += hashlib.sha256(counter.to_bytes(4, "big") + secret).digest()
        counter += 1
    return bytes(out[:length])


def _derive(shared_x: bytes) -> tuple[bytes, bytes]:
    key = concat_kdf(shared_x, 32)
    return key[:16], hashlib.sha256(key[16:]).digest()


def _aes128_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def encrypt(recipient_node_id: bytes, plaintext: bytes, shared_mac_data: bytes = b"",
            ephemeral_key: bytes | None = None, iv: bytes | None = None) -> bytes:
    """Encrypt ``plaintext`` to the 64-byte node id; return ``len(plaintext) + 113`` bytes.

    ``ephemeral_key`` (32 bytes) and ``iv`` (16 bytes) are random unless given (for tests).
    Raises :class:`InvalidPointError` if the node id is not a secp256k1 point.
    """
    eph = coincurve.PrivateKey(ephemeral_key) if ephemeral_key else coincurve.PrivateKey()
    iv = iv if iv is not None else os.urandom(16)
    ke, km = _derive(ecdh_x(eph.secret, recipient_node_id))
    c = _aes128_ctr(ke, iv, plaintext)
    d = hmac.new(km, iv + c + shared_mac_data, hashlib.sha256).digest()
    return eph.public_key.format(compressed=False) + iv + c + d


def decrypt(private_key: bytes, data: bytes, shared_mac_data: bytes = b"") -> bytes:
    """Decrypt an ECIES message addressed to ``private_key`` (32 bytes); return the plaintext.

    Raises :class:`ECIESError` if ``data`` is shorter than the 113-byte overhead or does not
    start with an uncompressed point, :class:`InvalidPointError` if the ephemeral point is
    not on secp256k1, and :class:`ECIESMACError` if the HMAC tag does not verify.
    """
    if len(data) < OVERHEAD:
        raise ECIESError(f"ECIES message too short: {len(data)} bytes, need at least {OVERHEAD}")
    if data[0] != 0x04:
        raise InvalidPointError("ECIES ephemeral key is not an uncompressed point (0x04 prefix)")
    try:
        shared = ecdh_x(private_key, bytes(data[1:65]))
    except InvalidPointError:
        raise InvalidPointError("ECIES ephemeral key is not a point on secp256k1") from None
    ke, km = _derive(shared)
    iv, c, d = data[65:81], data[81:-32], data[-32:]
    want = hmac.new(km, bytes(iv) + bytes(c) + shared_mac_data, hashlib.sha256).digest()
    if not hmac.compare_digest(want, bytes(d)):
        raise ECIESMACError("ECIES MAC mismatch")
    return _aes128_ctr(ke, bytes(iv), bytes(c))
