"""The Peer actor: one per connection, in its own process (go-ethereum p2p/peer.go ``Peer``,
``readLoop``, ``pingLoop``, ``protoRW`` and p2p/server.go ``setupConn``).

It owns the TCP socket and drives an :class:`rlpx.connection.Connection`:

* Inbound: fetches the accepted socket from the Listener over SCM_RIGHTS (docs/thespian-facts.md §2b).
  Outbound: connects itself, non-blocking, polling for completion (§2 "Outbound dial").
* Handshake (``handshake_s``), checkpoint 1 with the Server, Hello exchange (``handshake_s``),
  checkpoint 2, then one Protocol actor per matched capability.
* Read path: every frame decoded from one socket read becomes at most one
  :class:`messages.protocol.ToProtocol` per protocol (relative codes).  At most
  ``INBOUND_WINDOW`` batches per protocol are unacknowledged; while a window is full the
  socket is left out of the watch, so TCP flow control pushes back on the remote.
* Protocol actors: each runs in its own process and talks to the Peer over a private channel
  (:mod:`actors.io.channel`, made before the fork, watched here): Thespian's transport would add
  ~0.25-0.5 ms and an ACK to each hop.  End of stream on a channel means that Protocol's
  process is gone (detected at once, besides ChildActorExited and the /proc liveness check).
* Write path: :class:`messages.protocol.FromProtocol` batches are checked (code < length),
  offset, compressed, framed and encrypted in the order the Peer handles them (its mailbox
  and its channels, each in arrival order) into one out-buffer, written with
  non-blocking sends and flushed again on a short timer while bytes remain.  Above
  ``OUT_HIGH_WATER`` bytes the Peer withholds outbound credit, so the out-buffer stays bounded.
* Timers: Ping every ``ping_interval_s``; no bytes for ``idle_s`` -> Disconnect(READ_TIMEOUT);
  no write progress for ``write_s`` -> closed (NETWORK_ERROR).
* Disconnect reasons (go-ethereum p2p/peer.go): protocol ended -> QUITTING, protocol failed or
  crashed -> SUBPROTOCOL_ERROR, bad frame/unknown code -> PROTOCOL_ERROR, remote Disconnect
  recorded as remote-requested.
"""

from __future__ import annotations

import array
import errno
import os
import socket
import time
import uuid
from collections import deque

from thespian.actors import ActorExitRequest, ThespianWatch

from messages.admission import ADD_PEER, POST_HANDSHAKE, CheckpointReply, CheckpointRequest
from messages.peer import FdRequest, MsgTraffic, PeerGone, PeerInfoReply
from messages.supervision import InjectFault, SupervisionEvent
from messages.protocol import (INBOUND_WINDOW, MAX_BATCH_BYTES, OUTBOUND_WINDOW, FromProtocol, OutboundCredit,
                               ProtocolInfoRequest, ProtocolStart, ProtocolStop, ToProtocol)
from protocols import load_class, resolve
from rlpx import base_protocol as bp
from rlpx.caps import LocalProtocol
from rlpx.connection import (CHECKPOINT1, CHECKPOINT2, CLOSED, RUNNING, Connection, ConnectionFailure,
                             DisconnectReceived, HandshakeDone, HelloReceived, Messages)
from rlpx.disc import DiscReason
from rlpx.enode import Enode, parse_enode
from rlpx.errors import RLPxError
from rlpx.keys import node_hash, node_id_from_private_key

from .base import NodeActor
from .io.channel import Channel, ChannelClosed
from .io.reading import read_available, receive_buffer
from node.supervision import ChildSupervisor

from .io.procs import process_alive

READ_CHUNK = 1 << 20
"""Bytes asked of one ``recv`` call."""

READ_MAX = 8 << 20
"""Bytes read per readiness event before the batch is dispatched."""

WRITE_CHUNK = 4 << 20
"""Bytes offered to one ``send`` call."""

EARLY_WRITE_BYTES = 8 << 10
"""While a FromProtocol batch is being framed, write to the socket each time this many bytes are
ready, so that the remote decodes while we still encode (pipelining across processes)."""

OUT_HIGH_WATER = 8 << 20
"""Out-buffer size above which outbound credit is withheld, bytes."""

FLUSH_POLL_S = 0.002
"""Retry interval for a partially written out-buffer (Thespian watches readability only)."""

INFO_TIMEOUT_S = 1.0
"""How long a PeerInfoRequest waits for the Protocol actors' answers, seconds."""

ORPHAN_EXIT_S = 30.0
"""A finished Peer exits by itself if the Server has not ordered its exit within this time, seconds."""

CONNECT_POLL_S = 0.005
"""Poll interval for a non-blocking connect (docs/thespian-facts.md §2: success is not reported)."""


def _errno_cause(code) -> str:
    """The kind (:data:`messages.peer.CAUSES`) of a socket error number."""
    if code == errno.ECONNREFUSED:
        return "refused"
    if code == errno.ETIMEDOUT:
        return "timeout"
    if code in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "unreachable"
    if code in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED):
        return "reset"
    return "error"


class _Link:
    """The Peer's view of one running Protocol actor."""

    __slots__ = ("addr", "name", "version", "offset", "length", "sent", "acked", "pending", "withheld", "credited",
                 "credit_due", "info", "spec", "pc", "sup", "incarnation", "unacked", "restarting", "pid", "chan")

    def __init__(self, row, spec, pc):
        self.addr = None
        self.name, self.version, self.offset, self.length = row.name, row.version, row.offset, row.length
        self.sent = 0          # inbound batches sent
        self.acked = 0         # inbound batches acknowledged
        self.pending = deque()  # inbound messages waiting for window (or for a restart)
        self.unacked = deque()  # (seq, batch) sent but not acknowledged: resent after a restart
        self.withheld = 0      # outbound seq whose credit is withheld
        self.credited = 0      # outbound seq last credited to the Protocol actor
        self.credit_due = 0    # outbound seq that may be credited (rides on the next ToProtocol)
        self.info = None
        self.spec = spec       # ResolvedProtocol
        self.pc = pc           # ProtocolConfig: on_failure, restart policy, hold_max
        self.sup = ChildSupervisor(pc.restart)
        self.incarnation = 0
        self.restarting = False
        self.pid = None        # the Protocol actor's process, for the liveness check
        self.chan = None       # actors.io.channel.Channel to the running Protocol actor


class Peer(NodeActor):
    """One RLPx connection.  Started by :class:`messages.peer.PeerStartInbound` or
    :class:`messages.peer.PeerStartOutbound` from the Server."""

    WATCH_SHORTCUT = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sock: socket.socket | None = None
        self.usock: socket.socket | None = None
        self.conn: Connection | None = None
        self.cfg = None
        self.server = None
        self.inbound = False
        self.remote: tuple = ()
        self.local_addr: tuple = ()
        self.dial: Enode | None = None
        self.trusted = False
        self.static = False
        self.connecting = False
        self.stage = "connect"  # -> handshake -> hello -> running; "checkpoint" when rejected there
        self.cause = ""
        self.links: dict[str, _Link] = {}
        self.closing = False
        self.finished = False
        self.reason = DiscReason.REQUESTED
        self.remote_requested = False
        self.error = ""
        self.last_recv = 0.0
        self.read_paused = False  # socket left out of the watch because a protocol window is full
        self.draining = False     # Disconnect written, write side shut: reading until the remote closes
        self.eof_pending = ""     # remote closed while a checkpoint held its last bytes (see _read)
        self.eof_cause = ""
        self.hello_info: dict = {}
        self._rview = receive_buffer(READ_CHUNK)  # actors/io/reading.py
        self._pending_restart_info: dict[str, tuple] = {}
        self.info_requests: dict[int, set] = {}  # PeerInfoRequest id -> protocols yet to answer

    # -- watch -------------------------------------------------------------------------
    def watch(self):
        fds = []
        if self.usock is not None:
            fds.append(self.usock.fileno())
        reading = self._reading()
        if reading and self.read_paused:
            # Reading resumes after our own backpressure: the time the socket was not read is
            # not the remote's silence (go-ethereum's read deadline only runs during a read).
            self.last_recv = max(self.last_recv, time.monotonic())
        self.read_paused = not reading
        if self.sock is not None and not self.finished and (self.connecting or reading or self.draining):
            fds.append(self.sock.fileno())
        for link in self.links.values():
            if link.chan is not None:
                fds.append(link.chan.fileno())
        return ThespianWatch(fds) if fds else None

    def _reading(self) -> bool:
        if self.closing or self.conn is None or self.conn.state == CLOSED or self.eof_pending:
            return False
        return all(not link.pending and link.sent - link.acked < INBOUND_WINDOW for link in self.links.values())

    # -- start -------------------------------------------------------------------------
    def on_PeerStartInbound(self, msg, sender):
        self._setup(msg.config, msg.server)
        self.inbound = True
        self.remote = tuple(msg.remote)
        self.stage = "handshake"
        if msg.fd >= 0:
            # inherited from the Server, which forked this process holding it (actors/io/fd_handoff.py)
            self._adopt(msg.fd)
            return
        self.usock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        path = b"\0devp2p-peer-" + uuid.uuid4().hex.encode()
        self.usock.bind(path)
        self.send(msg.server, FdRequest(msg.conn_id, path))
        self.after("fd", 5.0)

    def on_PeerStartOutbound(self, msg, sender):
        self._setup(msg.config, msg.server)
        self.static, self.trusted = msg.static, msg.trusted
        try:
            self.dial = parse_enode(msg.enode)
            host = self.dial.host
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self.remote = (host, self.dial.tcp_port)
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock.setblocking(False)
            rc = self.sock.connect_ex(self.remote)
        except (RLPxError, OSError) as exc:
            self._finish_failed(f"dial {msg.enode[:24]}...: {exc}", _errno_cause(getattr(exc, "errno", None)))
            return
        if rc not in (0, errno.EINPROGRESS, errno.EAGAIN):
            self._finish_failed(f"connect: {os.strerror(rc)}", _errno_cause(rc))
            return
        self.connecting = True
        self.after("connect_poll", CONNECT_POLL_S)
        self.after("connect_deadline", self.cfg.timeouts.dial_s)

    def _setup(self, cfg, server):
        self.cfg, self.server = cfg, server  # the Server knows our pid from our creation (NodeActor.child_pid)
        self.private_key = cfg.private_key
        self.node_id = node_id_from_private_key(cfg.private_key)
        self.resolved = [resolve(pc) for pc in cfg.protocols]

    def _check_connect(self):
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self._finish_failed(f"connect: {os.strerror(err)}", _errno_cause(err))
            return
        try:
            self.sock.getpeername()
        except OSError:
            self.after("connect_poll", CONNECT_POLL_S)
            return
        self.connecting = False
        self.timers.cancel("connect_poll")
        self.timers.cancel("connect_deadline")
        self._start_connection()

    def _receive_fd(self):
        try:
            _, fds, _, _ = socket.recv_fds(self.usock, 16, 1)
        except OSError as exc:
            self._finish_failed(f"fd hand-off failed: {exc}", "error")
            return
        if not fds:
            return
        self.usock.close()
        self.usock = None
        self.timers.cancel("fd")
        self._adopt(fds[0])

    def _adopt(self, fd: int) -> None:
        """Run the inbound connection on the accepted socket ``fd`` (now ours)."""
        try:
            self.sock = socket.socket(fileno=fd)
            self.sock.setblocking(False)
        except OSError as exc:
            self._finish_failed(f"inbound socket unusable: {exc}")
            return
        self._start_connection()

    def _start_connection(self):
        try:
            self.local_addr = self.sock.getsockname()[:2]
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        caps = tuple(sorted((bp.Capability(p.name, p.version) for p in self.resolved),
                            key=lambda c: (c.name, c.version)))
        listen_port = self.cfg.listen_port if not self.cfg.no_listen else 0
        hello = bp.Hello(bp.BASE_PROTOCOL_VERSION, self.cfg.name, caps, listen_port, self.node_id)
        local = [LocalProtocol(p.name, p.version, p.length) for p in self.resolved]
        self.conn = Connection(self.private_key, hello, local,
                               remote_node_id=self.dial.node_id if self.dial else None)
        self.stage = "handshake"
        self.last_recv = time.monotonic()
        self.after("handshake", self.cfg.timeouts.handshake_s)
        self._flush()

    # -- socket events -----------------------------------------------------------------
    def on_WatchMessage(self, msg, sender):
        for fd in msg.ready:
            if self.usock is not None and fd == self.usock.fileno():
                self._receive_fd()
                continue
            link = self._link_by_fd(fd)
            if link is not None:
                self._channel_readable(link)
            elif self.sock is not None and fd == self.sock.fileno():
                if self.connecting:
                    self._check_connect()
                elif self.draining:
                    self._drain()
                elif not self.closing:
                    self._read()

    def _read(self):
        chunks = []
        _, eof, error = read_available(self.sock, self._rview, READ_MAX, lambda got: chunks.append(bytes(got)))
        if chunks:
            self.last_recv = time.monotonic()
            self._feed(b"".join(chunks) if len(chunks) > 1 else chunks[0])
        if (eof or error) and not self.closing:
            detail = "connection closed by remote" if eof else f"read error: {error}"
            cause = "closed" if eof else _errno_cause(getattr(error, "errno", None))
            if self.conn is not None and self.conn.state in (CHECKPOINT1, CHECKPOINT2):
                # A remote that rejects us sends Disconnect(reason) and closes at once, but while
                # a checkpoint is pending the Connection holds those bytes unread.  Decide when
                # the Server answers (on_CheckpointReply), as go-ethereum reads the Disconnect
                # after its checkpoint, so the remote's reason is not lost to NETWORK_ERROR.
                self.eof_pending = detail
                self.eof_cause = cause
                return
            self._close(DiscReason.NETWORK_ERROR, send=False, error=detail, cause=cause)

    def _feed(self, data: bytes):
        try:
            events = self.conn.feed(data)
        except ConnectionFailure as exc:
            self._handle_events(exc.events)
            self.log.debug("peer %s: %s", self._label(), exc.detail)
            self._close(exc.reason if exc.reason is not None else DiscReason.PROTOCOL_ERROR,
                        send=exc.reason is not None, error=exc.detail, cause="protocol_error")
            return
        self._handle_events(events)
        self._flush()

    def _handle_events(self, events):
        for ev in events:
            if self.closing:
                return
            if isinstance(ev, Messages):
                for name, msgs in ev.by_protocol.items():
                    if self.cfg.enable_msg_events:
                        self._traffic("recv", name, msgs)
                    link = self.links[name]
                    link.pending.extend(msgs)
                    self._dispatch(link)
            elif isinstance(ev, HandshakeDone):
                self.stage = "hello"
                self.send(self.server, CheckpointRequest(POST_HANDSHAKE, ev.remote_node_id, self.inbound))
            elif isinstance(ev, HelloReceived):
                self.hello_info = self._peer_info(ev)
                self.send(self.server, CheckpointRequest(ADD_PEER, self.conn.remote_node_id, self.inbound,
                                                         matched=len(ev.table.rows), info=self.hello_info))
            elif isinstance(ev, DisconnectReceived):
                self.log.debug("peer %s: remote sent Disconnect(%s)", self._label(), ev.reason.name)
                self._close(ev.reason, send=False, remote=True, error=f"remote sent Disconnect({ev.reason.name})",
                            cause="remote_disconnect")

    # -- checkpoints -------------------------------------------------------------------
    def on_CheckpointReply(self, msg: CheckpointReply, sender):
        self._checkpoint_reply(msg)
        if (self.eof_pending and not self.closing and self.conn is not None
                and self.conn.state not in (CHECKPOINT1, CHECKPOINT2)):
            # the held bytes are processed and held no Disconnect: the remote just closed
            self._close(DiscReason.NETWORK_ERROR, send=False, error=self.eof_pending, cause=self.eof_cause)

    def _checkpoint_reply(self, msg: CheckpointReply):
        if self.closing or self.conn is None:
            return
        if msg.reason is not None:
            reason = DiscReason(msg.reason)
            self.log.debug("peer %s: rejected at %s: %s", self._label(), msg.stage, reason.name)
            self.stage = "checkpoint"
            self._close(reason, send=True, error=f"rejected by this node: {reason.name}", cause="rejected")
            return
        try:
            if msg.stage == POST_HANDSHAKE and self.conn.state == CHECKPOINT1:
                self.after("handshake", self.cfg.timeouts.handshake_s)
                events = self.conn.approve_post_handshake()
            elif msg.stage == ADD_PEER and self.conn.state == CHECKPOINT2:
                self.timers.cancel("handshake")
                self.stage = "running"
                self._start_protocols()
                self.after("liveness", self.cfg.supervision.liveness_s)
                events = self.conn.approve_add_peer()
                self.after("ping", self.cfg.timeouts.ping_interval_s)
                self.after("idle", self.cfg.timeouts.idle_s)
            else:
                return
        except ConnectionFailure as exc:
            self._handle_events(exc.events)
            self._close(exc.reason or DiscReason.PROTOCOL_ERROR, send=exc.reason is not None, error=exc.detail,
                        cause="protocol_error")
            return
        self._handle_events(events)
        self._flush()

    def _peer_info(self, ev: HelloReceived) -> dict:
        """The admin_peers entry (go-ethereum p2p/peer.go ``PeerInfo``)."""
        hello = ev.hello
        local = f"{self.local_addr[0]}:{self.local_addr[1]}" if self.local_addr else ""
        remote = f"{self.remote[0]}:{self.remote[1]}" if self.remote else ""
        host = self.remote[0] if self.remote else "0.0.0.0"
        port = hello.listen_port if self.inbound else (self.remote[1] if self.remote else 0)
        return {
            "enode": Enode(hello.node_id, host, port, port).url(),
            "id": node_hash(hello.node_id).hex(),
            "name": hello.client_id,
            "caps": [str(c) for c in hello.capabilities],
            "network": {"localAddress": local, "remoteAddress": remote, "inbound": self.inbound,
                        "trusted": self.trusted, "static": self.static},
            "protocols": {r.name: "handshake" for r in ev.table.rows},
            "offsets": [{"name": r.name, "version": r.version, "offset": r.offset, "length": r.length}
                        for r in ev.table.rows],
        }

    def _start_protocols(self):
        by_name = {(p.name, p.version): p for p in self.resolved}
        configs = {(pc.name, pc.version): pc for pc in self.cfg.protocols}
        for row in self.conn.table.rows:
            key = (row.name, row.version)
            link = _Link(row, by_name[key], configs[key])
            self.links[row.name] = link
            self._spawn(link)

    def _spawn(self, link: _Link):
        """Create (or re-create) the Protocol actor of ``link`` and start it."""
        hello = self.conn.remote_hello
        caps = tuple(str(c) for c in hello.capabilities)
        self._drop_channel(link)
        chan, child_end = Channel.pair()
        # the child inherits every fd we hold: it must close our TCP socket and our ends of
        # the channels (else it would never see end of stream when we go)
        close_fds = tuple(fd for fd in [self.sock.fileno(), chan.fileno()]
                          + [other.chan.fileno() for other in self.links.values() if other.chan is not None]
                          if fd >= 0)
        start = ProtocolStart(self.myAddress, hello.node_id, hello.client_id, caps, self.inbound,
                              link.name, link.version, link.offset, link.length, link.spec.options,
                              self.remote, close_fds, link.pc.on_failure, child_end.fileno())
        try:
            # the child inherits child_end and its ProtocolStart from the fork (actors/adapter/fork_start.py)
            link.addr = self.createActor(load_class(link.spec.actor), start=start)
        finally:
            child_end.close()
        link.chan = chan
        link.pid = self.child_pid(link.addr)
        link.incarnation = link.sup.started()
        link.restarting = False

    # -- protocol traffic ------------------------------------------------------------------
    def _dispatch(self, link: _Link):
        if link.restarting:
            if len(link.pending) > link.pc.hold_max and not self.closing:
                self._close(DiscReason.SUBPROTOCOL_ERROR, send=True,
                            error=f"more than {link.pc.hold_max} messages for {link.name} held while it restarts",
                            cause="subprotocol")
            return
        while link.pending and link.sent - link.acked < INBOUND_WINDOW:
            batch = []
            size = 0
            while link.pending and (not batch or size < MAX_BATCH_BYTES):
                m = link.pending.popleft()
                batch.append(m)
                size += len(m[1])
            link.sent += 1
            if link.pc.on_failure == "restart":
                link.unacked.append((link.sent, batch))
            credit = 0
            if link.credit_due > link.credited:
                credit = link.credited = link.credit_due
            self._to_protocol(link, ToProtocol(link.sent, tuple(batch), credit))

    def on_FromProtocol(self, msg: FromProtocol, sender):
        link = self.links.get(msg.name)
        if link is None or self.closing or link.restarting or sender != link.addr:
            return  # closing, or a late message from a Protocol actor that has since died
        if msg.ack > link.acked:
            link.acked = msg.ack
            while link.unacked and link.unacked[0][0] <= msg.ack:
                link.unacked.popleft()
            self._dispatch(link)
        if msg.messages:
            conn = self.conn
            try:
                for code, payload in msg.messages:
                    if not 0 <= code < link.length:
                        raise ValueError(f"{link.name} message code {code} out of range (length {link.length})")
                    conn.send(link.offset + code, payload)
                    if len(conn.out) >= EARLY_WRITE_BYTES:
                        self._flush()
            except (ValueError, RLPxError) as exc:
                self.log.debug("peer %s: protocol %s wrote a bad message: %s", self._label(), link.name, exc)
                self._close(DiscReason.SUBPROTOCOL_ERROR, send=True, error=str(exc), cause="subprotocol")
                return
            if self.cfg.enable_msg_events:
                self._traffic("send", link.name, msg.messages)
            if len(conn.out) > OUT_HIGH_WATER:
                link.withheld = msg.seq
            else:
                self._grant(link, msg.seq)
            self._flush()

    def _grant(self, link: _Link, seq: int) -> None:
        """Outbound batches up to ``seq`` are written.  The credit rides on the next ToProtocol
        unless the Protocol actor has half its window (OUTBOUND_WINDOW) or more uncredited,
        so a request/response exchange costs no extra wake-up of either process."""
        link.credit_due = max(link.credit_due, seq)
        if link.credit_due - link.credited >= OUTBOUND_WINDOW // 2:
            link.credited = link.credit_due
            self._to_protocol(link, OutboundCredit(link.credited))

    # -- channels to the Protocol actors ---------------------------------------------------
    def _link_by_fd(self, fd: int):
        for link in self.links.values():
            if link.chan is not None and link.chan.fileno() == fd:
                return link
        return None

    def _to_protocol(self, link: _Link, msg) -> None:
        """Send ``msg`` to ``link``'s Protocol actor, in order, over its channel."""
        chan = link.chan
        if chan is None:
            return  # the actor is gone or restarting: its messages wait in link.pending
        try:
            chan.send(msg)
        except ChannelClosed:
            return  # it died: end of stream on the channel reports it
        if chan.pending and not self.timers.is_set("chan_flush"):
            self.after("chan_flush", FLUSH_POLL_S)

    def _flush_channels(self) -> None:
        pending = False
        for link in self.links.values():
            if link.chan is not None:
                try:
                    pending = link.chan.flush() > 0 or pending
                except ChannelClosed:
                    pass
        if pending:
            self.after("chan_flush", FLUSH_POLL_S)

    def _channel_readable(self, link: _Link) -> None:
        """Messages from ``link``'s Protocol actor, handled as if Thespian had delivered them."""
        chan = link.chan
        msgs, eof = chan.receive()
        sender = link.addr
        for m in msgs:
            if link.chan is not chan or self.finished:
                return  # the link was restarted or we closed meanwhile: the rest is stale
            self.deliver(m, sender)
        if eof and link.chan is chan:
            self._drop_channel(link)
            if not self.closing and link.addr is not None and not link.restarting:
                self._protocol_exited(link)

    def _drop_channel(self, link: _Link) -> None:
        if link.chan is not None:
            link.chan.close()
            link.chan = None

    def _traffic(self, direction: str, name: str, msgs) -> None:
        self.send(self.server, MsgTraffic(direction, name, self.conn.remote_node_id,
                                          tuple((code, len(payload)) for code, payload in msgs)))

    def on_ProtocolDisconnect(self, msg, sender):
        self.log.debug("peer %s: protocol %s disconnects: %s %s", self._label(), msg.name,
                      DiscReason(msg.reason).name, msg.error)
        self._close(DiscReason(msg.reason), send=True, error=msg.error or f"{msg.name} requested disconnect",
                    cause="subprotocol")

    def on_ProtocolEnded(self, msg, sender):
        reason = DiscReason.SUBPROTOCOL_ERROR if msg.error else DiscReason.QUITTING
        self._close(reason, send=True, error=msg.error or f"protocol {msg.name} ended", cause="subprotocol")

    def on_ProtocolEvent(self, msg, sender):
        if self.server is not None:
            self.send(self.server, msg)

    def on_PeerInfoRequest(self, msg, sender):
        """Ask every running Protocol actor for its part of admin_peers; reply when all have
        answered or after :data:`INFO_TIMEOUT_S` (a protocol that does not answer shows its last
        info, or "handshake")."""
        waiting = {name for name, link in self.links.items() if link.chan is not None}
        if not waiting or self.closing:
            self._reply_info(msg.request_id)
            return
        self.info_requests[msg.request_id] = waiting
        for name in waiting:
            self._to_protocol(self.links[name], ProtocolInfoRequest(msg.request_id))
        self.after(f"info:{msg.request_id}", INFO_TIMEOUT_S)

    def on_ProtocolInfo(self, msg, sender):
        link = self.links.get(msg.name)
        if link is None:
            return
        link.info = msg.info
        waiting = self.info_requests.get(msg.request_id)
        if waiting is not None:
            waiting.discard(msg.name)
            if not waiting:
                self._reply_info(msg.request_id)

    def _reply_info(self, request_id: int) -> None:
        self.info_requests.pop(request_id, None)
        self.timers.cancel(f"info:{request_id}")
        info = dict(self.hello_info)
        info["protocols"] = {name: ("handshake" if link.info is None else link.info)
                             for name, link in self.links.items()} or dict(info.get("protocols", {}))
        self.send(self.server, PeerInfoReply(request_id, info))

    def on_DisconnectPeer(self, msg, sender):
        self._close(DiscReason(msg.reason), send=True, error="disconnect requested by node", cause="requested")

    def on_ChildActorExited(self, msg, sender):
        if self.closing:
            return
        for link in self.links.values():
            if link.addr is not None and link.addr == msg.childAddress:
                self._protocol_exited(link)
                return

    def _protocol_exited(self, link: _Link):
        """A Protocol actor died: go-ethereum's disconnect, or a restart under its policy."""
        self.log.debug("peer %s: protocol actor %s exited", self._label(), link.name)
        ident = {"actor": "protocol", "protocol": link.name, "peer_id": self._peer_hex()}
        if link.pc.on_failure != "restart":
            self._sup_event("actor_exited", dict(ident, cause="exited", policy="disconnect"))
            self._close(DiscReason.SUBPROTOCOL_ERROR, send=True, error=f"protocol {link.name} actor exited",
                        cause="subprotocol")
            return
        decision = link.sup.exited(link.incarnation, True, time.monotonic())
        if decision.action == "duplicate":
            return
        self._sup_event("actor_exited", dict(ident, cause="exited", policy="restart"))
        if decision.action == "give_up":
            self._sup_event("restart_limit_reached", dict(ident, restarts=decision.attempt - 1,
                                                          within_s=link.pc.restart.within_s))
            self._close(DiscReason.SUBPROTOCOL_ERROR, send=True,
                        error=f"protocol {link.name} restart limit reached", cause="subprotocol")
            return
        # hand the new instance everything the dead one had not acknowledged, in order
        self._drop_channel(link)
        resend = [m for _, batch in link.unacked for m in batch]
        link.pending.extendleft(reversed(resend))
        link.unacked.clear()
        link.sent = link.acked = link.withheld = link.credited = link.credit_due = 0
        link.addr = None
        link.restarting = True
        link.info = None
        self.after(f"restart:{link.name}", decision.delay_s)
        self._pending_restart_info[link.name] = (decision.attempt, decision.delay_s)
        self._dispatch(link)  # only checks the hold bound while restarting

    def _restart_protocol(self, name: str):
        link = self.links.get(name)
        if link is None or not link.restarting or self.closing:
            return
        attempt, delay = self._pending_restart_info.pop(name, (0, 0.0))
        self._spawn(link)
        self._sup_event("actor_restarted", {"actor": "protocol", "protocol": name, "peer_id": self._peer_hex(),
                                            "attempt": attempt, "delay_s": delay, "held": len(link.pending)})
        self._dispatch(link)

    def _peer_hex(self) -> str:
        node = self.conn.remote_node_id if self.conn is not None else None
        return node.hex() if node else ""

    def _sup_event(self, kind: str, data: dict):
        if self.server is not None:
            self.send(self.server, SupervisionEvent(kind, data))

    def _check_protocols_alive(self):
        """Liveness check of the Protocol actors' processes (a lost ChildActorExited)."""
        for link in list(self.links.values()):
            if self.closing:
                return
            if link.addr is not None and not link.restarting and not process_alive(link.pid):
                self._protocol_exited(link)

    def on_InjectFault(self, msg, sender):
        if msg.protocol is None:
            return super().on_InjectFault(msg, sender)
        link = self.links.get(msg.protocol)
        if link is not None and link.addr is not None and not link.restarting:
            self.send(link.addr, InjectFault(msg.mode))

    def on_FdSent(self, msg, sender):
        if not msg.ok:
            self._finish_failed(f"fd hand-off failed: {msg.error}")

    def on_Liveness(self, msg, sender):
        pass

    def on_ActorExitRequest(self, msg, sender):
        # The node is shutting down or our parent went away: best-effort Disconnect, no waiting.
        if not self.finished:
            if not self.closing:
                self._close(DiscReason.QUITTING, send=True, error="node shutting down", linger=False,
                            cause="requested")
            self._finish()

    def on_handler_error(self, msg, sender, exc):
        if not self.closing:
            self._close(DiscReason.NETWORK_ERROR, send=True, error=f"internal error: {exc}", cause="error")
        elif not self.finished:
            self._finish()  # a failure while closing must not leave the connection half-closed

    # -- timers ------------------------------------------------------------------------
    def on_timer(self, name):
        now = time.monotonic()
        t = self.cfg.timeouts if self.cfg else None
        if name == "flush":
            self._flush()
        elif name == "chan_flush":
            self._flush_channels()
        elif name == "connect_poll" and self.connecting:
            self._check_connect()
        elif name == "connect_deadline" and self.connecting:
            self._finish_failed(f"dial timeout after {t.dial_s:g} s", "timeout")
        elif name == "fd" and self.usock is not None:
            self._finish_failed("fd hand-off timeout", "timeout")
        elif name == "handshake" and not self.closing and self.stage != "running":
            self.log.debug("peer %s: handshake timeout", self._label())
            self._close(DiscReason.READ_TIMEOUT, send=self.conn is not None and self.conn.codec is not None,
                        error=f"handshake timeout after {t.handshake_s:g} s", cause="timeout")
        elif name == "liveness" and not self.closing:
            self._check_protocols_alive()
            self.after("liveness", self.cfg.supervision.liveness_s)
        elif name == "ping" and not self.closing and self.conn is not None and self.conn.state == RUNNING:
            self.conn.send_ping()
            self._flush()
            self.after("ping", t.ping_interval_s)
        elif name == "idle" and not self.closing:
            idle_for = now - self.last_recv
            if self.read_paused or not self._reading():
                # we are not reading (a protocol's inbound window is full): not a read timeout
                self.timers.set("idle", now + t.idle_s)
            elif idle_for >= t.idle_s:
                self.log.debug("peer %s: nothing received for %.1f s", self._label(), idle_for)
                self._close(DiscReason.READ_TIMEOUT, send=True, error=f"read timeout: nothing for {idle_for:.1f} s",
                            cause="timeout")
            else:
                self.timers.set("idle", self.last_recv + t.idle_s)
        elif name == "write" and self.conn is not None and self.conn.out:
            self.log.debug("peer %s: write stalled for %.1f s", self._label(), t.write_s)
            self.conn.out.clear()
            if self.closing:
                self._finish()
            else:
                self._close(DiscReason.NETWORK_ERROR, send=False, error=f"write timeout after {t.write_s:g} s",
                            cause="timeout")
        elif name == "orphaned" and self.finished:
            self.send(self.myAddress, ActorExitRequest())  # no exit order from the Server came
        elif name == "grace" and not self.finished:
            self._finish()
        elif name.startswith("restart:"):
            self._restart_protocol(name[len("restart:"):])
        elif name.startswith("info:"):
            request_id = int(name[len("info:"):])
            if request_id in self.info_requests:
                self._reply_info(request_id)

    # -- writing -----------------------------------------------------------------------
    def _flush(self):
        conn = self.conn
        if conn is None or self.sock is None or self.finished:
            return
        out = conn.out
        progressed = False
        while out:
            try:
                n = self.sock.send(memoryview(out)[:WRITE_CHUNK])
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                out.clear()
                if not self.closing:
                    self._close(DiscReason.NETWORK_ERROR, send=False, error=f"write error: {exc}",
                                cause=_errno_cause(exc.errno))
                else:
                    self._finish()
                return
            if n <= 0:
                break
            del out[:n]
            progressed = True
        now = time.monotonic()
        if out:
            if not self.timers.is_set("flush"):
                self.after("flush", FLUSH_POLL_S)
            if progressed or not self.timers.is_set("write"):
                self.timers.set("write", now + self.cfg.timeouts.write_s)
        else:
            self.timers.cancel("flush")
            self.timers.cancel("write")
            if self.closing:
                self._half_close()
                return
        if len(out) <= OUT_HIGH_WATER // 2:
            for link in self.links.values():
                if link.withheld:
                    link.credit_due = max(link.credit_due, link.withheld)
                    link.credited = link.credit_due
                    self._to_protocol(link, OutboundCredit(link.credited))
                    link.withheld = 0

    # -- closing -----------------------------------------------------------------------
    def _label(self) -> str:
        node = self.conn.remote_node_id if self.conn and self.conn.remote_node_id else (
            self.dial.node_id if self.dial else None)
        ident = node.hex()[:8] if node else "?"
        addr = f"{self.remote[0]}:{self.remote[1]}" if self.remote else "?"
        return f"{ident}@{addr}"

    def _close(self, reason: DiscReason, send: bool, error: str = "", remote: bool = False, linger: bool = True,
               cause: str = "error"):
        """Begin closing: queue Disconnect(reason) if ``send``, stop protocols, flush, then finish.
        ``error`` is the one-line cause, ``cause`` its kind (:data:`messages.peer.CAUSES`)."""
        if self.closing:
            return
        self.closing = True
        self.cause = cause
        self.reason = DiscReason(reason)
        self.remote_requested = remote
        self.error = error
        for name in ("ping", "idle", "handshake", "connect_poll", "connect_deadline"):
            self.timers.cancel(name)
        for link in self.links.values():
            if link.addr is None:
                continue  # waiting for a restart: nothing to stop
            self._to_protocol(link, ProtocolStop(int(self.reason), remote))
            self.send(link.addr, ActorExitRequest())  # the Protocol reads its channel first
        if self.conn is not None:
            if send:
                self.conn.disconnect(self.reason)
            else:
                self.conn.state = CLOSED
                self.conn.out.clear()
        if not linger:
            self._flush_once()
            return
        self.after("grace", self.cfg.timeouts.disconnect_grace_s if self.cfg else 1.0)
        self._flush()
        if self.conn is None:
            self._finish()

    def _half_close(self):
        """Everything (the Disconnect last) is written: shut our write side and read until the
        remote closes or the grace timer fires.  Closing at once would make the kernel answer
        the remote's in-flight data (ethereumjs sends its Hello right after the handshake) with
        RST, and the remote might never read our Disconnect."""
        if self.draining or self.sock is None:
            self._finish()
            return
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._finish()
            return
        self.draining = True
        if not self.timers.is_set("grace"):
            self.after("grace", self.cfg.timeouts.disconnect_grace_s if self.cfg else 1.0)

    def _drain(self):
        """Discard what the remote still sends after our Disconnect; finish at its close."""
        _, eof, error = read_available(self.sock, self._rview, READ_MAX, lambda got: None)
        if eof or error is not None:
            self._finish()

    def _flush_once(self):
        if self.sock is not None and self.conn is not None and self.conn.out:
            try:
                self.sock.send(bytes(self.conn.out[:65536]))
            except OSError:
                pass

    def _finish_failed(self, error: str, cause: str = "error"):
        if self.closing:
            return
        self.log.debug("peer %s: %s", self._label(), error)
        self.closing = True
        self.cause = cause
        self.reason = DiscReason.NETWORK_ERROR
        self.error = error
        self._finish()

    def _finish(self):
        """Close the socket, report :class:`PeerGone` to the Server, and wait for its exit order."""
        if self.finished:
            return
        self.finished = True
        for name in ("flush", "write", "grace", "fd", "connect_poll", "connect_deadline"):
            self.timers.cancel(name)
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
        if self.usock is not None:
            self.usock.close()
            self.usock = None
        for link in self.links.values():
            if link.chan is not None:
                try:
                    link.chan.flush()  # ProtocolStop, if the socket takes it
                except ChannelClosed:
                    pass
            self._drop_channel(link)
        node_id = None
        if self.conn is not None and self.conn.remote_node_id is not None:
            node_id = self.conn.remote_node_id
        elif self.dial is not None:
            node_id = self.dial.node_id
        if self.server is not None:
            # the Server orders our exit once it has handled this, so that its record of the
            # connection always ends with our own cause, never with our process's exit notice
            self.send(self.server, PeerGone(node_id, int(self.reason), self.remote_requested, self.stage,
                                            self.error, self.cause))
            self.after("orphaned", ORPHAN_EXIT_S)
        else:
            self.send(self.myAddress, ActorExitRequest())


__all__ = ["Peer"]
