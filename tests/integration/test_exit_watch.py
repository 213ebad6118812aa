"""actors/adapter/exit_watch.py: an exiting actor whose child's ChildActorExited is lost still exits.

The loss is made on purpose: Thespian learns of a child's exit from the child's own
ChildActorExited (sent as it exits) and from SIGCHLD; the parent blocks SIGCHLD and the child,
asked to exit, ends its process at once (as a SIGKILL at that moment would), so neither comes.
Without the patch the parent waits for that notice for ever (until ActorSystem.shutdown()
gives up and the fixture reports processes left); with it the parent exits within a few
rechecks."""

from __future__ import annotations

import os
import signal

from thespian.actors import Actor, ActorExitRequest, WakeupMessage
from thespian.system.actorManager import ActorManager
from thespian.system.admin.adminCore import AdminCore
from thespian.system.transport import ReceiveEnvelope

from actors.adapter import exit_watch, install
from actors.io.procs import process_alive
from support.nodes import wait_until

EXIT_WAIT_S = 5.0
"""Bounded wait for the parent's process to end (a recheck every RECHECK_S = 0.2 s)."""


class Child(Actor):
    """Answers "pid"; on ActorExitRequest its process ends at once, without Thespian's goodbye."""

    def receiveMessage(self, msg, sender):
        if msg == "pid":
            self.send(sender, os.getpid())
        elif isinstance(msg, ActorExitRequest):
            os._exit(0)


class DeafParent(Actor):
    """Creates one Child on "start" and answers (own pid, child's pid); on "deaf" blocks SIGCHLD
    in its process, so no child exit is ever noticed through Thespian's signal handler."""

    child = None

    def receiveMessage(self, msg, sender):
        if msg == "start":
            self.child = self.createActor(Child)
            self.asker = sender
            self.send(self.child, "pid")
        elif isinstance(msg, int) and self.child is not None:
            self.send(self.asker, (os.getpid(), msg))
        elif msg == "deaf":
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
            self.send(sender, "deaf")


def _patched():
    return (ActorManager._shutdownActor, ActorManager._handleOneMessage, AdminCore.h_SystemShutdown,
            AdminCore.handleIncoming)


def test_patch_is_applied_and_idempotent():
    install()
    patched = _patched()
    install()
    assert _patched() == patched
    assert all(hasattr(f, "__wrapped__") for f in patched)


def test_parent_exits_although_its_childs_exit_notice_is_lost(nodes):
    asys = nodes.asys
    parent = asys.createActor(DeafParent)
    pids = asys.ask(parent, "start", 10)
    assert isinstance(pids, tuple), pids
    parent_pid, child_pid = pids
    assert asys.ask(parent, "deaf", 10) == "deaf"
    asys.tell(parent, ActorExitRequest())
    assert wait_until(lambda: not process_alive(child_pid), EXIT_WAIT_S), "the child did not exit"
    assert wait_until(lambda: not process_alive(parent_pid), EXIT_WAIT_S), \
        "the parent still waits for its child's lost exit notice"


class FakeChildInfo:
    def __init__(self, addr, alive):
        self.childAddr, self.childRealAddr, self.alive = ("local", addr), addr, alive


class FakeManager:
    """What recheck_children reads of Thespian's ActorManager."""

    def __init__(self, children, procs):
        self._children, self._child_procs, self.handled = list(children), procs, []

    @property
    def childAddresses(self):
        return self._children

    @staticmethod
    def _checkChildLiveness(info):
        return info.alive

    def _handleChildExited(self, addr):
        self.handled.append(addr)
        self._children.remove(addr)


def test_recheck_handles_children_whose_every_record_is_dead_only():
    m = FakeManager(["alive", "dead", "unrecorded", "reused"],
                    [FakeChildInfo("alive", True), FakeChildInfo("dead", False),
                     FakeChildInfo("reused", False), FakeChildInfo("reused", True)])  # a new child at an old address
    assert exit_watch.recheck_children(m) == ["dead"]
    assert m.handled == ["dead"] and m.childAddresses == ["alive", "unrecorded", "reused"]
    assert exit_watch.recheck_children(m) == []


class FakeTransport:
    def __init__(self):
        self.wakeups = []

    def addWakeup(self, period, payload):
        self.wakeups.append(payload)


def test_admin_recheck_wakeup_handles_gone_children_and_rearms():
    # the admin at system shutdown: its recheck wakeup arrives through handleIncoming
    install()
    admin = FakeManager(["server", "collector"], [FakeChildInfo("server", True), FakeChildInfo("collector", False)])
    admin.transport = FakeTransport()
    wakeup = ReceiveEnvelope("admin", WakeupMessage(exit_watch.RECHECK_S, exit_watch._PAYLOAD))
    assert AdminCore.handleIncoming(admin, wakeup) is True
    assert admin.handled == ["collector"] and admin.transport.wakeups == [exit_watch._PAYLOAD]
    admin._child_procs[0].alive = False
    assert AdminCore.handleIncoming(admin, wakeup) is False  # the last child: the admin ends its loop
    assert admin.handled == ["collector", "server"] and len(admin.transport.wakeups) == 1
