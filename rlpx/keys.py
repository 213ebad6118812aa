"""secp256k1 node keys, node ids and key files.

Shapes: a private key is 32 raw bytes; a *node id* is the 64-byte uncompressed public
key without the 0x04 prefix (devp2p rlpx.md, "Node Identity"); the *node hash* is
keccak256(node id), 32 bytes, as used for XOR distance by discovery (discv4.md).

Key files hold the private key as 64 hex characters (optionally followed by white space),
as go-ethereum's ``crypto.LoadECDSA`` / ``SaveECDSA`` (crypto/crypto.go) do; new files are
created with mode 0600.
"""

from __future__ import annotations

import os

import coincurve
from Crypto.Hash import keccak as _keccak

from .errors import InvalidPointError, KeyFileError, NodeKeyError

NODE_ID_SIZE = 64
"""Bytes in a node id: uncompressed secp256k1 public key without 0x04 (rlpx.md)."""

PRIVATE_KEY_SIZE = 32
"""Bytes in a secp256k1 private key."""

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
    """Return a fresh random secp256k1 private key, 32 raw bytes."""
    return coincurve.PrivateKey().secret


def _private(key: bytes) -> coincurve.PrivateKey:
    if not isinstance(key, (bytes, bytearray)) or len(key) != PRIVATE_KEY_SIZE:
        raise NodeKeyError(f"private key must be {PRIVATE_KEY_SIZE} bytes")
    try:
        return coincurve.PrivateKey(bytes(key))
    except ValueError as exc:
        raise NodeKeyError(f"invalid secp256k1 private key: {exc}") from None


def node_id_from_private_key(key: bytes) -> bytes:
    """Return the 64-byte node id of a 32-byte private key.

    Raises :class:`NodeKeyError` if the key is not a valid secp256k1 scalar (zero or >= n).
    """
    return _private(key).public_key.format(compressed=False)[1:]


def public_key_from_node_id(node_id: bytes) -> coincurve.PublicKey:
    """Return the coincurve public key of a 64-byte node id.

    Raises :class:`InvalidPointError` if the id has the wrong length or is not on the curve.
    """
    if not isinstance(node_id, (bytes, bytearray)) or len(node_id) != NODE_ID_SIZE:
        raise InvalidPointError(f"node id must be {NODE_ID_SIZE} bytes")
    try:
        return coincurve.PublicKey(b"\x04" + bytes(node_id))
    except ValueError:
        raise InvalidPointError("node id is not a point on secp256k1") from None


def node_id_from_public_key(pub: coincurve.PublicKey) -> bytes:
    """Return the 64-byte node id of a coincurve public key."""
    return pub.format(compressed=False)[1:]


def node_hash(node_id: bytes) -> bytes:
    """Return keccak256(node id), 32 bytes (discv4.md "Node Identities")."""
    return keccak256(node_id)


def ecdh_x(private_key: bytes, node_id: bytes) -> bytes:
    """Return the 32-byte x coordinate of private_key * point(node_id).

    This is the raw ECDH shared secret RLPx uses (rlpx.md, "ECIES Encryption";
    go-ethereum crypto/ecies ``GenerateShared``), not the hashed secret of libsecp256k1's
    default ECDH.  Raises :class:`InvalidPointError` for an invalid node id.
    """
    point = public_key_from_node_id(node_id).multiply(_private(private_key).secret)
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
