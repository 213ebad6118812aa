"""Supervision and restarts, through real processes: SIGKILL (and the other injected faults)
of each kind of actor, and the documented recovery, observed as events."""

from __future__ import annotations

import os

import pytest

from config.model import RestartPolicy
from config.model import ProtocolConfig, SupervisionConfig
from messages.admin import AdminResult
from messages.supervision import FaultRequest
from support.nodes import FAST, TEST_PROTO, echo, sender

FAILING = "protocols.testing_protocols.FailingProtocol"
QUICK = SupervisionConfig(spawner=RestartPolicy(max_restarts=5, within_s=10, backoff_s=0.05, backoff_max_s=0.2),
                          listener=RestartPolicy(max_restarts=5, within_s=10, backoff_s=0.05, backoff_max_s=0.2),
                          dialer=RestartPolicy(max_restarts=5, within_s=10, backoff_s=0.05, backoff_max_s=0.2),
                          liveness_s=0.5)


def fault(nodes, node, target, mode):
    if mode == "kill":
        nodes.sigkilled = True
    reply = nodes.asys.ask(node.server, FaultRequest(target, mode), 10)
    assert isinstance(reply, AdminResult) and reply.ok, f"fault {target} {mode}: {reply!r}"


def restartable(policy=None, **options):
    opts = {"echo": True}
    opts.update(options)
    return ProtocolConfig("test", 1, tuple(opts.items()), on_failure="restart",
                          restart=policy or RestartPolicy(max_restarts=100, within_s=60, backoff_s=0.01,
                                                          backoff_max_s=0.05))


@pytest.mark.parametrize("mode", ["kill", "exit", "raise"])
def test_listener_restarts_and_accepts_again(nodes, mode):
    a = nodes.start("alpha", supervision=QUICK)
    fault(nodes, a, "listener", mode)
    if mode == "raise":
        # the next handler raises: the next thing the Listener handles (an accept, a tick)
        b0 = nodes.start("poke")
        nodes.connect(b0, a)
    exited = nodes.expect("actor_exited", node="alpha", actor="listener", timeout_s=10)[0]
    restarted = nodes.expect("actor_restarted", node="alpha", actor="listener", timeout_s=10)[0]
    assert restarted.time - exited.time < 1.0
    assert exited.data["cause"] == f"injected {mode}"
    b = nodes.start("beta")
    mark = nodes.mark()
    nodes.connect(b, a)  # dials the same address: the restarted Listener listens there again
    nodes.expect("peer_added", node="alpha", since=mark, timeout_s=10)


@pytest.mark.parametrize("mode", ["kill", "exit"])
def test_spawner_death_drops_its_peers_then_it_restarts_and_they_come_back(nodes, mode):
    b = nodes.start("beta")
    a = nodes.start("alpha", supervision=QUICK, static_nodes=[b.enode])
    nodes.expect("peer_added", node="alpha")
    mark = nodes.mark()
    fault(nodes, a, "spawner", mode)
    exited = nodes.expect("actor_exited", node="alpha", actor="spawner", since=mark, timeout_s=10)[0]
    assert exited.data["cause"] == f"injected {mode}"
    nodes.expect("actor_restarted", node="alpha", actor="spawner", since=mark, timeout_s=10)
    # the Peers are the Spawner's children and die with it (actors/spawner.py)
    nodes.expect("peer_removed", node="alpha", since=mark, timeout_s=10)
    nodes.expect("peer_added", node="alpha", since=mark, timeout_s=15)  # static: dialled again
    c = nodes.start("gamma")
    mark = nodes.mark()
    nodes.connect(c, a)  # inbound: the new Spawner forks its Peer
    nodes.expect("peer_added", node="alpha", since=mark, peer_id=c.id_hex, timeout_s=10)
    assert len(nodes.peers(a)) == 2


def test_dialer_restart_recovers_static_nodes(nodes):
    b = nodes.start("beta")
    a = nodes.start("alpha", supervision=QUICK, static_nodes=[b.enode])
    nodes.expect("peer_added", node="alpha")
    fault(nodes, a, "dialer", "kill")
    nodes.expect("actor_restarted", node="alpha", actor="dialer", timeout_s=10)
    # beta restarts (same key, same port): only a Dialer that kept the static node dials again
    nodes.stop(b)
    nodes.expect("peer_removed", node="alpha")
    mark = nodes.mark()
    nodes.start("beta2", key=b.key, listen_port=b.port)
    nodes.expect("peer_added", node="alpha", since=mark, timeout_s=15)


def test_killed_peer_is_removed_and_static_peer_dialled_again(nodes):
    b = nodes.start("beta")
    a = nodes.start("alpha", static_nodes=[b.enode], supervision=QUICK)
    nodes.expect("peer_added", node="alpha")
    mark = nodes.mark()
    fault(nodes, a, f"peer:{b.id_hex[:12]}", "kill")
    nodes.expect("actor_exited", node="alpha", actor="peer", since=mark, timeout_s=5)
    removed = nodes.expect("peer_removed", node="alpha", since=mark, timeout_s=5)[0].data
    assert removed["reason"] == "NETWORK_ERROR"
    nodes.expect("peer_removed", node="beta", since=mark, timeout_s=10)  # beta sees the connection die
    nodes.expect("peer_added", node="alpha", since=mark, timeout_s=15)  # static: dialled again
    assert len(nodes.peers(a)) == 1


def test_three_peers_killed_at_once_are_all_noticed(nodes):
    a = nodes.start("alpha", supervision=QUICK)
    others = [nodes.start(f"p{i}") for i in range(3)]
    for o in others:
        nodes.connect(o, a)
    nodes.expect("peer_added", node="alpha", count=3, timeout_s=15)
    mark = nodes.mark()
    for o in others:
        fault(nodes, a, f"peer:{o.id_hex[:12]}", "kill")
    gone = nodes.expect("peer_removed", node="alpha", count=3, since=mark, timeout_s=2.0)
    assert {e.data["peer_id"] for e in gone} == {o.id_hex for o in others}


def test_protocol_restart_keeps_peer_and_loses_nothing(nodes):
    a = nodes.start("alpha", protocols=[restartable()])
    b = nodes.start("beta", protocols=[sender(20000, 100, window=128)])
    nodes.connect(b, a)
    nodes.expect("peer_added", node="alpha")
    fault(nodes, a, f"protocol:{b.id_hex[:12]}:test", "kill")
    restarted = nodes.expect("actor_restarted", node="alpha", actor="protocol", timeout_s=10)[0].data
    assert restarted["protocol"] == "test" and restarted["attempt"] == 1
    report = nodes.report(b, timeout_s=60)
    assert report["count"] == 20000
    assert report["mismatches"] == 0  # none lost, none reordered; duplicates allowed at the restart
    assert nodes.events(kind="peer_removed") == []
    assert len(nodes.peers(a)) == 1


def test_protocol_disconnect_policy_is_go_ethereums(nodes):
    a = nodes.start("alpha", protocols=[echo()])
    b = nodes.start("beta", protocols=[echo()])
    nodes.connect(b, a)
    nodes.expect("peer_added", node="alpha")
    fault(nodes, a, f"protocol:{b.id_hex[:12]}:test", "kill")
    ours = nodes.expect("peer_removed", node="alpha", timeout_s=10)[0].data
    assert ours["reason"] == "SUBPROTOCOL_ERROR" and ours["remote_requested"] is False
    theirs = nodes.expect("peer_removed", node="beta", timeout_s=10)[0].data
    assert theirs["reason"] == "SUBPROTOCOL_ERROR" and theirs["remote_requested"] is True


def test_protocol_failing_every_start_reaches_its_limit(nodes):
    policy = RestartPolicy(max_restarts=2, within_s=30, backoff_s=0.01, backoff_max_s=0.02)
    failing = ProtocolConfig("test", 1, (("echo", True),), actor=FAILING, on_failure="restart", restart=policy)
    a = nodes.start("alpha", protocols=[failing])
    b = nodes.start("beta", protocols=[echo()])
    nodes.connect(b, a)
    limit = nodes.expect("restart_limit_reached", node="alpha", timeout_s=15)[0].data
    assert limit["actor"] == "protocol" and limit["restarts"] == 2
    assert len(nodes.events(kind="actor_restarted", node="alpha")) == 2
    gone = nodes.expect("peer_removed", node="alpha", timeout_s=10)[0].data
    assert gone["reason"] == "SUBPROTOCOL_ERROR"


def _fd_count(pids) -> int:
    total = 0
    for pid in pids:
        try:
            total += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            pass
    return total


def test_fifty_kill_and_recover_cycles_leak_nothing(nodes):
    a = nodes.start("alpha", protocols=[restartable()], supervision=QUICK)
    b = nodes.start("beta", protocols=[echo()])
    nodes.connect(b, a)
    nodes.expect("peer_added", node="alpha")
    nodes.expect("peer_added", node="beta")
    # one warm-up cycle so that Thespian's per-pair sockets exist before counting
    fault(nodes, a, f"protocol:{b.id_hex[:12]}:test", "kill")
    nodes.expect("actor_restarted", node="alpha", actor="protocol", timeout_s=10)
    before_pids = nodes.pids()
    before_fds = _fd_count(before_pids)
    for i in range(2, 52):
        mark = nodes.mark()
        fault(nodes, a, f"protocol:{b.id_hex[:12]}:test", "kill")
        nodes.expect("actor_restarted", node="alpha", actor="protocol", since=mark, timeout_s=10)
    # and the Listener, five times
    for _ in range(5):
        mark = nodes.mark()
        fault(nodes, a, "listener", "kill")
        nodes.expect("actor_restarted", node="alpha", actor="listener", since=mark, timeout_s=10)
    after_pids = nodes.pids()
    assert len(after_pids) == len(before_pids), (before_pids, after_pids)
    assert _fd_count(after_pids) <= before_fds + 10, (before_fds, _fd_count(after_pids))
    assert len(nodes.peers(a)) == 1 and nodes.events(kind="peer_removed") == []


def test_messages_held_past_the_bound_disconnect_the_peer(nodes):
    slow = RestartPolicy(max_restarts=5, within_s=60, backoff_s=3.0, backoff_max_s=3.0)
    held = ProtocolConfig("test", 1, (("echo", True),), on_failure="restart", restart=slow, hold_max=20)
    a = nodes.start("alpha", protocols=[held])
    # beta streams 200,000 messages, up to 500 in flight, from the moment the peer is added
    b = nodes.start("beta", protocols=[sender(200000, 100, window=500)])
    nodes.connect(b, a)
    nodes.expect("peer_added", node="alpha")
    fault(nodes, a, f"protocol:{b.id_hex[:12]}:test", "kill")
    # the restart waits 3 s; the unacknowledged and arriving messages held for it exceed 20
    gone = nodes.expect("peer_removed", node="alpha", timeout_s=10)[0].data
    assert gone["reason"] == "SUBPROTOCOL_ERROR"
    assert "held while it restarts" in gone["error"]
    assert nodes.events(kind="actor_restarted", node="alpha") == []
