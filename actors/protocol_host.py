"""The Protocol actor: hosts one running subprotocol, a plain :class:`protocols.api.Protocol`.

Each running subprotocol is its own actor (docs/architecture.md), forked by its Peer.  The host
decodes nothing itself: it hands each inbound message to :meth:`protocols.api.Protocol.receive`
and carries out what the protocol asks (:class:`protocols.api.Host`).  go-ethereum's
equivalent is p2p/peer.go's ``protoRW`` plus the goroutine running ``Protocol.Run``.

Batching and credit (docs/architecture.md "Batching"): sends made during one handler leave as
one :class:`messages.protocol.FromProtocol` batch (more when over ``MAX_BATCH_BYTES``), at most
``OUTBOUND_WINDOW`` batches unacknowledged; the rest waits here until the Peer grants credit.
Every inbound batch is acknowledged after its handler, piggybacked on an outbound batch when
there is one.  Backpressure: while more than :data:`PAUSE_INBOUND_BYTES` wait for credit, inbound
batches are held unhandled and unacknowledged, so the Peer's inbound window fills and it stops
reading the socket (docs/architecture.md "Memory per peer").

Everything between the Peer and a running host (both directions) travels over their private
channel (:mod:`actors.io.channel`), watched by both; :class:`messages.protocol.ProtocolStart`,
fault injection and ``ActorExitRequest`` come through Thespian.  End of stream on the channel
means the Peer is gone: the actor exits.

Failures follow go-ethereum p2p/peer.go: an exception from the protocol disconnects the peer
with SUBPROTOCOL_ERROR; :meth:`ProtocolHost.end` without error disconnects with QUITTING.
With ``on_failure: restart`` an exception instead crashes the actor and the Peer restarts it
(at-least-once: a batch the dead instance handled but had not acknowledged is handed again).
"""

from __future__ import annotations

import os
import signal
import time
from collections import deque

from thespian.actors import Actor, ActorExitRequest, ThespianWatch

from messages.protocol import (MAX_BATCH_BYTES, OUTBOUND_WINDOW, WINDOW_BYTES, FromProtocol, ProtocolDisconnect,
                               ProtocolEnded, ProtocolEvent, ProtocolInfo)
from protocols.api import PeerSession, Protocol
from protocols.options import build_options
from protocols.registry import load_class
from rlpx.disc import DiscReason

from .base import NodeActor
from .io.channel import Channel, ChannelClosed

CHANNEL_FLUSH_S = 0.002
"""Retry interval while bytes for the Peer are left in the channel's out-buffer, seconds."""

CHANNEL_TIMER = "_devp2p_channel"
"""Timer name of the channel flush retry (never passed to the protocol)."""

PAUSE_INBOUND_BYTES = 4 << 20
"""Sends waiting for credit above which inbound batches are held, bytes (the Peer withholds
credit while its out-buffer is over node.peer_machine.OUT_HIGH_WATER)."""

MAX_QUEUED_BYTES = 64 << 20
"""Sends waiting for credit above this many bytes fail the protocol: room for a handler that
sends a window of large messages at once (test/1's 32 x 1 MiB) or several of the largest
(2**24 - 1 bytes, EIP-706), where a go-ethereum protocol's WriteMsg would block instead."""


class ProtocolSendError(RuntimeError):
    """More than :data:`MAX_QUEUED_BYTES` wait for a peer that does not read."""


class ProtocolHost(NodeActor):
    """Hosts one :class:`protocols.api.Protocol` on one peer; see the module docstring."""

    WATCH_SHORTCUT = True

    PARENT_DEATH_SIGNAL = signal.SIGKILL
    """A Protocol actor holds nothing to clean up (its Peer owns the socket and the Disconnect):
    when its Peer dies it goes at once, instead of trying to report to a dead parent."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.peer = None
        self.name = ""
        self.peer_id = b""
        self.proto: Protocol | None = None
        self.on_failure = "disconnect"
        self._queue: list = []
        self._queued_bytes = 0
        self._held: deque = deque()  # inbound ToProtocol batches held while the queue is over PAUSE_INBOUND_BYTES
        self._out_seq = 0
        self._out_acked = 0
        self._in_flight: deque = deque()  # (seq, payload bytes) of outbound batches not yet credited
        self._in_flight_bytes = 0
        self._in_ack = 0
        self._ack_sent = 0
        self._chan: Channel | None = None

    @property
    def running(self) -> bool:
        return self.proto is not None and self.proto.running

    # -- protocols.api.Host -----------------------------------------------------------------
    def send_message(self, code: int, payload: bytes) -> None:
        """Queue one message (relative ``code``, ``payload`` bytes); it leaves after this handler.
        Raises :class:`ProtocolSendError` over :data:`MAX_QUEUED_BYTES`."""
        self._queue.append((code, payload))
        self._queued_bytes += len(payload)
        if self._queued_bytes > MAX_QUEUED_BYTES:
            raise ProtocolSendError(f"{self.name}: {self._queued_bytes} bytes waiting for the peer to read")

    def disconnect(self, reason: int, error: str) -> None:
        """Ask the Peer to disconnect with DiscReason ``reason``."""
        self._flush()
        self.send_to_peer(ProtocolDisconnect(self.name, int(reason), error))

    def end(self, error: str) -> None:
        """Tell the Peer the protocol's run is over (QUITTING, or SUBPROTOCOL_ERROR with ``error``)."""
        self._flush()
        self.send_to_peer(ProtocolEnded(self.name, error))

    def emit(self, kind: str, data: dict) -> None:
        """Publish a protocol event (``protocol_event`` in the node's event stream)."""
        if self.peer is not None:
            self.send_to_peer(ProtocolEvent(self.name, self.peer_id, kind, data))

    def cancel(self, name: str) -> None:
        """Cancel the protocol's timer ``name``."""
        self.timers.cancel(name)

    def now(self) -> float:
        """time.monotonic(), seconds."""
        return time.monotonic()

    # -- to the Peer -------------------------------------------------------------------------
    def send_to_peer(self, msg) -> None:
        """Send a message to this protocol's Peer actor (over the channel once started)."""
        if self._chan is None:
            Actor.send(self, self.peer, msg)
            return
        try:
            self._chan.send(msg)
        except ChannelClosed:
            self._peer_gone()

    def after_handler(self) -> None:
        """Every handler's sends leave as one batch (also from timers); held inbound batches
        are handled once the queue is below the bound."""
        if self.peer is not None:
            self._flush()
            while self._held and self._queued_bytes <= PAUSE_INBOUND_BYTES and not self._crashing:
                self._handle(self._held.popleft())
                self._flush()
        chan = self._chan
        if chan is not None and chan.pending:
            try:
                if chan.flush() and not self.timers.is_set(CHANNEL_TIMER):
                    self.after(CHANNEL_TIMER, CHANNEL_FLUSH_S)
            except ChannelClosed:
                self._peer_gone()

    def watch(self):
        if self._chan is None:
            return None
        return ThespianWatch([self._chan.fileno()])

    def on_WatchMessage(self, msg, sender):
        if self._chan is not None and self._chan.fileno() in msg.ready:
            self._read_channel()

    def _read_channel(self) -> None:
        """Handle what the Peer sent over the channel, in order, as if Thespian delivered it."""
        msgs, eof = self._chan.receive()
        for m in msgs:
            self.deliver(m, self.peer)
        if eof:
            self._peer_gone()

    def _peer_gone(self) -> None:
        """The Peer closed its end (it finished or died): nothing more can arrive; exit."""
        if self._chan is not None:
            self._chan.close()
            self._chan = None
            if self.proto is not None:
                self.proto.running = False
            self._queue.clear()
            self._held.clear()
            self._queued_bytes = 0
            Actor.send(self, self.myAddress, ActorExitRequest())

    def on_ActorExitRequest(self, msg, sender):
        # the Peer wrote ProtocolStop to the channel before asking Thespian to stop us: read it
        if self._chan is not None and not self._crashing:
            try:
                self._read_channel()
            except Exception:  # noqa: BLE001 - exiting anyway
                self.log.exception("%s: reading the channel while exiting failed", self.name)

    # -- message handlers --------------------------------------------------------------------
    def on_ProtocolStart(self, msg, sender):
        for fd in msg.close_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        if msg.channel_fd >= 0:
            self._chan = Channel.adopt(msg.channel_fd)
        self.peer = msg.peer
        self.name, self.peer_id, self.on_failure = msg.name, msg.peer_id, msg.on_failure
        session = PeerSession(msg.peer_id, msg.client_id, msg.caps, msg.inbound, msg.remote_addr,
                              msg.name, msg.version, msg.length)
        try:
            cls = load_class(msg.protocol_class)
            self.proto = cls(self, session, build_options(cls.Options, dict(msg.options)))
        except Exception as exc:  # noqa: BLE001 - the config was checked; a class that fails here fails its peer
            self.log.warning("protocol %s failed to start: %s: %s", self.name, type(exc).__name__, exc)
            self._fail(exc, running=True)
            return
        self._guard(self.proto.started)

    def on_ProtocolInfoRequest(self, msg, sender):
        info = None
        if self.proto is not None:
            try:
                info = self.proto.peer_info()
            except Exception as exc:  # noqa: BLE001 - a failing info hook must not fail the protocol
                self.log.warning("protocol %s: peer_info() failed: %s: %s", self.name, type(exc).__name__, exc)
        self.send_to_peer(ProtocolInfo(self.name, info, msg.request_id))

    def on_ToProtocol(self, msg, sender):
        if msg.credit > self._out_acked:
            self._out_acked = msg.credit  # credit piggybacked by the Peer (after_handler sends)
        if self._held or self._queued_bytes > PAUSE_INBOUND_BYTES:
            self._held.append(msg)  # backpressure: handled (and acknowledged) once the queue drains
            return
        self._handle(msg)

    def _handle(self, msg) -> None:
        """Hand one inbound batch to the protocol and record its acknowledgement."""
        proto = self.proto
        if proto is not None and proto.running:
            for code, payload in msg.messages:
                if not proto.running or not self._guard(proto.receive, code, payload):
                    break
        if not self._crashing:  # a crashing instance must not acknowledge: the batch is resent
            self._in_ack = msg.seq  # after_handler sends the batch's sends with this ack

    def on_OutboundCredit(self, msg, sender):
        if msg.seq > self._out_acked:
            self._out_acked = msg.seq  # after_handler sends what the credit allows

    def on_ProtocolStop(self, msg, sender):
        proto = self.proto
        if proto is None:
            return
        proto.running = False
        self._held.clear()
        try:
            proto.stopped(DiscReason(msg.reason))
        except Exception:  # noqa: BLE001
            self.log.exception("%s: stopped() failed", self.name)

    def on_timer(self, name):
        if name != CHANNEL_TIMER and self.running:
            self._guard(self.proto.on_timer, name)

    def _guard(self, fn, *args) -> bool:
        try:
            fn(*args)
            return True
        except Exception as exc:  # noqa: BLE001 - go-ethereum: Run returned an error
            self.log.warning("protocol %s failed: %s: %s", self.name, type(exc).__name__, exc)
            self._fail(exc)
            return False

    def _fail(self, exc: Exception, running: bool = False) -> None:
        """The protocol failed.  Policy "disconnect" (go-ethereum): ask the Peer to disconnect
        with SUBPROTOCOL_ERROR.  Policy "restart": crash, so the Peer starts a new instance and
        hands it every message this one has not acknowledged."""
        self._queue.clear()
        self._queued_bytes = 0
        if not (running or self.running):
            return
        if self.proto is not None:
            self.proto.running = False
        if self.on_failure == "restart":
            self.crash()
        else:
            self.send_to_peer(ProtocolDisconnect(self.name, int(DiscReason.SUBPROTOCOL_ERROR),
                                                 f"{type(exc).__name__}: {exc}"))

    def on_handler_error(self, msg, sender, exc):
        self._fail(exc)

    def _flush(self) -> None:
        """Send queued messages in batches while credit allows; always carry the inbound ack."""
        sent_ack = False
        flight = self._in_flight
        while flight and flight[0][0] <= self._out_acked:
            self._in_flight_bytes -= flight.popleft()[1]
        while (self._queue and self._out_seq - self._out_acked < OUTBOUND_WINDOW
               and self._in_flight_bytes < WINDOW_BYTES):
            batch, size = self._take_batch()
            self._queued_bytes -= size
            self._out_seq += 1
            flight.append((self._out_seq, size))
            self._in_flight_bytes += size
            self.send_to_peer(FromProtocol(self.name, self._out_seq, tuple(batch), self._in_ack))
            self._ack_sent = self._in_ack
            sent_ack = True
        if not sent_ack and self._in_ack > self._ack_sent and self.peer is not None:
            self.send_to_peer(FromProtocol(self.name, 0, (), self._in_ack))
            self._ack_sent = self._in_ack

    def _take_batch(self):
        """Take up to MAX_BATCH_BYTES from the front of a long queue in O(batch)."""
        q = self._queue
        size, n = 0, 0
        while n < len(q) and (n == 0 or size < MAX_BATCH_BYTES):
            size += len(q[n][1])
            n += 1
        batch = q[:n]
        del q[:n]
        return batch, size
