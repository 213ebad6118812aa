"""Shutdown: every peer gets Disconnect(QUITTING), and no process of the node is left."""

from __future__ import annotations

from support.nodes import NodeSystem, RawPeer, wait_until
from rlpx.connection import HelloReceived
from rlpx.disc import DiscReason


def test_stop_node_disconnects_every_peer_and_leaves_no_process(nodes):
    """Stopping node alpha (StopNode, as run_node does on Ctrl-C) sends Disconnect(QUITTING) to a
    node peer and to a raw peer, and every process alpha created exits, as do beta's
    Peer/Protocol actors for the dropped connection: the system's processes return to what
    they were before alpha started."""
    b = nodes.start("beta")
    baseline = set(nodes.pids())
    a = nodes.start("alpha")
    nodes.connect(b, a)
    nodes.expect("peer_added", node="alpha", peer_id=b.id_hex)
    with RawPeer(a.enode) as raw:
        assert isinstance(raw.handshake(), HelloReceived)
        nodes.expect("peer_added", node="alpha", peer_id=raw.id_hex)
        # alpha's Server, Listener, Dialer, 2 Peers + 2 Protocols; beta's Peer + Protocol
        # (Protocol actors are created just after peer_added: wait for them, bounded)
        assert wait_until(lambda: len(set(nodes.pids()) - baseline) >= 9, 5.0), (baseline, nodes.pids())

        stopped = nodes.stop(a)
        assert stopped is not None and stopped.peers_disconnected == 2, stopped
        reason, _ = raw.read_until_disconnect(5.0)
        assert reason == DiscReason.QUITTING, reason
        assert raw.wait_eof(5.0)
    ev = nodes.expect("peer_removed", node="beta", peer_id=a.id_hex)[0].data
    assert ev["reason"] == "QUITTING" and ev["remote_requested"] is True, ev
    stopped_ev = nodes.expect("stopped", node="alpha")[0].data
    assert stopped_ev["peers_disconnected"] == 2
    left = wait_until(lambda: set(nodes.pids()) == baseline, 5.0)
    assert left, f"processes of alpha still running: {set(nodes.pids()) - baseline}"


def test_actor_system_shutdown_sends_quitting(nodes, tmp_path):
    """Shutting the whole actor system down (no StopNode first) still sends Disconnect(QUITTING)
    to every peer - a raw peer and a node running in another actor system - and leaves no
    process of the system behind."""
    other = NodeSystem(log_file=str(tmp_path / "other.log"))
    try:
        a = other.start("alpha")
        b = nodes.start("beta")
        nodes.connect(b, a)
        nodes.expect("peer_added", node="beta", peer_id=a.id_hex)
        with RawPeer(a.enode) as raw:
            assert isinstance(raw.handshake(), HelloReceived)
            other.expect("peer_added", node="alpha", peer_id=raw.id_hex)
            left = other.close()
            assert left == {}, f"processes left after shutdown (killed): {left}"
            reason, _ = raw.read_until_disconnect(5.0)
            assert reason == DiscReason.QUITTING, reason
        ev = nodes.expect("peer_removed", node="beta", peer_id=a.id_hex)[0].data
        assert ev["reason"] == "QUITTING" and ev["remote_requested"] is True, ev
    finally:
        other.close()


def test_actor_system_shutdown_is_not_taken_for_crashes(nodes, tmp_path):
    """At the ActorSystem's shutdown the Server's Listener and Dialer exit on purpose: no
    "restarting" warning (the Server logged one for each, and published actor_exited)."""
    a = nodes.start("alpha")
    b = nodes.start("beta")
    nodes.connect(b, a)
    nodes.expect("peer_added", node="alpha", peer_id=b.id_hex)
    assert nodes.close() == {}
    log = (tmp_path / "node.log").read_text()
    assert "peer added" in log  # the node log is written (nodes fixture)
    assert "restarting" not in log and "exited" not in log, log
