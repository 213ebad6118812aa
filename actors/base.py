"""Common base of the node's actors.

* Dispatch by message type to ``on_<ClassName>(msg, sender)`` methods.
* Every ``receiveMessage`` returns :meth:`NodeActor.watch` (docs/thespian-facts.md §1: the watch set is
  replaced by whatever each handler returns, so a socket-owning actor must return it always).
* One Thespian tick drives a heap of named timers (:mod:`node.timers`); subclasses call
  ``self.timers.set(name, at)`` and implement ``on_timer(name)``.
* An exception in a handler is logged once and passed to :meth:`NodeActor.on_handler_error`;
  it is not re-raised, because Thespian would retry the message and clear the watch.  The
  default reaction is to crash (exit), so the supervisor restarts the actor.
* Actors with ``WATCH_SHORTCUT`` (the Peer and Protocol actors) get the readiness of their
  watched fds without a pass of Thespian's loop (:mod:`actors.adapter.watch_shortcut`).
* Fault injection: :class:`messages.supervision.InjectFault` makes the next handler raise,
  the actor exit, or its process die by SIGKILL.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import time

from thespian.actors import Actor, ActorExitRequest, WakeupMessage

from messages.supervision import InjectFault

from .adapter import children, fork_start, watch_shortcut
from .adapter.lifeline import die_with_parent, orphaned
from node.timers import Timers

TICK = "_devp2p_tick"


class InjectedFault(RuntimeError):
    """Raised on purpose by fault injection (mode "raise")."""


class NodeActor(Actor):
    """Base actor: typed dispatch, always-returned watch, one-tick timers."""

    log = logging.getLogger("devp2p")

    PARENT_DEATH_SIGNAL = signal.SIGTERM
    """Signal this actor's process gets when its creator dies (actors/adapter/lifeline.py)."""

    WATCH_SHORTCUT = False
    """Deliver readiness of watched fds without a pass of Thespian's loop (actors/adapter/watch_shortcut.py)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timers = Timers()
        self._armed: list[float] = []
        self._fault_raise = False
        self._crashing = False
        self._shortcut = not self.WATCH_SHORTCUT  # True once installed (or not wanted)
        self._receiving = 0  # > 0 while receiveMessage runs
        die_with_parent(self.PARENT_DEATH_SIGNAL)  # no orphan if our creator exits before it registered us (lifeline.py)

    # -- dispatch ----------------------------------------------------------------------
    def receiveMessage(self, msg, sender):
        if not self._shortcut:
            self._shortcut = True
            watch_shortcut.install(self)  # first message: Thespian's ActorManager is attached now
        self._receiving += 1  # a wait Thespian runs inside a handler must not re-enter us (watch_shortcut)
        try:
            return self._receive(msg, sender)
        finally:
            self._receiving -= 1

    def _receive(self, msg, sender):
        try:
            if self._fault_raise and not isinstance(msg, (ActorExitRequest, InjectFault)):
                self._fault_raise = False
                raise InjectedFault("injected fault: handler raised on purpose")
            if isinstance(msg, WakeupMessage) and msg.payload == TICK:
                self._on_tick()
            else:
                self.deliver(msg, sender)
        except Exception as exc:  # noqa: BLE001 - one log line, then the subclass decides
            if isinstance(exc, InjectedFault):
                self.log.warning("%s: %s (while handling %s)", type(self).__name__, exc, type(msg).__name__)
            else:
                self.log.exception("%s: handler for %s failed", type(self).__name__, type(msg).__name__)
            try:
                self.on_handler_error(msg, sender, exc)
            except Exception:  # noqa: BLE001
                self.log.exception("%s: error handler failed", type(self).__name__)
        try:
            self.after_handler()
        except Exception:  # noqa: BLE001
            self.log.exception("%s: after_handler failed", type(self).__name__)
        if isinstance(msg, ActorExitRequest) and orphaned():
            os._exit(0)  # see lifeline.orphaned: nobody is left to tell, and telling would hang
        self._arm()
        return self.watch()

    def createActor(self, *args, start=None, **kwargs):
        """Thespian's ``createActor`` (it forks this process) with the heap frozen for the child.

        ``gc.freeze()`` moves every object to the collector's permanent generation just before
        the fork and ``gc.unfreeze()`` undoes it here right after; the child keeps them frozen,
        so its full collections never write to (and copy) the pages it shares with us.
        ``start``: the child's first message, from this actor's address: handed over through the
        fork (actors/adapter/fork_start.py) where Thespian forks and the patch that delivers it is in
        place, else sent after the creation.
        """
        by_fork = start is not None and fork_start.delivered_by_fork(self)
        gc.freeze()
        if by_fork:
            fork_start.set_pending(start)
        try:
            addr = super().createActor(*args, **kwargs)
        finally:
            fork_start.set_pending(None)
            gc.unfreeze()
        if start is not None and not by_fork:
            self.send(addr, start)
        return addr

    def child_pid(self, addr) -> int | None:
        """PID of the child actor just created at ``addr``, from Thespian's record of its
        children (:func:`actors.adapter.children.child_pid`); None where there is none
        (simpleSystemBase).  Known at once, so children need not report their pid themselves."""
        return children.child_pid(self, addr)

    def deliver(self, msg, sender) -> None:
        """Hand ``msg`` to ``on_<ClassName>(msg, sender)``, or to :meth:`on_other` if there is none
        (messages from Thespian, and those read from a Peer <-> Protocol channel)."""
        handler = getattr(self, "on_" + type(msg).__name__, None)
        if handler is None:
            self.on_other(msg, sender)
        else:
            handler(msg, sender)

    def after_handler(self) -> None:
        """Runs after every handler (e.g. to send what the handler queued as one batch)."""

    def on_other(self, msg, sender) -> None:
        """Messages with no ``on_`` handler; ignored by default."""

    def on_handler_error(self, msg, sender, exc: Exception) -> None:
        """Called after a handler raised.  Default: crash, i.e. exit so that the supervisor
        restarts the actor ("let it crash", Erlang/OTP); actors that must not exit override it."""
        self.crash()

    def crash(self) -> None:
        """Exit after a failure; the parent sees ChildActorExited and applies its policy."""
        if not self._crashing:
            self._crashing = True
            self.send(self.myAddress, ActorExitRequest())

    def on_InjectFault(self, msg, sender) -> None:
        """Fault injection (messages/supervision.py): raise in the next handler, exit, or SIGKILL."""
        self.log.warning("%s: fault injected: %s", type(self).__name__, msg.mode)
        if msg.mode == "raise":
            self._fault_raise = True
        elif msg.mode == "exit":
            self.send(self.myAddress, ActorExitRequest())
        elif msg.mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)

    def watch(self):
        """Return the ThespianWatch to install after this handler (None: watch nothing)."""
        return None

    # -- timers ------------------------------------------------------------------------
    def on_timer(self, name: str) -> None:
        """A timer set with ``self.timers.set`` is due."""

    def _on_tick(self) -> None:
        now = time.monotonic()
        # One armed wakeup has fired: forget the earliest (Thespian's timer clock is not
        # time.monotonic(), so it may fire a little early: matching by time alone could leave a
        # stale entry that would block every later arming), and any that are past.
        if self._armed:
            self._armed.remove(min(self._armed))
        self._armed = [t for t in self._armed if t > now + 0.0005]
        for name in self.timers.pop_due(now):
            self.on_timer(name)

    def _arm(self) -> None:
        nxt = self.timers.next_deadline()
        if nxt is None:
            return
        if self._armed and min(self._armed) <= nxt + 0.0005:
            return
        self._armed.append(nxt)
        self.wakeupAfter(max(0.0, nxt - time.monotonic()), payload=TICK)

    def after(self, name: str, delay_s: float) -> None:
        """Set timer ``name`` to fire ``delay_s`` seconds from now."""
        self.timers.set(name, time.monotonic() + delay_s)
