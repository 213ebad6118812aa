"""RLPx framing: AES-256-CTR encryption and keccak256 MACs (rlpx.md "Framing", "MAC").

A frame on the wire is ``header-ciphertext (16) || header-mac (16) || frame-ciphertext || frame-mac (16)``.
  * header = frame-size (3 bytes BE) || rlp([0, 0]) = ``c2 80 80`` || zero padding to 16 bytes;
  * frame-ciphertext = AES-256-CTR(aes-secret, IV 0) over frame-data zero-padded to 16 bytes,
    one CTR stream per direction shared by headers and bodies;
  * header-mac-seed = AES-256(mac-secret, digest(egress-mac)[:16]) ^ header-ciphertext;
    egress-mac.update(header-mac-seed); header-mac = digest(egress-mac)[:16];
  * egress-mac.update(frame-ciphertext); frame-mac-seed = AES(mac-secret, digest[:16]) ^ digest[:16];
    egress-mac.update(frame-mac-seed); frame-mac = digest(egress-mac)[:16].
The frame-size is the unpadded frame-data length, at most 2**24 - 1 bytes.

This module handles frame-data as opaque bytes; :mod:`rlpx.session` adds message codes and snappy.
"""

from __future__ import annotations

import hmac

from Crypto.Hash import keccak as _keccak
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .errors import FrameError, FrameTooLargeError, MACMismatchError
from .handshake import Secrets

MAX_FRAME_SIZE = 2**24 - 1
"""Largest frame-data, bytes: the 3-byte frame-size field (rlpx.md; go-ethereum rlpx.go maxUint24)."""

HEADER_DATA = b"\xc2\x80\x80"
"""rlp([capability-id=0, context-id=0]), the header-data every implementation sends (rlpx.md)."""

_ZERO16 = bytes(16)


def _xor16(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(16, "big")


class _MAC:
    """One direction's keccak256 MAC state with its AES-256-ECB seed cipher.

    ``_last`` caches the first 16 digest bytes after :meth:`frame` (the frame MAC), which is
    also the value the next :meth:`header` needs, saving one keccak finalisation per frame.
    """

    def __init__(self, mac_secret: bytes, seed: bytes):
        self.hash = _keccak.new(digest_bits=256, update_after_digest=True)
        self.hash.update(seed)
        self.aes = Cipher(algorithms.AES(mac_secret), modes.ECB()).encryptor()
        self._last: bytes | None = None

    def header(self, header_ciphertext: bytes) -> bytes:
        last = self._last if self._last is not None else self.hash.digest()[:16]
        seed = _xor16(self.aes.update(last), header_ciphertext)
        self.hash.update(seed)
        self._last = None
        return self.hash.digest()[:16]

    def frame(self, frame_ciphertext) -> bytes:
        self.hash.update(frame_ciphertext)
        digest = self.hash.digest()[:16]
        self.hash.update(_xor16(self.aes.update(digest), digest))
        self._last = mac = self.hash.digest()[:16]
        return mac

    def digest(self) -> bytes:
        """Current 32-byte digest (for tests: rlpx.md's ingress-mac('foo') vector)."""
        return self.hash.digest()


class FrameCodec:
    """Encrypts frames for sending and decodes frames from a received byte stream.

    Built from handshake :class:`Secrets`.  :meth:`encode` returns the wire bytes of one frame;
    :meth:`feed` absorbs received bytes and returns every complete frame-data (bytes, unpadded)
    they finish.  Raises :class:`MACMismatchError` (``which`` = "header" or "frame"),
    :class:`FrameTooLargeError` and :class:`FrameError`.  After an error the stream is
    unusable: the connection must be closed.
    """

    def __init__(self, secrets: Secrets, max_frame_size: int = MAX_FRAME_SIZE):
        iv = _ZERO16
        self._enc = Cipher(algorithms.AES(secrets.aes_secret), modes.CTR(iv)).encryptor()
        self._dec = Cipher(algorithms.AES(secrets.aes_secret), modes.CTR(iv)).decryptor()
        self.egress_mac = _MAC(secrets.mac_secret, secrets.egress_mac_seed)
        self.ingress_mac = _MAC(secrets.mac_secret, secrets.ingress_mac_seed)
        self.max_frame_size = max_frame_size
        self._buf = bytearray()
        self._pending_size: int | None = None  # frame size of a header already decoded
        self.frames_read = 0
        """Frames decoded so far (a partial frame that follows a completed one is a new message)."""

    def encode(self, frame_data: bytes) -> bytes:
        """Return header || header-mac || frame-ciphertext || frame-mac for ``frame_data``.

        Raises :class:`FrameTooLargeError` if ``frame_data`` exceeds 2**24 - 1 bytes.
        """
        size = len(frame_data)
        if size > MAX_FRAME_SIZE:
            raise FrameTooLargeError(f"frame of {size} bytes exceeds {MAX_FRAME_SIZE}")
        header = size.to_bytes(3, "big") + HEADER_DATA + bytes(10)
        header_ct = self._enc.update(header)
        pad = -size % 16
        frame_ct = self._enc.update(frame_data + bytes(pad) if pad else frame_data)
        header_mac = self.egress_mac.header(header_ct)
        frame_mac = self.egress_mac.frame(frame_ct)
        return b"".join((header_ct, header_mac, frame_ct, frame_mac))

    def feed(self, data: bytes) -> list[bytes]:
        """Absorb ``data``; return the frame-data of every frame completed, in order.

        On error the frames completed before the bad one are attached to the exception as
        ``exc.partial`` (a list), so a caller can still deliver them before closing.
        """
        out: list[bytes] = []
        try:
            self._feed(data, out)
        except FrameError as exc:
            exc.partial = out
            raise
        return out

    def _feed(self, data: bytes, out: list) -> None:
        buf = self._buf
        buf += data
        pos = 0
        while True:
            if self._pending_size is None:
                if len(buf) - pos < 32:
                    break
                header_ct = bytes(buf[pos:pos + 16])
                want = self.ingress_mac.header(header_ct)
                if not hmac.compare_digest(want, bytes(buf[pos + 16:pos + 32])):
                    raise MACMismatchError("header")
                header = self._dec.update(header_ct)
                size = int.from_bytes(header[:3], "big")
                if size > self.max_frame_size:
                    raise FrameTooLargeError(f"frame header claims {size} bytes, limit {self.max_frame_size}")
                self._pending_size = size
                pos += 32
            size = self._pending_size
            padded = size + (-size % 16)
            if len(buf) - pos < padded + 16:
                break
            if pos:
                del buf[:pos]
                pos = 0
            frame_ct = memoryview(buf)[pos:pos + padded]
            want = self.ingress_mac.frame(frame_ct)
            ok = hmac.compare_digest(want, bytes(buf[pos + padded:pos + padded + 16]))
            if not ok:
                frame_ct.release()
                raise MACMismatchError("frame")
            plain = self._dec.update(frame_ct)
            frame_ct.release()
            out.append(plain[:size] if padded != size else plain)
            self.frames_read += 1
            pos += padded + 16
            self._pending_size = None
        if pos:
            del buf[:pos]

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame (a decoded header counts 32)."""
        return len(self._buf) + (32 if self._pending_size is not None else 0)


def frame_ciphertext_size(frame_data_size: int) -> int:
    """Wire bytes of one frame carrying ``frame_data_size`` bytes: 32 + padded + 16."""
    return 32 + frame_data_size + (-frame_data_size % 16) + 16


__all__ = ["FrameCodec", "MAX_FRAME_SIZE", "HEADER_DATA", "frame_ciphertext_size", "FrameError"]
