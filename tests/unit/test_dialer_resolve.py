"""The Dialer actor's name resolution without an actor system: a resolver that never answers is
given up after RESOLVE_TIMEOUT_S (5 s, go-ethereum p2p/dial.go) of the Dialer's clock, which the
test drives, so nothing sleeps."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import actors.dialer as dialer_mod
from actors.dialer import Dialer
from messages.lifecycle import StartDialer
from messages.peer import DialRequest, DialUnresolved
from node.dial_scheduler import RESOLVE_TIMEOUT_S
from rlpx.keys import generate_private_key, node_id_from_private_key
from support.peer_harness import node_config


def _dialer(monkeypatch, resolver):
    d = Dialer()
    d._myRef = SimpleNamespace(address="dialer")
    sent = []
    monkeypatch.setattr(d, "send", lambda to, msg: sent.append(msg))
    monkeypatch.setattr(dialer_mod, "resolve_host", resolver)
    clock = [100.0]
    d.clock = lambda: clock[0]
    return d, sent, clock


def _start(d, host: str) -> bytes:
    remote = node_id_from_private_key(generate_private_key())
    key = generate_private_key()
    url = f"enode://{remote.hex()}@{host}:30303"
    d.on_StartDialer(StartDialer(node_config(key), "server", node_id_from_private_key(key), (url,)), "server")
    return remote


def test_a_resolver_that_never_answers_is_given_up_after_the_resolve_timeout(monkeypatch):
    release = threading.Event()
    asked = threading.Event()

    def slow(host, port):
        asked.set()
        release.wait(30)  # answers only when the test ends
        return ["127.0.0.1"]

    d, sent, clock = _dialer(monkeypatch, slow)
    try:
        remote = _start(d, "slow.example")
        assert asked.wait(5) and remote in d.resolving
        clock[0] += RESOLVE_TIMEOUT_S - 0.01
        d._collect()
        assert remote in d.resolving and sent[1:] == []  # (sent[0] is the ActorPid)
        clock[0] += 0.01
        d._collect()
        unresolved = [m for m in sent if isinstance(m, DialUnresolved)]
        assert remote not in d.resolving and len(unresolved) == 1
        assert unresolved[0].node_id == remote and f"no answer within {RESOLVE_TIMEOUT_S:g} s" in unresolved[0].error
        assert "slow.example" in unresolved[0].error
        assert not [m for m in sent if isinstance(m, DialRequest)]  # never dialled
    finally:
        release.set()
        d.on_ActorExitRequest(None, None)


def test_a_name_that_resolves_in_time_is_dialled_at_its_address(monkeypatch):
    d, sent, clock = _dialer(monkeypatch, lambda host, port: ["127.0.0.1"])
    try:
        remote = _start(d, "fast.example")
        future = d.resolving[remote][0]
        future.result(5)  # the pool's thread has answered: an event, not a sleep
        d._collect()
        dials = [m for m in sent if isinstance(m, DialRequest)]
        assert len(dials) == 1 and "@127.0.0.1:30303" in dials[0].enode and dials[0].static
    finally:
        d.on_ActorExitRequest(None, None)
