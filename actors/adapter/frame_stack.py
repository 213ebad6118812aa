"""Run a long-lived loop with room on CPython's frame stack, so its hot calls never allocate.

CPython 3.11 and 3.12 keep Python frames in per-thread chunks (Python/pystate.c
``push_chunk``): a call that does not fit in the current chunk maps a new 16 KiB one and
unmaps it when it returns, every time (CPython gh-142183, fixed from 3.13).  Actor processes
are forked inside their creator's handler, so their loops run ~100 frames deep wherever that
leaves the boundary (docs/thespian.md, "frame-stack headroom").

:func:`run_with_headroom` calls a function through a frame whose evaluation stack is declared
large (``co_stacksize``), so the frame never fits in the chunk in use: CPython maps a fresh
128 KiB chunk for it, and the loop and its handlers above it stay within that chunk's ~64 KiB
of room.  The declared stack is never written, so it costs address space, not memory; on a
CPython without frame chunks it is just unused.
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
