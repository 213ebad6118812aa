"""The Listener actor: owns the devp2p TCP listening socket (go-ethereum p2p/server.go
``listenLoop`` and ``checkInboundConn``).

* At most ``max_pending_peers`` accepted connections are in the handshake phase at once
  (go-ethereum's accept slots); while all slots are taken the listening socket is left out of
  the watch, so nothing is accepted.  A slot is freed when the Server says the connection was
  added or is gone (:class:`messages.peer.SlotFree`).
* Before a byte is read: NetRestrict (CIDR allow-list) and the per-IP inbound throttle
  (``inbound_throttle_s``, 30 s in go-ethereum; not applied to loopback and LAN addresses,
  p2p/server.go ``checkInboundConn`` / netutil ``AddrIsLAN``).  Rejected connections are
  closed at once.
* Each accepted socket goes at once, with its ``conn_id`` and remote address, to the Server's
  inbound hand-off socket (SCM_RIGHTS over an abstract AF_UNIX datagram socket,
  actors/io/fd_handoff.py); the Listener keeps no copy.  The Server forks the connection's Peer
  while holding it, so the Peer inherits it.  If the hand-off fails the connection is closed.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

from thespian.actors import ThespianWatch

from messages.lifecycle import ListenerFailed, ListenerReady
from messages.supervision import ActorPid

from node.inbound_policy import InboundPolicy

from .base import NodeActor
from .io.fd_handoff import send_connection


class Listener(NodeActor):
    """Accepts inbound connections for one node and hands them to Peer actors."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lsock: socket.socket | None = None
        self.usock: socket.socket | None = None
        self.inbox = b""
        self.max_pending = 50
        self.in_handshake: set[str] = set()  # slots taken: handed to the Server, not yet freed
        self.policy: InboundPolicy | None = None

    def watch(self):
        if self.lsock is not None and len(self.in_handshake) < self.max_pending:
            return ThespianWatch([self.lsock.fileno()])
        return None

    def on_StartListener(self, msg, sender):
        cfg = msg.config
        self.inbox = msg.inbox
        self.send(msg.server, ActorPid(os.getpid(), "listener"))
        self.max_pending = cfg.max_pending_peers
        self.policy = InboundPolicy(cfg.net_restrict, cfg.timeouts.inbound_throttle_s)
        family = socket.AF_INET6 if ":" in cfg.listen_host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((cfg.listen_host, cfg.listen_port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            self.send(sender, ListenerFailed(f"cannot listen on {cfg.listen_host}:{cfg.listen_port}: "
                                             f"{exc.strerror or exc}"))
            return
        self.lsock = sock
        self.usock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        host, port = sock.getsockname()[:2]
        self.send(sender, ListenerReady(host, port))
        self.after("housekeeping", 1.0)

    def on_WatchMessage(self, msg, sender):
        if self.lsock is None or self.lsock.fileno() not in msg.ready:
            return
        now = time.monotonic()
        while len(self.in_handshake) < self.max_pending:
            try:
                conn, addr = self.lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.log.warning("listener: accept failed: %s", exc)
                return
            why = self.policy.check(addr[0], now)
            if why is not None:
                self.log.info("listener: rejected inbound %s:%s: %s", addr[0], addr[1], why)
                _close(conn)
                continue
            conn_id = uuid.uuid4().hex
            try:
                send_connection(self.usock, self.inbox, conn, conn_id, addr)
            except OSError as exc:
                self.log.warning("listener: inbound %s:%s dropped, hand-off to the Server failed: %s",
                                 addr[0], addr[1], exc)
                _close(conn)
                continue
            conn.close()  # the Server holds its own copy now; no shutdown, which would end the stream
            self.in_handshake.add(conn_id)

    def on_SlotFree(self, msg, sender):
        self.in_handshake.discard(msg.conn_id)

    def on_timer(self, name):
        if name != "housekeeping":
            return
        self.policy.expire(time.monotonic())
        self.after("housekeeping", 1.0)

    def on_Liveness(self, msg, sender):
        pass

    def on_ActorExitRequest(self, msg, sender):
        if self.lsock is not None:
            self.lsock.close()
            self.lsock = None
        if self.usock is not None:
            self.usock.close()
            self.usock = None


def _close(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    conn.close()
