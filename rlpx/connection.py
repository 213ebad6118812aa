"""The byte-level state machine of one RLPx connection, with no sockets and no timers.

States (go-ethereum p2p/server.go ``setupConn`` and p2p/peer.go):

  HANDSHAKE   auth/ack in progress
  CHECKPOINT1 handshake done; the owner asks its admission policy (``approve_post_handshake``)
  HELLO       our Hello sent; waiting for the remote's Hello (or Disconnect)
  CHECKPOINT2 remote Hello valid; the owner asks its policy again (``approve_add_peer``)
  RUNNING     messages flow; inbound codes routed by the offset table
  CLOSED      a Disconnect was sent or received, or an error happened

The owner (the Peer actor) feeds received bytes to :meth:`feed`, writes out :attr:`out`
(and clears what it wrote), and reacts to the returned events.  Bytes that arrive while a
checkpoint is pending are held, undecoded, and processed after approval: the owner should not
read while one is pending (go-ethereum reads nothing then), and more than :data:`HELD_MAX` held
bytes end the connection.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from . import base_protocol as bp
from .caps import LocalProtocol, OffsetTable, match_capabilities
from .disc import DiscReason
from .errors import HelloError, MessageDecodeError, RLPxError
from .handshake import Initiator, Recipient, Secrets
from .session import MessageCodec

HANDSHAKE, CHECKPOINT1, HELLO, CHECKPOINT2, RUNNING, CLOSED = (
    "handshake", "checkpoint1", "hello", "checkpoint2", "running", "closed")

HELD_MAX = 2 << 20
"""Bytes held while a checkpoint is pending (raw at checkpoint 1, frames undecoded at checkpoint 2)
above which the connection fails with PROTOCOL_ERROR: an owner that stops reading then holds at
most one read (1 MiB, actors/peer.py ``READ_MAX``) and the hand-off's leftover."""


@dataclass
class HandshakeDone:
    """Event: auth/ack complete; ``remote_node_id`` (64 bytes) is authenticated."""

    remote_node_id: bytes


@dataclass
class HelloReceived:
    """Event: the remote's valid Hello; ``table`` is the matched offset table (may be empty)."""

    hello: bp.Hello
    table: OffsetTable


@dataclass
class Messages:
    """Event: subprotocol messages in wire order, grouped by protocol name:
    ``{name: [(relative code, payload), ...]}``."""

    by_protocol: dict


@dataclass
class DisconnectReceived:
    """Event: the remote sent Disconnect(``reason``)."""

    reason: DiscReason


@dataclass
class PingReceived:
    """Event: a Ping arrived (a Pong was queued already)."""


class ConnectionFailure(RLPxError):
    """The connection must end.  ``reason`` is the DiscReason to send, or None when no
    Disconnect can be sent (handshake not complete).  ``events`` are those produced before
    the failure (deliver them, then close)."""

    def __init__(self, reason: DiscReason | None, detail: str, events=()):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.events = list(events)


class Connection:
    """One RLPx connection's protocol logic.

    ``private_key`` 32 bytes; ``hello`` our Hello (its node id must be ours);
    ``protocols`` the :class:`LocalProtocol` list; ``remote_node_id`` (64 bytes) makes this the
    initiator, None the recipient.  ``ephemeral_key``/``nonce`` only for tests.
    """

    def __init__(self, private_key: bytes, hello: bp.Hello, protocols, remote_node_id: bytes | None = None,
                 ephemeral_key: bytes | None = None, nonce: bytes | None = None):
        self.private_key = private_key
        self.local_hello = hello
        self.protocols = [p if isinstance(p, LocalProtocol) else LocalProtocol(*p) for p in protocols]
        self.initiator = remote_node_id is not None
        self.remote_node_id = remote_node_id
        self.state = HANDSHAKE
        self.out = bytearray()
        self.codec: MessageCodec | None = None
        self.remote_hello: bp.Hello | None = None
        self.table: OffsetTable | None = None
        self._init_buffers()
        self._disconnect_sent = False
        self._disconnect_received = False
        if self.initiator:
            self._hs = Initiator(private_key, remote_node_id, ephemeral_key, nonce)
            self.out += self._hs.auth
        else:
            self._hs = Recipient(private_key, ephemeral_key, nonce)

    @classmethod
    def from_secrets(cls, private_key: bytes, hello: bp.Hello, protocols, secrets: Secrets,
                     leftover: bytes = b"", unsent: bytes = b"") -> "Connection":
        """A connection whose auth/ack was run elsewhere (the Listener, for an inbound one), in
        CHECKPOINT1: ``secrets`` are the session's (no frame has passed yet, so its MAC seeds
        are the MAC states); ``leftover`` the bytes received after the handshake packet (held
        until :meth:`approve_post_handshake`), ``unsent`` our handshake packet's bytes not yet
        written (put first in :attr:`out`).  The remote's node id is ``secrets.remote_node_id``."""
        conn = cls.__new__(cls)
        conn.private_key = private_key
        conn.local_hello = hello
        conn.protocols = [p if isinstance(p, LocalProtocol) else LocalProtocol(*p) for p in protocols]
        conn.initiator = False
        conn.remote_node_id = secrets.remote_node_id
        conn.state = CHECKPOINT1
        conn.out = bytearray(unsent)
        conn.codec = MessageCodec(secrets)
        conn.remote_hello = None
        conn.table = None
        conn._init_buffers()
        conn._held_raw += leftover  # at most one read of the Listener's (8 KiB)
        conn._disconnect_sent = False
        conn._disconnect_received = False
        conn._hs = None
        return conn

    def _init_buffers(self) -> None:
        self._held_raw = bytearray()  # CHECKPOINT1: bytes after the handshake, not yet parsed
        self._undecoded: deque = deque()  # CHECKPOINT2, RUNNING: frames read, not yet decompressed and routed
        self._undecoded_bytes = 0  # their total size (frame bytes)
        self.decode_budget: int | None = None
        """Decoded payload bytes after which :meth:`feed` and :meth:`resume` stop decoding (None:
        no limit): snappy lets a few wire bytes become many, so the owner bounds them here."""

    # -- input -------------------------------------------------------------------------
    def feed(self, data: bytes) -> list:
        """Absorb received bytes; return events.  Raises :class:`ConnectionFailure`."""
        events: list = []
        self._guarded(self._feed, data, events)
        return events

    def _guarded(self, step, *args) -> None:
        """Run ``step(*args, events)``; turn any wire error into :class:`ConnectionFailure`
        carrying the events produced before it, and enter CLOSED."""
        events = args[-1]
        try:
            step(*args)
        except ConnectionFailure as exc:
            exc.events = events + exc.events
            self.state = CLOSED
            raise
        except HelloError as exc:
            self.state = CLOSED
            raise ConnectionFailure(DiscReason.PROTOCOL_ERROR, f"invalid Hello: {exc}", events) from None
        except RLPxError as exc:
            self.state = CLOSED
            reason = None if self.codec is None else DiscReason.PROTOCOL_ERROR
            raise ConnectionFailure(reason, f"{type(exc).__name__}: {exc}", events) from None

    def _feed(self, data: bytes, events: list) -> None:
        if self.state == CLOSED:
            return
        if self.state == HANDSHAKE:
            if self.initiator:
                secrets = self._hs.feed(data)
            else:
                ack = self._hs.feed(data)
                if ack is not None:
                    self.out += ack
                    self.remote_node_id = self._hs.remote_node_id
                secrets = self._hs.secrets
            if secrets is None:
                return
            self.codec = MessageCodec(secrets)
            self.state = CHECKPOINT1
            events.append(HandshakeDone(self.remote_node_id))
            data = self._hs.leftover
        if self.state == CHECKPOINT1:
            self._held_raw += data
            self._check_held()
            return
        frames = self._frames(data)
        if self.state == RUNNING and self.decode_budget is not None:
            self._hold(frames)
            self._decode(events)
            return
        for i, frame_data in enumerate(frames):
            if self.state == CHECKPOINT2:  # after the Hello: nothing decoded until approved
                self._hold(frames[i:])
                self._check_held()
                return
            self._on_frame(frame_data, events)

    def _hold(self, frames) -> None:
        self._undecoded.extend(frames)
        self._undecoded_bytes += sum(len(f) for f in frames)

    def _check_held(self) -> None:
        held = len(self._held_raw) + (self._undecoded_bytes if self.state == CHECKPOINT2 else 0)
        if held > HELD_MAX:
            self._held_raw = bytearray()
            self._undecoded.clear()
            self._undecoded_bytes = 0
            raise ConnectionFailure(DiscReason.PROTOCOL_ERROR,
                                    f"{held} bytes received while a checkpoint was pending (at most {HELD_MAX})")

    @property
    def backlog(self) -> bool:
        """True while frames read from the socket wait to be decoded: after the remote's Hello
        until :meth:`approve_add_peer`, and in RUNNING past the budget (:meth:`resume`)."""
        return bool(self._undecoded)

    @property
    def held_bytes(self) -> int:
        """Bytes received and not yet decoded: raw at checkpoint 1, frames after it."""
        return len(self._held_raw) + self._undecoded_bytes

    def resume(self) -> list:
        """Decode held frames up to the budget; return events.  Raises :class:`ConnectionFailure`."""
        events: list = []
        self._guarded(self._decode, events)
        return events

    def _decode(self, events: list) -> None:
        budget = self.decode_budget
        decoded = 0
        pending = self._undecoded
        while pending and self.state != CLOSED and (budget is None or decoded < budget):
            frame_data = pending.popleft()
            self._undecoded_bytes -= len(frame_data)
            decoded += self._on_frame(frame_data, events)
        if self.state == CLOSED:
            pending.clear()
            self._undecoded_bytes = 0

    def _frames(self, data: bytes) -> list[bytes]:
        try:
            return self.codec.frames.feed(data)
        except RLPxError as exc:
            # deliver the good frames before the bad one, then fail
            good = getattr(exc, "partial", [])
            events: list = []
            for fd in good:
                self._on_frame(fd, events)
            raise ConnectionFailure(DiscReason.PROTOCOL_ERROR, f"{type(exc).__name__}: {exc}", events) from None

    def _on_frame(self, frame_data: bytes, events: list) -> int:
        """Decode one frame and act on it; returns its payload's size in bytes (decompressed)."""
        if self.state == CLOSED:
            return 0
        code, payload = self.codec.decode_frame(frame_data)
        if self.state == HELLO:
            self._on_hello_phase(code, payload, events)
        elif self.state == RUNNING:
            self._on_running(code, payload, events)
        return len(payload)

    def _on_hello_phase(self, code: int, payload: bytes, events: list) -> None:
        if code == bp.DISCONNECT:
            reason = bp.decode_disconnect(payload)
            self.state = CLOSED
            self._disconnect_received = True
            events.append(DisconnectReceived(reason))
            return
        if code != bp.HELLO:
            raise ConnectionFailure(DiscReason.PROTOCOL_ERROR, f"expected Hello, got message code {code}")
        hello = bp.Hello.decode(payload)
        if hello.node_id != self.remote_node_id:
            raise ConnectionFailure(DiscReason.UNEXPECTED_IDENTITY, "Hello node id differs from handshake identity")
        self.remote_hello = hello
        if hello.version >= bp.SNAPPY_PROTOCOL_VERSION and self.local_hello.version >= bp.SNAPPY_PROTOCOL_VERSION:
            self.codec.snappy = True
        self.table = OffsetTable(match_capabilities(self.protocols, hello.capabilities))
        self.state = CHECKPOINT2
        events.append(HelloReceived(hello, self.table))

    def _on_running(self, code: int, payload: bytes, events: list) -> None:
        if code < bp.BASE_PROTOCOL_LENGTH:
            if code == bp.PING:
                self.out += self.codec.encode(bp.PONG, bp.encode_pong())
                events.append(PingReceived())
            elif code == bp.DISCONNECT:
                reason = bp.decode_disconnect(payload)
                self.state = CLOSED
                self._disconnect_received = True
                events.append(DisconnectReceived(reason))
            return  # Pong and other base codes are ignored (go-ethereum p2p/peer.go handle)
        routed = self.table.route(code)
        if routed is None:
            raise ConnectionFailure(DiscReason.PROTOCOL_ERROR, f"message code {code} owned by no protocol")
        row, rel = routed
        if events and isinstance(events[-1], Messages):
            batch = events[-1].by_protocol
        else:
            batch = {}
            events.append(Messages(batch))
        batch.setdefault(row.name, []).append((rel, payload))

    # -- owner decisions -----------------------------------------------------------------
    def approve_post_handshake(self) -> list:
        """Checkpoint 1 passed: send our Hello and process held bytes; return events."""
        if self.state != CHECKPOINT1:
            raise RuntimeError(f"approve_post_handshake in state {self.state}")
        self.out += self.codec.encode(bp.HELLO, self.local_hello.encode())
        self.state = HELLO
        held, self._held_raw = bytes(self._held_raw), bytearray()
        return self.feed(held) if held else []

    def approve_add_peer(self) -> list:
        """Checkpoint 2 passed: enter RUNNING and decode the held frames up to the budget (the
        rest stays :attr:`backlog`); return events.  Raises :class:`ConnectionFailure`."""
        if self.state != CHECKPOINT2:
            raise RuntimeError(f"approve_add_peer in state {self.state}")
        self.state = RUNNING
        events: list = []
        self._guarded(self._decode, events)
        return events

    # -- output --------------------------------------------------------------------------
    def send(self, code: int, payload: bytes) -> None:
        """Queue one message with absolute ``code`` (RUNNING only).  Raises FrameTooLargeError."""
        self.out += self.codec.encode(code, payload)

    def send_ping(self) -> None:
        """Queue a Ping (RUNNING only)."""
        if self.state == RUNNING:
            self.out += self.codec.encode(bp.PING, bp.encode_ping())

    def abort(self, drop_out: bool = True) -> None:
        """End without a Disconnect (the socket is broken or the remote is gone): enter CLOSED,
        and drop every byte not yet written unless ``drop_out`` is False."""
        self.state = CLOSED
        if drop_out:
            self.out.clear()

    def disconnect(self, reason: DiscReason | int) -> bool:
        """Queue Disconnect(reason) if encryption is up; enter CLOSED.  Returns True if queued.

        Also works after a :class:`ConnectionFailure` (which leaves the connection CLOSED): its
        ``reason`` is meant to be sent, and a broken ingress stream does not affect egress.
        Nothing is queued twice, nor after the remote's own Disconnect.
        """
        queued = False
        if self.codec is not None and not self._disconnect_sent and not self._disconnect_received:
            self.out += self.codec.encode(bp.DISCONNECT, bp.encode_disconnect(reason))
            self._disconnect_sent = True
            queued = True
        self.state = CLOSED
        return queued
