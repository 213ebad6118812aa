"""Writes node events as JSON Lines (one object per line: ``event``, ``node``, ``time`` in UTC
ISO 8601, then the event's fields) to a file or stdout, and/or as readable lines to a terminal
(:mod:`node.console`), and answers :class:`actors.collector.WaitFor` like the collector it extends."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone

from node.console import event_line

from .collector import EventCollector


@dataclass(frozen=True)
class WriteEventsTo:
    """-> writer: append events as JSON Lines to ``path`` ("-" = standard output, "" = nowhere),
    and, with ``console``, as one readable line each to standard output; reply True."""

    path: str
    console: bool = False


def event_json(ev) -> str:
    """One JSON line for a :class:`messages.events.NodeEvent`."""
    when = datetime.fromtimestamp(ev.time, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    obj = {"event": ev.kind, "node": ev.node, "time": when}
    obj.update(ev.data)
    return json.dumps(obj, sort_keys=False, default=str)


class EventWriter(EventCollector):
    """Event collector that also writes every event as a JSON line."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.out = None
        self.console = None

    def on_WriteEventsTo(self, msg, sender):
        if msg.path == "-":
            self.out = open(os.dup(1), "w", buffering=1)
        elif msg.path:
            self.out = open(msg.path, "a", buffering=1)
        if msg.console:
            self.console = open(os.dup(1), "w", buffering=1)
        self.send(sender, True)

    def on_NodeEvent(self, msg, sender):
        if self.out is not None:
            try:
                self.out.write(event_json(msg) + "\n")
            except OSError:
                self.out = None
        if self.console is not None:
            try:
                self.console.write(event_line(msg.kind, msg.node, msg.time, msg.data) + "\n")
            except OSError:
                self.console = None
        super().on_NodeEvent(msg, sender)

    def on_ActorExitRequest(self, msg, sender):
        for out in (self.out, self.console):
            if out is not None:
                out.flush()
