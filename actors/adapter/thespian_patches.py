"""Local patches to Thespian 4.0.1, applied in the launching process before the actor system
starts (actor processes are forked from it and inherit them): :func:`patch_poll_selector`,
:func:`patch_cheap_incoming_delay`, :func:`patch_children_close_incoming_sockets`,
:func:`patch_setproctitle_import`, :func:`patch_cheap_actor_init_args`,
:func:`patch_child_inaccessible`, :func:`patch_actor_run_headroom`,
:func:`patch_drain_accepts_incoming` and :func:`patch_fork_start_message`.

No longer applied: "one socket per direction".  Thespian keeps one socket per pair of actors
and sends both ways on it; if both actors start a message larger than the socket buffers at
the same moment, both block in the write and the pair deadlocks until Thespian's 5-minute
transmit timeout (found by tests/test_node_traffic.py with 8 MiB each way between a Peer and
its Protocol actor).  The patch kept accepted sockets receive-only, so each pair used two.
Since the Peer <-> Protocol data path left Thespian's transport (actors/io/channel.py), no pair of
actors sends large messages through Thespian in both directions (Server <-> Peer and Peer <->
Protocol actor exchange small control messages only), and the patch only doubled every
actor's sockets - each pass of Thespian's loop walks all of them - and cost a TCP connection
per child for the first message to it.  Measured without it (bench/profile_burst.py,
alternating runs): Server CPU in the 100-client burst -27 % (median 2.08 -> 1.52 s), rate
31 -> 39 hs/s; the 8 MiB both-ways test passes over the channels.  Data between actors must
keep to the channels (or another path of their own), not Thespian messages.
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
    """Make Thespian's transport loop wait with poll(2) instead of a new epoll instance.

    TCPTransport builds a fresh ``selectors.DefaultSelector()`` on every pass of its loop (its
    own comment: "creates selector on each loop, perhaps this could be optimized").  With
    epoll that is epoll_create1 + one epoll_ctl per socket + epoll_wait + close: 10 system
    calls per pass for a Peer actor's ~7 sockets (seen with strace), and a pass runs for every
    message.  :class:`actors.adapter.loop_selector.PassSelector` makes one poll(2) call per pass and
    keeps its per-fd bookkeeping to one int (``selectors.PollSelector`` built a key object and
    two dict entries per fd in Python: with a Server's ~200 sockets, a large share of every
    pass).  It also merges an fd registered twice instead of raising KeyError.  Idempotent.
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
    """Compute ``TCPIncoming_Common.delay`` with float arithmetic (idempotent).

    Why (bench/profile_burst.py, 100-client burst): the transport loop of every actor evaluates
    ``delay()`` of every incoming socket it keeps, twice per loop iteration
    (``TCPTransport._runWithExpiry``: the select timeout, then ``_handlePossibleIncoming(.., -1)``
    to expire idle sockets).  The Server and the Listener keep one incoming socket per Peer that
    has sent them a message (kept 25 min, see the patch above), so each of their loop iterations
    costs O(number of Peers), and Thespian's ``delay()`` builds two ExpirationTimerViews and three
    timedeltas per call (~8 us here).  With 100 Peers this was ~70 % of the Listener's CPU and
    ~30 % of the Server's during the burst.

    Same result as Thespian 4.0.1's ``delay()`` (TCPTransport.py, ``TCPIncoming_Common``): the
    smaller of the time left on the socket's expiry timer and on its back-off pause, as a
    timedelta, never negative.  Timers without a deadline fall back to the original method.
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

    delay.__wrapped__ = original  # for tests/test_thespian_patches.py
    T.TCPIncoming_Common.delay = delay
    _delay_applied = True


_child_close_applied = False


def patch_children_close_incoming_sockets() -> None:
    """A forked child actor also closes its creator's *incoming* Thespian sockets and its
    siblings' process pipes (idempotent).

    Thespian 4.0.1 (multiprocCommon ``startChild``) closes in a new child the fds its creator's
    transport lists in ``TCPTransport.childResetFileNumList()``: the listening socket and the
    idle sockets of ``_openSockets``.  Sockets accepted from remotes that are kept for reading
    (``_incomingSockets``) are not on that list, so every child inherited a copy of each (with
    the one-socket-per-direction patch of that time, a Peer forked by a Server with 100 Peers
    held ~100 of the Server's sockets, and a Listener restarted after the Server had started
    its pool of idle Peers held one per pooled Peer: tests/test_supervision.py counts fds
    across restarts).
    Likewise the two pipe ends the creator keeps per live child process (multiprocessing
    popen_fork ``Popen._launch``: the sentinel and the parent-alive pipe, registered as a
    ``util.Finalize(.., util.close_fds, (parent_r, parent_w))``): each child inherited two per
    sibling.  A child never uses its siblings' pipes (Thespian checks its own children with
    ``is_alive()``, i.e. waitpid).  Closing them in the child only drops the child's copies; the
    creator keeps its own.

    Also closed: the fds the creator registered with :func:`actors.io.fd_handoff.hold` (the
    Server's inbound hand-off socket and accepted sockets meant for other Peers).
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
    """Make Thespian's per-child ``import setproctitle`` cheap when the package is absent
    (idempotent; nothing changes when it is installed).

    Thespian 4.0.1 (system/utilis.py ``setProcName``) tries ``from setproctitle import
    setproctitle`` in every new actor process.  When the optional package is not installed, each
    attempt searches ``sys.path`` again, and that writes ~330 KiB of pages the child shared with
    its creator (measured with /proc/self/smaps_rollup in a forked child; ~56 KiB with this
    patch).  A ``None`` entry in ``sys.modules`` makes the import fail at once with the same
    ImportError, which Thespian ignores as before.
    """
    import importlib.util
    import sys

    if "setproctitle" not in sys.modules and importlib.util.find_spec("setproctitle") is None:
        sys.modules["setproctitle"] = None


_init_args_applied = False


def patch_cheap_actor_init_args() -> None:
    """Let Thespian pick an actor's ``__init__`` arguments from its code object (idempotent).

    Thespian 4.0.1 creates every actor with ``withPossibleInitArgs(capabilities=...,
    requirements=...).create(cls)`` (thespian/system/utilis.py), which passes those of the two
    keywords that ``cls.__init__`` names.  To find the names it iterates
    ``inspect.signature(...).parameters`` - the keys, strings, so ``P.name`` raises
    AttributeError - then tries ``inspect.getargspec`` (gone in Python 3.11: AttributeError
    again) and finally ``inspect.getfullargspec``.  In a freshly forked actor process that
    detour writes ~700 KiB of pages it shared with its creator (plain construction: ~190 KiB;
    measured with /proc/self/smaps_rollup), twice per connection (Peer, Protocol actor).

    Same result, read from ``__init__.__code__`` (positional and keyword-only parameter names);
    an ``__init__`` without a code object (a C slot, e.g. ``object.__init__``) goes to
    Thespian's own method.
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
    """Make an exiting actor drop the child it could not reach, not the last one (idempotent).

    Thespian 4.0.1 (actorManager ``_shutdownActor``) sends ActorExitRequest to each child with
    ``onError=lambda r, m: self._childInaccessible(each, m)``: the lambda reads ``each`` when
    the send fails, after the loop, so it is the *last* child, whichever failed.  A child that
    died while its parent was exiting (a Peer SIGKILLed during shutdown, or one that exited at
    that moment) then stays in the parent's child list - the parent waits for its
    ChildActorExited forever and the ActorSystem's shutdown leaves processes behind - and a
    live child is dropped instead.  The callback's second argument is the failed
    TransmitIntent; its ``targetAddr`` is the child that could not be reached.  A target that
    is no longer a child (already handled, or readdressed to dead letters) needs nothing.
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
    """Run every actor process's message loop with frame-stack room (idempotent).

    ``ActorManager.run`` (Thespian 4.0.1, called by ``startChild`` in each forked actor
    process and returning when the actor exits) goes through
    :func:`actors.adapter.frame_stack.run_with_headroom`, so the loop and its handlers, which stay well
    inside the ~64 KiB of room, never call across a CPython 3.11 frame-stack chunk boundary -
    an mmap and a munmap per crossing call (CPython gh-142183; measured in a Protocol actor: 6
    of each per message).
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
"""Seconds an exiting actor waits for its last transmits to complete before it accepts the
connections opened to it meanwhile (:func:`patch_drain_accepts_incoming`)."""

DRAIN_ACCEPT_SLICE_S = 0.005
"""Seconds of each pass in which the exiting actor accepts and ACKs incoming messages."""

_drain_accepts_applied = False


def patch_drain_accepts_incoming() -> None:
    """Let an exiting actor ACK messages sent to it while it drains its own (idempotent).

    After its loop ends, Thespian 4.0.1 (``systemCommonBase.drainTransmits``, called from
    ``ActorManager.run``) waits up to MAX_SHUTDOWN_DRAIN_PERIOD = 7 s for the ACKs of the
    messages the actor still has in flight - typically its ChildActorExited to its parent - with
    ``transport.run(TransmitOnly)``, which reads sockets already open to it but never accepts a
    new connection.  A message that needs a new connection to the exiting actor (one sent by
    an actor that had not sent to it before) is neither ACKed nor refused until the drain is
    over; if its sender is itself exiting and waiting for that ACK, each holds the other for
    the whole 7 s.  Seen at node shutdown with the Server's pooled Peers (config ``peer_pool``):
    the Server and its Peers each stuck in drainTransmits with one transmit pending (py-spy),
    past the tests' 5 s wait for the system's processes.

    Patched: the drain waits for its transmits in slices of :data:`DRAIN_TRANSMIT_SLICE_S`;
    between slices, while transmits are still pending, it accepts incoming connections for
    :data:`DRAIN_ACCEPT_SLICE_S` and ACKs and drops what arrives - what the actor would have
    done with a message that reached it after its exit request.  The overall limit stays
    MAX_SHUTDOWN_DRAIN_PERIOD.  Watched fds are forgotten first (the actor's handlers must not
    run again).  A drain that completes in the first slice, the usual case, is unchanged.
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
    """Queue the start message a new actor inherited from its creator as its first message
    (idempotent; actors/adapter/fork_start.py).

    Wraps ``ActorManager._createInstance`` (Thespian 4.0.1; called in the new actor process by
    ``ActorManager.run`` before its loop starts): once the instance exists, a message left in
    :data:`actors.adapter.fork_start._pending` goes to the front of the transport's incoming envelopes,
    from the parent's address, so the loop hands it to ``receiveMessage`` first.
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
