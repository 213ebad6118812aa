"""Patches to private methods of Thespian 4.0.1, one function each, applied only by
:func:`actors.adapter.install` in the launching process before the actor system starts (actor
processes are forked from it and inherit them).  Every function is idempotent and keeps
Thespian's original as ``__wrapped__``; docs/thespian.md gives each one's reason, test and
what would let it go.
"""

from __future__ import annotations

import os
import selectors


class _SelectorsWithPoll:
    """Stands in for the ``selectors`` module inside Thespian's TCPTransport: the same names,
    but ``DefaultSelector`` is :class:`actors.adapter.loop_selector.PassSelector`."""

    DefaultSelector = None  # set by patch_poll_selector
    EVENT_READ = selectors.EVENT_READ  # read on every pass: no __getattr__ detour for these
    EVENT_WRITE = selectors.EVENT_WRITE

    def __getattr__(self, name):
        return getattr(selectors, name)


_poll_applied = False


def patch_poll_selector() -> None:
    """Make Thespian's transport loop wait in a
    :class:`actors.adapter.loop_selector.PassSelector` (one poll(2) call per pass) instead of a
    new epoll selector per pass.

    Replaces the module global ``thespian.system.transport.TCPTransport.selectors`` with a shim
    whose ``DefaultSelector`` is PassSelector.  Why: a new epoll instance costs ~10 system calls
    per pass for a Peer's ~7 sockets, and an actor makes a pass per message (docs/thespian.md,
    "poll selector").
    """
    global _poll_applied
    if _poll_applied:
        return
    from thespian.system.transport import TCPTransport as T

    from .loop_selector import PassSelector

    shim = _SelectorsWithPoll()
    shim.DefaultSelector = PassSelector
    T.selectors = shim
    _poll_applied = True


_delay_applied = False


def patch_cheap_incoming_delay() -> None:
    """Compute ``TCPIncoming_Common.delay`` with float arithmetic.

    Same result as Thespian's method: the smaller of the time left on the socket's expiry timer
    and on its back-off pause, as a timedelta, never negative; timers without a deadline fall
    back to the original.  Why: Thespian's takes ~8 µs and runs twice per loop pass for every
    incoming socket, ~30 % of the Server's CPU with 100 Peers (docs/thespian.md, "cheap delay").
    """
    global _delay_applied
    if _delay_applied:
        return
    from datetime import timedelta

    from thespian.system.timing import currentTime
    from thespian.system.transport import TCPTransport as T

    original = T.TCPIncoming_Common.delay
    zero = timedelta(0)

    def delay(self, current_time=None):
        end = self._expires._time_to_quit
        pause = self.__dict__.get("_pauseUntil")
        if pause is not None:
            pend = pause._time_to_quit
            if end is None or pend is None:
                return original(self, current_time)
            if pend < end:
                end = pend
        elif end is None:
            return original(self, current_time)
        left = end - (current_time or currentTime())
        return timedelta(seconds=left) if left > 0 else zero

    delay.__wrapped__ = original  # for tests/unit/test_thespian_patches.py
    T.TCPIncoming_Common.delay = delay
    _delay_applied = True


_child_close_applied = False


def patch_children_close_incoming_sockets() -> None:
    """Make a newly forked child actor also close its creator's incoming Thespian sockets, the
    pipes its creator keeps for its other child processes, and the fds registered with
    :func:`actors.io.fd_handoff.hold`.

    Wraps ``TCPTransport.childResetFileNumList`` (the fds Thespian's ``startChild`` closes in a
    new child).  Why: Thespian closes only its listening and idle sockets there, so every child
    held copies of its siblings' connections and pipes, which keep a connection open after its
    Peer closed it (docs/thespian.md, "children close inherited fds").
    """
    global _child_close_applied
    if _child_close_applied:
        return
    from thespian.system.transport import TCPTransport as T

    from multiprocessing import util as mp_util

    from ..io.fd_handoff import held_fds

    original = T.TCPTransport.childResetFileNumList

    def child_reset_file_num_list(self):
        fds = list(original(self))
        fds.extend(fd for fd in held_fds() if fd not in fds)
        me = os.getpid()
        for fin in list(mp_util._finalizer_registry.values()):
            if getattr(fin, "_callback", None) is mp_util.close_fds and getattr(fin, "_pid", None) == me:
                fds.extend(fd for fd in fin._args if isinstance(fd, int) and fd >= 0 and fd not in fds)
        for inc in list(getattr(self, "_incomingSockets", {}).values()):
            sock = getattr(inc, "socket", None)
            try:
                fd = sock.fileno() if sock is not None else -1
            except OSError:
                fd = -1
            if fd >= 0 and fd not in fds:
                fds.append(fd)
        return fds

    child_reset_file_num_list.__wrapped__ = original
    T.TCPTransport.childResetFileNumList = child_reset_file_num_list
    _child_close_applied = True


def patch_setproctitle_import() -> None:
    """Make the ``import setproctitle`` Thespian tries in every new actor process fail at once
    when the optional package is absent (a ``None`` entry in ``sys.modules``; nothing changes
    when it is installed).  Idempotent.

    Why: each failing attempt searches ``sys.path`` again and writes ~330 KiB of pages the child
    shared with its creator (docs/thespian.md, "setproctitle import").
    """
    import importlib.util
    import sys

    if "setproctitle" not in sys.modules and importlib.util.find_spec("setproctitle") is None:
        sys.modules["setproctitle"] = None


_init_args_applied = False


def patch_cheap_actor_init_args() -> None:
    """Let Thespian pick an actor's ``__init__`` keyword arguments (``capabilities``,
    ``requirements``) from ``__init__.__code__`` instead of through ``inspect``.

    Replaces ``thespian.system.utilis.withPossibleInitArgs.create``; same result (the keywords
    ``__init__`` names), and an ``__init__`` without a code object goes to the original.  Why:
    Thespian's detour through three ``inspect`` calls writes ~700 KiB of shared pages in every
    new actor process (docs/thespian.md, "actor init args").
    """
    global _init_args_applied
    if _init_args_applied:
        return
    from thespian.system import utilis

    original = utilis.withPossibleInitArgs.create

    def create(self, klass):
        code = getattr(getattr(klass, "__init__", None), "__code__", None)
        if code is None:
            return original(self, klass)
        names = code.co_varnames[1:code.co_argcount + code.co_kwonlyargcount]  # [0] is self
        return klass(**{k: v for k, v in self.kwargs.items() if k in names})

    create.__wrapped__ = original
    utilis.withPossibleInitArgs.create = create
    _init_args_applied = True


_inaccessible_applied = False


def patch_child_inaccessible() -> None:
    """Make an exiting actor drop the child its ActorExitRequest could not reach, not its last
    child.

    Replaces ``ActorManager._childInaccessible(childAddress, exitRequestIntent)``: the child is
    taken from the failed intent's ``targetAddr``.  Why: Thespian's callback lambda in
    ``_shutdownActor`` binds its loop variable late, so a child that died during its parent's
    exit stayed listed and the parent never exited (docs/thespian.md, "unreachable child").
    """
    global _inaccessible_applied
    if _inaccessible_applied:
        return
    from thespian.system.actorManager import ActorManager

    original = ActorManager._childInaccessible

    def child_inaccessible(self, childAddress, exitRequestIntent):
        target = getattr(exitRequestIntent, "targetAddr", None)
        if target is None:
            return original(self, childAddress, exitRequestIntent)
        if target in self.childAddresses:
            return self._handleChildExited(target)
        return True

    child_inaccessible.__wrapped__ = original
    ActorManager._childInaccessible = child_inaccessible
    _inaccessible_applied = True


_run_headroom_applied = False


def patch_actor_run_headroom() -> None:
    """Run every actor process's message loop through
    :func:`actors.adapter.frame_stack.run_with_headroom`.

    Wraps ``ActorManager.run`` (called in each new actor process; returns when the actor
    exits).  Why: on CPython 3.11 a loop that calls across a frame-stack chunk boundary pays an
    mmap and a munmap per call (gh-142183), 6 of each per message in a Protocol actor
    (docs/thespian.md, "frame-stack headroom").
    """
    global _run_headroom_applied
    if _run_headroom_applied:
        return
    from thespian.system.actorManager import ActorManager

    from .frame_stack import run_with_headroom

    original = ActorManager.run

    def run(self):
        return run_with_headroom(original, self)

    run.__wrapped__ = original
    ActorManager.run = run
    _run_headroom_applied = True


DRAIN_TRANSMIT_SLICE_S = 0.05
"""Seconds an exiting actor waits for its last transmits before it accepts the connections
opened to it meanwhile (:func:`patch_drain_accepts_incoming`)."""

DRAIN_ACCEPT_SLICE_S = 0.005
"""Seconds of each pass in which the exiting actor accepts, ACKs and drops incoming messages."""

_drain_accepts_applied = False


def patch_drain_accepts_incoming() -> None:
    """Let an exiting actor ACK (and drop) messages sent to it while it waits for the ACKs of
    its own last messages.

    Replaces ``systemCommonBase.drainTransmits``: it waits for its transmits in slices of
    :data:`DRAIN_TRANSMIT_SLICE_S` and, while some are pending, accepts incoming connections for
    :data:`DRAIN_ACCEPT_SLICE_S` between slices, within Thespian's overall limit
    ``MAX_SHUTDOWN_DRAIN_PERIOD`` (7 s); watched fds are forgotten first.  Why: Thespian's drain
    accepts no new connection, so two actors exiting towards each other held each other for the
    full 7 s (docs/thespian.md, "drain accepts").
    """
    global _drain_accepts_applied
    if _drain_accepts_applied:
        return
    from datetime import timedelta

    from thespian.system import systemCommon
    from thespian.system.timing import ExpirationTimer
    from thespian.system.transport import TransmitOnly

    from . import loop_selector

    original = systemCommon.systemCommonBase.drainTransmits

    def drop(_envelope):
        return True  # keep going: the actor has exited, what arrives is ACKed and dropped

    def drain_transmits(self):
        transport = self.transport
        if hasattr(transport, "_watches"):
            transport._watches = []
        loop_selector.set_watch_handler(None)
        limit = ExpirationTimer(systemCommon.MAX_SHUTDOWN_DRAIN_PERIOD)
        while not limit.view().expired():
            slice_s = min(DRAIN_TRANSMIT_SLICE_S, limit.view().remainingSeconds())
            if not transport.run(TransmitOnly, timedelta(seconds=slice_s)):
                return  # no transmits left
            transport.run(drop, timedelta(seconds=DRAIN_ACCEPT_SLICE_S))

    drain_transmits.__wrapped__ = original
    systemCommon.systemCommonBase.drainTransmits = drain_transmits
    _drain_accepts_applied = True


_fork_start_applied = False


def patch_fork_start_message() -> None:
    """Queue the start message a new actor inherited from its creator
    (:mod:`actors.adapter.fork_start`) as its first message, from its parent's address.

    Wraps ``ActorManager._createInstance`` (called in the new actor process before its loop
    starts): the message goes to the front of the transport's ``_incomingEnvelopes``.  Why: one
    Thespian message, connection, ACK and wake-up fewer per new Peer and Protocol actor
    (docs/thespian.md, "fork start").
    """
    global _fork_start_applied
    if _fork_start_applied:
        return
    from thespian.system.actorManager import ActorManager
    from thespian.system.transport import ReceiveEnvelope

    from . import fork_start

    original = ActorManager._createInstance

    def create_instance(self):
        original(self)
        start = fork_start.take_pending()
        if start is not None and self.actorInst is not None:
            self.transport._incomingEnvelopes.insert(0, ReceiveEnvelope(self._parentAddr, start))

    create_instance.__wrapped__ = original
    ActorManager._createInstance = create_instance
    fork_start._delivering = True
    _fork_start_applied = True


_bind_host: str | None = None


def patch_bind_host(host: str) -> None:
    """Make every Thespian socket created from now on in this process (and the actor processes
    forked from it) bind to ``host`` (an IP address) instead of all interfaces, and set
    ``THESPIAN_BASE_IPADDR`` to it.

    Replaces the property ``IPBase.IPActorAddress.bindArgs``: an address whose bind name has
    the empty host ("" = all interfaces) binds to ``host``; others are unchanged.  A later call
    changes the host.  Why: Thespian binds every actor socket to all interfaces and unpickles
    what arrives, so whoever reaches a port runs code (docs/thespian.md, "bind host";
    README.md, "Security").
    """
    global _bind_host
    os.environ["THESPIAN_BASE_IPADDR"] = host
    if _bind_host is None:
        from thespian.system.transport import IPBase

        original = IPBase.IPActorAddress.bindArgs

        def bind_args(self):
            name = self.bindname
            if name and name[0] == "" and _bind_host:
                return ((_bind_host,) + tuple(name[1:]),)
            return (name,)

        bind_args.__wrapped__ = original.fget
        IPBase.IPActorAddress.bindArgs = property(bind_args)
    _bind_host = host
