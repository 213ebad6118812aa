"""The selector Thespian's transport loop builds on every pass, made cheap (see
:func:`actors.thespian_patches.patch_poll_selector`).

TCPTransport ``_runWithExpiry`` (Thespian 4.0.1) creates a selector, registers every socket it
reads or writes - all of the actor's Thespian sockets: a Server with 100 Peers has ~200 - waits
once, reads the ready fds off the returned keys and closes it, on every pass; an actor makes
several passes per message.  ``selectors.PollSelector`` builds a SelectorKey and two dict
entries per ``register`` in Python; :class:`PassSelector` keeps one int per fd and hands the
work to ``select.poll``.
"""

from __future__ import annotations

import math
import select
import selectors

EVENT_READ = selectors.EVENT_READ
EVENT_WRITE = selectors.EVENT_WRITE


class _Key:
    """What Thespian reads from a ready key: its ``fd``."""

    __slots__ = ("fd", "events")

    def __init__(self, fd: int, events: int):
        self.fd = fd
        self.events = events


def _fd(fileobj) -> int:
    return fileobj if isinstance(fileobj, int) else fileobj.fileno()


class PassSelector:
    """A one-pass poll(2) selector with the part of the ``selectors`` API Thespian's loop uses:
    ``register(fd, events)``, ``select(timeout)`` -> [(key, events)] where ``key.fd`` is the fd,
    ``get_key``, ``close``.

    Events follow ``selectors.PollSelector``: POLLIN -> EVENT_READ, POLLOUT -> EVENT_WRITE, and
    error/hang-up/invalid-fd conditions count as both, masked by what was registered.
    Registering an fd twice merges the events instead of raising KeyError: Thespian's loop can
    list one fd for reading (an actor's watch list still naming an fd it closed - Thespian
    never updates the watch list after ActorExitRequest, actorManager ``_handleOneMessage``)
    and for writing (a new Thespian socket that reused the number); the PollSelector raised
    "KeyError: FD 11 is already registered" there and killed the exiting Server (seen in
    bench/run_all.py).  Raises ValueError for a negative fd, like the selectors classes.
    """

    def __init__(self):
        self._poll = select.poll()
        self._events: dict[int, int] = {}

    def register(self, fileobj, events: int, data=None) -> _Key:
        fd = _fd(fileobj)
        if fd < 0:
            raise ValueError(f"invalid file descriptor {fd}")
        old = self._events.get(fd, 0)
        new = old | events
        mask = (select.POLLIN if new & EVENT_READ else 0) | (select.POLLOUT if new & EVENT_WRITE else 0)
        if old:
            self._poll.modify(fd, mask)
        else:
            self._poll.register(fd, mask)
        self._events[fd] = new
        return _Key(fd, new)

    def get_key(self, fileobj) -> _Key:
        fd = _fd(fileobj)
        if fd not in self._events:
            raise KeyError(f"{fileobj!r} is not registered")
        return _Key(fd, self._events[fd])

    def select(self, timeout: float | None = None) -> list[tuple[_Key, int]]:
        """Wait up to ``timeout`` seconds (None: no limit, <= 0: do not wait)."""
        if timeout is None:
            ms = None
        elif timeout <= 0:
            ms = 0
        else:
            ms = math.ceil(timeout * 1e3)  # as PollSelector: never wake before the timeout
        ready = []
        for fd, ev in self._poll.poll(ms):
            got = 0
            if ev & ~select.POLLOUT:
                got |= EVENT_READ
            if ev & ~select.POLLIN:
                got |= EVENT_WRITE
            registered = self._events.get(fd, 0)
            if got & registered:
                ready.append((_Key(fd, registered), got & registered))
        return ready

    def close(self) -> None:
        self._events.clear()
