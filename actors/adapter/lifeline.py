"""Actor processes die with the actor process that created them (Linux).

:func:`die_with_parent` asks the kernel for SIGTERM when the creating process dies
(``prctl(PR_SET_PDEATHSIG)``); Thespian turns SIGTERM in an actor into an ActorExitRequest
(multiprocCommon ``shutdown_signal_detector``), and :func:`orphaned` tells the actor to leave
with ``os._exit`` once it has cleaned up.  Why: Thespian registers a child only when the child
reports in, so a parent that exits between ``createActor`` and that moment leaves the child
running forever (docs/thespian.md, "lifeline").  Elsewhere (not Linux, simpleSystemBase, a
process Thespian did not start) this does nothing.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys

PR_SET_PDEATHSIG = 1

_prctl = None
"""libc's ``prctl``, looked up once and inherited by every process forked after that, which
then need not load libc through ctypes again (~150 KiB of unshared memory each; docs/thespian.md,
"lifeline")."""


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
