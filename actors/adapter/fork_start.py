"""A new actor's first message, handed over through the fork that creates it.

On multiprocTCPBase ``createActor`` forks the creating process (docs/thespian-facts.md §2).
The creator leaves the start message (PeerStartInbound / PeerStartOutbound, ProtocolStart) with
:func:`set_pending` just before the fork and clears it just after; in the child,
``patch_fork_start_message`` (actors/adapter/thespian_patches.py) queues it as the actor's first
message, from its parent, and the actor handles it as if it had come through Thespian.  Used by
``NodeActor.createActor(..., start=msg)`` where :func:`delivered_by_fork` is True; elsewhere the
start message is sent.  Why: one Thespian message, connection, ACK and wake-up fewer per new
actor on the path of every connection (docs/thespian.md, "fork start").
"""

from __future__ import annotations

_pending = None
_delivering = False  # set by patch_fork_start_message (inherited by every actor process)


def delivered_by_fork(actor) -> bool:
    """True where a start message left with :func:`set_pending` reaches the child of ``actor``
    (a running Thespian actor): its ActorManager forks (multiprocCommon ``MultiProcReplicator``,
    as on multiprocTCPBase) and :func:`actors.adapter.install` has applied the delivering patch."""
    if not _delivering:
        return False
    from thespian.system.multiprocCommon import MultiProcReplicator

    return isinstance(getattr(actor, "_myRef", None), MultiProcReplicator)


def set_pending(msg) -> None:
    """Leave ``msg`` for the child about to be forked (None: nothing)."""
    global _pending
    _pending = msg


def take_pending():
    """The message left by this process's creator (once; None if there was none)."""
    global _pending
    msg, _pending = _pending, None
    return msg
