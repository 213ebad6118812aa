"""actors/adapter/frame_stack.py: a loop run through run_with_headroom never maps a frame-stack chunk
per call, where the same loop at a chunk boundary maps one for every call (CPython 3.11/3.12).

Allocation is counted as minor page faults (each fresh chunk is a new mapping, touched at
once), not timed.  Also: the actor processes of a real system run their loop that way."""

from __future__ import annotations

import resource
import sys

import pytest
from thespian.actors import Actor

from actors.adapter import frame_stack
from actors.adapter.frame_stack import DECLARED_STACK_SLOTS, run_with_headroom

CALLS = 2000


def _leaf(x):
    return x + 1


def _hot():
    s = 0
    for _ in range(CALLS):
        s = _leaf(s)
    return s


def _descend(n, fn):
    if n == 0:
        return fn()
    return _descend(n - 1, fn)


def _faults(fn, *args) -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    fn(*args)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_returns_the_result_and_passes_exceptions_through():
    assert run_with_headroom(lambda a, b: a + b, 2, 3) == 5
    with pytest.raises(KeyError):
        run_with_headroom({}.__getitem__, "missing")


def test_trampoline_declares_the_large_stack():
    assert frame_stack._trampoline.__code__.co_stacksize == DECLARED_STACK_SLOTS


def _plain_trampoline(fn, args):
    return fn(*args)


def _plain_run(fn, *args):
    """run_with_headroom's shape (two frames, then ``fn``) without the declared stack."""
    return _plain_trampoline(fn, args)


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="CPython 3.13+ caches a chunk (gh-142183)")
def test_calls_at_a_chunk_boundary_allocate_and_with_headroom_do_not():
    # a 16 KiB chunk holds ~140 _descend frames: scanning twice that finds a boundary.  Every
    # call starts from this same frame, so a depth means the same place each time.
    boundary = None
    for depth in range(320):
        if _faults(_plain_run, _descend, depth, _hot) >= CALLS // 2:
            boundary = depth
            break
    assert boundary is not None, "no chunk boundary found: CPython 3.11/3.12 should show one"
    assert _faults(_plain_run, _descend, boundary, _hot) >= CALLS // 2  # one mapping per call
    # the same frames with the declared stack under them: no mapping per call, at any depth
    worst = max(_faults(run_with_headroom, _descend, depth, _hot) for depth in range(320))
    assert worst < CALLS // 20


class StackProbe(Actor):
    """Replies to "headroom?" with whether its loop runs above the headroom trampoline."""

    def receiveMessage(self, msg, sender):
        if msg == "headroom?":
            frame = sys._getframe()
            found = False
            while frame is not None and not found:
                found = frame.f_code is frame_stack._trampoline.__code__
                frame = frame.f_back
            self.send(sender, found)


def test_actor_processes_run_their_loop_with_headroom(nodes):
    probe = nodes.asys.createActor(StackProbe)
    assert nodes.asys.ask(probe, "headroom?", 10) is True
