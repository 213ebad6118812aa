"""actors/adapter/thespian_patches.py: the cheap ``TCPIncoming_Common.delay`` gives Thespian's result,
children close their creator's incoming sockets, and the poll(2) selector patch is in place in
every process that starts or joins an actor system, an fd listed twice in the loop merges,
actor __init__ arguments are picked as Thespian picks them, and an exiting actor drops the
child it could not reach."""

import selectors
import socket
import time
from datetime import timedelta

import pytest
from thespian.system.timing import ExpirationTimer, currentTime
from thespian.system.transport import TCPTransport as T

from actors.adapter.loop_selector import PassSelector
from actors.adapter import install


@pytest.fixture
def incoming():
    a, b = socket.socketpair()
    yield T.TCPIncomingPersistent(None, a)
    a.close()
    b.close()


def both(inc, ct=None):
    install()
    patched = T.TCPIncoming_Common.delay
    original = patched.__wrapped__  # Thespian's own method
    assert original.__module__.startswith("thespian.")
    return original(inc, ct), patched(inc, ct)


def test_fresh_socket_has_its_expiry_left(incoming):
    ct = currentTime()
    old, new = both(incoming, ct)
    assert old == new
    assert timedelta(minutes=1) < new <= T.MAX_INCOMING_SOCKET_PERIOD


def test_backoff_pause_is_the_shorter_delay(incoming):
    incoming.backoffPause(True)
    ct = currentTime()
    old, new = both(incoming, ct)
    assert old == new
    assert timedelta(0) < new < timedelta(seconds=5)


def test_expired_socket_has_no_delay_left(incoming):
    incoming._expires = ExpirationTimer(timedelta(0))
    time.sleep(0.002)
    old, new = both(incoming)
    assert old == new == timedelta(0)
    assert not new  # callers test "not delay()" to expire the socket


def test_pause_longer_than_expiry_does_not_extend_it(incoming):
    incoming._expires = ExpirationTimer(timedelta(seconds=1))
    incoming._pauseUntil = ExpirationTimer(timedelta(seconds=30))
    ct = currentTime()
    old, new = both(incoming, ct)
    assert old == new
    assert new <= timedelta(seconds=1)


def test_without_current_time_uses_now(incoming):
    old, new = both(incoming)
    assert abs((old - new).total_seconds()) < 0.05


def test_children_close_incoming_sockets_and_sibling_pipes():
    """What a new child closes (childResetFileNumList) includes the creator's incoming Thespian
    sockets and the pipes it keeps for its other child processes, besides Thespian's own list."""
    import multiprocessing

    install()
    a, b = socket.socketpair()

    class FakeTransport:
        _openSockets = {}
        _incomingSockets = {a.fileno(): T.TCPIncomingPersistent(None, a)}

        def protectedFileNumList(self):
            return [b.fileno()]

    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=time.sleep, args=(5,))
    child.start()
    try:
        fds = T.TCPTransport.childResetFileNumList(FakeTransport())
        popen = child._popen
        assert b.fileno() in fds  # Thespian's own list is kept
        assert a.fileno() in fds  # the incoming socket
        assert popen.sentinel in fds  # the sibling's pipe ends (parent_r, parent_w)
        assert len([fd for fd in popen.finalizer._args if fd in fds]) == 2
    finally:
        child.kill()
        child.join(5)
        a.close()
        b.close()


def test_transport_loop_uses_poll_selector():
    install()
    assert T.selectors.DefaultSelector is PassSelector
    # every other name still comes from the real module
    assert T.selectors.EVENT_READ == selectors.EVENT_READ
    assert T.selectors.EVENT_WRITE == selectors.EVENT_WRITE


def test_poll_selector_is_installed_once():
    install()
    shim = T.selectors
    install()
    assert T.selectors is shim
    sel = T.selectors.DefaultSelector()
    try:
        assert isinstance(sel, PassSelector)
    finally:
        sel.close()


def test_fd_registered_for_read_and_write_gets_both_events():
    """Thespian's loop may list one fd for reading (a stale watch) and for writing (a new socket
    that reused the number): the selector merges instead of raising KeyError."""
    install()
    a, b = socket.socketpair()
    sel = T.selectors.DefaultSelector()
    try:
        sel.register(a.fileno(), selectors.EVENT_READ)
        sel.register(a.fileno(), selectors.EVENT_WRITE)
        assert sel.get_key(a.fileno()).events == selectors.EVENT_READ | selectors.EVENT_WRITE
        b.send(b"x")
        ready = dict((key.fd, ev) for key, ev in sel.select(1.0))
        assert ready[a.fileno()] == selectors.EVENT_READ | selectors.EVENT_WRITE
    finally:
        sel.close()
        a.close()
        b.close()


def test_actor_init_args_as_thespian_passes_them():
    """The cheap withPossibleInitArgs.create passes exactly the keywords __init__ names, like
    Thespian's own method, including for classes without a Python __init__."""
    from thespian.system.utilis import withPossibleInitArgs

    class Named:
        def __init__(self, capabilities, *, requirements=None):
            self.got = (capabilities, requirements)

    class Anything:
        def __init__(self, *args, **kwargs):
            self.got = (args, kwargs)

    class NoInit:
        pass

    install()
    make = withPossibleInitArgs(capabilities={"c": 1}, requirements={"r": 2}, other=3)
    assert make.create.__wrapped__.__module__.startswith("thespian.")
    assert make.create(Named).got == ({"c": 1}, {"r": 2})
    assert make.create(Anything).got == ((), {})  # Thespian passes nothing here either
    assert make.create.__wrapped__(make, Anything).got == ((), {})
    assert isinstance(make.create(NoInit), NoInit)


class _ExitingParent:
    """Stands in for Thespian's ActorManager in ``_childInaccessible``: its children and what
    ``_handleChildExited`` was called with."""

    def __init__(self, children):
        self.childAddresses = list(children)
        self.exited = []

    def _handleChildExited(self, addr):
        self.exited.append(addr)
        self.childAddresses.remove(addr)
        return bool(self.childAddresses)


class _Intent:
    def __init__(self, target):
        self.targetAddr = target


def test_unreachable_child_is_the_one_dropped_at_exit():
    from thespian.system.actorManager import ActorManager

    install()
    parent = _ExitingParent(["A", "B", "C"])
    # Thespian's lambda passes its loop variable as it is after the loop: the last child, "C"
    ActorManager._childInaccessible(parent, "C", _Intent("A"))
    assert parent.exited == ["A"] and parent.childAddresses == ["B", "C"]
    # a target no longer among the children (already handled, or readdressed) changes nothing
    ActorManager._childInaccessible(parent, "C", _Intent("dead-letters"))
    assert parent.exited == ["A"] and parent.childAddresses == ["B", "C"]
