"""Snappy block compression of message payloads for p2p version >= 5 (EIP-706).

Uses the cramjam binding (raw snappy block format, as go-ethereum's golang/snappy
``Encode``/``Decode``).  The decoded length in the block's varint header is checked against
the limit *before* decompressing, as go-ethereum p2p/rlpx/rlpx.go does with
``snappy.DecodedLen``, so a small frame can never expand beyond 2**24 - 1 bytes.
"""

from __future__ import annotations

import cramjam

from .errors import SnappyError

MAX_DECODED_SIZE = 2**24 - 1
"""Largest decompressed payload accepted, bytes (EIP-706; go-ethereum rlpx.go maxUint24)."""


def compress(data: bytes) -> bytes:
    """Return the snappy block encoding of ``data``."""
    return bytes(cramjam.snappy.compress_raw(data))


def decoded_length(data: bytes) -> int:
    """Return the decoded length from the block's varint header.

    Raises :class:`SnappyError` if the header is missing or malformed.
    """
    try:
        return cramjam.snappy.decompress_raw_len(data)
    except Exception as exc:  # cramjam raises its own DecompressionError
        raise SnappyError(f"corrupt snappy header: {exc}") from None


def decompress(data: bytes, limit: int = MAX_DECODED_SIZE) -> bytes:
    """Decompress a snappy block whose declared decoded length is at most ``limit`` bytes.

    Raises :class:`SnappyError` for a declared length above ``limit`` (checked before any
    decompression) or corrupt data.
    """
    size = decoded_length(data)
    if size > limit:
        raise SnappyError(f"snappy payload declares {size} decoded bytes, limit {limit}")
    try:
        out = cramjam.snappy.decompress_raw(data)
    except Exception as exc:
        raise SnappyError(f"corrupt snappy data: {exc}") from None
    return bytes(out)
