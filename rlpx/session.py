"""Messages over RLPx frames: ``frame-data = rlp(msg-id) || msg-data`` (rlpx.md "Framing").

After the Hello exchange with a remote whose p2p version is >= 5, every ``msg-data`` is
snappy-compressed (EIP-706); the message code is not.  One known quirk is tolerated on read
(ethereumjs, documented in its rlpx/peer code): a Disconnect sent uncompressed after snappy
is on; if its payload does not decompress it is taken as plain.
"""

from __future__ import annotations

from rlp.codec import consume_item
from rlp.exceptions import DecodingError, DeserializationError
from rlp.sedes import big_endian_int

from . import snappy
from .errors import FrameError, FrameTooLargeError, MessageDecodeError, RLPxError, SnappyError
from .frame import MAX_FRAME_SIZE, FrameCodec
from .handshake import Secrets

DISCONNECT_CODE = 0x01
"""Base protocol Disconnect code (rlpx.md "Disconnect (0x01)")."""


def encode_code(code: int) -> bytes:
    """Return rlp(code): one byte for 1..127, ``0x80`` for 0, ``0x81 xx`` for 128..255, etc."""
    if code < 0:
        raise ValueError("message code must be >= 0")
    return _rlp_uint(code)


def _rlp_uint(n: int) -> bytes:
    if n == 0:
        return b"\x80"
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 + len(raw)]) + raw


def split_code(frame_data: bytes) -> tuple[int, bytes]:
    """Split frame-data into (message code, payload bytes).

    Raises :class:`MessageDecodeError` if the code is not a canonical RLP unsigned integer.  A
    code that starts as an RLP list (first byte >= 0xc0) is rejected before decoding: pyrlp
    decodes nested lists recursively, so a frame of deeply nested lists would otherwise raise
    RecursionError instead of an error of this package.
    """
    if frame_data and frame_data[0] >= 0xC0:
        raise MessageDecodeError("message code is not an RLP integer")
    try:
        item, _, end = consume_item(frame_data, 0)
        if not isinstance(item, bytes) or len(item) > 8:
            raise MessageDecodeError("message code is not an RLP integer")
        code = big_endian_int.deserialize(item)
    except (DecodingError, DeserializationError, IndexError) as exc:
        raise MessageDecodeError(f"malformed message code: {exc}") from None
    if end > len(frame_data):  # consume_item does not check the declared length against the data
        raise MessageDecodeError("malformed message code: truncated")
    return code, frame_data[end:]


class MessageCodec:
    """Encodes and decodes base/sub-protocol messages over a :class:`FrameCodec`.

    ``snappy`` is False until the Hello exchange says both sides speak p2p >= 5; then set it
    True.  :meth:`encode` returns wire bytes for ``(code, payload)``; :meth:`feed` returns the
    ``(code, payload)`` pairs completed by received bytes.  Raises the errors of
    :class:`FrameCodec`, :class:`FrameTooLargeError` for an oversize message,
    :class:`SnappyError` and :class:`MessageDecodeError`.
    """

    def __init__(self, secrets: Secrets, max_frame_size: int = MAX_FRAME_SIZE):
        self.frames = FrameCodec(secrets, max_frame_size)
        self.snappy = False

    def encode(self, code: int, payload: bytes) -> bytes:
        """Return the wire bytes of one message (compressed if ``snappy``)."""
        if len(payload) > MAX_FRAME_SIZE:
            raise FrameTooLargeError(f"message payload of {len(payload)} bytes exceeds {MAX_FRAME_SIZE}")
        if self.snappy:
            payload = snappy.compress(payload)
        return self.frames.encode(_rlp_uint(code) + payload)

    def decode_frame(self, frame_data: bytes) -> tuple[int, bytes]:
        """Return (code, payload) of one received frame-data, decompressing if ``snappy``."""
        code, payload = split_code(frame_data)
        if self.snappy:
            try:
                payload = snappy.decompress(payload)
            except SnappyError:
                if code != DISCONNECT_CODE:
                    raise
        return code, payload

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Absorb received bytes; return every completed (code, payload) in order.

        On error the messages decoded before the bad one are attached as ``exc.partial``.
        """
        out: list[tuple[int, bytes]] = []
        frame_error = None
        try:
            frames = self.frames.feed(data)
        except FrameError as exc:
            frames, frame_error = exc.partial, exc
        for fd in frames:
            try:
                out.append(self.decode_frame(fd))
            except RLPxError as exc:
                exc.partial = out
                raise
        if frame_error is not None:
            frame_error.partial = out
            raise frame_error
        return out
