"""Hand a watched fd's readiness straight to the actor, without a pass of Thespian's loop.

:class:`actors.adapter.loop_selector.PassSelector` (the selector Thespian's loop waits in) calls
:class:`WatchShortcut` when only the actor's watched fds are ready; it runs the actor's
``receiveMessage(WatchMessage(fds))`` as Thespian's ActorManager would (installing the returned
ThespianWatch with the transport's ``set_watch``), and the selector waits again in the same
pass.  The wait ends, and Thespian's loop runs as usual, as soon as one of Thespian's own
sockets is ready, its timeout is over, or the handler did anything Thespian must act on (sent
or created through Thespian, asked for a wakeup, changed its watch list, or the actor is
exiting).  Why: Thespian delivers each WatchMessage through a full pass of its loop, as much
Python as the Peer's own work per hop (docs/thespian.md, "watch shortcut").
"""

from __future__ import annotations

import logging

from thespian.actors import ThespianWatch, WatchMessage

from . import loop_selector

log = logging.getLogger("devp2p")


class WatchShortcut:
    """The watch handler of one actor (installed with ``loop_selector.set_watch_handler``).

    ``actor`` is a running Thespian actor on multiprocTCPBase (its ``_myRef`` is Thespian's
    ActorManager, whose ``transport`` is the TCPTransport): Thespian 4.0.1 internals, read only
    through the attribute names below; anything missing disables the shortcut (the selector
    then returns every event to Thespian as before).
    """

    __slots__ = ("actor",)

    def __init__(self, actor):
        self.actor = actor

    def owns(self, fds: list[int]) -> bool:
        """True when every fd in ``fds`` is in the actor's current watch list, the actor is not
        inside ``receiveMessage`` and not exiting.

        Inside ``receiveMessage``: Thespian can run its loop from within a handler (a send while
        20 transmits are pending drains them first, asyncTransportBase
        ``_drain_tx_queue_if_needed``), and that wait must not call the actor again.  Exiting:
        Thespian stops updating the watch list at ActorExitRequest, so it can name an fd the
        actor closed and Thespian reused for a socket of its own; only Thespian's loop may
        handle that readiness, or the wait would spin on it.
        """
        if getattr(self.actor, "_receiving", 0):
            return False
        try:
            am = self.actor._myRef
            if getattr(am, "_exiting", False):
                return False
            watched = am.transport._watches
        except AttributeError:
            return False
        for fd in fds:
            if fd not in watched:
                return False
        return True

    def __call__(self, fds: list[int]) -> bool:
        """Deliver WatchMessage(fds); True if the selector may wait again, False to return.

        An exception out of ``receiveMessage`` (NodeActor catches its handlers' own, so only
        ``watch()`` or Thespian's bookkeeping could raise) is logged once and ends the wait
        with the watch list unchanged: the fds are still ready, so Thespian's next pass
        delivers them its own way (and applies its own error handling).
        """
        am = self.actor._myRef
        tr = am.transport
        if getattr(am, "_exiting", False):
            return False
        pending = tr._aTB_numPendingTransmits
        wakeups = len(tr._pendingWakeups)
        run_time = tr.run_time
        try:
            result = self.actor.receiveMessage(WatchMessage(fds), self.actor.myAddress)
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("%s: WatchMessage outside Thespian's loop failed", type(self.actor).__name__)
            return False
        new = result.filenos if isinstance(result, ThespianWatch) else []
        same_watch = new == tr._watches
        tr.set_watch(new)
        return (same_watch and pending == tr._aTB_numPendingTransmits and wakeups == len(tr._pendingWakeups)
                and run_time is tr.run_time and not tr._finished_intents and not tr._incomingEnvelopes
                and not getattr(am, "_exiting", False) and not getattr(am, "_receiveQueue", None))


_TRANSPORT_ATTRS = ("_watches", "set_watch", "_aTB_numPendingTransmits", "_pendingWakeups",
                    "_finished_intents", "_incomingEnvelopes")
"""What :class:`WatchShortcut` reads of Thespian's transport (TCPTransport of Thespian 4.0.1)."""


def install(actor) -> bool:
    """Install a :class:`WatchShortcut` for running ``actor`` in this process, if its transport
    has everything the shortcut reads (multiprocTCPBase); False (nothing installed) otherwise."""
    transport = getattr(getattr(actor, "_myRef", None), "transport", None)
    if not all(hasattr(transport, a) for a in _TRANSPORT_ATTRS):
        return False
    loop_selector.set_watch_handler(WatchShortcut(actor))
    return True


__all__ = ["WatchShortcut", "install"]
