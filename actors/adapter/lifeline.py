"""Actor processes die with the actor process that created them.

Why (found by the integration tests, Thespian 4.0.1 multiprocTCPBase): a parent registers a
child only when the child's ``EndpointConnected`` arrives (thespian/system/actorManager.py
``_pendingActorReady``).  If the parent handles an ``ActorExitRequest`` between
``createActor()`` (the fork) and that moment - e.g. a Peer creating its Protocol actors
while the node shuts down, or a Server creating a Peer for a connection that arrives just
then - it has no registered children, exits at once, and the new child is left running
forever as an orphan (reparented to init, idle in its select loop): the node's "no process
left behind" guarantee breaks.

Fix: each actor process asks the kernel for SIGTERM when its creator dies
(``prctl(PR_SET_PDEATHSIG)``, Linux).  Thespian turns SIGTERM in an actor into an
``ActorExitRequest`` (multiprocCommon ``shutdown_signal_detector``), so the orphan exits
gracefully (a Peer still sends Disconnect(QUITTING)).  If the creator is already gone when
the child starts, the child signals itself.  Elsewhere (not Linux, simpleSystemBase, a
process not started by Thespian) this does nothing.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys

PR_SET_PDEATHSIG = 1

_prctl = None
"""libc's ``prctl``, looked up once: the first actor process that needs it (the Server) keeps it,
and every process forked from there inherits it instead of loading libc through ctypes again
(~150 KiB of unshared memory per actor process, measured with /proc/self/smaps_rollup)."""


def _libc_prctl():
    global _prctl
    if _prctl is None:
        _prctl = ctypes.CDLL(None, use_errno=True).prctl
    return _prctl


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """In a Thespian actor process, arrange for ``sig`` when the creating process exits.

    Returns True if armed.  Safe to call more than once.
    """
    if not sys.platform.startswith("linux"):
        return False
    if not multiprocessing.current_process().name.startswith("Actor_"):
        return False  # not a Thespian multiproc actor process (e.g. simpleSystemBase in a test)
    parent = multiprocessing.parent_process()
    if parent is None:
        return False
    try:
        if _libc_prctl()(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent.pid:
        # the creator exited before the request was in place: nobody will signal us
        os.kill(os.getpid(), sig)
    return True


def orphaned() -> bool:
    """True in a Thespian actor process whose creating process has exited.

    Such an actor must not run Thespian's normal exit, which reports ChildActorExited to the
    dead parent and keeps the process alive retrying that send (TransmitIntent: 35 s per
    attempt): it cleans up in its ActorExitRequest handler and then leaves with ``os._exit``.
    """
    if not multiprocessing.current_process().name.startswith("Actor_"):
        return False
    parent = multiprocessing.parent_process()
    return parent is not None and os.getppid() != parent.pid
