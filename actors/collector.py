"""An actor that subscribes to nodes' events and lets a caller outside the actor system wait
for them (tests, the command line).  Waiting is event-driven: an :class:`WaitFor` ask is
answered as soon as enough matching events have arrived, or at its deadline."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from messages.events import NodeEvent, Subscribe

from .base import NodeActor


@dataclass(frozen=True)
class CollectFrom:
    """-> collector: subscribe to ``server`` (an ActorAddress) for ``kinds`` (all when empty)."""

    server: object
    kinds: frozenset = frozenset()


@dataclass(frozen=True)
class WaitFor:
    """-> collector: reply :class:`Found` once ``count`` events of ``kind`` (optionally of node
    ``node``) whose data match ``match`` have been collected since index ``since``, or at
    ``timeout_s``.  ``match`` keys may be dotted paths into the event data ("data.count")."""

    kind: str
    match: tuple = ()
    count: int = 1
    node: str | None = None
    since: int = 0
    timeout_s: float = 10.0


@dataclass(frozen=True)
class Found:
    """Collector's reply: ``events`` matched (``ok`` False when the deadline came first); ``index``
    is the number of events collected so far (use as the next ``since``)."""

    ok: bool
    events: tuple
    index: int


@dataclass(frozen=True)
class GetEvents:
    """-> collector: reply :class:`Found` with every event collected since ``since``."""

    since: int = 0


@dataclass
class _Waiter:
    want: WaitFor
    sender: object
    deadline: float
    key: str = field(default="")


def _lookup(data: dict, path: str):
    cur = data
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


_MISSING = object()


def matches(ev: NodeEvent, want: WaitFor) -> bool:
    """True if ``ev`` has ``want.kind``, comes from ``want.node`` (any node when None) and every
    ``(path, value)`` of ``want.match`` equals the value at that dotted path in ``ev.data``
    (a missing path never matches)."""
    if ev.kind != want.kind or (want.node is not None and ev.node != want.node):
        return False
    return all(_lookup(ev.data, k) == v for k, v in want.match)


class EventCollector(NodeActor):
    """Collects :class:`NodeEvent` messages and answers :class:`WaitFor` / :class:`GetEvents`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.events: list[NodeEvent] = []
        self.waiters: list[_Waiter] = []
        self.seq = 0
        self.subscribing: list[tuple] = []  # (server, CollectFrom sender) awaiting Subscribed

    def on_handler_error(self, msg, sender, exc):
        """Keep collecting: the log line is enough (events must not be lost to a crash)."""

    def on_CollectFrom(self, msg, sender):
        # answer once the Server has the subscription (Subscribed), not when it is sent: the
        # caller's next request to the Server may otherwise be handled first, and the events it
        # causes would go to nobody
        self.subscribing.append((msg.server, sender))
        self.send(msg.server, Subscribe(self.myAddress, msg.kinds, ack=True))

    def on_Subscribed(self, msg, sender):
        for i, (server, requester) in enumerate(self.subscribing):
            if server == sender:
                del self.subscribing[i]
                self.send(requester, Found(True, (), len(self.events)))
                return

    def on_NodeEvent(self, msg, sender):
        self.events.append(msg)
        self._check()

    def on_GetEvents(self, msg, sender):
        self.send(sender, Found(True, tuple(self.events[msg.since:]), len(self.events)))

    def on_WaitFor(self, msg, sender):
        self.seq += 1
        w = _Waiter(msg, sender, time.monotonic() + msg.timeout_s, f"wait{self.seq}")
        self.waiters.append(w)
        self.timers.set(w.key, w.deadline)
        self._check()

    def _check(self):
        done = []
        for w in self.waiters:
            hits = [e for e in self.events[w.want.since:] if matches(e, w.want)]
            if len(hits) >= w.want.count:
                self.send(w.sender, Found(True, tuple(hits), len(self.events)))
                done.append(w)
        for w in done:
            self.waiters.remove(w)
            self.timers.cancel(w.key)

    def on_timer(self, name):
        for w in list(self.waiters):
            if w.key == name:
                hits = [e for e in self.events[w.want.since:] if matches(e, w.want)]
                self.send(w.sender, Found(False, tuple(hits), len(self.events)))
                self.waiters.remove(w)
