"""actors/adapter/loop_selector.py: PassSelector reports what selectors.PollSelector reports for the
calls Thespian's transport loop makes (read, write, both, closed fd, timeouts)."""

from __future__ import annotations

import os
import selectors
import socket

import pytest

from actors.adapter.loop_selector import PassSelector

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


def ready(sel, timeout=0.0) -> dict[int, int]:
    return {key.fd: ev for key, ev in sel.select(timeout)}


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


@pytest.mark.parametrize("cls", [PassSelector, selectors.PollSelector])
def test_same_events_as_poll_selector(cls, pair):
    a, b = pair
    sel = cls()
    try:
        sel.register(a.fileno(), READ)
        sel.register(b.fileno(), WRITE)
        assert ready(sel) == {b.fileno(): WRITE}  # nothing to read yet; b can be written
        b.send(b"x")
        assert ready(sel) == {a.fileno(): READ, b.fileno(): WRITE}
    finally:
        sel.close()


def test_fd_closed_by_the_other_end_reads_as_ready(pair):
    a, b = pair
    sel = PassSelector()
    sel.register(a.fileno(), READ)
    b.close()
    assert ready(sel) == {a.fileno(): READ}  # EOF: reading tells


def test_invalid_fd_is_reported_not_raised():
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    sel = PassSelector()
    sel.register(r, READ)  # closed meanwhile (a stale watch): poll says POLLNVAL
    assert ready(sel) == {r: READ}
    with pytest.raises(ValueError):
        sel.register(-1, READ)


def test_registering_twice_merges(pair):
    a, b = pair
    sel = PassSelector()
    sel.register(a, READ)  # objects with fileno() work as well
    sel.register(a.fileno(), WRITE)
    assert sel.get_key(a).events == READ | WRITE
    assert ready(sel) == {a.fileno(): WRITE}
    with pytest.raises(KeyError):
        sel.get_key(b)


def test_timeout_waits_and_none_ready_gives_empty(pair):
    import time

    a, _ = pair
    sel = PassSelector()
    sel.register(a.fileno(), READ)
    t0 = time.monotonic()
    assert sel.select(0.05) == []
    assert time.monotonic() - t0 >= 0.04
