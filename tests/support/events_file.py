"""Reading a node's JSON Lines event file (``run_node.py --events FILE``) from a test."""

from __future__ import annotations

import json

from .wait import wait_until


def read_events(path: str) -> list[dict]:
    """Every complete event line of ``path`` (none if it does not exist yet); a line still being
    written, without its newline, is left for the next call."""
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.endswith("\n") and line.strip()]
    except FileNotFoundError:
        return []


def matching(events: list[dict], kind: str, **match) -> list[dict]:
    """The events of ``kind`` whose fields equal every ``match`` value."""
    return [e for e in events if e["event"] == kind and all(e.get(k) == v for k, v in match.items())]


def wait_events(path: str, kind: str, count: int = 1, timeout_s: float = 20.0, interval_s: float = 0.02,
                **match) -> list[dict]:
    """Wait until ``path`` holds ``count`` events of ``kind`` matching ``match`` and return them
    all; AssertionError naming them after ``timeout_s`` seconds."""
    def found():
        hits = matching(read_events(path), kind, **match)
        return hits if len(hits) >= count else None
    return wait_until(found, timeout_s, f"{count} {kind} event(s) matching {match}", interval_s=interval_s)
