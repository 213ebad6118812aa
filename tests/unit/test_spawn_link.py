"""Unit tests for :mod:`actors.io.spawn_link` over a local socketpair (no actor system).

Covered: typed messages in order, several taken by one ``receive()``; an fd attached to a
datagram arrives as a working copy of the same socket; a message over ``MAX_DATAGRAM`` is
refused before anything is sent; a full buffer raises ``LinkFull`` and sends nothing; end of
stream: datagrams sent before the close come first, then ``LinkClosed``; sending towards a
closed end raises ``LinkClosed``.
"""

import os
import select
import socket

import pytest

from actors.io import spawn_link
from messages.spawner import ListenPort, PeerExited, PeerSpawned, SpawnFailed, SpawnPeer

TIMEOUT = 5.0
"""Seconds to wait for the socket to become readable."""


@pytest.fixture
def link():
    ours, theirs = spawn_link.pair()
    yield ours, theirs
    ours.close()
    theirs.close()


def _readable(sock):
    assert select.select([sock], [], [], TIMEOUT)[0], "link not readable in time"


def test_messages_arrive_in_order_without_fds(link):
    ours, theirs = link
    sent = [SpawnPeer(1, {"any": "start"}), ListenPort(30303), PeerSpawned(1, 4242), SpawnFailed(2, "ENOMEM"),
            PeerExited(1)]
    for m in sent:
        spawn_link.send(ours, m)
    _readable(theirs)
    got = spawn_link.receive(theirs)
    assert [m for m, _ in got] == sent
    assert all(fd is None for _, fd in got)
    assert spawn_link.receive(theirs) == []  # nothing left, no block


def test_an_attached_fd_is_a_copy_of_the_same_socket(link):
    ours, theirs = link
    a, b = socket.socketpair()
    try:
        spawn_link.send(ours, SpawnPeer(7, None), a.fileno())
        _readable(theirs)
        [(msg, fd)] = spawn_link.receive(theirs)
        assert msg == SpawnPeer(7, None)
        assert fd is not None and fd != a.fileno()
        copy = socket.socket(fileno=fd)
        try:
            copy.sendall(b"through the copy")
            assert b.recv(100) == b"through the copy"
        finally:
            copy.close()
    finally:
        a.close()
        b.close()


def test_an_oversized_message_is_refused_and_nothing_is_sent(link):
    ours, theirs = link
    with pytest.raises(ValueError):
        spawn_link.send(ours, SpawnFailed(1, "x" * (spawn_link.MAX_DATAGRAM + 1)))
    assert select.select([theirs], [], [], 0.05)[0] == []


def test_a_full_buffer_raises_link_full(link):
    ours, theirs = link
    big = SpawnFailed(1, "y" * (spawn_link.MAX_DATAGRAM - 200))
    sent = 0
    with pytest.raises(spawn_link.LinkFull):
        for _ in range(10_000):
            spawn_link.send(ours, big)
            sent += 1
    assert sent > 0
    got = []
    while len(got) < sent:
        _readable(theirs)
        got += spawn_link.receive(theirs)
    assert len(got) == sent  # the refused one was not half-sent


def test_end_of_stream_after_the_last_datagrams(link):
    ours, theirs = link
    spawn_link.send(ours, PeerExited(3))
    ours.close()
    _readable(theirs)
    assert [m for m, _ in spawn_link.receive(theirs)] == [PeerExited(3)]
    with pytest.raises(spawn_link.LinkClosed):
        spawn_link.receive(theirs)


def test_sending_to_a_closed_end_raises_link_closed(link):
    ours, theirs = link
    theirs.close()
    with pytest.raises(spawn_link.LinkClosed):
        spawn_link.send(ours, PeerExited(1))


def test_pair_is_non_blocking_seqpacket(link):
    for s in link:
        assert s.type == socket.SOCK_SEQPACKET and s.family == socket.AF_UNIX
        assert s.getblocking() is False
        assert os.get_inheritable(s.fileno()) is False
