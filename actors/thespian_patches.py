"""Local patches to Thespian 4.0.1's TCP transport, applied in the launching process before the
actor system starts (actor processes are forked from it and inherit them).

Two patches: one socket per direction (below) and :func:`patch_poll_selector`.

One socket per direction (found by tests/test_node_traffic.py): Thespian keeps ONE reusable
socket per pair of actors (``_openSockets``, keyed by the remote address) and sends in both
directions on it: the receiver of a message files the incoming socket as the idle socket for
its own sends back (``TCPTransport._finishIncoming``).  While an actor transmits on that socket
it only waits for it to become writable and does not read it.  If both actors of a pair start
sending a message larger than the kernel's socket buffers at the same moment - a Peer handing
an 8 MiB message to its Protocol actor while the Protocol actor hands the Peer an 8 MiB
message to write - both block in the write and neither reads: the pair is deadlocked until
Thespian's transmit timeout (5 minutes), then retries.  The Thespian source says as much
("It's possible that both sides will simultaneously attempt to transmit ... should be rare").

Fix: a socket accepted from a remote stays a receive-only socket (kept in ``_incomingSockets``
and read for further messages) instead of becoming the socket for sends back; each actor
sends on the socket it opened itself.  So every pair uses two sockets, one per direction, and
a transmit never waits on a socket the other side is writing to.  Closing stays Thespian's:
the sender drops its idle socket after ``MAX_IDLE_SOCKET_PERIOD`` (20 min) without a send, and
the receiver then sees EOF and drops its end.  The receiver's own expiry is set a little
longer, so it is the sender - never in the middle of a transmit - that closes first.
"""

from __future__ import annotations

from datetime import timedelta

_applied = False


def patch_one_socket_per_direction() -> None:
    """Apply the patch described in the module docstring (idempotent)."""
    global _applied
    if _applied:
        return
    from thespian.system.transport import TCPTransport as T

    original = T.TCPTransport._addedDataToIncoming
    receive_expiry = T.MAX_IDLE_SOCKET_PERIOD + timedelta(minutes=5)

    def _added_data_to_incoming(self, inc, skipFinish=False, has_exclusive_flag=False):
        if skipFinish or not isinstance(inc, T.TCPIncomingPersistent) or not hasattr(self, "_openSockets"):
            return original(self, inc, skipFinish, has_exclusive_flag)
        # Let Thespian deliver the message and ACK it, but not file the socket for sending.
        pending = original(self, inc, True, has_exclusive_flag)
        if pending is not None:
            return pending  # message incomplete (or a follow-on message on the same socket)
        sock, from_addr = inc.socket, inc.fromAddress
        if sock is None or from_addr is None or not inc.receivedAllData():
            return None  # closed after an error
        for intent in self._transmitIntents.values():
            # as _finishIncoming does: the remote is alive, retry a failed transmit to it now
            if intent.targetAddr == from_addr and intent.stage == self._XMITStepRetry:
                intent.retry(immediately=True)
                break
        # keep reading this socket for the remote's next messages (callers file it under its fd)
        keep = T.TCPIncomingPersistent(from_addr, sock)
        keep._expires = T.ExpirationTimer(receive_expiry)
        return keep

    T.TCPTransport._addedDataToIncoming = _added_data_to_incoming
    _applied = True


class _SelectorsWithPoll:
    """Stands in for the ``selectors`` module inside Thespian's TCPTransport: the same names,
    but ``DefaultSelector`` is ``selectors.PollSelector``."""

    DefaultSelector = None  # set by patch_poll_selector

    def __getattr__(self, name):
        import selectors
        return getattr(selectors, name)


_poll_applied = False


def patch_poll_selector() -> None:
    """Make Thespian's transport loop wait with poll(2) instead of a new epoll instance.

    TCPTransport builds a fresh ``selectors.DefaultSelector()`` on every pass of its loop (its
    own comment: "creates selector on each loop, perhaps this could be optimized").  With
    epoll that is epoll_create1 + one epoll_ctl per socket + epoll_wait + close: 10 system
    calls per pass for a Peer actor's ~7 sockets (seen with strace), and a pass runs for every
    message.  ``PollSelector`` registers in Python and makes one poll(2) call per pass; for the
    few sockets of an actor it costs the same in the kernel.  Idempotent.
    """
    global _poll_applied
    if _poll_applied:
        return
    import selectors

    from thespian.system.transport import TCPTransport as T

    shim = _SelectorsWithPoll()
    shim.DefaultSelector = selectors.PollSelector
    T.selectors = shim
    _poll_applied = True
