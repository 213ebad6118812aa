"""Errors raised by the RLPx wire layer.

Every failure caused by bytes from the network or by a malformed key/enode string is
raised as a subclass of :class:`RLPxError`, never as a stray ``IndexError`` or a
dependency's ``ValueError``.  Callers (the Peer actor) map them to Disconnect reasons:
handshake and framing failures close the connection, base-protocol decode failures
send ``Disconnect(PROTOCOL_ERROR)`` as go-ethereum does (p2p/peer.go).
"""


class RLPxError(Exception):
    """Base class of every error raised by :mod:`rlpx`."""



class NodeKeyError(RLPxError):
    """A private key or public key (node id) is malformed or not on secp256k1."""


class SignatureError(NodeKeyError):
    """A secp256k1 signature or message hash is malformed, or no public key can be recovered from
    the signature (rlpx.keys ``sign_*``, ``verify_v4`` and ``recover_node_id``)."""


class KeyFileError(NodeKeyError):
    """A node key file cannot be read, created, or does not hold a 32-byte hex key."""


class EnodeError(RLPxError):
    """An ``enode://`` URL is malformed (scheme, node id, host, port or query)."""


class ECIESError(RLPxError):
    """ECIES decryption failed: too short, invalid curve point, or MAC mismatch."""


class ECIESMACError(ECIESError):
    """The HMAC-SHA256 tag of an ECIES message does not verify."""


class InvalidPointError(ECIESError, NodeKeyError):
    """A public key or ephemeral point is not a valid secp256k1 point."""


class HandshakeError(RLPxError):
    """The RLPx auth/ack handshake failed (bad size, bad plaintext, bad signature)."""


class FrameError(RLPxError):
    """An RLPx frame cannot be decoded (bad header, size, or padding)."""


class MACMismatchError(FrameError):
    """An ingress frame MAC does not verify; ``which`` is ``"header"`` or ``"frame"``."""

    def __init__(self, which: str):
        super().__init__(f"{which} MAC mismatch")
        self.which = which


class FrameTooLargeError(FrameError):
    """A frame or message is larger than 2**24 - 1 bytes (rlpx.md, 'Framing')."""


class SnappyError(FrameError):
    """A snappy-compressed message is corrupt or would decode beyond the size limit."""


class MessageDecodeError(RLPxError):
    """A base-protocol message (Hello, Disconnect, Ping, Pong) or message code is malformed."""


class HelloError(MessageDecodeError):
    """A Hello message is invalid: too large, bad node id, or malformed fields."""
