"""An exiting actor stops waiting for children whose process is gone, even if no notice came.

Thespian 4.0.1 (actorManager ``_shutdownActor``): an actor asked to exit sends
ActorExitRequest to each child and exits only when every child's ChildActorExited has been
handled (systemCommon ``_handleChildExited`` empties ``childAddresses``); there is no time
limit.  But ChildActorExited notices get lost (THESPIAN_FACTS §3: when several children die
at once), and while an actor is exiting Thespian hands it nothing but ActorExitRequest and
ChildActorExited, so the actor's own liveness checks (the Server's /proc sweep) no longer run.
One lost notice therefore keeps the actor - and every ancestor up to the ActorSystem's admin,
which waits the same way - alive until ``ActorSystem.shutdown()`` gives up, and its processes
are left behind (seen in the test suite's teardowns: an admin, its logger and one Server left,
a whole run's worth of children gone).

:func:`patch_exit_rechecks_children`: once an actor starts waiting for its children, it
checks them every :data:`RECHECK_S` seconds with a private wakeup: a child whose process has
exited (reaped through multiprocessing's ``is_alive``, i.e. ``waitpid``) or that has no process
record any more (reaped by an earlier check whose notice was then lost) is handled as exited.
Children created through the admin (a ``globalName``) have no process record in their
creator: the node creates none from an actor, so none is mistaken for gone.
"""

from __future__ import annotations

RECHECK_S = 0.2
"""Seconds between two checks of an exiting actor's remaining children."""

_PAYLOAD = "_devp2p_exit_recheck"
"""Payload of the wakeup that runs a check (never delivered to the actor)."""

_applied = False


def _record_alive(manager, addr) -> bool | None:
    """True/False: the process of child ``addr`` runs / has exited; None: no process record."""
    for info in getattr(manager, "_child_procs", None) or ():
        if addr in (info.childAddr, getattr(info, "childRealAddr", None)):
            return manager._checkChildLiveness(info)  # is_alive(): reaps an exited child
    return None


def recheck_children(manager) -> list:
    """Handle as exited every child of exiting ActorManager ``manager`` whose process is gone;
    return their addresses.  Thespian 4.0.1 internals: ``childAddresses``, ``_child_procs``,
    ``_checkChildLiveness``, ``_handleChildExited``."""
    gone = [addr for addr in list(manager.childAddresses) if not _record_alive(manager, addr)]
    for addr in gone:
        if addr in manager.childAddresses:  # handling one can end the actor's wait for all
            manager._handleChildExited(addr)
    return gone


def patch_exit_rechecks_children() -> None:
    """Apply the recheck to Thespian's ActorManager (idempotent; see the module docstring)."""
    global _applied
    if _applied:
        return
    from thespian.actors import WakeupMessage
    from thespian.system.actorManager import ActorManager

    original_shutdown = ActorManager._shutdownActor
    original_handle = ActorManager._handleOneMessage

    def shutdown_actor(self, shutdownChildren=True):
        waiting = original_shutdown(self, shutdownChildren)
        if waiting and self.childAddresses and hasattr(self, "_child_procs"):
            self.transport.addWakeup(_recheck_period(), _PAYLOAD)
        return waiting

    def handle_one_message(self, envelope):
        msg = envelope.message
        if isinstance(msg, WakeupMessage) and msg.payload == _PAYLOAD:
            if getattr(self, "_exitedAlready", False) or not self.childAddresses:
                return True
            recheck_children(self)
            if self.childAddresses:
                self.transport.addWakeup(_recheck_period(), _PAYLOAD)
                return True
            return False  # the last child was handled: the actor is on its way out
        return original_handle(self, envelope)

    shutdown_actor.__wrapped__ = original_shutdown
    handle_one_message.__wrapped__ = original_handle
    ActorManager._shutdownActor = shutdown_actor
    ActorManager._handleOneMessage = handle_one_message
    _applied = True


def _recheck_period():
    from datetime import timedelta

    return timedelta(seconds=RECHECK_S)


__all__ = ["RECHECK_S", "patch_exit_rechecks_children", "recheck_children"]
