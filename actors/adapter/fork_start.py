"""A new actor's first message, handed over through the fork that creates it.

On multiprocTCPBase ``createActor`` forks the creating process (docs/thespian-facts.md §2), so the new
actor process starts with a copy of its creator's memory.  The creator puts the start message
(PeerStartInbound / PeerStartOutbound for a Peer, ProtocolStart for a Protocol actor) in
:data:`_pending` just before it forks and takes it away just after; in the child, Thespian's
ActorManager finds it there when it creates the actor instance and queues it as the actor's
first message, from its parent (``patch_fork_start_message`` in actors/adapter/thespian_patches.py).
The actor handles it exactly as if it had come through Thespian's transport - minus one
message, connection, ACK and wake-up per actor on the path of every new connection.  Used
only for children created by ``NodeActor.createActor(..., start=msg)``; anything else (a pooled
Peer given a connection later) still gets its start message through Thespian.
"""

from __future__ import annotations

_pending = None
_delivering = False  # set by patch_fork_start_message (inherited by every actor process)


def delivered_by_fork(actor_manager) -> bool:
    """True where a start message left with :func:`set_pending` reaches the child: the actor
    runs under a forking Thespian system (its ActorManager is a multiprocCommon
    ``MultiProcReplicator``, as on multiprocTCPBase) and the delivering patch is applied."""
    if not _delivering:
        return False
    from thespian.system.multiprocCommon import MultiProcReplicator

    return isinstance(actor_manager, MultiProcReplicator)


def set_pending(msg) -> None:
    """Leave ``msg`` for the child about to be forked (None: nothing)."""
    global _pending
    _pending = msg


def take_pending():
    """The message left by this process's creator (once; None if there was none)."""
    global _pending
    msg, _pending = _pending, None
    return msg
