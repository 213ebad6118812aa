"""actors/io/prefork.py: the in-memory RLPx rehearsal the Server runs before forking Peers, and the
other per-process savings (setproctitle import guard, libc prctl looked up once)."""

from __future__ import annotations

import importlib.util
import sys

import pytest

import actors.io.prefork as prefork
from actors.adapter import lifeline
from actors.adapter import install
from rlpx.connection import Connection, DisconnectReceived, Messages


def test_rehearsal_runs_a_whole_connection(monkeypatch):
    seen = []
    original = Connection.feed

    def feed(self, data):
        events = original(self, data)
        seen.extend(events)
        return events

    monkeypatch.setattr(Connection, "feed", feed)
    prefork.rehearse_connection([("test", 1, 8), ("aaa", 2, 3)])
    # every payload size went both ways through the first protocol (aaa/2: names sort) ...
    sizes = sorted(len(p) for ev in seen if isinstance(ev, Messages) for p in
                   [payload for _, payload in ev.by_protocol["aaa"]])
    assert sizes == sorted(2 * list(prefork.REHEARSAL_PAYLOAD_SIZES))
    # ... and the connection ended with a Disconnect
    assert isinstance(seen[-1], DisconnectReceived)


def test_rehearsal_without_protocols_stops_after_hello():
    prefork.rehearse_connection([])  # no protocol to message: must not fail


def test_rehearsal_reports_a_connection_that_never_runs(monkeypatch):
    monkeypatch.setattr(Connection, "approve_add_peer", lambda self: [])  # stays at checkpoint 2
    with pytest.raises(RuntimeError, match="did not reach RUNNING"):
        prefork.rehearse_connection([("test", 1, 8)])


def test_setproctitle_guard_when_absent(monkeypatch):
    monkeypatch.delitem(sys.modules, "setproctitle", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    install()
    assert "setproctitle" in sys.modules and sys.modules["setproctitle"] is None
    with pytest.raises(ImportError):
        from setproctitle import setproctitle  # noqa: F401 - what Thespian's setProcName does


def test_setproctitle_guard_leaves_an_installed_package_alone(monkeypatch):
    monkeypatch.delitem(sys.modules, "setproctitle", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    install()
    assert "setproctitle" not in sys.modules


def test_prctl_is_looked_up_once(monkeypatch):
    monkeypatch.setattr(lifeline, "_prctl", None)
    first = lifeline._libc_prctl()
    assert lifeline._libc_prctl() is first
