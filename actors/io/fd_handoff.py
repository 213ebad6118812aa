"""Handing accepted TCP sockets from the Listener to the Server, and on to the forks of their Peers.

An inbound connection's socket goes, with SCM_RIGHTS, over the Server's *inbound hand-off
socket* (an abstract-namespace AF_UNIX datagram socket, docs/thespian-facts.md §2b), in the same
datagram as the connection's ``conn_id``, remote address and the session of the auth/ack the
Listener ran (node/inbound_handshakes.py).  The Server passes it on to the Spawner with the
Peer's start (actors/io/spawn_link.py), which forks the Peer actor while it holds the socket, so
the Peer inherits it.  Why: no Thespian message or transport connection per connection for the
socket (docs/performance.md).

No fd may leak into the creating process's other children (a copy held elsewhere keeps a
connection open after its Peer closed it): :func:`hold` registers an fd (the hand-off socket
itself), :func:`release` removes it, and every new child closes the registered ones
(docs/thespian.md, "children close inherited fds").  An inbound socket the Spawner forks a new
Peer for is never registered: that child is meant to inherit it.

Datagram: ``rlp([magic, version, conn_id, host, port, aes-secret, mac-secret, egress-mac-seed,
ingress-mac-seed, remote-node-id, leftover, unsent])`` (:func:`encode_handoff`; the session of
rlpx.handshake.Secrets, the bytes read after the auth, the ack's bytes not yet written), at most
:data:`MAX_DATAGRAM` bytes, and exactly one fd.  Anything else (a local process can write to
an abstract socket) is refused: its fds are closed, one log line.

Only the node's own uid may hand off: the inbox has SO_PASSCRED on, so the kernel attaches the
sender's verified credentials (SCM_CREDENTIALS, unix(7)) to every datagram, and a datagram from
another uid, or without credentials, is refused before its text is decoded (docs/security.md:
otherwise any local user could hand the Server a connection that NetRestrict and the per-IP
throttle never saw).
"""

from __future__ import annotations

import array
import os
import socket
import struct
import uuid
from dataclasses import dataclass

import rlp
from rlp.exceptions import DecodingError

from rlpx.handshake import MAX_HANDSHAKE_PACKET, Secrets

MAGIC = b"devp2p-inbound"
"""First item of every hand-off datagram."""

VERSION = 1
"""Datagram layout version (second item); another version is refused."""

MAX_DATAGRAM = 16384
"""Largest hand-off datagram, bytes: two MAC seeds (32 + a handshake packet of at most 2 KiB each),
the Listener's one read of leftover (actors/listener.py ``READ_CHUNK``, 8 KiB) and the rest."""

_held: set[int] = set()
os.register_at_fork(after_in_child=_held.clear)  # a child owns none of its creator's registrations


def hold(fd: int) -> None:
    """Register ``fd`` (held by this process) as one its future children must close."""
    _held.add(fd)


def release(fd: int) -> None:
    """Stop registering ``fd`` (it is closed, or the next child is meant to inherit it)."""
    _held.discard(fd)


def held_fds() -> list[int]:
    """The registered fds, for a new child to close."""
    return sorted(_held)


class HandoffError(ValueError):
    """A datagram on the hand-off socket is not a hand-off record with one TCP socket."""


@dataclass(frozen=True)
class Inbound:
    """One connection handed to the Server: ``conn_id``, ``remote`` (host, port), ``fd`` (ours
    to close), the session ``secrets``, ``leftover`` and ``unsent`` bytes (module docstring)."""

    conn_id: str
    remote: tuple
    fd: int
    secrets: Secrets
    leftover: bytes = b""
    unsent: bytes = b""


def inbox() -> tuple[socket.socket, bytes]:
    """Create a non-blocking AF_UNIX datagram socket bound to a fresh abstract name.

    SO_PASSCRED is on, so every datagram comes with its sender's credentials
    (:func:`receive_connection` refuses other uids).  Returns (socket, name); the socket is
    registered with :func:`hold`.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    name = b"\0devp2p-inbound-" + uuid.uuid4().hex.encode()
    sock.bind(name)
    sock.setblocking(False)
    hold(sock.fileno())
    return sock, name


def encode_handoff(conn_id: str, remote: tuple, secrets: Secrets, leftover: bytes = b"", unsent: bytes = b"") -> bytes:
    """The datagram text of one hand-off.  Raises ValueError above :data:`MAX_DATAGRAM` bytes."""
    data = rlp.encode([MAGIC, VERSION, conn_id.encode("ascii"), str(remote[0]).encode("ascii"), int(remote[1]),
                       secrets.aes_secret, secrets.mac_secret, secrets.egress_mac_seed, secrets.ingress_mac_seed,
                       secrets.remote_node_id, bytes(leftover), bytes(unsent)])
    if len(data) > MAX_DATAGRAM:
        raise ValueError(f"hand-off record of {len(data)} bytes exceeds {MAX_DATAGRAM}")
    return data


def decode_handoff(data: bytes) -> tuple[str, tuple, Secrets, bytes, bytes]:
    """(conn_id, (host, port), secrets, leftover, unsent) of a datagram text.  Raises
    :class:`HandoffError` for anything but a record of :data:`VERSION` with sane sizes."""
    try:
        items = rlp.decode(data)
    except (DecodingError, ValueError, RecursionError) as exc:
        raise HandoffError(f"hand-off datagram is not RLP: {type(exc).__name__}") from None
    if not isinstance(items, list) or len(items) != 12 or not all(isinstance(i, bytes) for i in items):
        raise HandoffError("hand-off datagram is not a hand-off record")
    if items[0] != MAGIC or int.from_bytes(items[1], "big") != VERSION:
        raise HandoffError("hand-off datagram has the wrong magic or version")
    aes, mac, egress, ingress, node_id = items[5:10]
    seed_max = 32 + MAX_HANDSHAKE_PACKET + 2
    if len(aes) != 32 or len(mac) != 32 or len(node_id) != 64 or not (32 < len(egress) <= seed_max) \
            or not (32 < len(ingress) <= seed_max):
        raise HandoffError("hand-off record has secrets of the wrong size")
    try:
        conn_id, host = items[2].decode("ascii"), items[3].decode("ascii")
    except UnicodeDecodeError:
        raise HandoffError("hand-off record has a non-ASCII conn_id or host") from None
    port = int.from_bytes(items[4], "big")
    if not conn_id or not host or port > 65535:
        raise HandoffError("hand-off record has no conn_id, host or port")
    return conn_id, (host, port), Secrets(aes, mac, egress, ingress, node_id), items[10], items[11]


def send_connection(sender: socket.socket, to: bytes, conn: socket.socket, conn_id: str, remote: tuple,
                    secrets: Secrets, leftover: bytes = b"", unsent: bytes = b"") -> None:
    """Send ``conn``'s fd with its hand-off record (:func:`encode_handoff`) to the inbox ``to``.

    Raises OSError (e.g. BlockingIOError if the inbox queue is full) or ValueError (record too
    large); the caller keeps ``conn`` and closes its own copy either way.
    """
    send_fd(sender, to, conn.fileno(), encode_handoff(conn_id, remote, secrets, leftover, unsent))


def send_fd(sender: socket.socket, to: bytes, fd: int, text: bytes = b"fd") -> None:
    """Send ``fd`` with SCM_RIGHTS and ``text`` in one datagram to abstract AF_UNIX name ``to``.

    ``sendmsg`` directly: ``socket.send_fds`` ignores its address argument in CPython 3.11.
    Raises OSError; the fd stays open here (the receiver gets its own copy).
    """
    sender.sendmsg([text], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))], 0, to)


MAX_FDS = 4
"""Most fds read from one datagram (more are truncated by the kernel, and refused)."""

_UCRED = struct.Struct("=iII")  # struct ucred: pid, uid, gid
_ANC_SIZE = socket.CMSG_SPACE(MAX_FDS * 4) + socket.CMSG_SPACE(_UCRED.size)


def receive_connection(sock: socket.socket) -> Inbound | None:
    """Read one datagram from the inbox: an :class:`Inbound`, or None if there is none.

    The fd is then ours to close.  Raises :class:`HandoffError` for a datagram that is not from
    this process's uid (SCM_CREDENTIALS, needs the SO_PASSCRED of :func:`inbox`) or is malformed
    (every fd it carried already closed), and OSError for a failing socket.
    """
    try:
        text, anc, flags, _ = sock.recvmsg(MAX_DATAGRAM, _ANC_SIZE)
    except (BlockingIOError, InterruptedError):
        return None
    fds: list[int] = []
    cred = None
    for level, kind, data in anc:
        if level != socket.SOL_SOCKET:
            continue
        if kind == socket.SCM_RIGHTS:
            fds.extend(array.array("i", data[:len(data) - len(data) % 4]))
        elif kind == socket.SCM_CREDENTIALS and len(data) >= _UCRED.size:
            cred = _UCRED.unpack_from(data)
    try:
        me = os.getuid()
        if cred is None or cred[1] != me:
            who = "no credentials" if cred is None else f"uid {cred[1]} (pid {cred[0]})"
            raise HandoffError(f"hand-off datagram from {who} refused: only uid {me} may hand off "
                               f"({len(fds)} fds closed)")
        if len(fds) != 1 or flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
            raise HandoffError(f"malformed hand-off datagram ({len(text)} bytes, {len(fds)} fds)")
        conn_id, remote, secrets, leftover, unsent = decode_handoff(text)
        if not _is_tcp(fds[0]):
            raise HandoffError("hand-off fd is not a TCP socket")
    except (HandoffError, OSError) as exc:
        for fd in fds:
            _close_fd(fd)
        if isinstance(exc, HandoffError):
            raise
        raise HandoffError(f"malformed hand-off datagram: {exc}") from None
    return Inbound(conn_id, remote, fds[0], secrets, leftover, unsent)


def _is_tcp(fd: int) -> bool:
    try:
        probe = socket.socket(fileno=fd)
    except OSError:
        return False  # not a socket at all
    try:
        return probe.type == socket.SOCK_STREAM and probe.family in (socket.AF_INET, socket.AF_INET6)
    finally:
        probe.detach()


def _close_fd(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
