"""Ethereum Node Records (EIP-778) with the "v4" identity scheme.

A record is the RLP list ``[signature, seq, k1, v1, k2, v2, ...]``: ``seq`` a 64-bit unsigned
integer, the keys byte strings sorted bytewise and unique, each value any RLP item.  The whole
encoding is at most :data:`SIZE_LIMIT` bytes.  Under "v4" (EIP-778 "v4" Identity Scheme;
go-ethereum p2p/enode/idscheme.go) the record carries ``id = "v4"`` and ``secp256k1`` = the
33-byte compressed public key, and the signature is the 64-byte r || s of
keccak256(rlp([seq, k1, v1, ...])).  The text form is ``"enr:"`` followed by the URL-safe
base64 of the RLP bytes without padding (EIP-778 "Text Encoding").

Well-known entries (EIP-778 "Key/value pairs"; go-ethereum p2p/enr/entries.go): ``ip`` 4
bytes and ``ip6`` 16 bytes (an address), ``tcp``, ``udp``, ``tcp6``, ``udp6`` a big-endian
port (uint16, no leading zero bytes).  ``eth`` (EIP-868 and EIP-2124; go-ethereum
eth/protocols/eth/discovery.go ``enrEntry``) is the list ``[forkid, ...]`` with
``forkid = [hash (4 bytes), next (uint64)]``; items after the fork id are ignored, as geth's
``rlp:"tail"`` field does.

Every failure caused by bad input (bytes, text, arguments to :func:`build`) raises
:class:`RecordError` with one message; nothing else escapes from bad bytes.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

import rlp
from rlp.exceptions import RLPException

from rlpx.errors import NodeKeyError
from rlpx.keys import compress_node_id, keccak256, node_id_from_compressed, node_id_from_private_key, sign_v4, \
    verify_v4

SIZE_LIMIT = 300
"""Largest encoded record, bytes (EIP-778 "RLP Encoding"; go-ethereum p2p/enr/enr.go ``SizeLimit``)."""

TEXT_PREFIX = "enr:"
"""Prefix of the text form (EIP-778 "Text Encoding")."""

SCHEME = b"v4"
"""The one identity scheme supported, the value of ``id`` (EIP-778; go-ethereum enode.ValidSchemes)."""

MAX_SEQ = 2**64 - 1
"""Largest sequence number: seq is a 64-bit unsigned integer (EIP-778; geth ``Record.seq uint64``)."""

_RESERVED = ("id", "secp256k1")
"""Keys that :func:`build` sets itself from the scheme and the private key."""

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class RecordError(ValueError):
    """A node record is malformed, too large, unsorted, unsigned or wrongly signed, or an entry
    does not have its defined shape."""


class ForkId(NamedTuple):
    """An EIP-2124 fork id as the ``eth`` entry carries it: ``hash`` 4 bytes (CRC32 of the genesis
    hash and passed fork blocks/times), ``next`` the next fork's block number or time, 0 if none."""

    hash: bytes
    next: int


def _uint(value: Any, what: str, limit: int) -> int:
    """A canonical RLP unsigned integer (no leading zero byte, at most ``limit``) from a decoded item."""
    if not isinstance(value, bytes):
        raise RecordError(f"{what} must be an RLP string, not a list")
    if value[:1] == b"\x00":
        raise RecordError(f"{what} has a leading zero byte (non-canonical integer)")
    n = int.from_bytes(value, "big")
    if n > limit:
        raise RecordError(f"{what} {n} is above {limit}")
    return n


@dataclass(frozen=True)
class Record:
    """A signed, verified node record: only :func:`decode`, :func:`parse_text` and :func:`build`
    make one.

    ``raw`` is its RLP encoding (<= 300 bytes); ``seq`` its sequence number; ``pairs`` the
    key/value pairs sorted by key, each key bytes and each value the RLP encoding of the value
    (go-ethereum keeps ``rlp.RawValue`` the same way); ``signature`` the 64-byte r || s.
    """

    raw: bytes
    seq: int
    pairs: tuple[tuple[bytes, bytes], ...]
    signature: bytes

    # ----------------------------------------------------------------- encodings

    def encode(self) -> bytes:
        """The RLP encoding, the bytes that were signed over plus the signature."""
        return self.raw

    def text(self) -> str:
        """``"enr:"`` + URL-safe base64 of the RLP, without padding (EIP-778 "Text Encoding")."""
        return TEXT_PREFIX + base64.urlsafe_b64encode(self.raw).rstrip(b"=").decode("ascii")

    def __str__(self) -> str:
        return self.text()

    # ----------------------------------------------------------------- entries

    def keys(self) -> list[str]:
        """The record's keys in order (non-UTF-8 bytes escaped)."""
        return [k.decode("utf-8", "backslashreplace") for k, _ in self.pairs]

    def get_raw(self, key: str | bytes) -> bytes | None:
        """The RLP-encoded value of ``key``, or None when the record has no such key."""
        k = key.encode() if isinstance(key, str) else key
        for pk, v in self.pairs:
            if pk == k:
                return v
        return None

    def get(self, key: str | bytes) -> Any:
        """The decoded value of ``key`` (bytes, or nested lists of bytes), or None when absent."""
        raw = self.get_raw(key)
        return None if raw is None else rlp.decode(raw)  # verified canonical when the record was made

    @property
    def node_id(self) -> bytes:
        """The 64-byte node id (uncompressed public key without 0x04) of the ``secp256k1`` entry."""
        return node_id_from_compressed(self.get("secp256k1"))  # checked by decode/build

    @property
    def public_key(self) -> bytes:
        """The 33-byte compressed public key, the ``secp256k1`` entry."""
        return self.get("secp256k1")

    @property
    def node_address(self) -> bytes:
        """keccak256 of the 64-byte node id, 32 bytes: EIP-778's "node address" of a v4 record
        (go-ethereum ``V4ID.NodeAddr``, ``enode.ID``), equal to ``rlpx.keys.node_hash``."""
        return keccak256(self.node_id)

    def _ip(self, key: str, size: int) -> str | None:
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, bytes) or len(value) != size:
            raise RecordError(f"record entry {key!r} must be a {size}-byte address")
        return str(ipaddress.ip_address(value))

    @property
    def ip(self) -> str | None:
        """The IPv4 address of the ``ip`` entry (4 bytes) as a string, or None."""
        return self._ip("ip", 4)

    @property
    def ip6(self) -> str | None:
        """The IPv6 address of the ``ip6`` entry (16 bytes) as a string, or None."""
        return self._ip("ip6", 16)

    def _port(self, key: str) -> int | None:
        value = self.get(key)
        return None if value is None else _uint(value, f"record entry {key!r}", 65535)

    @property
    def tcp(self) -> int | None:
        """The ``tcp`` port (IPv4 RLPx), or None."""
        return self._port("tcp")

    @property
    def udp(self) -> int | None:
        """The ``udp`` port (IPv4 discovery), or None."""
        return self._port("udp")

    @property
    def tcp6(self) -> int | None:
        """The ``tcp6`` port (IPv6 RLPx), or None; EIP-778 says to use ``tcp`` when it is absent."""
        return self._port("tcp6")

    @property
    def udp6(self) -> int | None:
        """The ``udp6`` port (IPv6 discovery), or None; EIP-778 says to use ``udp`` when it is absent."""
        return self._port("udp6")

    @property
    def eth(self) -> ForkId | None:
        """The fork id of the ``eth`` entry ``[[hash4, next], ...]`` (EIP-868, EIP-2124), or None."""
        value = self.get("eth")
        if value is None:
            return None
        if not isinstance(value, list) or not value or not isinstance(value[0], list) or len(value[0]) != 2:
            raise RecordError("record entry 'eth' must be [[fork hash, fork next], ...]")
        fork_hash, fork_next = value[0]
        if not isinstance(fork_hash, bytes) or len(fork_hash) != 4:
            raise RecordError("record entry 'eth': fork hash must be 4 bytes")
        return ForkId(fork_hash, _uint(fork_next, "record entry 'eth': fork next", MAX_SEQ))


# --------------------------------------------------------------------------- signing


def _content(seq: int, pairs: tuple[tuple[bytes, bytes], ...]) -> bytes:
    """rlp([seq, k1, v1, ...]), the bytes whose keccak256 the "v4" signature signs (EIP-778)."""
    return rlp.encode([seq] + [x for k, v in pairs for x in (k, rlp.decode(v))])


def _encode(signature: bytes, seq: int, pairs: tuple[tuple[bytes, bytes], ...]) -> bytes:
    return rlp.encode([signature, seq] + [x for k, v in pairs for x in (k, rlp.decode(v))])


def _entry(key: str, value: Any) -> bytes:
    """The RLP encoding of one :func:`build` argument, by the shape the key defines."""
    try:
        if key in ("ip", "ip6"):
            addr = ipaddress.ip_address(value) if not isinstance(value, bytes) else None
            size = 4 if key == "ip" else 16
            packed = value if isinstance(value, bytes) else addr.packed
            if len(packed) != size:
                raise RecordError(f"{key} must be an IPv{4 if size == 4 else 6} address, got {value!r}")
            return rlp.encode(packed)
        if key in ("tcp", "udp", "tcp6", "udp6"):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
                raise RecordError(f"{key} must be a port 0..65535, got {value!r}")
            return rlp.encode(value)
        if key == "eth":
            fork_hash, fork_next = value
            if not isinstance(fork_hash, bytes) or len(fork_hash) != 4:
                raise RecordError(f"eth fork hash must be 4 bytes, got {fork_hash!r}")
            if not isinstance(fork_next, int) or isinstance(fork_next, bool) or not 0 <= fork_next <= MAX_SEQ:
                raise RecordError(f"eth fork next must be a uint64, got {fork_next!r}")
            return rlp.encode([[fork_hash, fork_next]])
        if isinstance(value, bool):
            raise RecordError(f"{key}: a bool is not an RLP value")
        return rlp.encode(value)  # any other key: bytes, a non-negative int, or lists of them
    except RecordError:
        raise
    except (RLPException, TypeError, ValueError, OverflowError) as exc:
        raise RecordError(f"record entry {key!r}: cannot encode {value!r}: {exc}") from None


def build(key: bytes, seq: int, **entries: Any) -> Record:
    """Make and sign a "v4" record for the 32-byte private ``key`` with sequence number ``seq``.

    ``entries`` are the other pairs: ``ip`` / ``ip6`` an address (string, ipaddress object or
    packed bytes), ``tcp`` / ``udp`` / ``tcp6`` / ``udp6`` a port, ``eth`` a ``(hash4, next)`` fork
    id (:class:`ForkId`), any other key bytes, an int or lists of them; a None value leaves the key
    out.  ``id`` and ``secp256k1`` are set here (go-ethereum ``enode.SignV4``).  The signature is
    deterministic (RFC 6979), so the same inputs give the same bytes.

    Raises :class:`RecordError` for an invalid key, seq outside 0..2**64-1, a reserved or badly
    shaped entry, or a record over :data:`SIZE_LIMIT` bytes.
    """
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= MAX_SEQ:
        raise RecordError(f"seq must be an integer 0..2**64-1, got {seq!r}")
    try:
        node_id = node_id_from_private_key(key)
    except NodeKeyError as exc:
        raise RecordError(f"cannot sign record: {exc}") from None
    pairs = {b"id": rlp.encode(SCHEME), b"secp256k1": rlp.encode(compress_node_id(node_id))}
    for name, value in entries.items():
        if name in _RESERVED:
            raise RecordError(f"{name!r} is set from the identity scheme and key, not given")
        if value is not None:
            pairs[name.encode()] = _entry(name, value)
    ordered = tuple(sorted(pairs.items()))
    signature = sign_v4(key, keccak256(_content(seq, ordered)))
    raw = _encode(signature, seq, ordered)
    if len(raw) > SIZE_LIMIT:
        raise RecordError(f"record is {len(raw)} bytes, above the {SIZE_LIMIT}-byte limit (EIP-778)")
    return Record(raw, seq, ordered, signature)


def next_record(old: Record | None, key: bytes, **entries: Any) -> Record:
    """``old`` if it already holds exactly these entries (and this key's ``id``/``secp256k1``),
    else a new record with seq + 1 (seq 1 when there is no ``old``).

    EIP-778: a node increases seq whenever its record changes; go-ethereum's ``LocalNode`` bumps
    it on each change the same way.  Raises :class:`RecordError` as :func:`build` does.
    """
    if old is None:
        return build(key, 1, **entries)
    candidate = build(key, old.seq, **entries)
    if candidate.pairs == old.pairs:
        return old
    if old.seq >= MAX_SEQ:
        raise RecordError("record seq is at 2**64-1 and cannot be increased")
    return build(key, old.seq + 1, **entries)


# --------------------------------------------------------------------------- decoding


def decode(data: bytes) -> Record:
    """Decode and verify an RLP-encoded "v4" record.

    Checks, in go-ethereum p2p/enr/enr.go ``decodeRecord`` order and then ``V4ID.Verify``: at
    most :data:`SIZE_LIMIT` bytes; one canonical RLP list and nothing after it; at least a
    signature and a seq; complete key/value pairs; keys byte strings, sorted and unique; seq a
    canonical uint64; ``id`` present and ``"v4"``; ``secp256k1`` a 33-byte compressed point; the
    64-byte signature valid over keccak256(rlp([seq, k, v, ...])).  Raises :class:`RecordError`.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise RecordError("record must be bytes")
    data = bytes(data)
    if len(data) > SIZE_LIMIT:
        raise RecordError(f"record is {len(data)} bytes, above the {SIZE_LIMIT}-byte limit (EIP-778)")
    try:
        items = rlp.decode(data, strict=True)
    except (RLPException, RecursionError) as exc:
        raise RecordError(f"record is not valid RLP: {exc}") from None
    if not isinstance(items, list):
        raise RecordError("record is not an RLP list")
    if len(items) < 2:
        raise RecordError("record contains less than two list elements (signature and seq)")
    if len(items) % 2:
        raise RecordError("record contains an incomplete key/value pair")
    signature, seq_item, rest = items[0], items[1], items[2:]
    if not isinstance(signature, bytes):
        raise RecordError("record signature must be an RLP string")
    seq = _uint(seq_item, "record seq", MAX_SEQ)
    pairs: list[tuple[bytes, bytes]] = []
    for i in range(0, len(rest), 2):
        k, v = rest[i], rest[i + 1]
        if not isinstance(k, bytes):
            raise RecordError("record key must be an RLP string")
        if pairs and k == pairs[-1][0]:
            raise RecordError(f"record contains duplicate key {k!r}")
        if pairs and k < pairs[-1][0]:
            raise RecordError("record key/value pairs are not sorted by key")
        pairs.append((k, rlp.encode(v)))
    ordered = tuple(pairs)
    if _encode(signature, seq, ordered) != data:  # belt and braces: pyrlp already refuses most
        raise RecordError("record is not canonical RLP")
    record = Record(data, seq, ordered, signature)
    scheme = record.get("id")
    if scheme is None:
        raise RecordError("record has no 'id' (identity scheme)")
    if scheme != SCHEME:
        raise RecordError(f"record identity scheme {scheme!r} is not supported (only 'v4')")
    pub = record.get("secp256k1")
    if not isinstance(pub, bytes) or len(pub) != 33:
        raise RecordError("record 'secp256k1' must be a 33-byte compressed public key")
    try:
        valid = verify_v4(pub, keccak256(_content(seq, ordered)), signature)
    except NodeKeyError:
        raise RecordError("record 'secp256k1' is not a point on secp256k1") from None
    if not valid:
        raise RecordError("invalid signature on node record")
    return record


def parse_text(text: str) -> Record:
    """Decode and verify ``"enr:<base64url, no padding>"`` (EIP-778 "Text Encoding").

    Raises :class:`RecordError` for another prefix, characters outside the URL-safe base64
    alphabet (padding included), a length no base64 has, or any :func:`decode` failure.
    """
    if not isinstance(text, str):
        raise RecordError("record text must be a string")
    if not text.startswith(TEXT_PREFIX):
        raise RecordError(f"record text must start with {TEXT_PREFIX!r}")
    body = text[len(TEXT_PREFIX):]
    if len(body) > (SIZE_LIMIT * 4 + 2) // 3:
        raise RecordError(f"record text is longer than a {SIZE_LIMIT}-byte record can be")
    if not body.isascii() or not _B64URL.fullmatch(body):
        raise RecordError("record text is not unpadded URL-safe base64")
    if len(body) % 4 == 1:
        raise RecordError("record text has a length no base64 has")
    try:
        data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError as exc:
        raise RecordError(f"record text is not valid base64: {exc}") from None
    return decode(data)
