"""The Peer pool (NodeConfig.peer_pool, actors/server.py): idle Peer actors the Server keeps
started; a connection is handed to one of them instead of waiting for a fork, a pooled Peer
that dies is replaced and never counts as a peer, and stopping the node leaves none behind."""

from __future__ import annotations

import os
import signal

from node_fixtures import RawPeer, _socket_inodes, nodes, wait_until  # noqa: F401 - fixture
from rlpx.connection import HelloReceived


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    return int(raw[raw.rindex(")") + 2:].split()[1])


def _children(pids, parent: int) -> set[int]:
    return {p for p in pids if _ppid(p) == parent}


def _server_pid(nodes, before: set[int]) -> int:
    """The node's Server: the process started with the node that is the parent of others."""
    mine = set(nodes.pids()) - before
    return next(p for p in mine if _children(mine, p))


def _idle_peers(nodes, server: int) -> set[int]:
    """The Server's children minus the Listener and the Dialer (its first two children, the
    lowest pids) and minus any Peer that has children (Protocol actors, i.e. a connection)."""
    pids = set(nodes.pids())
    kids = sorted(_children(pids, server))
    return {p for p in kids[2:] if not _children(pids, p)}


def _pid_with_connection(pids, local_port: int) -> int | None:
    """The process holding the TCP connection whose remote end is 127.0.0.1:``local_port``."""
    with open("/proc/net/tcp") as f:
        rows = f.readlines()[1:]
    inodes = set()
    for row in rows:
        cols = row.split()
        rport = int(cols[2].split(":")[1], 16)
        if rport == local_port and cols[3] == "01":  # ESTABLISHED
            inodes.add(int(cols[9]))
    for pid in pids:
        if _socket_inodes(pid) & inodes:
            return pid
    return None


def test_connection_is_handed_to_a_pooled_peer(nodes):
    before = set(nodes.pids())
    a = nodes.start("alpha", peer_pool=3)
    server = _server_pid(nodes, before)
    assert wait_until(lambda: len(_idle_peers(nodes, server)) == 3, 10.0), _idle_peers(nodes, server)
    pooled = _idle_peers(nodes, server)
    with RawPeer(a.enode) as raw:
        assert isinstance(raw.handshake(), HelloReceived)
        nodes.expect("peer_added", node="alpha", peer_id=raw.id_hex)
        port = raw.sock.getsockname()[1]
        owner = _pid_with_connection(pooled, port)
        assert owner in pooled, (owner, pooled)  # the connection went to a process started before it
        # the pool is refilled to 3 idle Peers besides the one now connected
        assert wait_until(lambda: len(_idle_peers(nodes, server) - {owner}) == 3, 10.0)
        assert len(nodes.peers(a)) == 1
    # a dial takes a pooled Peer too
    b = nodes.start("beta", peer_pool=0)
    mark = nodes.mark()
    nodes.connect(a, b)
    nodes.expect("peer_added", node="alpha", peer_id=b.id_hex, since=mark)
    assert nodes.events(kind="dial_failed") == []


def test_pooled_peer_death_is_replaced_and_not_a_peer(nodes):
    before = set(nodes.pids())
    a = nodes.start("alpha", peer_pool=2)
    server = _server_pid(nodes, before)
    assert wait_until(lambda: len(_idle_peers(nodes, server)) == 2, 10.0)
    victim = min(_idle_peers(nodes, server))
    nodes.sigkilled = True
    mark = nodes.mark()
    os.kill(victim, signal.SIGKILL)
    ev = nodes.expect("actor_exited", node="alpha", since=mark, timeout_s=10)[0].data
    assert ev["actor"] == "peer" and ev["pooled"] is True and ev["peer_id"] == ""
    # replaced: two idle Peers again, the victim not among them
    assert wait_until(lambda: len(_idle_peers(nodes, server)) == 2 and victim not in _idle_peers(nodes, server),
                      10.0), _idle_peers(nodes, server)
    # not a peer, not a failed connection
    assert nodes.peers(a) == ()
    assert [e.kind for e in nodes.events(since=mark)
            if e.kind in ("peer_removed", "dial_failed", "peer_rejected")] == []
    # the node still accepts, and its stop counts no pooled Peer as disconnected
    with RawPeer(a.enode) as raw:
        assert isinstance(raw.handshake(), HelloReceived)
        nodes.expect("peer_added", node="alpha", peer_id=raw.id_hex)
        stopped = nodes.stop(a)
        assert stopped is not None and stopped.peers_disconnected == 1, stopped
    mine = lambda: set(nodes.pids()) - before  # noqa: E731
    assert wait_until(lambda: not mine(), 10.0), f"processes of alpha left after stop: {mine()}"


def test_no_pool_creates_peers_on_demand(nodes):
    before = set(nodes.pids())
    a = nodes.start("alpha", peer_pool=0)
    server = _server_pid(nodes, before)
    with RawPeer(a.enode) as raw:
        assert isinstance(raw.handshake(), HelloReceived)
        nodes.expect("peer_added", node="alpha", peer_id=raw.id_hex)
        # Listener, Dialer and the one Peer (which has a Protocol child): nothing idle.  The Peer
        # forks its Protocol actor once ADD_PEER is approved, and peer_added (published by the
        # Server at that moment) can reach us first: wait, bounded, for that child
        assert len(_children(set(nodes.pids()), server)) == 3
        assert wait_until(lambda: _idle_peers(nodes, server) == set(), 5.0), _idle_peers(nodes, server)
