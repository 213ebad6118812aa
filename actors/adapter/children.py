"""What a running actor can learn about its children from Thespian's own records.

Thespian 4.0.1 multiprocCommon keeps, in each forking ActorManager, one ``ChildInfo`` per
child process it started (``_child_procs``: ``childAddr``, ``childProc``, and
``childRealAddr`` once the child has reported in).  Reading it gives a new child's pid at
once, so children need not report it in a Thespian message of their own (docs/thespian.md,
"child pid").
"""

from __future__ import annotations


def child_records(manager) -> list:
    """Thespian's ``ChildInfo`` records of ``manager`` (an ActorManager or the admin), oldest
    first; empty where there are none (simpleSystemBase, or no child forked yet)."""
    return list(getattr(manager, "_child_procs", None) or ())


def child_pid(actor, addr) -> int | None:
    """PID of the child process that ``actor`` (a running Thespian actor) created at ``addr``
    (its ActorAddress, as ``createActor`` returned it); None where Thespian keeps no process
    record (simpleSystemBase) or none matches.  The newest record wins."""
    for info in reversed(child_records(getattr(actor, "_myRef", None))):
        if info.childAddr == addr:
            return getattr(info.childProc, "pid", None)
    return None


__all__ = ["child_pid", "child_records"]
