"""actors/io/fd_handoff.py: an accepted TCP socket goes with its conn_id, remote address and session
(secrets, leftover, the ack's unsent tail) over an abstract AF_UNIX datagram socket and arrives
usable; malformed datagrams are refused with every
fd they carried closed; the registry of fds a new child must close is honoured by the Thespian
patch and is empty in a forked child."""

from __future__ import annotations

import array
import os
import socket

import pytest
from thespian.system.transport import TCPTransport as T

from actors.io import fd_handoff
from actors.adapter import install
from rlpx.handshake import Secrets

SECRETS = Secrets(b"\x01" * 32, b"\x02" * 32, b"\x03" * 400, b"\x04" * 400, b"\x05" * 64)

from support.forking import answer_in_child


def open_fds() -> set[int]:
    return {int(n) for n in os.listdir("/proc/self/fd")}


@pytest.fixture
def inbox():
    sock, name = fd_handoff.inbox()
    sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    yield sock, name, sender
    fd_handoff.release(sock.fileno())
    sock.close()
    sender.close()


@pytest.fixture
def tcp_pair():
    lsock = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(lsock.getsockname(), timeout=5)
    accepted, addr = lsock.accept()
    lsock.close()
    yield client, accepted, addr
    client.close()
    accepted.close()


def test_socket_arrives_usable_with_its_details(inbox, tcp_pair):
    sock, name, sender = inbox
    client, accepted, addr = tcp_pair
    fd_handoff.send_connection(sender, name, accepted, "c0ffee", addr, SECRETS, b"left" * 2000, b"ack tail")
    accepted.close()  # the sender's copy: the connection lives on in the datagram
    got = fd_handoff.receive_connection(sock)
    assert (got.conn_id, got.remote) == ("c0ffee", (addr[0], addr[1]))
    assert (got.secrets, got.leftover, got.unsent) == (SECRETS, b"left" * 2000, b"ack tail")
    received = socket.socket(fileno=got.fd)
    try:
        received.settimeout(5)
        client.sendall(b"ping")
        assert received.recv(4) == b"ping"
        received.sendall(b"pong")
        assert client.recv(4) == b"pong"
    finally:
        received.close()


def test_empty_inbox_gives_none(inbox):
    assert fd_handoff.receive_connection(inbox[0]) is None


def _record(**change) -> bytes:
    import rlp
    items = rlp.decode(fd_handoff.encode_handoff("c0ffee", ("127.0.0.1", 1), SECRETS))
    for i, v in change.items():
        items[int(i[1:])] = v
    return rlp.encode(items)


def test_oversize_record_is_refused_before_sending():
    with pytest.raises(ValueError, match="exceeds"):
        fd_handoff.encode_handoff("c0ffee", ("127.0.0.1", 1), SECRETS, bytes(fd_handoff.MAX_DATAGRAM))


@pytest.mark.parametrize("text", [b"only-two fields", b"id host notaport", b"\xff\xfe 1 2", b"",
                                  _record(i0=b"other-magic"), _record(i1=b"\x02"), _record(i5=b"short"),
                                  _record(i9=b"\x00" * 63), _record(i2=b"")])
def test_malformed_text_is_refused_and_its_fd_closed(inbox, tcp_pair, text):
    sock, name, sender = inbox
    accepted = tcp_pair[1]
    sender.sendmsg([text], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [accepted.fileno()]))], 0, name)
    before = open_fds()
    with pytest.raises(fd_handoff.HandoffError):
        fd_handoff.receive_connection(sock)
    assert open_fds() == before  # the received copy was closed again


def test_datagram_without_fd_is_refused(inbox):
    sock, name, sender = inbox
    sender.sendto(_record(), name)
    with pytest.raises(fd_handoff.HandoffError, match="0 fds"):
        fd_handoff.receive_connection(sock)


def test_fd_that_is_not_a_tcp_socket_is_refused_and_closed(inbox):
    sock, name, sender = inbox
    r, w = os.pipe()
    sender.sendmsg([_record()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r]))], 0, name)
    os.close(r)
    os.close(w)
    before = open_fds()
    with pytest.raises(fd_handoff.HandoffError, match="not a TCP socket"):
        fd_handoff.receive_connection(sock)
    assert open_fds() == before


def test_held_fds_are_closed_in_new_children_and_not_registered_there(inbox):
    sock = inbox[0]
    assert sock.fileno() in fd_handoff.held_fds()
    install()

    class FakeTransport:
        _openSockets = {}
        _incomingSockets = {}

        def protectedFileNumList(self):
            return []

    assert sock.fileno() in T.TCPTransport.childResetFileNumList(FakeTransport())
    fd_handoff.release(sock.fileno())
    assert sock.fileno() not in T.TCPTransport.childResetFileNumList(FakeTransport())
    fd_handoff.hold(sock.fileno())

    # a child: its creator's registrations are not its own
    assert answer_in_child(lambda: b"empty" if fd_handoff.held_fds() == [] else b"inherited") == b"empty"


def test_server_drops_a_connection_it_cannot_fork_a_peer_for(tcp_pair, monkeypatch):
    """If the fork of the Peer fails (EAGAIN, ENOMEM), the Server closes the accepted socket and
    frees its Listener slot instead of leaking both (the handler itself must not fail)."""
    from types import SimpleNamespace

    from actors.server import Server
    from messages.peer import SlotFree

    server = Server()
    server._myRef = SimpleNamespace(address="server")  # Thespian's ActorManager, as far as myAddress goes
    server.cfg = SimpleNamespace(name="alpha")
    server.listener = "listener"
    sent = []
    monkeypatch.setattr(server, "send", lambda to, msg: sent.append((to, msg)))

    def no_fork(*args, **kwargs):
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(server, "_new_peer", no_fork)
    accepted = tcp_pair[1]
    fd = os.dup(accepted.fileno())
    server._inbound(fd_handoff.Inbound("c0ffee", ("127.0.0.1", 1), fd, SECRETS))
    assert sent == [("listener", SlotFree("c0ffee"))]
    with pytest.raises(OSError):
        os.fstat(fd)  # closed


def _bare_server(monkeypatch):
    from types import SimpleNamespace

    from actors.server import Server
    from node.admission import Admission
    from node.peer_table import PeerTable

    server = Server()
    server._myRef = SimpleNamespace(address="server")
    server.cfg = SimpleNamespace(name="alpha")
    server.listener = "listener"
    server.table = PeerTable(Admission(bytes(64), 10, 10, (), True))
    sent = []
    monkeypatch.setattr(server, "send", lambda to, msg: sent.append((to, msg)))
    return server, sent


def test_connection_evicted_before_its_hand_off_arrives_gets_no_peer(monkeypatch, tcp_pair):
    """The Listener's EvictPending can overtake the hand-off datagram: the Server then closes
    the socket instead of forking a Peer for it."""
    from messages.peer import EvictPending

    server, sent = _bare_server(monkeypatch)
    forks = []
    monkeypatch.setattr(server, "_new_peer", lambda *a, **kw: forks.append(a))
    server.on_EvictPending(EvictPending("c0ffee"), "listener")
    fd = os.dup(tcp_pair[1].fileno())
    server._inbound(fd_handoff.Inbound("c0ffee", ("127.0.0.1", 1), fd, SECRETS))
    assert forks == [] and sent == [] and "c0ffee" not in server.evicted
    with pytest.raises(OSError):
        os.fstat(fd)


def test_evicted_connection_whose_peer_runs_is_disconnected_with_too_many_peers(monkeypatch):
    from messages.peer import DisconnectPeer, EvictPending
    from rlpx.disc import DiscReason

    server, sent = _bare_server(monkeypatch)
    server.table.new("peer-addr", True, conn_id="c0ffee", remote=("127.0.0.1", 1))
    server.on_EvictPending(EvictPending("c0ffee", "evicted to make room"), "listener")
    assert sent == [("peer-addr", DisconnectPeer(int(DiscReason.TOO_MANY_PEERS), "evicted to make room"))]
    assert not server.evicted


def test_the_inbox_asks_the_kernel_for_each_senders_credentials(inbox):
    assert inbox[0].getsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED) == 1


def test_a_datagram_without_credentials_is_refused_and_its_fd_closed(tcp_pair):
    """An inbox without SO_PASSCRED gets no SCM_CREDENTIALS: nothing proves the sender's uid."""
    plain = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = b"\0devp2p-test-nocreds-" + os.urandom(8).hex().encode()
    plain.bind(name)
    with plain, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.sendmsg([_record()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                      array.array("i", [tcp_pair[1].fileno()]))], 0, name)
        before = open_fds()
        with pytest.raises(fd_handoff.HandoffError, match="no credentials"):
            fd_handoff.receive_connection(plain)
        assert open_fds() == before


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to send as another uid (nobody, 65534)")
def test_a_datagram_from_another_uid_is_refused_and_its_fd_closed(inbox, tcp_pair):
    sock, name, _ = inbox
    fd = tcp_pair[1].fileno()

    def send_as_nobody() -> bytes:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendmsg([_record()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))], 0, name)
        return b"sent"

    assert answer_in_child(send_as_nobody) == b"sent"
    before = open_fds()
    with pytest.raises(fd_handoff.HandoffError, match="uid 65534"):
        fd_handoff.receive_connection(sock)
    assert open_fds() == before
