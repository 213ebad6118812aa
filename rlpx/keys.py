"""secp256k1 node keys, node ids, signatures and key files.

Shapes: a private key is 32 raw bytes; a *node id* is the 64-byte uncompressed public
key without the 0x04 prefix (devp2p rlpx.md, "Node Identity"); a *compressed key* is the 33-byte
SEC 1 form (0x02/0x03 || x) that ENR's ``secp256k1`` entry holds (EIP-778, "v4" scheme); the
*node hash* is keccak256(node id), 32 bytes, as used for XOR distance by discovery (discv4.md) and
as the ENR node address (EIP-778).

Key handling and signatures go through eth-keys on its coincurve backend; RLPx's ECDH
(:func:`ecdh_x`, ``rlpx.ecies``, ``rlpx.handshake``) stays on coincurve, which is why
:func:`public_key_from_node_id` still returns a ``coincurve.PublicKey``.

Signatures: :func:`sign_recoverable` gives the 65-byte r || s || v (v in {0, 1}) of go-ethereum's
``crypto.Sign`` (discv4 packets, the RLPx auth); :func:`sign_v4` the 64-byte r || s of the ENR "v4"
identity scheme (go-ethereum p2p/enode/idscheme.go ``SignV4``).  Both are deterministic (RFC 6979,
libsecp256k1) and low-s.  :func:`verify_v4` accepts only low-s signatures, as libsecp256k1's
verify behind go-ethereum's ``crypto.VerifySignature`` does.

Key files hold the private key as 64 hex characters (optionally followed by white space),
as go-ethereum's ``crypto.LoadECDSA`` / ``SaveECDSA`` (crypto/crypto.go) do; new files are
created with mode 0600.
"""

from __future__ import annotations

import functools
import os

import coincurve
from Crypto.Hash import keccak as _keccak
from eth_keys import KeyAPI
from eth_keys.backends import CoinCurveECCBackend
from eth_keys.exceptions import BadSignature
from eth_utils import ValidationError

from .errors import InvalidPointError, KeyFileError, NodeKeyError, SignatureError

_KEYS = KeyAPI(CoinCurveECCBackend)
"""eth-keys on the coincurve (libsecp256k1) backend."""

NODE_ID_SIZE = 64
"""Bytes in a node id: uncompressed secp256k1 public key without 0x04 (rlpx.md)."""

COMPRESSED_KEY_SIZE = 33
"""Bytes in a compressed secp256k1 public key (SEC 1; EIP-778 "secp256k1" entry)."""

PRIVATE_KEY_SIZE = 32
"""Bytes in a secp256k1 private key."""

HASH_SIZE = 32
"""Bytes in a message hash that is signed (keccak256 output)."""

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""Order of the secp256k1 group (SEC 2); r and s of a signature lie in [1, n - 1]."""

KEY_FILE_MAX = 4096
"""Largest key file read, bytes: 64 hex characters and white space around them; a larger file
is refused whole rather than judged by its first bytes."""


def keccak256(*parts: bytes) -> bytes:
    """Return keccak256 (the pre-FIPS Keccak used by Ethereum) of the concatenated parts, 32 bytes."""
    h = _keccak.new(digest_bits=256)
    for p in parts:
        h.update(p)
    return h.digest()


def generate_private_key() -> bytes:
    """Return a fresh random secp256k1 private key, 32 raw bytes (os.urandom, retried until it
    is a valid scalar in [1, n - 1])."""
    while True:
        key = os.urandom(PRIVATE_KEY_SIZE)
        if 0 < int.from_bytes(key, "big") < SECP256K1_N:
            return key


def _private(key: bytes):
    """The eth-keys private key of 32 raw bytes; :class:`NodeKeyError` if it is not one."""
    if not isinstance(key, (bytes, bytearray)) or len(key) != PRIVATE_KEY_SIZE:
        raise NodeKeyError(f"private key must be {PRIVATE_KEY_SIZE} bytes")
    try:
        return _private_object(bytes(key))
    except ValidationError:
        raise NodeKeyError("invalid secp256k1 private key: not in [1, n - 1]") from None


@functools.lru_cache(maxsize=64)
def _private_object(key: bytes):
    """eth-keys' PrivateKey of ``key``, kept: making one derives the public key (~100 us), which
    a node signing every Pong and ENR with its one key would otherwise repeat per packet."""
    return _KEYS.PrivateKey(key)


def node_id_from_private_key(key: bytes) -> bytes:
    """Return the 64-byte node id of a 32-byte private key.

    Raises :class:`NodeKeyError` if the key is not a valid secp256k1 scalar (zero or >= n).
    """
    return _private(key).public_key.to_bytes()


def public_key_from_node_id(node_id: bytes) -> coincurve.PublicKey:
    """Return the coincurve public key of a 64-byte node id (for ECDH, :func:`ecdh_x`).

    The curve check is libsecp256k1's, through coincurve: eth-keys' ``PublicKey`` takes any 64
    bytes without checking the point.  Raises :class:`InvalidPointError` if the id has the wrong
    length or is not on the curve.
    """
    if not isinstance(node_id, (bytes, bytearray)) or len(node_id) != NODE_ID_SIZE:
        raise InvalidPointError(f"node id must be {NODE_ID_SIZE} bytes")
    try:
        return coincurve.PublicKey(b"\x04" + bytes(node_id))
    except ValueError:
        raise InvalidPointError("node id is not a point on secp256k1") from None


def node_id_from_public_key(pub) -> bytes:
    """Return the 64-byte node id of a public key: a ``coincurve.PublicKey`` (as
    :func:`public_key_from_node_id` and the RLPx handshake use) or an eth-keys ``PublicKey``."""
    if isinstance(pub, coincurve.PublicKey):
        return pub.format(compressed=False)[1:]
    return pub.to_bytes()


def compress_node_id(node_id: bytes) -> bytes:
    """Return the 33-byte compressed form of a 64-byte node id (the ENR ``secp256k1`` value).

    Raises :class:`InvalidPointError` if the id has the wrong length or is not on the curve.
    """
    return public_key_from_node_id(node_id).format(compressed=True)


def node_id_from_compressed(pub33: bytes) -> bytes:
    """Return the 64-byte node id of a 33-byte compressed public key (0x02/0x03 || x).

    Raises :class:`InvalidPointError` if it is not 33 bytes, has another prefix, or x is not
    the x coordinate of a curve point (go-ethereum ``crypto.DecompressPubkey``).
    """
    if not isinstance(pub33, (bytes, bytearray)) or len(pub33) != COMPRESSED_KEY_SIZE:
        raise InvalidPointError(f"compressed public key must be {COMPRESSED_KEY_SIZE} bytes")
    if pub33[0] not in (2, 3):
        raise InvalidPointError("compressed public key must start with 0x02 or 0x03")
    try:
        return _KEYS.PublicKey.from_compressed_bytes(bytes(pub33)).to_bytes()
    except (ValueError, ValidationError):
        raise InvalidPointError("compressed public key is not a point on secp256k1") from None


def _hash(msg_hash: bytes) -> bytes:
    if not isinstance(msg_hash, (bytes, bytearray)) or len(msg_hash) != HASH_SIZE:
        raise SignatureError(f"message hash must be {HASH_SIZE} bytes")
    return bytes(msg_hash)


def sign_recoverable(key: bytes, msg_hash: bytes) -> bytes:
    """Sign a 32-byte hash; return 65 bytes r || s || v, v the recovery id in {0, 1}.

    The format of go-ethereum ``crypto.Sign`` (discv4 packets, the RLPx auth signature).
    Raises :class:`NodeKeyError` for an invalid private key, :class:`SignatureError` for a hash
    that is not 32 bytes.
    """
    digest = _hash(msg_hash)
    return _private(key).sign_msg_hash(digest).to_bytes()


def recover_node_id(msg_hash: bytes, sig: bytes) -> bytes:
    """Return the 64-byte node id whose key made the 65-byte signature r || s || v of a hash.

    Raises :class:`SignatureError` if the hash is not 32 bytes, the signature not 65 bytes,
    v is not 0 or 1 (go-ethereum's discv4 signs with v in {0, 1}), r or s is not in [1, n - 1], or
    no public key can be recovered.
    """
    digest = _hash(msg_hash)
    if not isinstance(sig, (bytes, bytearray)) or len(sig) != 65:
        raise SignatureError("recoverable signature must be 65 bytes r || s || v")
    if sig[64] not in (0, 1):
        raise SignatureError(f"recoverable signature: recovery id {sig[64]} is not 0 or 1")
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")
    if not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
        raise SignatureError("recoverable signature: r or s out of range")
    try:
        return _KEYS.Signature(bytes(sig)).recover_public_key_from_msg_hash(digest).to_bytes()
    except (BadSignature, ValidationError, ValueError):
        raise SignatureError("signature does not recover a public key") from None


def sign_v4(key: bytes, msg_hash: bytes) -> bytes:
    """Sign a 32-byte hash; return the 64-byte r || s (low s) of the ENR "v4" identity scheme.

    EIP-778 "v4": the signature is r || s without the recovery id (go-ethereum
    p2p/enode/idscheme.go ``SignV4`` drops ``crypto.Sign``'s last byte).  Raises
    :class:`NodeKeyError` for an invalid private key, :class:`SignatureError` for a hash that is
    not 32 bytes.
    """
    return sign_recoverable(key, msg_hash)[:64]


def verify_v4(public_key: bytes, msg_hash: bytes, sig: bytes) -> bool:
    """Whether the 64-byte r || s ``sig`` is a valid signature of the 32-byte hash by
    ``public_key`` (a 64-byte node id or a 33-byte compressed key).

    False for any signature that does not verify: not 64 bytes, r or s outside [1, n - 1], or a
    high s (s > n/2, refused as libsecp256k1 and go-ethereum ``crypto.VerifySignature`` do).
    Raises :class:`InvalidPointError` for an invalid public key, :class:`SignatureError` for a
    hash that is not 32 bytes.
    """
    digest = _hash(msg_hash)
    if isinstance(public_key, (bytes, bytearray)) and len(public_key) == COMPRESSED_KEY_SIZE:
        node_id = node_id_from_compressed(public_key)
    else:
        public_key_from_node_id(public_key)  # InvalidPointError unless a 64-byte curve point
        node_id = bytes(public_key)
    if not isinstance(sig, (bytes, bytearray)) or len(sig) != 64:
        return False
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    if not (0 < r < SECP256K1_N and 0 < s <= SECP256K1_N // 2):
        return False
    try:
        return bool(_KEYS.ecdsa_verify(digest, _KEYS.NonRecoverableSignature(bytes(sig)),
                                       _KEYS.PublicKey(node_id)))
    except (BadSignature, ValidationError, ValueError):
        return False


def node_hash(node_id: bytes) -> bytes:
    """Return keccak256(node id), 32 bytes (discv4.md "Node Identities")."""
    return keccak256(node_id)


def ecdh_x(private_key: bytes, node_id: bytes) -> bytes:
    """Return the 32-byte x coordinate of private_key * point(node_id).

    This is the raw ECDH shared secret RLPx uses (rlpx.md, "ECIES Encryption";
    go-ethereum crypto/ecies ``GenerateShared``), not the hashed secret of libsecp256k1's
    default ECDH.  Raises :class:`InvalidPointError` for an invalid node id.
    """
    _private(private_key)  # NodeKeyError unless a valid scalar
    point = public_key_from_node_id(node_id).multiply(bytes(private_key))
    return point.format(compressed=False)[1:33]


def load_key_file(path: str) -> bytes:
    """Read a hex private key file and return the 32 raw key bytes.

    Raises :class:`KeyFileError` when the file cannot be read, is larger than
    :data:`KEY_FILE_MAX` bytes, or does not contain exactly 64 hex characters (surrounding white
    space allowed) of a valid secp256k1 key.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read(KEY_FILE_MAX + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path, or one not encodable
        raise KeyFileError(f"cannot read key file {path!r}: {getattr(exc, 'strerror', None) or exc}") from None
    if len(raw) > KEY_FILE_MAX:
        raise KeyFileError(f"key file {path} is larger than {KEY_FILE_MAX} bytes: not a key file")
    text = raw.strip()
    if len(text) != 2 * PRIVATE_KEY_SIZE:
        raise KeyFileError(
            f"key file {path} must hold {2 * PRIVATE_KEY_SIZE} hex characters, found {len(text)}")
    try:
        key = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise KeyFileError(f"key file {path} is not valid hex") from None
    try:
        _private(key)
    except NodeKeyError as exc:
        raise KeyFileError(f"key file {path}: {exc}") from None
    return key


def save_key_file(path: str, key: bytes) -> None:
    """Write a 32-byte private key as hex to a new file created with mode 0600.

    Raises :class:`KeyFileError` if the file exists or cannot be created.
    """
    _private(key)
    try:
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path, or one not encodable
        raise KeyFileError(f"cannot create key file {path!r}: {getattr(exc, 'strerror', None) or exc}") from None
    with os.fdopen(fd, "w") as f:
        f.write(key.hex())


def load_or_create_key_file(path: str) -> bytes:
    """Return the key stored at ``path``, creating a new random key file (mode 0600) if absent.

    Raises :class:`KeyFileError` as :func:`load_key_file` and :func:`save_key_file` do.
    """
    if os.path.exists(path):
        return load_key_file(path)
    key = generate_private_key()
    save_key_file(path, key)
    return key
