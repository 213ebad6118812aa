"""actors/adapter/lifeline.py: an actor process whose creator dies exits too (docs/thespian.md,
"lifeline"), and outside an actor process nothing is armed."""

from __future__ import annotations

import os
import signal

from actors.adapter import lifeline
from actors.base import NodeActor
from actors.io.procs import process_alive
from support.nodes import wait_until

EXIT_WAIT_S = 5.0
"""Bounded wait for the orphan to exit (SIGTERM from the kernel, then its ActorExitRequest)."""


class Orphan(NodeActor):
    """Answers ("pid", to) by sending ("orphan", its pid) to ``to``."""

    def on_other(self, msg, sender):
        if isinstance(msg, tuple) and msg[0] == "pid":
            self.send(msg[1], ("orphan", os.getpid()))


class Creator(NodeActor):
    """Answers "spawn" with (its pid, its child's pid), the child's as the child reports it."""

    asker = None

    def on_other(self, msg, sender):
        if msg == "spawn":
            self.asker = sender
            self.send(self.createActor(Orphan), ("pid", self.myAddress))
        elif isinstance(msg, tuple) and msg[0] == "orphan":
            self.send(self.asker, (os.getpid(), msg[1]))


def test_child_exits_when_its_creator_is_killed(nodes):
    pids = nodes.asys.ask(nodes.asys.createActor(Creator), "spawn", 10)
    assert isinstance(pids, tuple), pids
    creator, child = pids
    assert process_alive(child)
    os.kill(creator, signal.SIGKILL)
    assert wait_until(lambda: not process_alive(creator), EXIT_WAIT_S), "the creator survived SIGKILL"
    assert wait_until(lambda: not process_alive(child), EXIT_WAIT_S), \
        f"the orphaned child {child} still runs {EXIT_WAIT_S} s after its creator died"


def test_outside_an_actor_process_nothing_is_armed():
    assert lifeline.die_with_parent() is False  # the test process is no Thespian actor process
    assert lifeline.orphaned() is False
