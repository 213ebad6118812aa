"""actors/adapter/watch_shortcut.py and the selector side of it (actors/adapter/loop_selector.py): readiness of
an actor's watched fds is handled inside the selector's wait, and everything Thespian must see
still ends the wait: its own sockets, the timeout, sends, wakeups and watch-list changes."""

from __future__ import annotations

import selectors
import socket
import time

import pytest
from thespian.actors import ActorExitRequest, ThespianWatch, WatchMessage

from actors.adapter import loop_selector
from actors.base import NodeActor
from actors.adapter.loop_selector import PassSelector
from actors.adapter.watch_shortcut import WatchShortcut

from support.forking import answer_in_child
from support.nodes import wait_until

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


@pytest.fixture
def pairs():
    made = [socket.socketpair() for _ in range(2)]
    yield made
    for a, b in made:
        a.close()
        b.close()


class FakeHandler:
    """Owns the fds in ``owned``; each call drains them and records them; answers ``go_on``."""

    def __init__(self, owned, go_on=True, limit=None):
        self.owned = set(owned)
        self.go_on = go_on
        self.calls: list[list[int]] = []
        self.limit = limit
        self.socks = {}

    def owns(self, fds):
        return all(fd in self.owned for fd in fds)

    def __call__(self, fds):
        self.calls.append(list(fds))
        for fd in fds:
            self.socks[fd].recv(4096)
        if self.limit is not None and len(self.calls) >= self.limit:
            return False
        return self.go_on


@pytest.fixture
def handler_slot():
    yield
    loop_selector.set_watch_handler(None)


def test_watched_readiness_goes_to_handler_and_wait_continues_to_thespian_fd(pairs, handler_slot):
    (watched, watched_peer), (thespian, thespian_peer) = pairs
    h = FakeHandler([watched.fileno()])
    h.socks[watched.fileno()] = watched
    loop_selector.set_watch_handler(h)
    sel = PassSelector()
    sel.register(watched.fileno(), READ)
    sel.register(thespian.fileno(), READ)
    watched_peer.send(b"a")
    thespian_peer.send(b"b")  # both ready: Thespian's fd is ready too, so everything goes back
    got = {key.fd for key, _ in sel.select(1.0)}
    assert got == {watched.fileno(), thespian.fileno()}
    assert h.calls == []
    thespian.recv(10)
    watched.recv(10)
    watched_peer.send(b"c")  # only the watched fd: handled here, the wait goes on until timeout
    t0 = time.monotonic()
    assert sel.select(0.2) == []
    assert h.calls == [[watched.fileno()]]
    assert time.monotonic() - t0 >= 0.19


def test_handler_asking_to_return_ends_the_wait(pairs, handler_slot):
    (watched, watched_peer), _ = pairs
    h = FakeHandler([watched.fileno()], go_on=False)
    h.socks[watched.fileno()] = watched
    loop_selector.set_watch_handler(h)
    sel = PassSelector()
    sel.register(watched.fileno(), READ)
    watched_peer.send(b"x")
    t0 = time.monotonic()
    assert sel.select(5.0) == []  # returned at once, with nothing for Thespian to handle
    assert time.monotonic() - t0 < 4.0
    assert h.calls == [[watched.fileno()]]


def test_pending_write_or_nested_wait_bypasses_the_handler(pairs, handler_slot):
    (watched, watched_peer), (thespian, _) = pairs
    h = FakeHandler([watched.fileno()])
    loop_selector.set_watch_handler(h)
    sel = PassSelector()
    sel.register(watched.fileno(), READ)
    sel.register(thespian.fileno(), WRITE)  # Thespian has a transmit waiting: its pass must run
    watched_peer.send(b"x")
    got = {key.fd: ev for key, ev in sel.select(1.0)}
    assert got == {watched.fileno(): READ, thespian.fileno(): WRITE}
    assert h.calls == []

    inner = []

    class Nested(FakeHandler):
        def __call__(self, fds):
            s2 = PassSelector()  # a wait inside the handler (Thespian draining a send) is plain
            s2.register(watched.fileno(), READ)
            inner.append({key.fd for key, _ in s2.select(0)})
            return super().__call__(fds)

    n = Nested([watched.fileno()], go_on=False)
    n.socks[watched.fileno()] = watched
    loop_selector.set_watch_handler(n)
    sel2 = PassSelector()
    sel2.register(watched.fileno(), READ)
    assert sel2.select(1.0) == []
    assert inner == [{watched.fileno()}]
    assert n.calls == [[watched.fileno()]]


def test_forked_child_has_no_handler(handler_slot):
    loop_selector.set_watch_handler(FakeHandler([]))
    # the child must not call its creator's actor
    assert answer_in_child(lambda: b"none" if loop_selector._watch_handler is None else b"installed") == b"none"


# -- WatchShortcut against a stand-in for Thespian's ActorManager and transport ------------------

class FakeTransport:
    def __init__(self, watches):
        self._watches = list(watches)
        self._aTB_numPendingTransmits = 0
        self._pendingWakeups = []
        self._finished_intents = []
        self._incomingEnvelopes = []
        self.run_time = object()

    def set_watch(self, fds):
        self._watches = list(fds)


class FakeManager:
    def __init__(self, transport):
        self.transport = transport
        self._receiveQueue = []


class FakeActor:
    """receiveMessage runs ``effect(transport)`` and returns a watch of ``watch_after``."""

    def __init__(self, watches, effect=None, watch_after=None):
        self._myRef = FakeManager(FakeTransport(watches))
        self.myAddress = "me"
        self.effect = effect
        self.watch_after = list(watches) if watch_after is None else watch_after
        self.got = []

    def receiveMessage(self, msg, sender):
        self.got.append((msg, sender))
        if self.effect:
            self.effect(self._myRef.transport)
        return ThespianWatch(self.watch_after) if self.watch_after else None


def test_shortcut_delivers_watch_message_and_goes_on_when_nothing_changed():
    actor = FakeActor([5, 6])
    sc = WatchShortcut(actor)
    assert sc.owns([5]) and sc.owns([5, 6]) and not sc.owns([5, 7])
    assert sc([6]) is True
    (msg, sender), = actor.got
    assert isinstance(msg, WatchMessage) and msg.ready == [6] and sender == "me"


@pytest.mark.parametrize("effect, watch_after", [
    (lambda t: setattr(t, "_aTB_numPendingTransmits", 1), None),   # sent through Thespian
    (lambda t: t._pendingWakeups.append(1), None),                  # wakeupAfter
    (lambda t: setattr(t, "run_time", object()), None),             # an earlier deadline
    (lambda t: t._finished_intents.append(1), None),                # a send completed at once
    (lambda t: t._incomingEnvelopes.append(1), None),               # a message to itself
    (None, [5]),                                                    # watch list changed
    (None, []),                                                     # watches nothing now
])
def test_shortcut_returns_to_thespian_when_thespian_has_work(effect, watch_after):
    actor = FakeActor([5, 6], effect, watch_after)
    sc = WatchShortcut(actor)
    assert sc([5]) is False
    assert actor._myRef.transport._watches == (watch_after if watch_after is not None else [5, 6])


def test_wait_inside_a_handler_is_left_to_thespian():
    actor = FakeActor([5])
    actor._receiving = 1  # Thespian drains its transmits from inside receiveMessage
    assert not WatchShortcut(actor).owns([5])
    actor._receiving = 0
    assert WatchShortcut(actor).owns([5])


def test_shortcut_never_delivers_to_an_exiting_actor():
    actor = FakeActor([5])
    actor._myRef._exiting = True
    sc = WatchShortcut(actor)
    assert not sc.owns([5])  # its readiness goes back to Thespian's loop as it is
    assert sc([5]) is False
    assert actor.got == []


# -- a real actor on multiprocTCPBase ---------------------------------------------------------

class ShortcutEcho(NodeActor):
    """Listens on 127.0.0.1, echoes what its one client sends, counts how each WatchMessage came
    (inside the selector's wait or through Thespian) and its timer ticks."""

    WATCH_SHORTCUT = True

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.lsock = None
        self.conn = None
        self.via = {"shortcut": 0, "thespian": 0}
        self.ticks = 0

    def on_other(self, msg, sender):
        if msg == "listen":
            self.lsock = socket.socket()
            self.lsock.bind(("127.0.0.1", 0))
            self.lsock.listen(1)
            self.after("tick", 0.02)
            self.send(sender, self.lsock.getsockname()[1])
        elif msg == "stats":
            self.send(sender, dict(self.via, ticks=self.ticks))

    def on_WatchMessage(self, msg, sender):
        self.via["shortcut" if loop_selector._in_handler else "thespian"] += 1
        if self.lsock is not None and self.lsock.fileno() in msg.ready:
            self.conn, _ = self.lsock.accept()
            self.conn.setblocking(False)
            self.lsock.close()
            self.lsock = None
        if self.conn is not None and self.conn.fileno() in msg.ready:
            data = self.conn.recv(65536)
            if data:
                self.conn.sendall(data)
            else:
                self.conn.close()
                self.conn = None

    def on_timer(self, name):
        self.ticks += 1
        self.after("tick", 0.02)

    def watch(self):
        fds = [s.fileno() for s in (self.lsock, self.conn) if s is not None]
        return ThespianWatch(fds) if fds else None


def test_real_actor_takes_the_shortcut_and_still_answers_messages_and_timers(nodes):
    system = nodes
    client = None
    try:
        echo = system.asys.createActor(ShortcutEcho)
        port = system.asys.ask(echo, "listen", 10)
        assert isinstance(port, int)
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        for i in range(200):  # round trips: every one wakes the actor on its watched socket
            client.sendall(b"%d." % i)
            want = b"%d." % i
            got = b""
            while len(got) < len(want):
                got += client.recv(100)
            assert got == want
        stats = system.asys.ask(echo, "stats", 10)  # a Thespian message still gets through
        assert stats["shortcut"] + stats["thespian"] >= 201
        assert stats["shortcut"] >= 100, stats  # most round trips never went through Thespian
        # wakeupAfter timers still fire while the watched socket keeps the actor busy
        first = stats["ticks"]
        deadline = time.monotonic() + 10
        ticks = first
        while ticks < first + 3 and time.monotonic() < deadline:
            for _ in range(50):
                client.sendall(b"z")
                assert client.recv(10) == b"z"
            ticks = system.asys.ask(echo, "stats", 10)["ticks"]
        assert ticks >= first + 3
        system.asys.tell(echo, ActorExitRequest())
        client.settimeout(5)
        assert wait_until(lambda: client.recv(10) == b"", 5)  # the actor exited and closed it
    finally:
        if client is not None:
            client.close()


def test_exception_out_of_the_actor_ends_the_wait_and_keeps_the_watch(caplog):
    actor = FakeActor([5, 6])

    def boom(msg, sender):
        raise RuntimeError("watch() failed")
    actor.receiveMessage = boom
    with caplog.at_level("ERROR", logger="devp2p"):
        assert WatchShortcut(actor)([5]) is False
    assert actor._myRef.transport._watches == [5, 6]
    assert "WatchMessage outside Thespian's loop failed" in caplog.text
