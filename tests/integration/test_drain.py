"""actors/adapter/thespian_patches.py ``patch_drain_accepts_incoming``: two actors that exit at the same
time, each with a message in flight to the other on a new connection, both end promptly.

Without the patch each waits for the other's ACK until Thespian's drain limit
(MAX_SHUTDOWN_DRAIN_PERIOD, 7 s), because a draining actor does not accept connections."""

from __future__ import annotations

import os
import time

from thespian.actors import Actor, ActorExitRequest
from thespian.system import systemCommon

from actors.io.procs import process_alive
from actors.adapter import install
from support.nodes import wait_until

HOLD_S = 0.3
"""Seconds each actor's exit handler holds on before it sends, so that both are exiting (no
longer accepting connections) when the other's message arrives."""

EXIT_WAIT_S = 5.0
"""Bounded wait for both processes to end; less than the 7 s drain limit the stall would take."""


class CrossExit(Actor):
    """Answers "pid"; remembers the actor sent as ("other", address); on ActorExitRequest
    holds on, then sends "bye" to that actor (its first message to it: a new connection)."""

    other = None

    def receiveMessage(self, msg, sender):
        if msg == "pid":
            self.send(sender, os.getpid())
        elif isinstance(msg, tuple) and msg[0] == "other":
            self.other = msg[1]
            self.send(sender, "ok")
        elif isinstance(msg, ActorExitRequest) and self.other is not None:
            time.sleep(HOLD_S)
            self.send(self.other, "bye")


def test_patch_is_applied_and_idempotent():
    install()
    patched = systemCommon.systemCommonBase.drainTransmits
    install()
    assert systemCommon.systemCommonBase.drainTransmits is patched
    assert hasattr(patched, "__wrapped__")


def test_actors_exiting_towards_each_other_do_not_wait_out_the_drain_limit(nodes):
    asys = nodes.asys
    a, b = asys.createActor(CrossExit), asys.createActor(CrossExit)
    pids = [asys.ask(a, "pid", 10), asys.ask(b, "pid", 10)]
    assert all(isinstance(p, int) for p in pids), pids
    assert asys.ask(a, ("other", b), 10) == "ok"
    assert asys.ask(b, ("other", a), 10) == "ok"
    asys.tell(a, ActorExitRequest())
    asys.tell(b, ActorExitRequest())
    ended = wait_until(lambda: not any(process_alive(p) for p in pids), EXIT_WAIT_S)
    assert ended, f"still running {EXIT_WAIT_S} s after their exit requests: {[p for p in pids if process_alive(p)]}"
