"""actors/adapter/fork_start.py: a child created with ``start=msg`` gets ``msg`` as its first message,
from its creator, through the fork (no Thespian message) on multiprocTCPBase, and by an ordinary
send where the system does not fork (NodeActor.createActor)."""

from __future__ import annotations

from types import SimpleNamespace

from actors.adapter import fork_start
from actors.base import NodeActor
from actors.adapter import install


class Child(NodeActor):
    """Reports its first message: ("first", message, sent by its creator?) to the reporter the
    start message names."""

    first = None

    def on_other(self, msg, sender):
        if self.first is None and isinstance(msg, tuple) and msg[0] == "start":
            self.first = msg
            self.send(msg[1], ("first", msg[2], sender == msg[3]))


class Creator(NodeActor):
    """On ("create", reporter): creates a Child with a start message and reports whether it was
    handed over through the fork."""

    def on_other(self, msg, sender):
        if isinstance(msg, tuple) and msg[0] == "create":
            by_fork = fork_start.delivered_by_fork(self)
            self.createActor(Child, start=("start", msg[1], "hello child", self.myAddress))
            self.send(msg[1], ("by_fork", by_fork))


class Reporter(NodeActor):
    """Collects what it is sent; answers ("wait", n) with the list once it holds n items."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.got, self.waiter = [], None

    def on_other(self, msg, sender):
        if isinstance(msg, tuple) and msg[0] == "wait":
            self.waiter = (sender, msg[1])
        else:
            self.got.append(msg)
        if self.waiter is not None and len(self.got) >= self.waiter[1]:
            self.send(self.waiter[0], list(self.got))
            self.waiter = None


def test_start_message_comes_through_the_fork(nodes):
    asys = nodes.asys
    reporter = asys.createActor(Reporter)
    creator = asys.createActor(Creator)
    asys.tell(creator, ("create", reporter))
    got = asys.ask(reporter, ("wait", 2), 10)
    assert ("by_fork", True) in got, got
    assert ("first", "hello child", True) in got, got


def test_only_a_forking_actor_manager_hands_over_by_fork():
    from thespian.system.multiprocCommon import MultiProcReplicator

    class Forking(MultiProcReplicator):
        def __init__(self):  # noqa: D107 - no transport needed to ask the question
            pass

    install()  # as actors/system.py does before a system starts
    assert fork_start.delivered_by_fork(SimpleNamespace(_myRef=Forking())) is True
    assert fork_start.delivered_by_fork(SimpleNamespace(_myRef=object())) is False  # e.g. simpleSystemBase
    assert fork_start.delivered_by_fork(object()) is False  # not a Thespian actor at all


def test_pending_message_is_taken_once():
    fork_start.set_pending("x")
    assert fork_start.take_pending() == "x"
    assert fork_start.take_pending() is None
