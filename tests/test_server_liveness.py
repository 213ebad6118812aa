"""actors/server.py liveness sweep: a child's process is checked in /proc when its pid is known
(no message to it), and probed through dead letters only while its pid is unknown."""

from __future__ import annotations

import os

from actors.server import POOLED, Server, _PeerRec
from messages.peer import Liveness


class _Recorder(Server):
    """A Server outside any actor system: ``send`` and ``_child_gone`` are recorded."""

    def __init__(self):  # noqa: D107 - deliberately not Server.__init__ (no Thespian context)
        self.sent, self.gone = [], []
        self.peers, self.child_pids = {}, {}
        self.listener = self.dialer = None

    def send(self, addr, msg):
        self.sent.append((addr, msg))

    def _child_gone(self, addr, how):
        self.gone.append((addr, how))


def _rec(addr, pid, state="added"):
    rec = _PeerRec(addr, inbound=True)
    rec.pid, rec.state = pid, state
    return rec


def _dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_only_children_without_a_pid_are_probed():
    s = _Recorder()
    s.peers = {1: _rec("peer-known", os.getpid()), 2: _rec("peer-unknown", None),
               3: _rec("pooled-unknown", None, POOLED)}
    s.listener, s.dialer = "listener", "dialer"
    s.child_pids = {"dialer": os.getpid()}
    s._probe_unknown_pids()
    assert sorted(addr for addr, _ in s.sent) == ["listener", "peer-unknown"]
    assert all(isinstance(msg, Liveness) for _, msg in s.sent)


def test_sweep_finds_a_dead_peer_process_without_messaging_it():
    s = _Recorder()
    s.peers = {1: _rec("alive", os.getpid()), 2: _rec("dead", _dead_pid())}
    s._sweep()
    s._probe_unknown_pids()
    assert s.gone == [("dead", "found dead by liveness check")]
    assert s.sent == []
