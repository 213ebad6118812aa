"""The selector Thespian's transport loop waits in on every pass, made cheap
(:func:`actors.adapter.thespian_patches.patch_poll_selector` installs it).

:class:`PassSelector` keeps one int per fd and makes one poll(2) call per wait, where
``selectors.PollSelector`` builds a key object and two dict entries per fd in Python, on every
pass, for every one of a Server's ~200 sockets (docs/thespian.md, "poll selector").

An actor may install a watch handler (:func:`set_watch_handler`, used by
:mod:`actors.adapter.watch_shortcut`): while only fds of the actor's watch list are ready,
``select`` hands them to the handler and waits again, so each readiness costs one handler call
instead of a pass of Thespian's loop.  The wait still returns to Thespian when one of its own
sockets is ready, its timeout is over or the handler says so; a pass that also writes and a
wait started inside the handler never use the handler.
"""

from __future__ import annotations

import math
import os
import select
import selectors
import time

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
    list one fd for reading (a stale watch list of an exiting actor) and for writing (a new
    socket that reused the number), and the KeyError killed the exiting actor.  Raises
    ValueError for a negative fd, like the selectors classes.
    """

    def __init__(self):
        self._poll = select.poll()
        self._events: dict[int, int] = {}
        self._writing = False

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
        if new & EVENT_WRITE:
            self._writing = True
        return _Key(fd, new)

    def get_key(self, fileobj) -> _Key:
        fd = _fd(fileobj)
        if fd not in self._events:
            raise KeyError(f"{fileobj!r} is not registered")
        return _Key(fd, self._events[fd])

    def select(self, timeout: float | None = None) -> list[tuple[_Key, int]]:
        """Wait up to ``timeout`` seconds (None: no limit, <= 0: do not wait).

        With a watch handler installed (:func:`set_watch_handler`), readiness of the actor's
        watched fds alone is handed to the handler here, and the wait goes on, until a Thespian
        socket is ready, the handler asks to return or ``timeout`` is over (see the module
        docstring).
        """
        global _in_handler
        handler = _watch_handler
        if handler is None or _in_handler or self._writing:
            return self._ready(self._poll.poll(_ms(timeout)))
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        ms = _ms(timeout)
        while True:
            events = self._poll.poll(ms)
            if not events:
                return []
            fds = [fd for fd, _ in events]
            if not handler.owns(fds):
                return self._ready(events)
            _in_handler = True
            try:
                go_on = handler(fds)
            finally:
                _in_handler = False
            if not go_on:
                return []  # Thespian's loop makes a pass with nothing ready: it sees what changed
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                ms = _ms(left)

    def _ready(self, events) -> list[tuple[_Key, int]]:
        ready = []
        for fd, ev in events:
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


def _ms(timeout: float | None) -> int | None:
    if timeout is None:
        return None
    if timeout <= 0:
        return 0
    return math.ceil(timeout * 1e3)  # as PollSelector: never wake before the timeout


_watch_handler = None
_in_handler = False


def set_watch_handler(handler) -> None:
    """Install ``handler`` for this process (None removes it): an object with ``owns(fds) ->
    bool`` (every fd in the list is one the actor watches) and ``__call__(fds) -> bool`` (handle
    their readiness; False: return to Thespian's loop now)."""
    global _watch_handler
    _watch_handler = handler


def _forget_handler() -> None:
    # a forked child (a new actor) must not call its creator's actor
    global _watch_handler, _in_handler
    _watch_handler = None
    _in_handler = False


os.register_at_fork(after_in_child=_forget_handler)
