"""actors/server.py liveness sweep: a child's process is checked in /proc when its pid is known
(no message to it), and probed through dead letters only while its pid is unknown."""

from __future__ import annotations

import os

from config.model import RestartPolicy
from actors.server import Server
from messages.peer import Liveness
from node.admission import Admission
from node.children import Children
from node.peer_table import PeerTable


class _Recorder(Server):
    """A Server outside any actor system: ``send`` and ``_child_gone`` are recorded."""

    def __init__(self):  # noqa: D107 - deliberately not Server.__init__ (no Thespian context)
        self.sent, self.gone = [], []
        self.table = PeerTable(Admission(b"\x01" * 64, 10, 10))
        self.children = Children({"spawner": RestartPolicy(), "listener": RestartPolicy(), "dialer": RestartPolicy(),
                                  "discovery": RestartPolicy(), "http": RestartPolicy()})
        self.spawner = self.listener = self.dialer = self.discovery = self.http = None

    def send(self, addr, msg):
        self.sent.append((addr, msg))

    def _child_gone(self, addr, how):
        self.gone.append((addr, how))

    def _peer_died(self, rec, how):
        self.gone.append((rec.addr, how))


def _dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_only_children_without_a_pid_are_probed():
    s = _Recorder()
    s.table.new("peer-known", True, pid=os.getpid())
    s.table.new("peer-unknown", True, pid=None)
    s.listener, s.dialer = "listener", "dialer"
    s.children.started("listener", "listener")
    s.children.started("dialer", "dialer")
    s.children.set_pid("dialer", "dialer", os.getpid())
    s.table.new(None, True, pid=None)  # its Peer has not said who it is yet: nothing to probe
    s._sweep()
    assert sorted(addr for addr, _ in s.sent) == ["listener", "peer-unknown"]
    assert all(isinstance(msg, Liveness) for _, msg in s.sent)
    assert s.gone == []


def test_sweep_finds_a_dead_peer_process_without_messaging_it():
    s = _Recorder()
    s.table.new("alive", True, pid=os.getpid())
    s.table.new("dead", True, pid=_dead_pid())
    s._sweep()
    assert s.gone == [("dead", "found dead by liveness check")]
    assert s.sent == []
