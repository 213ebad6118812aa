"""An exiting actor stops waiting for children whose process is gone, even if no notice came.

:func:`patch_exit_rechecks_children`: once an actor (Thespian 4.0.1 ActorManager
``_shutdownActor``), or the admin at system shutdown (AdminCore ``h_SystemShutdown``), starts
waiting for its children's ChildActorExited, it checks them every :data:`RECHECK_S` seconds
with a private wakeup, and a child whose process has exited (multiprocessing's ``is_alive``,
which also reaps it) is handled as exited.  A child with no process record in its parent (one
the admin created on the parent's behalf) is left to Thespian's own notices.  Why: Thespian
waits without a time limit, while such notices get lost (docs/thespian-facts.md §3), and one
lost notice kept a Server, the admin and its logger alive past shutdown (docs/thespian.md,
"exit rechecks children").
"""

from __future__ import annotations

from .children import child_records

RECHECK_S = 0.2
"""Seconds between two checks of an exiting actor's remaining children."""

_PAYLOAD = "_devp2p_exit_recheck"
"""Payload of the wakeup that runs a check (never delivered to the actor)."""

_applied = False


def _gone(manager, addr) -> bool:
    """True if child ``addr`` has a process record and every matching record's process has
    exited (a record left by a dead child must not hide a new child at the same address, nor
    the reverse); False if one runs or there is no record."""
    found = False
    for info in child_records(manager):
        if addr in (info.childAddr, getattr(info, "childRealAddr", None)):
            if manager._checkChildLiveness(info):  # is_alive(): reaps an exited child
                return False
            found = True
    return found


def recheck_children(manager) -> list:
    """Handle as exited every child of ``manager`` (an exiting ActorManager, or the admin at
    system shutdown) whose process is gone; return their addresses.  Thespian 4.0.1 internals:
    ``childAddresses``, ``_child_procs``, ``_checkChildLiveness``, ``_handleChildExited``."""
    gone = [addr for addr in list(manager.childAddresses) if _gone(manager, addr)]
    for addr in gone:
        if addr in manager.childAddresses:  # handling one can end the actor's wait for all
            manager._handleChildExited(addr)
    return gone


def patch_exit_rechecks_children() -> None:
    """Wrap ActorManager ``_shutdownActor`` and ``_handleOneMessage`` and AdminCore
    ``h_SystemShutdown`` and ``handleIncoming`` so that an exiting actor or admin rechecks its
    children (see the module docstring).  Idempotent."""
    global _applied
    if _applied:
        return
    from thespian.actors import WakeupMessage
    from thespian.system.actorManager import ActorManager
    from thespian.system.admin.adminCore import AdminCore

    original_shutdown = ActorManager._shutdownActor
    original_handle = ActorManager._handleOneMessage

    def shutdown_actor(self, shutdownChildren=True):
        waiting = original_shutdown(self, shutdownChildren)
        if waiting and self.childAddresses:
            _arm(self)
        return waiting

    def intercepting(original):
        """``original`` (an envelope handler) with the recheck wakeup taken out first."""
        def handler(self, envelope):
            msg = envelope.message
            if isinstance(msg, WakeupMessage) and msg.payload == _PAYLOAD:
                return _on_recheck(self)
            return original(self, envelope)
        return handler

    original_system_shutdown = AdminCore.h_SystemShutdown
    original_incoming = AdminCore.handleIncoming

    def system_shutdown(self, envelope):
        result = original_system_shutdown(self, envelope)
        if self.childAddresses:
            _arm(self)
        return result

    for cls, name, new in ((ActorManager, "_shutdownActor", shutdown_actor),
                           (ActorManager, "_handleOneMessage", intercepting(original_handle)),
                           (AdminCore, "h_SystemShutdown", system_shutdown),
                           (AdminCore, "handleIncoming", intercepting(original_incoming))):
        new.__wrapped__ = getattr(cls, name)
        setattr(cls, name, new)
    _applied = True


def _arm(manager) -> None:
    """Start the checks of ``manager``'s children, once (a second ActorExitRequest while
    exiting must not start a second series)."""
    if hasattr(manager, "_child_procs") and not getattr(manager, "_devp2p_rechecking", False):
        manager._devp2p_rechecking = True
        manager.transport.addWakeup(_recheck_period(), _PAYLOAD)


def _on_recheck(manager) -> bool:
    """The recheck wakeup of an exiting ActorManager or admin: handle the children that are
    gone, arm the next check while some remain.  Returns what Thespian's own handling of a
    ChildActorExited returns: False once the last child is handled (the loop ends; True would
    make the transport run again with its abort request cleared, and the actor never exit)."""
    if getattr(manager, "_exitedAlready", False) or not manager.childAddresses:
        return False
    recheck_children(manager)
    if manager.childAddresses:
        manager.transport.addWakeup(_recheck_period(), _PAYLOAD)
        return True
    return False


def _recheck_period():
    from datetime import timedelta

    return timedelta(seconds=RECHECK_S)


__all__ = ["RECHECK_S", "patch_exit_rechecks_children", "recheck_children"]
