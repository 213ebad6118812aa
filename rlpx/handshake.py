"""The RLPx auth/ack handshake (rlpx.md "Initial Handshake"; EIP-8; go-ethereum p2p/rlpx/rlpx.go).

Wire format sent: EIP-8 only.
  auth = auth-size (2 bytes BE) || ECIES(recipient, rlp([sig, initiator-pubk, initiator-nonce, 4]) || padding, mac-data=auth-size)
  ack  = ack-size  (2 bytes BE) || ECIES(initiator, rlp([recipient-ephemeral-pubk, recipient-nonce, 4]) || padding, mac-data=ack-size)
Padding is 100..299 random bytes as go-ethereum adds, which also makes every auth at least
307 bytes: ethereumjs reads 307 bytes before it parses an auth.

Accepted: EIP-8 packets with any version and extra list elements (ignored), and the legacy
pre-EIP-8 packets (auth: 307 bytes = ECIES of sig || keccak(eph-pubk) || pubk || nonce || 0x00;
ack: 210 bytes = ECIES of eph-pubk || nonce || 0x00).  A size prefix above 2048 bytes is
rejected (go-ethereum rlpx.go ``readHandshakeMsg`` limit, EIP-8).

``sig`` is the 65-byte recoverable signature (r || s || v, v in {0,1}) by the initiator's
ephemeral key of ``ecdh(static keys) XOR initiator-nonce``.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import coincurve
import rlp
from rlp.codec import consume_item
from rlp.exceptions import DecodingError, DeserializationError

from . import ecies
from .errors import ECIESError, HandshakeError, InvalidPointError
from .keys import ecdh_x, keccak256, node_id_from_private_key, node_id_from_public_key, public_key_from_node_id

MAX_HANDSHAKE_PACKET = 2048
"""Largest accepted EIP-8 auth/ack ciphertext, bytes (EIP-8; go-ethereum rlpx.go)."""

LEGACY_AUTH_SIZE = 307
"""Legacy auth: ECIES overhead (113) + 194-byte plaintext (rlpx.md, EIP-8 "Auth₁")."""

LEGACY_ACK_SIZE = 210
"""Legacy ack: ECIES overhead (113) + 97-byte plaintext (EIP-8 "Ack₁")."""

HANDSHAKE_VERSION = 4
"""auth-vsn / ack-vsn sent (rlpx.md)."""

MIN_AUTH_SIZE = 307
"""Every auth we send is at least this many bytes; ethereumjs waits for 307 before parsing."""


@dataclass(frozen=True)
class Secrets:
    """Session secrets derived from a completed handshake (rlpx.md "Secrets").

    ``aes_secret`` and ``mac_secret`` are 32 bytes.  ``egress_mac_seed`` and
    ``ingress_mac_seed`` are the bytes a fresh keccak256 state absorbs to become the egress and
    ingress MAC: ``(mac-secret ^ remote-nonce) || sent-packet`` and
    ``(mac-secret ^ own-nonce) || received-packet``.  ``remote_node_id`` is 64 bytes.
    """

    aes_secret: bytes
    mac_secret: bytes
    egress_mac_seed: bytes
    ingress_mac_seed: bytes
    remote_node_id: bytes


@dataclass(frozen=True)
class AuthMessage:
    """A decoded auth: initiator node id (64 B), nonce (32 B), ephemeral node id (64 B)."""

    initiator_node_id: bytes
    nonce: bytes
    ephemeral_node_id: bytes
    version: int
    eip8: bool
    rest: tuple = ()


@dataclass(frozen=True)
class AckMessage:
    """A decoded ack: recipient's ephemeral node id (64 B) and nonce (32 B)."""

    ephemeral_node_id: bytes
    nonce: bytes
    version: int
    eip8: bool
    rest: tuple = ()


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def _padding() -> bytes:
    return os.urandom(random.randint(100, 299))


def _seal_eip8(recipient_node_id: bytes, body: bytes) -> bytes:
    plaintext = body + _padding()
    prefix = (len(plaintext) + ecies.OVERHEAD).to_bytes(2, "big")
    return prefix + ecies.encrypt(recipient_node_id, plaintext, shared_mac_data=prefix)


def _int_field(item, what: str) -> int:
    if not isinstance(item, bytes) or len(item) > 8:
        raise HandshakeError(f"{what} is not an integer")
    return int.from_bytes(item, "big")


def _bytes_field(item, size: int, what: str) -> bytes:
    if not isinstance(item, bytes) or len(item) != size:
        raise HandshakeError(f"{what} must be {size} bytes")
    return item


def _rlp_list(plaintext: bytes, min_items: int, what: str) -> list:
    # consume_item, not rlp.decode(strict=False): the latter accepts a top-level item whose
    # declared length runs past the end of the data (it never compares the end offset).
    try:
        items, _, end = consume_item(plaintext, 0)
    except RecursionError:  # pyrlp recurses per nesting level (see base_protocol._decode)
        raise HandshakeError(f"malformed {what} RLP: lists nested too deeply") from None
    except (DecodingError, DeserializationError, IndexError) as exc:
        raise HandshakeError(f"malformed {what} RLP: {exc}") from None
    if end > len(plaintext):
        raise HandshakeError(f"malformed {what} RLP: truncated")
    if not isinstance(items, list) or len(items) < min_items:
        raise HandshakeError(f"{what} must be an RLP list of at least {min_items} items")
    return items


def packet_size(buf: bytes, legacy_size: int) -> int | None:
    """Return how many bytes of ``buf`` the next auth/ack packet occupies, or None if unknown yet.

    ``legacy_size`` is :data:`LEGACY_AUTH_SIZE` or :data:`LEGACY_ACK_SIZE`.  A buffer starting
    with 0x04 may be a legacy packet (an uncompressed ECIES point); the caller tries that first
    once ``legacy_size`` bytes are present.  Raises :class:`HandshakeError` for a size prefix
    above 2048 or too small to hold an ECIES message.
    """
    if len(buf) < 2:
        return None
    size = int.from_bytes(buf[:2], "big")
    if size > MAX_HANDSHAKE_PACKET:
        raise HandshakeError(f"handshake packet size prefix {size} exceeds {MAX_HANDSHAKE_PACKET} bytes")
    if size <= ecies.OVERHEAD:
        raise HandshakeError(f"handshake packet size prefix {size} too small for ECIES")
    return 2 + size


def _open(private_key: bytes, packet: bytes, legacy_size: int, what: str) -> tuple[bytes, bool]:
    """Decrypt a complete auth/ack packet; return (plaintext, eip8)."""
    if len(packet) == legacy_size and packet[0] == 0x04:
        try:
            return ecies.decrypt(private_key, packet), False
        except ECIESError:
            pass  # may still be an EIP-8 packet whose size prefix starts with 0x04
    need = packet_size(packet, legacy_size)
    if need is None or len(packet) < need:
        raise HandshakeError(f"truncated {what}: {len(packet)} bytes, size prefix needs {need or 2}")
    if len(packet) > need:
        raise HandshakeError(f"{what} has {len(packet) - need} bytes after its size prefix's end")
    try:
        return ecies.decrypt(private_key, packet[2:], shared_mac_data=packet[:2]), True
    except ECIESError as exc:
        raise HandshakeError(f"cannot decrypt {what}: {exc}") from exc


def encode_auth(private_key: bytes, remote_node_id: bytes, ephemeral_key: bytes, nonce: bytes) -> bytes:
    """Return an EIP-8 auth packet (size prefix included) from initiator to ``remote_node_id``.

    Keys are 32 raw bytes, ``remote_node_id`` 64 bytes, ``nonce`` 32 bytes.
    Raises :class:`InvalidPointError` for an invalid remote node id.
    """
    token = ecdh_x(private_key, remote_node_id)
    sig = coincurve.PrivateKey(ephemeral_key).sign_recoverable(_xor(token, nonce), hasher=None)
    body = rlp.encode([sig, node_id_from_private_key(private_key), nonce, HANDSHAKE_VERSION])
    return _seal_eip8(remote_node_id, body)


def decode_auth(private_key: bytes, packet: bytes) -> AuthMessage:
    """Decrypt and decode a complete auth packet (EIP-8 or legacy) sent to ``private_key``.

    Raises :class:`HandshakeError` for a truncated, oversized or undecryptable packet, a bad
    plaintext, or a signature from which no ephemeral key can be recovered.
    """
    plaintext, eip8 = _open(private_key, packet, LEGACY_AUTH_SIZE, "auth")
    if eip8:
        items = _rlp_list(plaintext, 4, "auth")
        sig = _bytes_field(items[0], 65, "auth signature")
        initiator = _bytes_field(items[1], 64, "auth initiator public key")
        nonce = _bytes_field(items[2], 32, "auth nonce")
        version = _int_field(items[3], "auth version")
        rest = tuple(items[4:])
    else:
        if len(plaintext) != 194:
            raise HandshakeError(f"legacy auth plaintext is {len(plaintext)} bytes, expected 194")
        sig, initiator, nonce = plaintext[:65], plaintext[97:161], plaintext[161:193]
        version, rest = HANDSHAKE_VERSION, ()
    try:
        token = ecdh_x(private_key, initiator)
    except InvalidPointError:
        raise HandshakeError("auth initiator public key is not a secp256k1 point") from None
    try:
        eph = coincurve.PublicKey.from_signature_and_message(sig, _xor(token, nonce), hasher=None)
    except ValueError:
        raise HandshakeError("auth signature does not recover a public key") from None
    return AuthMessage(initiator, nonce, node_id_from_public_key(eph), version, eip8, rest)


def encode_ack(remote_node_id: bytes, ephemeral_key: bytes, nonce: bytes, eip8: bool = True) -> bytes:
    """Return an ack packet to the initiator ``remote_node_id`` (EIP-8 unless ``eip8`` is False).

    The legacy form answers a legacy auth (rlpx.md; go-ethereum before #22899 did the same).
    """
    eph_id = node_id_from_private_key(ephemeral_key)
    if not eip8:
        return ecies.encrypt(remote_node_id, eph_id + nonce + b"\x00")
    return _seal_eip8(remote_node_id, rlp.encode([eph_id, nonce, HANDSHAKE_VERSION]))


def decode_ack(private_key: bytes, packet: bytes) -> AckMessage:
    """Decrypt and decode a complete ack packet (EIP-8 or legacy) sent to ``private_key``.

    Raises :class:`HandshakeError` as :func:`decode_auth`.
    """
    plaintext, eip8 = _open(private_key, packet, LEGACY_ACK_SIZE, "ack")
    if eip8:
        items = _rlp_list(plaintext, 3, "ack")
        eph = _bytes_field(items[0], 64, "ack ephemeral public key")
        nonce = _bytes_field(items[1], 32, "ack nonce")
        version = _int_field(items[2], "ack version")
        rest = tuple(items[3:])
    else:
        if len(plaintext) != 97:
            raise HandshakeError(f"legacy ack plaintext is {len(plaintext)} bytes, expected 97")
        eph, nonce, version, rest = plaintext[:64], plaintext[64:96], HANDSHAKE_VERSION, ()
    try:
        public_key_from_node_id(eph)
    except InvalidPointError:
        raise HandshakeError("ack ephemeral public key is not a secp256k1 point") from None
    return AckMessage(eph, nonce, version, eip8, rest)


def derive_secrets(*, initiator: bool, ephemeral_key: bytes, remote_ephemeral_node_id: bytes,
                   initiator_nonce: bytes, recipient_nonce: bytes, auth_packet: bytes,
                   ack_packet: bytes, remote_node_id: bytes) -> Secrets:
    """Derive the session secrets (rlpx.md "Secrets").

    ephemeral-key = ecdh(own ephemeral, remote ephemeral);
    shared-secret = keccak256(ephemeral-key || keccak256(recipient-nonce || initiator-nonce));
    aes-secret = keccak256(ephemeral-key || shared-secret);
    mac-secret = keccak256(ephemeral-key || aes-secret).
    The MAC seeds pair ``mac-secret ^ nonce`` with the packet sent/received as bytes on the
    wire (size prefix included for EIP-8).
    """
    try:
        eph_shared = ecdh_x(ephemeral_key, remote_ephemeral_node_id)
    except InvalidPointError:
        raise HandshakeError("remote ephemeral key is not a secp256k1 point") from None
    shared = keccak256(eph_shared, keccak256(recipient_nonce, initiator_nonce))
    aes_secret = keccak256(eph_shared, shared)
    mac_secret = keccak256(eph_shared, aes_secret)
    if initiator:
        egress = _xor(mac_secret, recipient_nonce) + auth_packet
        ingress = _xor(mac_secret, initiator_nonce) + ack_packet
    else:
        egress = _xor(mac_secret, initiator_nonce) + ack_packet
        ingress = _xor(mac_secret, recipient_nonce) + auth_packet
    return Secrets(aes_secret, mac_secret, egress, ingress, remote_node_id)


class _Reader:
    """Accumulates bytes of one handshake packet; knows when it is complete.

    A buffer starting with 0x04 is probed as a legacy packet once, when ``legacy_size`` bytes
    are first available (those bytes never change, so a failed probe is not repeated while an
    EIP-8 packet whose size prefix starts with 0x04 keeps arriving).
    """

    def __init__(self, private_key: bytes, legacy_size: int):
        self.private_key = private_key
        self.buf = bytearray()
        self.legacy_size = legacy_size
        self.legacy_probed = False

    def _is_legacy(self, packet: bytes) -> bool:
        try:
            ecies.decrypt(self.private_key, packet)
            return True
        except ECIESError:
            return False

    def take(self, data: bytes) -> tuple[bytes, bytes] | None:
        """Return (packet, leftover) once a whole packet is buffered, else None."""
        self.buf += data
        buf = self.buf
        if buf[:1] == b"\x04" and len(buf) >= self.legacy_size and not self.legacy_probed:
            self.legacy_probed = True
            if self._is_legacy(bytes(buf[:self.legacy_size])):
                return bytes(buf[:self.legacy_size]), bytes(buf[self.legacy_size:])
        need = packet_size(buf, self.legacy_size)
        if need is None or len(buf) < need:
            return None
        return bytes(buf[:need]), bytes(buf[need:])


class Initiator:
    """Initiator side of the handshake, fed incrementally (no sockets).

    ``auth`` holds the packet to send.  Call :meth:`feed` with bytes received; it returns the
    :class:`Secrets` once the ack is complete (and ``leftover`` holds bytes after the ack, which
    belong to the first frames), else None.  Raises :class:`HandshakeError`.
    """

    def __init__(self, private_key: bytes, remote_node_id: bytes,
                 ephemeral_key: bytes | None = None, nonce: bytes | None = None):
        self.private_key = private_key
        self.remote_node_id = remote_node_id
        self.ephemeral_key = ephemeral_key or coincurve.PrivateKey().secret
        self.nonce = nonce or os.urandom(32)
        self.auth = encode_auth(private_key, remote_node_id, self.ephemeral_key, self.nonce)
        self.leftover = b""
        self.ack: AckMessage | None = None
        self._reader = _Reader(private_key, LEGACY_ACK_SIZE)

    def feed(self, data: bytes) -> Secrets | None:
        """Absorb received bytes; return Secrets when the ack is complete."""
        got = self._reader.take(data)
        if got is None:
            return None
        packet, self.leftover = got
        self.ack = decode_ack(self.private_key, packet)
        return derive_secrets(initiator=True, ephemeral_key=self.ephemeral_key,
                              remote_ephemeral_node_id=self.ack.ephemeral_node_id,
                              initiator_nonce=self.nonce, recipient_nonce=self.ack.nonce,
                              auth_packet=self.auth, ack_packet=packet,
                              remote_node_id=self.remote_node_id)


class Recipient:
    """Recipient side of the handshake, fed incrementally (no sockets).

    :meth:`feed` returns the ack packet to send once the auth is complete (EIP-8 ack for an
    EIP-8 auth, legacy ack for a legacy one), else None; then ``secrets``, ``remote_node_id``
    and ``leftover`` are set.  Raises :class:`HandshakeError`.
    """

    def __init__(self, private_key: bytes, ephemeral_key: bytes | None = None, nonce: bytes | None = None):
        self.private_key = private_key
        self.ephemeral_key = ephemeral_key or coincurve.PrivateKey().secret
        self.nonce = nonce or os.urandom(32)
        self.leftover = b""
        self.auth: AuthMessage | None = None
        self.secrets: Secrets | None = None
        self._reader = _Reader(private_key, LEGACY_AUTH_SIZE)

    @property
    def remote_node_id(self) -> bytes | None:
        """The initiator's 64-byte node id once the auth is decoded."""
        return self.auth.initiator_node_id if self.auth else None

    def feed(self, data: bytes) -> bytes | None:
        """Absorb received bytes; return the ack packet to send when the auth is complete."""
        got = self._reader.take(data)
        if got is None:
            return None
        packet, self.leftover = got
        self.auth = decode_auth(self.private_key, packet)
        ack = encode_ack(self.auth.initiator_node_id, self.ephemeral_key, self.nonce, eip8=self.auth.eip8)
        self.secrets = derive_secrets(initiator=False, ephemeral_key=self.ephemeral_key,
                                      remote_ephemeral_node_id=self.auth.ephemeral_node_id,
                                      initiator_nonce=self.auth.nonce, recipient_nonce=self.nonce,
                                      auth_packet=packet, ack_packet=ack,
                                      remote_node_id=self.auth.initiator_node_id)
        return ack
