"""Base class of subprotocol actors (go-ethereum p2p/protocol.go ``Protocol.Run`` + ``protoRW``).

A subprotocol author subclasses :class:`Protocol` and overrides the hooks:

* :meth:`Protocol.started` - the protocol runs on a new peer (``self.peer_id`` 64 bytes,
  ``self.client_id``, ``self.caps``, ``self.inbound``, ``self.options`` are set);
* :meth:`Protocol.received` ``(code, payload)`` - one inbound message, relative code
  (0 .. length-1), payload raw bytes (already decompressed);
* :meth:`Protocol.stopped` ``(reason)`` - the connection is closing with that DiscReason;
* :meth:`Protocol.peer_info` - JSON-able data for admin_peers ``protocols[name]``.

and calls :meth:`send`, :meth:`disconnect`, :meth:`end` and :meth:`emit`.  :meth:`Protocol.peer_info`
is asked for each time admin_peers is served.

Sends made during one handler leave as one :class:`messages.protocol.FromProtocol` batch (more
when over ``MAX_BATCH_BYTES``), at most ``OUTBOUND_WINDOW`` batches unacknowledged; the rest
waits here until the Peer grants credit.  Every inbound batch is acknowledged after its
handler, piggybacked on the outbound batch when there is one.

Everything between the Peer and a running Protocol actor (both directions) travels over their
private channel (:mod:`actors.io.channel`), watched by both; :class:`ProtocolStart`, fault
injection and ``ActorExitRequest`` come through Thespian.  End of stream on the channel means
the Peer is gone: the actor exits.

Failures follow go-ethereum p2p/peer.go: an exception in a hook disconnects the peer with
SUBPROTOCOL_ERROR; :meth:`end` without error disconnects with QUITTING.  With the protocol's
``on_failure: restart`` policy an exception instead crashes the actor and the Peer restarts it
(at-least-once: a batch the dead instance processed but had not acknowledged is handed again).
"""

from __future__ import annotations

import os
import signal

from thespian.actors import Actor, ActorAddress, ActorExitRequest, ThespianWatch

from messages.protocol import (MAX_BATCH_BYTES, OUTBOUND_WINDOW, FromProtocol, ProtocolDisconnect, ProtocolEnded,
                               ProtocolEvent, ProtocolInfo)
from rlpx.disc import DiscReason

from .base import NodeActor
from .io.channel import Channel, ChannelClosed

CHANNEL_FLUSH_S = 0.002
"""Retry interval while bytes for the Peer are left in the channel's out-buffer, seconds."""

CHANNEL_TIMER = "_devp2p_channel"
"""Timer name of the channel flush retry (subclasses' ``on_timer`` ignore unknown names)."""

MAX_QUEUED_BYTES = 512 << 20
"""Sends waiting for credit above this many bytes fail the protocol (the remote is not reading)."""


class ProtocolSendError(RuntimeError):
    """:meth:`Protocol.send` was called with a code outside 0..length-1 or after the protocol stopped."""


class Protocol(NodeActor):
    """Base subprotocol actor.  See the module docstring for the hooks and the API."""

    WATCH_SHORTCUT = True

    PARENT_DEATH_SIGNAL = signal.SIGKILL
    """A Protocol actor holds nothing to clean up (its Peer owns the socket and the Disconnect):
    when its Peer dies it goes at once, instead of trying to report to a dead parent."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.peer = None
        self.name = ""
        self.version = 0
        self.length = 0
        self.peer_id = b""
        self.client_id = ""
        self.caps: tuple = ()
        self.inbound = False
        self.options: dict = {}
        self.remote_addr: tuple = ()
        self.running = False
        self.on_failure = "disconnect"
        self._queue: list = []
        self._queued_bytes = 0
        self._out_seq = 0
        self._out_acked = 0
        self._in_ack = 0
        self._ack_sent = 0
        self._chan: Channel | None = None

    # -- hooks for subclasses -------------------------------------------------------------
    def started(self) -> None:
        """The protocol starts on a peer."""

    def received(self, code: int, payload: bytes) -> None:
        """One inbound message (relative ``code``, raw ``payload`` bytes)."""

    def stopped(self, reason: DiscReason) -> None:
        """The connection closes with ``reason``."""

    def peer_info(self):
        """JSON-able per-peer data for admin_peers; None means "handshake" as in go-ethereum."""
        return None

    # -- API -----------------------------------------------------------------------------
    def send(self, code: int, payload: bytes) -> None:
        """Queue one message (relative ``code``, ``payload`` bytes); it leaves after this handler.

        Raises :class:`ProtocolSendError` for a code outside 0..length-1 (go-ethereum
        p2p/peer.go: "msg code out of range") or when the protocol is not running.
        Called with an ActorAddress first, it is Thespian's ``Actor.send(address, message)``.
        """
        if isinstance(code, ActorAddress):
            return Actor.send(self, code, payload)
        if not self.running:
            raise ProtocolSendError(f"{self.name}: send while not running")
        if not 0 <= code < self.length:
            raise ProtocolSendError(f"{self.name}: message code {code} out of range (length {self.length})")
        self._queue.append((code, bytes(payload)))
        self._queued_bytes += len(payload)
        if self._queued_bytes > MAX_QUEUED_BYTES:
            raise ProtocolSendError(f"{self.name}: {self._queued_bytes} bytes waiting for the peer to read")

    def disconnect(self, reason: DiscReason | int = DiscReason.SUBPROTOCOL_ERROR, error: str = "") -> None:
        """Ask the Peer to disconnect with ``reason``."""
        if self.running:
            self._flush()
            self.send_to_peer(ProtocolDisconnect(self.name, int(reason), error))
            self.running = False

    def end(self, error: str = "") -> None:
        """The protocol's run is over: QUITTING if ``error`` is empty, else SUBPROTOCOL_ERROR."""
        if self.running:
            self._flush()
            self.send_to_peer(ProtocolEnded(self.name, error))
            self.running = False

    def emit(self, kind: str, data: dict) -> None:
        """Publish a protocol event (``protocol_event`` in the node's event stream)."""
        if self.peer is not None:
            self.send_to_peer(ProtocolEvent(self.name, self.peer_id, kind, data))

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
        """Every handler's sends leave as one batch (also from timers and custom messages)."""
        if self.peer is not None:
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
        chan = self._chan
        msgs, eof = chan.receive()
        for m in msgs:
            self.deliver(m, self.peer)
        if eof:
            self._peer_gone()

    def _peer_gone(self) -> None:
        """The Peer closed its end (it finished or died): nothing more can arrive; exit."""
        if self._chan is not None:
            self._chan.close()
            self._chan = None
            self.running = False
            self._queue.clear()
            self._queued_bytes = 0
            Actor.send(self, self.myAddress, ActorExitRequest())

    def on_ActorExitRequest(self, msg, sender):
        # the Peer wrote ProtocolStop to the channel before asking Thespian to stop us: read it
        if self._chan is not None and not self._crashing:
            try:
                self._read_channel()
            except Exception:  # noqa: BLE001 - exiting anyway
                self.log.exception("%s: reading the channel while exiting failed", self.name)

    # -- message handlers ----------------------------------------------------------------
    def on_ProtocolStart(self, msg, sender):
        for fd in msg.close_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        if msg.channel_fd >= 0:
            self._chan = Channel.adopt(msg.channel_fd)
        self.peer = msg.peer
        self.name, self.version, self.length = msg.name, msg.version, msg.length
        self.peer_id, self.client_id, self.caps = msg.peer_id, msg.client_id, msg.caps
        self.inbound = msg.inbound
        self.options = dict(msg.options)
        self.remote_addr = msg.remote_addr
        self.on_failure = msg.on_failure
        self.running = True
        self._guard(self.started)

    def on_ProtocolInfoRequest(self, msg, sender):
        try:
            info = self.peer_info()
        except Exception as exc:  # noqa: BLE001 - a failing info hook must not fail the protocol
            self.log.warning("protocol %s: peer_info() failed: %s: %s", self.name, type(exc).__name__, exc)
            info = None
        self.send_to_peer(ProtocolInfo(self.name, info, msg.request_id))

    def on_ToProtocol(self, msg, sender):
        if msg.credit > self._out_acked:
            self._out_acked = msg.credit  # credit piggybacked by the Peer (after_handler sends)
        if self.running:
            received = self.received
            for code, payload in msg.messages:
                if not self.running or not self._guard(received, code, payload):
                    break
        if not self._crashing:  # a crashing instance must not acknowledge: the batch is resent
            self._in_ack = msg.seq  # after_handler sends the batch's sends with this ack

    def on_OutboundCredit(self, msg, sender):
        if msg.seq > self._out_acked:
            self._out_acked = msg.seq  # after_handler sends what the credit allows

    def on_ProtocolStop(self, msg, sender):
        was = self.running
        self.running = False
        if was or self.peer is not None:
            try:
                self.stopped(DiscReason(msg.reason))
            except Exception:  # noqa: BLE001
                self.log.exception("%s: stopped() failed", self.name)

    def _guard(self, fn, *args) -> bool:
        try:
            fn(*args)
            return True
        except Exception as exc:  # noqa: BLE001 - go-ethereum: Run returned an error
            self.log.warning("protocol %s failed: %s: %s", self.name, type(exc).__name__, exc)
            self._fail(exc)
            return False

    def _fail(self, exc: Exception) -> None:
        """The protocol failed.  Policy "disconnect" (go-ethereum): ask the Peer to disconnect
        with SUBPROTOCOL_ERROR.  Policy "restart": crash, so the Peer starts a new instance and
        hands it every message this one has not acknowledged."""
        self._queue.clear()
        self._queued_bytes = 0
        if not self.running:
            return
        self.running = False
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
        while self._queue and self._out_seq - self._out_acked < OUTBOUND_WINDOW:
            batch, size = self._take_batch()
            self._queued_bytes -= size
            self._out_seq += 1
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
