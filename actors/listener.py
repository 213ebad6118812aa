"""The Listener actor: owns the devp2p TCP listening socket and runs the RLPx auth/ack of every
inbound connection before any Peer process exists (go-ethereum p2p/server.go ``listenLoop``,
``checkInboundConn`` and the recipient side of ``setupConn``).

* Before a byte is read: NetRestrict (CIDR allow-list) and the per-IP inbound throttle
  (``inbound_throttle_s``, 30 s in go-ethereum; not applied to loopback and LAN addresses,
  p2p/server.go ``checkInboundConn`` / netutil ``AddrIsLAN``).  Rejected connections are
  closed at once.
* Every accepted connection is a non-blocking socket watched here (ThespianWatch, like the
  listening socket) while :class:`node.inbound_handshakes.InboundHandshakes` reads its auth:
  the oldest closed for a new one when too many are, and the ``handshake_s`` deadline (the policy
  is that class's docstring).  Connections handed on take ``max_pending_peers`` slots; when they
  are full, the one handed on first gives its slot to a new valid auth, and the Server drops its
  Peer (:class:`messages.peer.EvictPending`).
* A valid auth is answered with the ack at once, and the connection goes, with its
  ``conn_id``, remote address, session secrets, the bytes read after the auth and the ack's
  unwritten tail, to the Server's inbound hand-off socket (SCM_RIGHTS over an abstract AF_UNIX
  datagram socket, actors/io/fd_handoff.py); the Listener keeps no copy.  The Server forks the
  connection's Peer while holding it, so the Peer inherits it and resumes at checkpoint 1.  Its
  slot stays taken until the Server says the peer was added or is gone (:class:`SlotFree`).
* A handshake that fails here (bad auth, silence, eviction, the remote closing) is one log line
  and a ``handshake_failed`` event (:class:`messages.events.HandshakeFailed`, sent to the Server,
  which publishes it), at most :data:`messages.events.HANDSHAKE_FAILED_PER_S` per second with the
  count of those held back; the last held back goes out at the end of its second, with the count
  before it, if nothing else did.
"""

from __future__ import annotations

import errno
import os
import socket
import time
import uuid

from thespian.actors import ThespianWatch

from messages.events import HANDSHAKE_FAILED_PER_S, HandshakeFailed
from messages.lifecycle import ListenerFailed, ListenerReady
from messages.peer import EvictPending
from messages.supervision import ActorPid
from node.inbound_handshakes import AuthFailed, InboundHandshakes, RateLimit
from node.inbound_policy import InboundPolicy

from .base import NodeActor
from .io.fd_handoff import send_connection

READ_CHUNK = 8192
"""Bytes asked of one ``recv`` on a pending connection: an auth is at most 2,050 bytes, and what
follows it in the same read (leftover) must fit the hand-off datagram (fd_handoff.MAX_DATAGRAM)."""

LISTEN_BACKLOG = socket.SOMAXCONN
"""The accept queue asked of ``listen()`` (the kernel caps it at net.core.somaxconn), as Go's
net.Listen asks for somaxconn: with Python's default of 128, a flood fills the queue and the
kernel drops a real peer's SYN (a 1 s retransmit) before the pending-slot policy sees it."""

ACCEPT_BATCH = 64
"""Connections accepted per readiness event, so that a flood's queue does not keep the pending
connections' auths unread."""

HOUSEKEEPING_S = 1.0
"""Interval of the inbound throttle's expiry, seconds."""


class Listener(NodeActor):
    """Accepts inbound connections for one node, answers their auth and hands them on."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lsock: socket.socket | None = None
        self.usock: socket.socket | None = None
        self.inbox = b""
        self.server = None
        self.pending: InboundHandshakes | None = None
        self.socks: dict[str, socket.socket] = {}  # conn_id -> socket whose auth is being read
        self.waiting: dict[str, tuple] = {}  # conn_id -> (socket, unsent ack): answered, waiting for a slot
        self.by_fd: dict[int, str] = {}
        self.policy: InboundPolicy | None = None
        self.limit = RateLimit(HANDSHAKE_FAILED_PER_S)
        self.held_back: tuple | None = None  # (remote, stage, cause, error) of the last failure not published
        self.name = ""

    def watch(self):
        fds = list(self.by_fd)
        if self.lsock is not None and self.pending.room(time.monotonic())[0]:
            fds.append(self.lsock.fileno())
        return ThespianWatch(fds) if fds else None

    def on_StartListener(self, msg, sender):
        cfg = msg.config
        self.inbox = msg.inbox
        self.server = msg.server
        self.send(msg.server, ActorPid(os.getpid(), "listener"))
        self.name = cfg.name
        self.pending = InboundHandshakes(cfg.private_key, cfg.max_pending_peers, cfg.timeouts.handshake_s)
        self.policy = InboundPolicy(cfg.net_restrict, cfg.timeouts.inbound_throttle_s)
        family = socket.AF_INET6 if ":" in cfg.listen_host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((cfg.listen_host, cfg.listen_port))
            sock.listen(LISTEN_BACKLOG)
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
        self.after("housekeeping", HOUSEKEEPING_S)

    # -- readiness -----------------------------------------------------------------------
    def on_WatchMessage(self, msg, sender):
        if self.lsock is None:
            return
        now = time.monotonic()
        lfd = self.lsock.fileno()
        for fd in msg.ready:
            conn_id = self.by_fd.get(fd)
            if conn_id is not None:
                self._read(conn_id, now)
        if lfd in msg.ready:
            self._accept(now)
        self._arm_deadline()

    def _accept(self, now: float) -> None:
        """Accept up to :data:`ACCEPT_BATCH` queued connections (the rest on the next pass)."""
        for _ in range(ACCEPT_BATCH):
            if self.lsock is None:
                return
            ok, victim = self.pending.room(now)
            if not ok:
                return
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
            if victim is not None:
                self._fail(victim, "auth", "evicted", "closed to make room: no complete auth", now)
            conn.setblocking(False)
            conn_id = uuid.uuid4().hex
            self.pending.accepted(conn_id, addr[:2], now)
            self.socks[conn_id] = conn
            self.by_fd[conn.fileno()] = conn_id
            self._read(conn_id, now)  # a real peer's auth is often there already

    def _evict_handed(self, conn_id: str) -> None:
        """``conn_id``'s pending slot went to a new valid auth: the Server drops its Peer (and
        logs its end: the one line for the connection)."""
        if self.server is not None:
            self.send(self.server, EvictPending(conn_id, f"evicted to make room: valid auth, not added before "
                                                         f"{self.pending.max_pending} newer ones"))

    def _read(self, conn_id: str, now: float) -> None:
        sock = self.socks.get(conn_id)
        if sock is None:
            return
        try:
            data = sock.recv(READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            cause = "reset" if exc.errno in (errno.ECONNRESET, errno.EPIPE) else "error"
            self._fail(conn_id, "auth", cause, f"read error: {exc}", now)
            return
        if not data:
            self._fail(conn_id, "auth", "closed", "closed by the remote before a complete auth", now)
            return
        try:
            answered = self.pending.received(conn_id, data, now)
        except AuthFailed as exc:
            self._fail(conn_id, exc.stage, exc.cause, exc.error, now, exc.remote)
            return
        if answered is not None:
            if answered.evicted is not None:
                self._evict_handed(answered.evicted)
            self._hand_off(answered, now)
            self._arm_deadline()

    def _hand_off(self, answered, now: float) -> None:
        """Write the ack (what the socket takes), then pass the connection to the Server, or,
        with ``answered.wait``, keep it unread until :meth:`_promote` passes it on."""
        conn_id = answered.conn_id
        sock = self.socks.pop(conn_id)
        self.by_fd.pop(sock.fileno(), None)
        try:
            written = sock.send(answered.ack)
        except (BlockingIOError, InterruptedError):
            written = 0
        except OSError as exc:
            self.socks[conn_id] = sock  # for _fail to close
            self._fail(conn_id, "ack", "reset", f"ack write failed: {exc}", now)
            return
        if answered.wait:
            self.waiting[conn_id] = (sock, answered.ack[written:])
            return
        self._pass_on(conn_id, sock, answered, answered.ack[written:], now)

    def _pass_on(self, conn_id: str, sock, answered, unsent: bytes, now: float) -> None:
        remote = self.pending.remote(conn_id)
        try:
            send_connection(self.usock, self.inbox, sock, conn_id, remote, answered.secrets, answered.leftover,
                            unsent)
        except (OSError, ValueError) as exc:
            self.socks[conn_id] = sock
            self._fail(conn_id, "handoff", "error", f"hand-off to the Server failed: {exc}", now)
            return
        sock.close()  # the Server holds its own copy now; no shutdown, which would end the stream

    def _promote(self, now: float) -> None:
        """Hand on the waiting valid auths that have a slot now (node/inbound_handshakes.py)."""
        for answered in self.pending.promote(now):
            if answered.evicted is not None:
                self._evict_handed(answered.evicted)
            sock, unsent = self.waiting.pop(answered.conn_id)
            self._pass_on(answered.conn_id, sock, answered, unsent, now)

    def _fail(self, conn_id: str, stage: str, cause: str, error: str, now: float, remote: tuple = ()) -> None:
        """Close ``conn_id`` before its identity is known: one log line, a rate-limited event."""
        remote = remote or self.pending.remote(conn_id)
        sock = self.socks.pop(conn_id, None)
        if sock is None and conn_id in self.waiting:
            sock = self.waiting.pop(conn_id)[0]
        if sock is not None:
            self.by_fd.pop(sock.fileno(), None)
            _close(sock)
        self.pending.freed(conn_id)
        where = f"{remote[0]}:{remote[1]}" if remote else "?"
        # as the Server's line for a connection that ended later, with "-" for the unknown identity
        self.log.info("node %s: inbound handshake failed at %s - %s: %s (%s)", self.name, stage, where, error, cause)
        allowed, suppressed = self.limit.allow(now)
        if allowed and self.server is not None:
            self.send(self.server, HandshakeFailed(where, stage, cause, error, suppressed))
        elif not allowed:
            self.held_back = (where, stage, cause, error)
            self.timers.set("failed_flush", self.limit.flush_due())

    def _flush_failed(self, now: float) -> None:
        """The end of a burst: publish the last failure held back, with the count before it."""
        held = self.limit.flush(now)
        if held and self.held_back is not None and self.server is not None:
            self.send(self.server, HandshakeFailed(*self.held_back, held - 1))
        self.held_back = None

    def _arm_deadline(self) -> None:
        nxt = self.pending.next_deadline(time.monotonic()) if self.pending is not None else None
        if nxt is None:
            self.timers.cancel("handshakes")
        else:
            self.timers.set("handshakes", nxt)

    # -- messages and timers -------------------------------------------------------------
    def on_SlotFree(self, msg, sender):
        if self.pending is not None:
            self.pending.freed(msg.conn_id)
            self._promote(time.monotonic())
            self._arm_deadline()

    def on_timer(self, name):
        now = time.monotonic()
        if name == "handshakes" and self.pending is not None:
            self._promote(now)
            for conn_id in self.pending.expired(now):
                if conn_id in self.waiting:
                    self._fail(conn_id, "handoff", "timeout", "no slot free for the answered auth within "
                               f"{self.pending.handshake_s:g} s, or too many waiting", now)
                else:
                    self._fail(conn_id, "auth", "timeout",
                               f"no complete auth within {self.pending.handshake_s:g} s", now)
            self._arm_deadline()
        elif name == "failed_flush":
            self._flush_failed(now)
        elif name == "housekeeping":
            self.policy.expire(now)
            self.after("housekeeping", HOUSEKEEPING_S)

    def on_Liveness(self, msg, sender):
        pass

    def on_ActorExitRequest(self, msg, sender):
        for sock in list(self.socks.values()) + [w[0] for w in self.waiting.values()]:
            _close(sock)
        self.socks.clear()
        self.waiting.clear()
        self.by_fd.clear()
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
