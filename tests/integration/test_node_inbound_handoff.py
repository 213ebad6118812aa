"""Inbound sockets reach their Peer by inheritance (actors/io/fd_handoff.py): after several inbound
connections, each node-side connection socket is held by exactly one process of the system (its
Peer: not the Listener, the Server, another Peer or a Protocol actor), and so is the Server's
inbound hand-off socket.  A copy anywhere else would keep a connection open after its Peer
closed it."""

from __future__ import annotations

import os

from actors.io import fd_handoff
from rlpx.handshake import Secrets
from support.nodes import RawPeer, _socket_inodes, wait_until
from rlpx.connection import HelloReceived


def _tcp_inode(local_port: int, remote_port: int) -> int | None:
    """Inode of the established loopback TCP socket local_port <-> remote_port (IPv4), or None."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if int(cols[1].split(":")[1], 16) == local_port and int(cols[2].split(":")[1], 16) == remote_port:
                return int(cols[9])
    return None


def _unix_sockets(prefix: str, pids) -> list[tuple[int, bytes]]:
    """(inode, abstract name) of the AF_UNIX sockets held by the processes ``pids`` whose name
    starts with ``prefix`` (no NUL): another node running on this machine has its own."""
    held = set().union(*(_socket_inodes(pid) for pid in pids))
    found = []
    with open("/proc/net/unix") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if len(cols) >= 8 and cols[7].startswith("@" + prefix) and int(cols[6]) in held:
                found.append((int(cols[6]), b"\0" + cols[7][1:].encode()))
    return found


def _holders(pids, inode: int) -> list[int]:
    return [pid for pid in pids if inode in _socket_inodes(pid)]


def test_each_inbound_socket_is_held_by_its_peer_only(nodes):
    a = nodes.start("alpha")
    raws = [RawPeer(a.enode) for _ in range(3)]
    try:
        for raw in raws:
            assert isinstance(raw.handshake(), HelloReceived)
            nodes.expect("peer_added", node="alpha", peer_id=raw.id_hex)
        inodes = [_tcp_inode(a.port, raw.sock.getsockname()[1]) for raw in raws]
        assert None not in inodes

        def holders():
            pids = list(nodes.pids())
            return [_holders(pids, inode) for inode in inodes]

        # a Protocol actor is forked holding its Peer's socket and closes it when it starts
        # (ProtocolStart.close_fds): wait, bounded, for that; a leaked copy never goes away
        assert wait_until(lambda: all(len(h) == 1 for h in holders()), 5.0), holders()
        holders = holders()
        pids = list(nodes.pids())
        assert len({h[0] for h in holders}) == 3  # three different Peers
        assert os.getpid() not in {h[0] for h in holders}

        inbox = _unix_sockets("devp2p-inbound-", pids)
        assert len(inbox) == 1
        assert len(_holders(pids, inbox[0][0])) == 1  # the Server's own, no inherited copies
    finally:
        for raw in raws:
            raw.close()


def test_bad_datagrams_on_the_inbox_are_dropped_and_the_node_carries_on(nodes):
    """Any local process can write to the abstract hand-off socket: text without an fd, and a
    well-formed hand-off record with a pipe instead of a TCP socket, are refused (one log line each) and
    the next real connection is served."""
    import array
    import socket

    a = nodes.start("alpha")
    (_, name), = _unix_sockets("devp2p-inbound-", nodes.pids())
    r, w = os.pipe()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(b"no-fd-here 127.0.0.1 1", name)
        record = fd_handoff.encode_handoff("abc", ("127.0.0.1", 1), Secrets(bytes(32), bytes(32), bytes(64),
                                                                            bytes(64), bytes(64)))
        s.sendmsg([record], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r]))], 0, name)
    os.close(r)
    with RawPeer(a.enode) as raw:
        assert isinstance(raw.handshake(), HelloReceived)
        nodes.expect("peer_added", node="alpha", peer_id=raw.id_hex)
    # the Server closed the pipe end it was sent: with every read end gone, writing fails
    assert wait_until(lambda: _pipe_broken(w), 5.0)
    os.close(w)


def _pipe_broken(w: int) -> bool:
    try:
        os.write(w, b"x")
    except BrokenPipeError:
        return True
    return False
