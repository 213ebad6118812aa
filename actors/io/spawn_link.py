"""The private line between the Server and its Spawner actor: requests to fork Peers, and the
Spawner's answers.

An AF_UNIX SOCK_SEQPACKET socketpair, made by the Server before it forks the Spawner (which
inherits one end, docs/thespian-facts.md §2).  Each datagram is one typed message of
:mod:`messages.spawner`, pickled, with at most one fd attached (SCM_RIGHTS, unix(7)): the
accepted socket of an inbound connection.  It is as trusted as the Peer <-> Protocol channel
(actors/io/channel.py): both ends are processes of the node and a socketpair has no address.
Why not Thespian's transport: the accepted socket must travel with the request, and no ACK or
transport connection per connection is wanted on this path (docs/performance.md, "Memory").

Sends never block: the socket is non-blocking, and a full buffer raises :class:`LinkFull`
(each request is small; the buffer holds hundreds of them).  End of stream means the other
process is gone.
"""

from __future__ import annotations

import os
import pickle
import socket

from .channel import prepare_local_socket

MAX_DATAGRAM = 65536
"""Largest datagram, bytes: a pickled PeerStartInbound without its config is ~1-18 KiB (its
leftover read, at most 8 KiB, and the MAC seeds, actors/io/fd_handoff.py ``MAX_DATAGRAM``)."""

SOCKET_BUFFER = 1 << 20
"""SO_SNDBUF / SO_RCVBUF asked for each end, bytes."""


class LinkClosed(ConnectionError):
    """The other end is gone (end of stream, or a reset)."""


class LinkFull(BlockingIOError):
    """The socket's buffer is full: the datagram was not sent."""


def pair() -> tuple[socket.socket, socket.socket]:
    """A non-blocking SOCK_SEQPACKET socketpair: (the Server's end, the Spawner's end)."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    for s in (a, b):
        prepare_local_socket(s, SOCKET_BUFFER)
    return a, b


def send(sock: socket.socket, msg, fd: int | None = None) -> None:
    """Send ``msg`` (picklable) as one datagram, with ``fd`` attached if given (the receiver gets
    its own copy; the caller still owns ``fd``).  Raises LinkFull, LinkClosed, or ValueError for
    a message larger than :data:`MAX_DATAGRAM`."""
    data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    if len(data) > MAX_DATAGRAM:
        raise ValueError(f"spawn link message of {len(data)} bytes > {MAX_DATAGRAM}")
    try:
        if fd is None:
            sock.send(data)
        else:
            socket.send_fds(sock, [data], [fd])
    except BlockingIOError as exc:
        raise LinkFull(str(exc)) from exc
    except (BrokenPipeError, ConnectionResetError) as exc:
        raise LinkClosed(str(exc)) from exc


def receive(sock: socket.socket) -> list[tuple[object, int | None]]:
    """Every datagram waiting on ``sock``: ``(message, fd or None)`` in order; the caller owns
    each fd.  Raises LinkClosed at end of stream, after the datagrams read before it (those are
    returned by the call before)."""
    out = []
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(sock, MAX_DATAGRAM, 1)
        except BlockingIOError:
            return out
        except ConnectionResetError as exc:
            if out:
                return out
            raise LinkClosed(str(exc)) from exc
        if not data and not fds:
            if out:
                return out
            raise LinkClosed("end of stream")
        for extra in fds[1:]:
            try:
                os.close(extra)
            except OSError:
                pass
        out.append((pickle.loads(data), fds[0] if fds else None))

