"""Run a long-lived loop with room on CPython's frame stack, so its hot calls never allocate.

CPython 3.11 and 3.12 keep the frames of Python calls on a per-thread stack made of chunks
(Python/pystate.c ``push_chunk``/``_PyThreadState_PopFrame``): a call that does not fit in
the current chunk maps a new one (16 KiB, mmap), and when that call returns the chunk is
unmapped again.  A loop whose handlers call across such a boundary pays an mmap, a page fault
and a munmap for every call that crosses, every time (CPython issue gh-142183, fixed from
3.13.x by caching one chunk per thread).

Actor processes here sit at the worst place for it: each one is forked from inside its
creator's handler (Admin -> Server -> Peer -> Protocol actor), so it inherits ~25 frames per
generation and its own loop runs ~100 frames deep, wherever that leaves the chunk boundary.
Measured in a Protocol actor during the round-trip benchmark (strace -c, -k): 6 mmap + 6
munmap of 16 KiB per message, from ``_PyThreadState_BumpFramePointerSlow``; its run slices
were ~0.4 ms per message (perf sched timehist) against ~0.13 ms for its Peer, which happened
to sit clear of a boundary.  A plain-Python probe (20,000 calls at a boundary) took 200 ms
against 1.6 ms one frame away.

:func:`run_with_headroom` calls a function through a frame whose *evaluation stack* is
declared large (``co_stacksize``), so that frame never fits in the chunk in use (not even in
the room left above a creator's own trampoline, which a forked child inherits): CPython maps
a fresh 128 KiB chunk for it and every frame above it - the actor's whole loop and its
handlers - lands in that chunk's ~64 KiB of room (measured: the first boundary came ~540
small frames up), which stays mapped while the loop runs.  The declared stack is never pushed
to, so its pages are never touched: the cost is address space, not memory.  On a CPython
whose frames do not live in chunks the declared size is just unused.
"""

from __future__ import annotations

from typing import Callable, TypeVar

T = TypeVar("T")

DECLARED_STACK_SLOTS = 8192
"""``co_stacksize`` given to the trampoline's frame, in pointer-sized slots (8 bytes).

CPython 3.11 sizes a new chunk as the smallest power of two, at least 16 KiB, holding the
frame plus 1,000 slots (pystate.c ``MINIMUM_OVERHEAD``): for ~8,200 slots that is 128 KiB,
which leaves ~64 KiB above the trampoline's frame."""


def _trampoline(fn, args):
    return fn(*args)


_trampoline.__code__ = _trampoline.__code__.replace(co_stacksize=DECLARED_STACK_SLOTS)


def run_with_headroom(fn: Callable[..., T], *args) -> T:
    """Return ``fn(*args)``, run with ~64 KiB of frame-stack room above it (see the module).

    Meant for a loop that runs for the life of a process (an actor's message loop); a
    short call gains nothing, as the chunk is unmapped again when ``fn`` returns.  Raises
    whatever ``fn`` raises.
    """
    return _trampoline(fn, args)


__all__ = ["DECLARED_STACK_SLOTS", "run_with_headroom"]
