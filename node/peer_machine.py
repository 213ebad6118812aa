"""One connection's lifecycle as a plain state machine: stages, deadlines as data, actions out.

The Peer actor (actors/peer.py) owns the socket, the channels to its Protocol actors and one
timer; for every input it calls a method here and carries out the actions it gets back, then
writes :attr:`PeerMachine.out` to the socket and reports it with :meth:`PeerMachine.wrote`, and
arms its timer for :meth:`PeerMachine.next_deadline`.  The wire logic is
:class:`rlpx.connection.Connection`; this class adds what go-ethereum's p2p/server.go
``setupConn`` and p2p/peer.go ``Peer.run`` add around it: the checkpoints, the deadlines, the
subprotocols' flow control and supervision, and how a connection ends.

Stages (:class:`Stage`) and the deadlines that guard them (config ``timeouts``, go-ethereum's
defaults in parentheses):

  CONNECT        outbound TCP connect in progress                  ``connect``: dial_s (15 s)
  HANDSHAKE      RLPx auth/ack                                     ``handshake``: handshake_s (5 s)
  POST_HANDSHAKE the Server's checkpoint 1 (admission)             ``handshake``
  HELLO          our Hello sent, the remote's awaited              ``handshake``, restarted (5 s)
  ADD_PEER       the Server's checkpoint 2                         ``handshake``
  RUNNING        messages flow                                     ``ping`` every ping_interval_s
                                                                   (15 s), ``read``: idle_s (30 s)
  CLOSING        Disconnect queued, writing what is left           ``grace``: disconnect_grace_s (1 s)
  DRAINING       write side shut, discarding until the remote closes  ``grace``
  DONE           finished: :class:`Finish` was returned once

Two per-message deadlines apply once frames flow (go-ethereum p2p/transport.go
``frameReadTimeout`` 30 s and ``frameWriteTimeout`` 20 s, set per message in ``ReadMsg`` and
``WriteMsg``):

  ``frame``: idle_s from the first byte of a frame to its last; a message drip-fed slower than
  that ends the connection with NETWORK_ERROR, however often bytes arrive (the ``read`` deadline
  restarts on every byte and only catches silence);
  ``write``: write_s from the moment a message is queued until its last byte is written
  (tracked as stream offsets: :meth:`PeerMachine.wrote`); bytes that trickle out do not extend
  it.  NETWORK_ERROR.

Disconnect reasons follow go-ethereum p2p/peer.go: protocol ended -> QUITTING, protocol failed ->
SUBPROTOCOL_ERROR, bad frame or unknown code -> PROTOCOL_ERROR, silence -> READ_TIMEOUT, socket
trouble and the per-message deadlines -> NETWORK_ERROR (no Disconnect sent, as go-ethereum
``rlpxTransport.close`` sends none for it), the remote's reason recorded as remote-requested.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

from config.model import NodeConfig
from messages.admission import ADD_PEER, POST_HANDSHAKE, CheckpointRequest
from messages.peer import MsgTraffic, PeerGone, PeerInfoReply
from messages.protocol import WINDOW_BYTES, FromProtocol, ProtocolInfoRequest, ProtocolStop
from messages.supervision import SupervisionEvent
from rlpx import base_protocol as bp
from rlpx.caps import LocalProtocol
from rlpx.connection import (Connection, ConnectionFailure, DisconnectReceived, HandshakeDone, HelloReceived,
                             Messages)
from rlpx.disc import DiscReason
from rlpx.enode import Enode
from rlpx.errors import RLPxError
from rlpx.keys import node_id_from_private_key

from .links import ProtocolLink, ProtocolSpec
from .peer_info import peer_info
from .traffic import Traffic

OUT_HIGH_WATER = 8 << 20
"""Out-buffer size above which outbound credit is withheld (released below half of it) and the
socket is not read (:meth:`PeerMachine.reading`), bytes."""

EARLY_WRITE_BYTES = 8 << 10
"""While a FromProtocol batch is encoded, the out-buffer is written each time this many bytes are
ready, so the remote decodes while we still encode."""

INFO_TIMEOUT_S = 1.0
"""How long an admin_peers request waits for the Protocol actors' answers, seconds."""


class Stage(enum.Enum):
    """Where a connection is in its life (see the module docstring)."""

    CONNECT = "connect"
    HANDSHAKE = "handshake"
    POST_HANDSHAKE = "post_handshake"
    HELLO = "hello"
    ADD_PEER = "add_peer"
    RUNNING = "running"
    CLOSING = "closing"
    DRAINING = "draining"
    DONE = "done"


REPORTED_STAGE = {Stage.CONNECT: "connect", Stage.HANDSHAKE: "handshake", Stage.POST_HANDSHAKE: "hello",
                  Stage.HELLO: "hello", Stage.ADD_PEER: "hello", Stage.RUNNING: "running"}
"""The stage a PeerGone reports (messages.peer.STAGES) for the stage a connection ended in; a
rejection at a checkpoint reports "checkpoint"."""


# -- actions ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ToServer:
    """Send ``message`` to the Server (a checkpoint request, an event, an info reply)."""

    message: object


@dataclass(frozen=True)
class SpawnProtocol:
    """Create the Protocol actor of ``name`` (again, after a restart); the actions after it
    already address the new actor."""

    name: str


@dataclass(frozen=True)
class ToProtocol:
    """Send ``message`` to the running Protocol actor of ``name``, in order, over its channel."""

    name: str
    message: object


@dataclass(frozen=True)
class StopProtocol:
    """Ask the Protocol actor of ``name`` to exit (after the ProtocolStop already sent to it)."""

    name: str


@dataclass(frozen=True)
class DropProtocol:
    """The Protocol actor of ``name`` is dead: close its channel; a restart may follow."""

    name: str


@dataclass(frozen=True)
class HalfClose:
    """Everything is written: shut the socket's write side and call :meth:`PeerMachine.drained`
    when the remote closes (or :meth:`PeerMachine.abort` if the shutdown fails)."""


@dataclass(frozen=True)
class Finish:
    """The connection is over: close the socket and the channels, send ``gone`` to the Server.
    ``linger`` False: write what the socket takes of :attr:`PeerMachine.out` once, first."""

    gone: PeerGone
    linger: bool = True


class PeerMachine:
    """The lifecycle of one RLPx connection (see the module docstring).

    ``config`` the node's NodeConfig; ``protocols`` the :class:`ProtocolSpec` of every protocol
    the node runs; ``dial`` the Enode dialled (None: inbound); ``static``/``trusted`` as the
    Dialer knows them.  Times are ``time.monotonic()`` seconds, passed in as ``now``.
    Every input method returns a list of actions (the classes above).
    """

    def __init__(self, config: NodeConfig, protocols, dial: Enode | None = None, static: bool = False,
                 trusted: bool = False, remote: tuple = ()):
        self.cfg = config
        self.t = config.timeouts
        self.specs = {(p.name, p.version): p for p in protocols}
        self.configs = {(pc.name, pc.version): pc for pc in config.protocols}
        self.dial = dial
        self.inbound = dial is None
        self.static, self.trusted = static, trusted
        self.remote = tuple(remote) if remote else ((dial.host, dial.tcp_port) if dial else ())
        self.local: tuple = ()
        self.stage = Stage.CONNECT if dial else Stage.HANDSHAKE
        self.conn: Connection | None = None
        self.links: dict[str, ProtocolLink] = {}
        self.deadlines: dict[str, float] = {}
        self.last_recv = 0.0
        self.read_paused = False
        self.eof_pending: tuple | None = None  # (error, cause): the remote closed while a checkpoint held its bytes
        self.reason = DiscReason.REQUESTED
        self.remote_requested = False
        self.error = ""
        self.cause = ""
        self.reported_stage = REPORTED_STAGE[self.stage]
        self.info_requests: dict[int, set] = {}
        self._restart_notes: dict[str, tuple] = {}
        self.written = 0  # stream offset: bytes of our side of the stream the shell has written
        self._queued: deque = deque()  # (end offset, monotonic time queued) of bytes not yet written
        self._frames_seen = 0  # FrameCodec.frames_read when the ``frame`` deadline was last set
        self.traffic = Traffic()  # what /metrics reports (node/traffic.py)
        self.began = 0.0  # when the connection began: the connect (outbound), the Peer's start (inbound)

    # -- reading the state ---------------------------------------------------------------------
    @property
    def out(self) -> bytearray:
        """Bytes waiting for the socket (the shell writes and deletes from the front)."""
        return self.conn.out if self.conn is not None else bytearray()

    @property
    def closing(self) -> bool:
        """True once the connection has begun to end."""
        return self.stage in (Stage.CLOSING, Stage.DRAINING, Stage.DONE)

    @property
    def remote_node_id(self) -> bytes | None:
        """The remote's 64-byte node id: authenticated after the handshake, else the dialled one."""
        if self.conn is not None and self.conn.remote_node_id is not None:
            return self.conn.remote_node_id
        return self.dial.node_id if self.dial else None

    @property
    def hello(self) -> bp.Hello | None:
        """The remote's Hello, once received."""
        return self.conn.remote_hello if self.conn is not None else None

    def reading(self) -> bool:
        """True while the socket's input is wanted.  False while: a checkpoint is pending (as
        go-ethereum reads nothing until the Server answers; the Connection fails past
        rlpx.connection.HELD_MAX held bytes), frames wait undecoded, a protocol's inbound window
        is full, :attr:`out` holds more than :data:`OUT_HIGH_WATER` bytes (whatever queued them:
        Pongs to a Ping flood too), or the connection is closing."""
        if self.closing or self.conn is None or self.eof_pending or self.conn.backlog:
            return False
        if self.stage in (Stage.POST_HANDSHAKE, Stage.ADD_PEER) or len(self.conn.out) > OUT_HIGH_WATER:
            return False
        return self._windows_open()

    def _windows_open(self) -> bool:
        """True while no protocol's inbound window is full."""
        return not any(link.window_full for link in self.links.values())

    def watch_socket(self, now: float) -> bool:
        """Whether the shell should watch the socket for readability now: while connecting (a
        refused connect shows as readable), reading, or draining.  Reading that resumes after
        our own backpressure restarts the read deadline: that pause was not the remote's silence."""
        reading = self.reading()
        if reading and self.read_paused:
            self.last_recv = max(self.last_recv, now)
        self.read_paused = not reading and self.stage == Stage.RUNNING
        return self.stage in (Stage.CONNECT, Stage.DRAINING) or reading

    def next_deadline(self) -> float | None:
        """The earliest deadline (monotonic seconds), or None."""
        return min(self.deadlines.values()) if self.deadlines else None

    def label(self) -> str:
        """``<node id prefix>@host:port`` for log lines."""
        node = self.remote_node_id
        addr = f"{self.remote[0]}:{self.remote[1]}" if self.remote else "?"
        return f"{node.hex()[:8] if node else '?'}@{addr}"

    # -- starting ------------------------------------------------------------------------------
    def connect_started(self, now: float) -> list:
        """An outbound connect is under way (CONNECT until :meth:`connected`)."""
        self.began = now
        self.deadlines["connect"] = now + self.t.dial_s
        return []

    def connected(self, local: tuple, now: float) -> list:
        """The TCP connection is up (outbound: connected; inbound: accepted). ``local`` is our
        (host, port). The RLPx handshake begins: the initiator's auth is in :attr:`out`."""
        self.local = tuple(local[:2]) if local else ()
        self.deadlines.pop("connect", None)
        hello, protocols = self._local_hello()
        self.conn = Connection(self.cfg.private_key, hello, protocols,
                               remote_node_id=self.dial.node_id if self.dial else None)
        self.conn.decode_budget = WINDOW_BYTES
        self.stage = Stage.HANDSHAKE
        self.reported_stage = "handshake"
        self.last_recv = now
        self.deadlines["handshake"] = now + self.t.handshake_s
        return []

    def handshake_done(self, local: tuple, secrets, leftover: bytes, unsent: bytes, now: float) -> list:
        """An inbound connection whose auth/ack the Listener ran (node/inbound_handshakes.py):
        resume at checkpoint 1 with the session's ``secrets`` (rlpx.handshake.Secrets),
        ``leftover`` (bytes read after the auth) and ``unsent`` (the ack's tail not yet written,
        now first in :attr:`out`).  The ``handshake`` deadline covers checkpoint 1, as after
        :meth:`connected`."""
        self.local = tuple(local[:2]) if local else ()
        self.began = now
        hello, protocols = self._local_hello()
        self.conn = Connection.from_secrets(self.cfg.private_key, hello, protocols, secrets, leftover, unsent)
        self.conn.decode_budget = WINDOW_BYTES
        self.last_recv = now
        self.deadlines["handshake"] = now + self.t.handshake_s
        actions = self._events([HandshakeDone(secrets.remote_node_id)], now)
        self._track_out(now)
        if self.out:
            self.deadlines["write"] = self._queued[0][1] + self.t.write_s
        return actions

    def _local_hello(self) -> tuple[bp.Hello, list]:
        protocols = sorted(self.specs.values(), key=lambda p: (p.name, p.version))
        caps = tuple(bp.Capability(p.name, p.version) for p in protocols)
        node_id = node_id_from_private_key(self.cfg.private_key)
        listen_port = 0 if self.cfg.no_listen else self.cfg.listen_port
        hello = bp.Hello(bp.BASE_PROTOCOL_VERSION, self.cfg.name, caps, listen_port, node_id)
        return hello, [LocalProtocol(p.name, p.version, p.length) for p in protocols]

    def connect_failed(self, error: str, cause: str) -> list:
        """The connect (or taking over an inbound socket) failed: finish without a Disconnect."""
        return self._finish_failed(error, cause)

    # -- socket input --------------------------------------------------------------------------
    def received(self, data: bytes, now: float) -> list:
        """Bytes from the socket."""
        if self.closing or self.conn is None:
            return []
        self.last_recv = now
        self.traffic.wire_in += len(data)
        try:
            events = self.conn.feed(data)
        except ConnectionFailure as exc:
            actions = self._events(exc.events, now)
            return actions + self._close(exc.reason if exc.reason is not None else DiscReason.PROTOCOL_ERROR,
                                         send=exc.reason is not None, error=exc.detail, cause="protocol_error",
                                         now=now)
        self._track_frame(now)
        return self._events(events, now)

    def _track_frame(self, now: float) -> None:
        """Keep the ``frame`` deadline at idle_s after the first byte of the frame being received
        (go-ethereum p2p/transport.go ``frameReadTimeout``, per message)."""
        codec = self.conn.codec if self.conn is not None else None
        if codec is None or self.closing:
            return
        frames = codec.frames
        if not frames.buffered:
            self.deadlines.pop("frame", None)
        elif frames.frames_read != self._frames_seen or "frame" not in self.deadlines:
            self.deadlines["frame"] = now + self.t.idle_s  # a new frame began in these bytes
        self._frames_seen = frames.frames_read

    def remote_closed(self, error: str, cause: str, now: float) -> list:
        """End of stream (``cause`` "closed") or a read error from the socket."""
        if self.stage == Stage.DRAINING:
            return self.drained()
        if self.closing:
            return []
        if self.stage in (Stage.POST_HANDSHAKE, Stage.ADD_PEER):
            # A remote that rejects us sends Disconnect(reason) and closes at once, but while a
            # checkpoint is pending the Connection holds those bytes unread: decide when the
            # Server answers, as go-ethereum reads the Disconnect after its checkpoint.
            self.eof_pending = (error, cause)
            return []
        return self._close(DiscReason.NETWORK_ERROR, send=False, error=error, cause=cause, now=now)

    def drained(self) -> list:
        """The remote closed (or failed) while we were draining after our Disconnect."""
        return self._finish()

    def abort(self) -> list:
        """The socket cannot be used any more (shutdown failed): finish now."""
        return self._finish()

    # -- writing -------------------------------------------------------------------------------
    def wrote(self, written: int, now: float) -> list:
        """The shell wrote ``written`` bytes from the front of :attr:`out` since its last call
        (0: none).  Records when the bytes now in :attr:`out` were queued and sets the ``write``
        deadline to write_s after the oldest of them (go-ethereum ``frameWriteTimeout``, per
        message), releases withheld credit, and ends a closing connection whose last bytes are
        written."""
        out = self.out
        actions: list = []
        self.written += written
        self.traffic.wire_out += written
        self._track_out(now)
        if out:
            self.deadlines["write"] = self._queued[0][1] + self.t.write_s
        else:
            self.deadlines.pop("write", None)
            if self.stage == Stage.CLOSING and self.conn is not None:
                self.stage = Stage.DRAINING
                self.deadlines.setdefault("grace", now + self.t.disconnect_grace_s)
                return [HalfClose()]
        if len(out) <= OUT_HIGH_WATER // 2 and not self.closing:
            for link in self.links.values():
                credit = link.release()
                if credit is not None:
                    actions.append(ToProtocol(link.name, credit))
        return actions

    def _track_out(self, now: float) -> None:
        """Forget the queued bytes that are written; note the bytes queued since the last call as
        queued at ``now`` (stream offsets: :attr:`written` + len(:attr:`out`) is the end)."""
        queued, written, out = self._queued, self.written, self.out
        end = written + len(out)
        while queued and queued[0][0] <= written:
            queued.popleft()
        if not out or (queued and queued[-1][0] > end):
            queued.clear()  # what was queued has been dropped (abort, write error)
        if out and end > (queued[-1][0] if queued else written):
            queued.append((end, now))

    def oldest_queued(self) -> float | None:
        """When the oldest byte of :attr:`out` not yet written was queued (monotonic s), or None."""
        return self._queued[0][1] if self._queued and self.out else None

    def write_failed(self, error: str, cause: str, now: float) -> list:
        """A socket write failed (the connection is broken)."""
        self.out.clear()
        if self.closing:
            return self._finish()
        return self._close(DiscReason.NETWORK_ERROR, send=False, error=f"write error: {error}", cause=cause,
                           now=now)

    # -- the Server's checkpoints --------------------------------------------------------------
    def checkpoint_reply(self, stage: str, reason: int | None, now: float) -> list:
        """The Server's answer at checkpoint ``stage``: None to go on, else a DiscReason code."""
        actions = self._checkpoint_reply(stage, reason, now)
        if self.eof_pending and not self.closing and self.stage not in (Stage.POST_HANDSHAKE, Stage.ADD_PEER):
            # the held bytes are processed and held no Disconnect: the remote just closed (its
            # write side: what the approval queued, e.g. our Hello, is still written)
            error, cause = self.eof_pending
            actions += self._close(DiscReason.NETWORK_ERROR, send=False, error=error, cause=cause, now=now,
                                   keep_out=True)
        return actions

    def _checkpoint_reply(self, stage: str, reason: int | None, now: float) -> list:
        if self.closing or self.conn is None:
            return []
        if reason is not None:
            reason = DiscReason(reason)
            self.reported_stage = "checkpoint"
            return self._close(reason, send=True, error=f"rejected by this node: {reason.name}", cause="rejected",
                               now=now)
        actions: list = []
        try:
            if stage == POST_HANDSHAKE and self.stage == Stage.POST_HANDSHAKE:
                self.stage = Stage.HELLO
                self.deadlines["handshake"] = now + self.t.handshake_s
                events = self.conn.approve_post_handshake()
            elif stage == ADD_PEER and self.stage == Stage.ADD_PEER:
                self.deadlines.pop("handshake", None)
                self.stage = Stage.RUNNING
                self.reported_stage = "running"
                actions = self._start_protocols()
                events = self.conn.approve_add_peer()
                self.deadlines["ping"] = now + self.t.ping_interval_s
                self.deadlines["read"] = now + self.t.idle_s
                return actions + self._events(events, now)
            else:
                return []
        except ConnectionFailure as exc:
            actions += self._events(exc.events, now)
            return actions + self._close(exc.reason or DiscReason.PROTOCOL_ERROR, send=exc.reason is not None,
                                         error=exc.detail, cause="protocol_error", now=now)
        return self._events(events, now)

    def _resume(self, now: float) -> list:
        """Decode more of the frames the Connection holds (its decode budget was reached)."""
        try:
            events = self.conn.resume()
        except ConnectionFailure as exc:
            actions = self._events(exc.events, now)
            return actions + self._close(exc.reason or DiscReason.PROTOCOL_ERROR, send=exc.reason is not None,
                                         error=exc.detail, cause="protocol_error", now=now)
        return self._events(events, now)

    def _events(self, events, now: float) -> list:
        actions: list = []
        for ev in events:
            if self.closing:
                break
            if isinstance(ev, Messages):
                for name, msgs in ev.by_protocol.items():
                    link = self.links[name]
                    self.traffic.count("ingress", link.cap, msgs)
                    if self.cfg.enable_msg_events:
                        actions.append(self._traffic("recv", name, msgs))
                    link.pending.extend(msgs)
                    actions += self._dispatch(link, now)
            elif isinstance(ev, HandshakeDone):
                self.stage = Stage.POST_HANDSHAKE
                self.reported_stage = "hello"
                actions.append(ToServer(CheckpointRequest(POST_HANDSHAKE, ev.remote_node_id, self.inbound)))
            elif isinstance(ev, HelloReceived):
                self.stage = Stage.ADD_PEER
                actions.append(ToServer(CheckpointRequest(ADD_PEER, self.conn.remote_node_id, self.inbound,
                                                          matched=len(ev.table.rows), info=self.info(),
                                                          setup_s=now - self.began if self.began else 0.0)))
            elif isinstance(ev, DisconnectReceived):
                actions += self._close(ev.reason, send=False, remote=True,
                                       error=f"remote sent Disconnect({ev.reason.name})", cause="remote_disconnect",
                                       now=now)
        return actions

    # -- subprotocols --------------------------------------------------------------------------
    def _start_protocols(self) -> list:
        actions = []
        for row in self.conn.table.rows:
            key = (row.name, row.version)
            link = ProtocolLink(self.specs[key], row.offset, self.configs[key])
            self.links[row.name] = link
            link.started()  # by the time the shell carries out what follows, the actor exists
            actions.append(SpawnProtocol(row.name))
        return actions

    def _dispatch(self, link: ProtocolLink, now: float) -> list:
        if link.over_hold and not self.closing:
            return self._close(DiscReason.SUBPROTOCOL_ERROR, send=True, cause="subprotocol", now=now,
                               error=f"more than {link.config.hold_max} messages for {link.name} held while it "
                                     "restarts")
        return [ToProtocol(link.name, batch) for batch in link.batches()]

    def from_protocol(self, name: str, msg: FromProtocol, now: float, early_write=None) -> list:
        """A batch from the Protocol actor of ``name``: its ack, then its messages (relative
        codes, checked against the protocol's length) onto the wire.  ``early_write()``, when
        given, is called each time :data:`EARLY_WRITE_BYTES` are ready in :attr:`out`."""
        link = self.links.get(name)
        if link is None or self.closing or not link.running:
            return []  # closing, or a late batch from an instance that has since died
        actions: list = []
        if link.acknowledge(msg.ack):
            actions += self._dispatch(link, now)
            if self.conn.backlog and self._windows_open():
                actions += self._resume(now)
                if self.closing:
                    return actions
        if not msg.messages:
            return actions
        conn, table = self.conn, self.conn.table
        size = 0
        try:
            for code, payload in msg.messages:
                conn.send(table.absolute(name, code), payload)
                size += len(payload)
                if early_write is not None and len(conn.out) >= EARLY_WRITE_BYTES:
                    early_write()
                    if self.closing:  # the write failed
                        return actions
        except (ValueError, RLPxError) as exc:
            return actions + self._close(DiscReason.SUBPROTOCOL_ERROR, send=True, error=f"{name} wrote a bad "
                                         f"message: {exc}", cause="subprotocol", now=now)
        self.traffic.count("egress", link.cap, msg.messages)
        if self.cfg.enable_msg_events:
            actions.append(self._traffic("send", name, msg.messages))
        credit = link.written(msg.seq, len(conn.out) > OUT_HIGH_WATER, size)
        if credit is not None:
            actions.append(ToProtocol(name, credit))
        return actions

    def protocol_disconnect(self, name: str, reason: int, error: str, now: float) -> list:
        """The protocol asked to disconnect with ``reason``."""
        return self._close(DiscReason(reason), send=True, error=error or f"{name} requested disconnect",
                           cause="subprotocol", now=now)

    def protocol_ended(self, name: str, error: str, now: float) -> list:
        """The protocol's run is over: QUITTING if ``error`` is empty, else SUBPROTOCOL_ERROR
        (go-ethereum p2p/peer.go: a protocol returning ends the peer)."""
        reason = DiscReason.SUBPROTOCOL_ERROR if error else DiscReason.QUITTING
        return self._close(reason, send=True, error=error or f"protocol {name} ended", cause="subprotocol", now=now)

    def protocol_exited(self, name: str, now: float) -> list:
        """The Protocol actor of ``name`` died: go-ethereum's disconnect (SUBPROTOCOL_ERROR), or
        a restart under its ``on_failure: restart`` policy, with every message it had not
        acknowledged handed to the next instance."""
        link = self.links.get(name)
        if link is None or self.closing or not link.running:
            return []
        ident = {"actor": "protocol", "protocol": name, "peer_id": self._peer_hex()}
        if link.config.on_failure != "restart":
            link.running = False
            return [DropProtocol(name), self._sup("actor_exited", dict(ident, cause="exited", policy="disconnect"))] \
                + self._close(DiscReason.SUBPROTOCOL_ERROR, send=True, error=f"protocol {name} actor exited",
                              cause="subprotocol", now=now)
        decision = link.sup.exited(link.incarnation, True, now)
        if decision.action == "duplicate":
            return []
        actions: list = [DropProtocol(name), self._sup("actor_exited", dict(ident, cause="exited", policy="restart"))]
        if decision.action == "give_up":
            link.running = False
            actions.append(self._sup("restart_limit_reached", dict(ident, restarts=decision.attempt - 1,
                                                                    within_s=link.config.restart.within_s)))
            return actions + self._close(DiscReason.SUBPROTOCOL_ERROR, send=True, cause="subprotocol", now=now,
                                         error=f"protocol {name} restart limit reached")
        link.exited()
        self.deadlines[f"restart:{name}"] = now + decision.delay_s
        self._restart_notes[name] = (decision.attempt, decision.delay_s)
        for request_id in list(self.info_requests):
            actions += self._info_answered(request_id, name)
        return actions + self._dispatch(link, now)

    def _restart(self, name: str, now: float) -> list:
        link = self.links.get(name)
        if link is None or not link.restarting or self.closing:
            return []
        attempt, delay = self._restart_notes.pop(name, (0, 0.0))
        held = len(link.pending)
        link.started()
        return [SpawnProtocol(name),
                self._sup("actor_restarted", {"actor": "protocol", "protocol": name, "peer_id": self._peer_hex(),
                                              "attempt": attempt, "delay_s": delay, "held": held})] \
            + self._dispatch(link, now)

    # -- admin_peers ---------------------------------------------------------------------------
    def info(self) -> dict:
        """This connection's admin_peers entry as last known (after the remote's Hello)."""
        hello = self.hello
        if hello is None or self.conn.table is None:
            return {}
        return peer_info(hello, self.conn.table, self.inbound, self.local, self.remote, self.trusted, self.static,
                         {name: link.info for name, link in self.links.items()})

    def info_request(self, request_id: int, now: float, protocols: bool = True) -> list:
        """admin_peers is being served: ask every running protocol for its info; the reply
        goes when all have answered or after :data:`INFO_TIMEOUT_S`.  ``protocols`` False
        (a metrics scrape): reply at once with the protocols' info as last known."""
        waiting = {name for name, link in self.links.items() if link.running} if protocols else set()
        if not waiting or self.closing:
            return [ToServer(PeerInfoReply(request_id, self.info(), self.traffic.snapshot()))]
        self.info_requests[request_id] = waiting
        self.deadlines[f"info:{request_id}"] = now + INFO_TIMEOUT_S
        return [ToProtocol(name, ProtocolInfoRequest(request_id)) for name in sorted(waiting)]

    def protocol_info(self, name: str, info, request_id: int) -> list:
        """The protocol ``name`` answered info request ``request_id``."""
        link = self.links.get(name)
        if link is None:
            return []
        link.info = info
        return self._info_answered(request_id, name)

    def _info_answered(self, request_id: int, name: str) -> list:
        waiting = self.info_requests.get(request_id)
        if waiting is None:
            return []
        waiting.discard(name)
        return self._reply_info(request_id) if not waiting else []

    def _reply_info(self, request_id: int) -> list:
        self.info_requests.pop(request_id, None)
        self.deadlines.pop(f"info:{request_id}", None)
        return [ToServer(PeerInfoReply(request_id, self.info(), self.traffic.snapshot()))]

    # -- orders --------------------------------------------------------------------------------
    def disconnect(self, reason: int, now: float, error: str = "") -> list:
        """The Server asks to disconnect with ``reason`` (admin remove-peer, node stop, an
        inbound slot evicted), for ``error`` (default "disconnect requested by node")."""
        return self._close(DiscReason(reason), send=True, error=error or "disconnect requested by node",
                           cause="requested", now=now)

    def shutdown(self, now: float) -> list:
        """The actor is being stopped (the node or its parent goes away): Disconnect(QUITTING)
        best effort, written once, and finish without waiting."""
        if self.stage == Stage.DONE:
            return []
        actions: list = []
        if not self.closing:
            actions = self._close(DiscReason.QUITTING, send=True, error="node shutting down", cause="requested",
                                  now=now, linger=False)
        return actions if any(isinstance(a, Finish) for a in actions) else actions + self._finish(linger=False)

    def internal_error(self, error: str, now: float) -> list:
        """A handler of the shell failed: the connection cannot be trusted any more."""
        if not self.closing:
            return self._close(DiscReason.NETWORK_ERROR, send=True, error=f"internal error: {error}", cause="error",
                               now=now)
        return self._finish() if self.stage != Stage.DONE else []

    # -- time ----------------------------------------------------------------------------------
    def on_time(self, now: float) -> list:
        """Everything due at ``now``."""
        actions: list = []
        for name, at in sorted(self.deadlines.items(), key=lambda kv: kv[1]):
            if at > now or self.deadlines.get(name) != at:
                continue
            del self.deadlines[name]
            actions += self._due(name, now)
            if self.stage == Stage.DONE:
                break
        return actions

    def _due(self, name: str, now: float) -> list:
        t = self.t
        if name == "connect" and self.stage == Stage.CONNECT:
            return self._finish_failed(f"dial timeout after {t.dial_s:g} s", "timeout")
        if name == "handshake" and not self.closing and self.stage != Stage.RUNNING:
            return self._close(DiscReason.READ_TIMEOUT, send=self.conn is not None and self.conn.codec is not None,
                               error=f"handshake timeout after {t.handshake_s:g} s", cause="timeout", now=now)
        if name == "ping" and self.stage == Stage.RUNNING:
            self.conn.send_ping()
            self.deadlines["ping"] = now + t.ping_interval_s
            return []
        if name == "read" and self.stage == Stage.RUNNING:
            idle_for = now - self.last_recv
            if self.read_paused or not self.reading():
                self.deadlines["read"] = now + t.idle_s  # we are not reading: not the remote's silence
            elif idle_for >= t.idle_s:
                return self._close(DiscReason.READ_TIMEOUT, send=True, cause="timeout", now=now,
                                   error=f"read timeout: nothing for {idle_for:.1f} s")
            else:
                self.deadlines["read"] = self.last_recv + t.idle_s
            return []
        if name == "write" and self.out:
            oldest = self.oldest_queued()
            if oldest is not None and now < oldest + t.write_s:
                self.deadlines["write"] = oldest + t.write_s
                return []
            self.out.clear()
            if self.closing:
                return self._finish()
            return self._close(DiscReason.NETWORK_ERROR, send=False, cause="timeout", now=now,
                               error=f"write timeout: a message not written within {t.write_s:g} s of being queued")
        if name == "frame" and not self.closing:
            if self.read_paused or not self.reading():
                self.deadlines["frame"] = now + t.idle_s  # we are not reading: not the remote's slowness
                return []
            return self._close(DiscReason.NETWORK_ERROR, send=False, cause="timeout", now=now,
                               error=f"read timeout: a message not complete within {t.idle_s:g} s of its first byte")
        if name == "grace" and self.stage != Stage.DONE:
            return self._finish()
        if name.startswith("restart:"):
            return self._restart(name[len("restart:"):], now)
        if name.startswith("info:"):
            request_id = int(name[len("info:"):])
            if request_id in self.info_requests:
                return self._reply_info(request_id)
        return []

    # -- ending --------------------------------------------------------------------------------
    def _close(self, reason: DiscReason, send: bool, error: str, cause: str, now: float, remote: bool = False,
               linger: bool = True, keep_out: bool = False) -> list:
        """Begin to end: queue Disconnect(``reason``) if ``send`` (and encryption is up), else drop
        what is not yet written unless ``keep_out``; stop the protocols, then finish once the last
        bytes are written (or the grace runs out)."""
        if self.closing:
            return []
        if self.stage in REPORTED_STAGE and self.reported_stage != "checkpoint":
            self.reported_stage = REPORTED_STAGE[self.stage]
        self.stage = Stage.CLOSING
        self.reason, self.remote_requested, self.error, self.cause = DiscReason(reason), remote, error, cause
        for name in ("ping", "read", "frame", "handshake", "connect"):
            self.deadlines.pop(name, None)
        actions: list = []
        for link in self.links.values():
            if link.running:
                actions.append(ToProtocol(link.name, ProtocolStop(int(self.reason), remote)))
                actions.append(StopProtocol(link.name))
                link.running = False
        if self.conn is None:
            return actions + self._finish()
        if send:
            self.conn.disconnect(self.reason)
        else:
            self.conn.abort(drop_out=not keep_out)
        if not linger:
            return actions + self._finish(linger=False)
        self.deadlines["grace"] = now + self.t.disconnect_grace_s
        return actions

    def _finish_failed(self, error: str, cause: str) -> list:
        if self.closing:
            return []
        self.reason, self.error, self.cause = DiscReason.NETWORK_ERROR, error, cause
        return self._finish()

    def _finish(self, linger: bool = True) -> list:
        if self.stage == Stage.DONE:
            return []
        if self.stage in REPORTED_STAGE and self.reported_stage != "checkpoint":
            self.reported_stage = REPORTED_STAGE[self.stage]
        self.stage = Stage.DONE
        self.deadlines.clear()
        return [Finish(PeerGone(self.remote_node_id, int(self.reason), self.remote_requested, self.reported_stage,
                                self.error, self.cause, self.traffic.snapshot()), linger)]

    # -- helpers -------------------------------------------------------------------------------
    def _peer_hex(self) -> str:
        node = self.conn.remote_node_id if self.conn is not None else None
        return node.hex() if node else ""

    def _sup(self, kind: str, data: dict) -> ToServer:
        return ToServer(SupervisionEvent(kind, data))

    def _traffic(self, direction: str, name: str, msgs) -> ToServer:
        return ToServer(MsgTraffic(direction, name, self.conn.remote_node_id,
                                   tuple((code, len(payload)) for code, payload in msgs)))


__all__ = ["PeerMachine", "Stage", "ToServer", "SpawnProtocol", "ToProtocol", "StopProtocol", "DropProtocol",
           "HalfClose", "Finish"]
