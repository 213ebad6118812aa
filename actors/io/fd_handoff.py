"""Handing accepted TCP sockets from the Listener to the Server, which forks their Peers.

An inbound connection's socket goes, with SCM_RIGHTS, over the Server's *inbound hand-off
socket* (an abstract-namespace AF_UNIX datagram socket, docs/thespian-facts.md §2b), in the same
datagram as the connection's ``conn_id`` and remote address.  The Server then forks the Peer
actor while it holds the socket, so the Peer inherits it.  Why: no Thespian message or
transport connection per connection for the socket (docs/performance.md).

No fd may leak into the creating process's other children (a copy held elsewhere keeps a
connection open after its Peer closed it): :func:`hold` registers an fd (the hand-off socket
itself), :func:`release` removes it, and every new child closes the registered ones
(docs/thespian.md, "children close inherited fds").  An inbound socket the Server forks a new
Peer for is never registered: that child is meant to inherit it.

Datagram: ASCII ``"<conn_id> <host> <port>"`` and exactly one fd.  Anything else (a local
process can write to an abstract socket) is refused: its fds are closed, one log line.
"""

from __future__ import annotations

import array
import os
import socket
import uuid

MAX_DATAGRAM = 256
"""Bytes of the text part we accept (conn_id, host, port)."""

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
    """A datagram on the hand-off socket is not ``conn_id host port`` with one TCP socket."""


def inbox() -> tuple[socket.socket, bytes]:
    """Create a non-blocking AF_UNIX datagram socket bound to a fresh abstract name.

    Returns (socket, name); the socket is registered with :func:`hold`.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = b"\0devp2p-inbound-" + uuid.uuid4().hex.encode()
    sock.bind(name)
    sock.setblocking(False)
    hold(sock.fileno())
    return sock, name


def send_connection(sender: socket.socket, to: bytes, conn: socket.socket, conn_id: str, remote: tuple) -> None:
    """Send ``conn``'s fd with ``conn_id`` and ``remote`` (host, port) to the inbox ``to``.

    Raises OSError (e.g. BlockingIOError if the inbox queue is full); the caller keeps ``conn``
    and closes its own copy either way.
    """
    send_fd(sender, to, conn.fileno(), f"{conn_id} {remote[0]} {int(remote[1])}".encode("ascii"))


def send_fd(sender: socket.socket, to: bytes, fd: int, text: bytes = b"fd") -> None:
    """Send ``fd`` with SCM_RIGHTS and ``text`` in one datagram to abstract AF_UNIX name ``to``.

    ``sendmsg`` directly: ``socket.send_fds`` ignores its address argument in CPython 3.11.
    Raises OSError; the fd stays open here (the receiver gets its own copy).
    """
    sender.sendmsg([text], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))], 0, to)


def receive_connection(sock: socket.socket) -> tuple[str, tuple[str, int], int] | None:
    """Read one datagram from the inbox: (conn_id, (host, port), fd), or None if there is none.

    The fd is then ours to close.  Raises :class:`HandoffError` for a malformed datagram (every
    fd it carried already closed) and OSError for a failing socket.
    """
    try:
        text, fds, flags, _ = socket.recv_fds(sock, MAX_DATAGRAM, 4)
    except (BlockingIOError, InterruptedError):
        return None
    try:
        parts = text.decode("ascii").split(" ")
        if len(fds) != 1 or flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or len(parts) != 3:
            raise HandoffError(f"malformed hand-off datagram ({len(text)} bytes, {len(fds)} fds)")
        conn_id, host, port = parts[0], parts[1], int(parts[2])
        if not _is_tcp(fds[0]):
            raise HandoffError("hand-off fd is not a TCP socket")
    except (UnicodeDecodeError, ValueError, OSError) as exc:
        for fd in fds:
            _close_fd(fd)
        if isinstance(exc, HandoffError):
            raise
        raise HandoffError(f"malformed hand-off datagram: {exc}") from None
    return conn_id, (host, port), fds[0]


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
