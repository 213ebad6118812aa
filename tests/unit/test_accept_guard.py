"""actors/adapter/accept_guard.py: who may connect to a Thespian actor port.  The other-uid case
with a real node is tests/integration/test_trust_boundary.py."""

from __future__ import annotations

import ipaddress
import logging
import socket

import pytest

from actors.adapter import accept_guard as g
from actors.adapter import install


@pytest.fixture
def listener():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen()
    yield ls
    ls.close()


@pytest.fixture
def no_allow():
    before = g.allow_list()
    g.configure(())
    yield
    g.configure(before)


def _pair(ls):
    client = socket.create_connection(ls.getsockname(), timeout=5)
    server, _ = ls.accept()
    return client, server


def test_own_uid_on_loopback_is_accepted_and_another_uid_is_not(listener, no_allow):
    import os

    client, server = _pair(listener)
    with client, server:
        assert g.peer_owner(server.getsockname(), server.getpeername()) == os.getuid()
        assert g.verdict(server.getsockname(), server.getpeername()) is None
        assert "not 12345" in g.verdict(server.getsockname(), server.getpeername(), uid=12345)


def test_proc_fallback_agrees_with_sock_diag(listener):
    client, server = _pair(listener)
    with client, server:
        (rh, rp), (lh, lp) = server.getpeername(), server.getsockname()
        src, dst = ipaddress.ip_address(rh), ipaddress.ip_address(lh)
        assert g._proc_owner(src, rp, dst, lp) == g._diag_owner(src, rp, dst, lp)
        assert g._diag_owner(src, rp + 1 if rp < 65535 else rp - 1, dst, lp) is None


def test_a_closed_local_peer_has_no_owner_even_when_its_address_is_allowed(listener):
    """The kernel reports uid 0 for an orphaned socket: that must not pass for root's."""
    before = g.allow_list()
    g.configure(["127.0.0.0/8"])
    try:
        client, server = _pair(listener)
        client.close()
        with server:
            assert g.peer_owner(server.getsockname(), server.getpeername()) in (g.CLOSED, None)
            assert g.verdict(server.getsockname(), server.getpeername()) == g.NO_OWNER
    finally:
        g.configure(before)


def test_another_host_needs_the_allow_list(no_allow):
    here, there = ("127.0.0.1", 19001), ("192.0.2.7", 40000)  # TEST-NET-1: never this host's
    assert g.verdict(here, there) == "address not in actor_system.allow"
    g.configure(["192.0.2.0/24"])
    assert g.verdict(here, there) is None
    assert g.verdict(here, ("::ffff:192.0.2.7", 40000)) is None
    assert g.verdict(here, ("198.51.100.1", 40000)) == "address not in actor_system.allow"


def test_configure_rejects_what_is_no_address():
    with pytest.raises(ValueError):
        g.configure(["host-b"])


class _Transport:
    """The attributes Thespian's ``_acceptNewIncoming`` uses, around a real listening socket."""

    def __init__(self, ls):
        self.socket = ls
        self._incomingSockets = {}
        self._incomingEnvelopes = []
        self.myAddress = None

    def new_socket(self, op, *args, **kw):
        return op(*args, **kw)

    def _check_indicators(self):
        pass


def _accept(ls):
    from thespian.system.transport.TCPTransport import TCPTransport

    install()
    t = _Transport(ls)
    TCPTransport._acceptNewIncoming(t)
    return t


def test_the_wrapped_accept_keeps_our_own_connection(listener):
    client = socket.create_connection(listener.getsockname(), timeout=5)
    with client:
        t = _accept(listener)
        assert len(t._incomingSockets) == 1
        (inc,) = t._incomingSockets.values()
        inc.close()


def test_the_wrapped_accept_closes_a_refused_connection_before_reading_it(listener, caplog):
    """A closed local sender with bytes queued: refused with one line (INFO), nothing read."""
    client = socket.create_connection(listener.getsockname(), timeout=5)
    client.sendall(b"12>not a pickle")
    client.close()
    with caplog.at_level(logging.DEBUG, logger="devp2p"):
        g._log_limit = g.RateLimit(1)
        t = _accept(listener)
    assert t._incomingSockets == {}
    lines = [r for r in caplog.records if r.levelno >= logging.INFO and "refused before reading" in r.message]
    assert len(lines) == 1 and g.NO_OWNER in lines[0].message and lines[0].levelno == logging.INFO


def test_an_empty_connection_from_a_closed_sender_is_closed_quietly(listener, caplog):
    """Thespian's own senders leave these behind: closed with a debug line, no warning."""
    client = socket.create_connection(listener.getsockname(), timeout=5)
    client.close()
    with caplog.at_level(logging.DEBUG, logger="devp2p"):
        t = _accept(listener)
    assert t._incomingSockets == {}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("empty connection" in r.message for r in caplog.records)


def test_refusal_lines_are_rate_limited(caplog):
    g._log_limit = g.RateLimit(1)
    with caplog.at_level(logging.WARNING, logger="devp2p"):
        for port in range(1, 51):
            g._refused(("127.0.0.1", port), "test")
    assert len(caplog.records) == 1
