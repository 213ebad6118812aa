"""Common base of the node's actors.

* Dispatch by message type to ``on_<ClassName>(msg, sender)`` methods.
* Every ``receiveMessage`` returns :meth:`NodeActor.watch` (THESPIAN_FACTS §1: the watch set is
  replaced by whatever each handler returns, so a socket-owning actor must return it always).
* One Thespian tick drives a heap of named timers (:mod:`actors.timers`); subclasses call
  ``self.timers.set(name, at)`` and implement ``on_timer(name)``.
* An exception in a handler is logged once and passed to :meth:`NodeActor.on_handler_error`;
  it is not re-raised, because Thespian would retry the message and clear the watch.
"""

from __future__ import annotations

import logging
import time

from thespian.actors import Actor, WakeupMessage

from .lifeline import die_with_parent
from .timers import Timers

TICK = "_devp2p_tick"


class NodeActor(Actor):
    """Base actor: typed dispatch, always-returned watch, one-tick timers."""

    log = logging.getLogger("devp2p")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timers = Timers()
        self._armed: list[float] = []
        die_with_parent()  # no orphan if our creator exits before it registered us (lifeline.py)

    # -- dispatch ----------------------------------------------------------------------
    def receiveMessage(self, msg, sender):
        try:
            if isinstance(msg, WakeupMessage) and msg.payload == TICK:
                self._on_tick()
            else:
                handler = getattr(self, "on_" + type(msg).__name__, None)
                if handler is None:
                    self.on_other(msg, sender)
                else:
                    handler(msg, sender)
        except Exception as exc:  # noqa: BLE001 - one log line, then the subclass decides
            self.log.exception("%s: handler for %s failed", type(self).__name__, type(msg).__name__)
            try:
                self.on_handler_error(msg, sender, exc)
            except Exception:  # noqa: BLE001
                self.log.exception("%s: error handler failed", type(self).__name__)
        try:
            self.after_handler()
        except Exception:  # noqa: BLE001
            self.log.exception("%s: after_handler failed", type(self).__name__)
        self._arm()
        return self.watch()

    def after_handler(self) -> None:
        """Runs after every handler (e.g. to send what the handler queued as one batch)."""

    def on_other(self, msg, sender) -> None:
        """Messages with no ``on_`` handler; ignored by default."""

    def on_handler_error(self, msg, sender, exc: Exception) -> None:
        """Called after a handler raised; default does nothing more than the log line."""

    def watch(self):
        """Return the ThespianWatch to install after this handler (None: watch nothing)."""
        return None

    # -- timers ------------------------------------------------------------------------
    def on_timer(self, name: str) -> None:
        """A timer set with ``self.timers.set`` is due."""

    def _on_tick(self) -> None:
        now = time.monotonic()
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
