"""The data path between a Peer actor and one of its Protocol actors: a private message stream.

The Peer makes an AF_UNIX stream socketpair before it forks a Protocol actor (``createActor``
forks, docs/thespian-facts.md §2: the child inherits the fd), keeps one end and tells the child
the number of the other in :class:`messages.protocol.ProtocolStart`.  Both stay ordinary
Thespian actors (created, supervised and stopped by Thespian); only the hot messages
(ToProtocol, FromProtocol, OutboundCredit, ProtocolStop, protocol events and info) travel here,
in order, as the same typed messages, each pickled and prefixed with its length (4 bytes,
big-endian).  The channel is as trusted as Thespian's own transport, which also unpickles: both
ends are processes of the same node, and a socketpair has no address anyone else can reach.
Why not Thespian's transport: it ACKs every message, one in flight per pair of actors (~0.25-0.5
ms per hop), and this hop is crossed twice per subprotocol round trip (docs/performance.md).

Writes never block an actor (docs/architecture.md: a blocking write between two busy actors can
deadlock): :meth:`Channel.send` queues and writes what the socket takes; the owner calls
:meth:`Channel.flush` again on a timer while :attr:`Channel.pending` is non-zero.  End of
stream means the other process is gone.
"""

from __future__ import annotations

import pickle
import socket
from collections import deque

from .reading import read_available, receive_buffer

LENGTH_BYTES = 4
"""Size of each message's length prefix (big-endian), bytes."""

READ_CHUNK = 1 << 20
"""Bytes asked of one ``recv`` call."""

READ_MAX = 8 << 20
"""Bytes read per readiness event before the decoded messages are handed over."""

WRITE_CHUNK = 4 << 20
"""Bytes offered to one ``send`` call."""

SOCKET_BUFFER = 4 << 20
"""SO_SNDBUF/SO_RCVBUF asked for each end, bytes (the kernel caps it at net.core.wmem_max /
rmem_max; the default, ~200 KiB, would let a 4 MiB batch through one buffer per flush)."""


class ChannelClosed(OSError):
    """The other end of the channel is gone (write to a closed socket)."""


def prepare_local_socket(sock: socket.socket, buffer_bytes: int) -> None:
    """Make ``sock`` (one end of a socketpair) non-blocking and ask for ``buffer_bytes`` of send
    and receive buffer (the kernel may give less; a refusal is ignored)."""
    sock.setblocking(False)
    for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, buffer_bytes)
        except OSError:
            pass


class Channel:
    """One end of a Peer <-> Protocol message stream over a non-blocking AF_UNIX socket.

    :meth:`send` queues one picklable message; :meth:`receive` returns the messages that
    arrived (in order) and whether the other end closed.  Not thread-safe (actors are not
    threaded).
    """

    __slots__ = ("sock", "_out", "_pending", "_in", "closed", "_rview")

    def __init__(self, sock: socket.socket):
        prepare_local_socket(sock, SOCKET_BUFFER)
        self.sock = sock
        self._out: deque = deque()  # memoryviews still to write (no copying of what is left)
        self._pending = 0
        self._in = bytearray()
        self.closed = False
        self._rview = None  # receive buffer (actors/io/reading.py), made on first use

    @classmethod
    def pair(cls) -> tuple["Channel", socket.socket]:
        """A new socketpair: (our end as a Channel, the child's end as a raw socket).

        The caller forks the child (``createActor``), passes ``child.fileno()`` in the start
        message and then closes ``child`` in its own process.
        """
        ours, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        return cls(ours), child

    @classmethod
    def adopt(cls, fd: int) -> "Channel":
        """The child's side: wrap the inherited file descriptor ``fd``."""
        return cls(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=fd))

    def fileno(self) -> int:
        """The socket's fd (for ThespianWatch), -1 once closed."""
        return -1 if self.closed else self.sock.fileno()

    @property
    def pending(self) -> int:
        """Bytes queued but not yet written."""
        return self._pending

    def send(self, msg) -> None:
        """Queue ``msg`` (any picklable object) and write as much as the socket takes.

        Raises :class:`ChannelClosed` when the other end is gone and ``pickle.PicklingError``
        (or TypeError) for an unpicklable message.
        """
        if self.closed:
            raise ChannelClosed("channel closed")
        data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        self._out.append(memoryview(len(data).to_bytes(LENGTH_BYTES, "big") + data))
        self._pending += LENGTH_BYTES + len(data)
        self.flush()

    def flush(self) -> int:
        """Write queued bytes until the socket would block; returns the bytes still queued.

        Raises :class:`ChannelClosed` when the other end is gone (EPIPE, ECONNRESET).
        """
        out = self._out
        while out and not self.closed:
            head = out[0]
            try:
                n = self.sock.send(head[:WRITE_CHUNK])
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                out.clear()
                self._pending = 0
                raise ChannelClosed(str(exc)) from exc
            self._pending -= n
            if n < len(head):
                out[0] = head[n:]
            else:
                out.popleft()
        return self._pending

    def receive(self) -> tuple[list, bool]:
        """Read what is available: (messages in arrival order, True if the other end closed).

        Reads at most READ_MAX bytes per call; a partial message stays buffered for the next.
        """
        buf = self._in
        if self._rview is None:
            self._rview = receive_buffer(READ_CHUNK)
        _, eof, error = read_available(self.sock, self._rview, READ_MAX, buf.extend)
        eof = eof or error is not None
        msgs = []
        pos, end = 0, len(buf)
        while end - pos >= LENGTH_BYTES:
            size = int.from_bytes(buf[pos:pos + LENGTH_BYTES], "big")
            if end - pos - LENGTH_BYTES < size:
                break
            start = pos + LENGTH_BYTES
            msgs.append(pickle.loads(memoryview(buf)[start:start + size]))
            pos = start + size
        if pos:
            del buf[:pos]
        return msgs, eof

    def close(self) -> None:
        """Close our end (the other side then reads end of stream).  Idempotent."""
        if not self.closed:
            self.closed = True
            self._out.clear()
            self._pending = 0
            try:
                self.sock.close()
            except OSError:
                pass


__all__ = ["Channel", "ChannelClosed", "LENGTH_BYTES", "prepare_local_socket"]
