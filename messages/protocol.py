"""Messages between a Peer and its Protocol actors.

ProtocolStart travels through Thespian; the others between a Peer and a running Protocol
travel, in order, through the pair's private channel (:mod:`actors.io.channel`).

Batching and credit (docs/architecture.md "Batching"): one :class:`ToProtocol` carries every message of
one protocol decoded from one socket read; one :class:`FromProtocol` carries every send of
one Protocol handler.  The Peer keeps at most ``INBOUND_WINDOW`` ToProtocol batches unacked
per protocol (it stops reading the socket while a window is full) and a Protocol keeps at most
``OUTBOUND_WINDOW`` FromProtocol batches unacknowledged (it queues sends locally meanwhile).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # messages load no Thespian: the address is only a field's type
    from thespian.actors import ActorAddress

INBOUND_WINDOW = 8
"""Unacknowledged inbound batches per Protocol actor before the Peer pauses reading."""

OUTBOUND_WINDOW = 4
"""Unacknowledged outbound batches a Protocol actor may have at its Peer."""

MAX_BATCH_BYTES = 4 * 1024 * 1024
"""A Protocol actor splits queued sends into batches of about this many payload bytes."""

WINDOW_BYTES = 4 * 1024 * 1024
"""Payload bytes of unacknowledged batches, each way, above which no further batch is sent
(at least one always may be): with the batch counts above, it bounds what a peer can make the
node hold (docs/architecture.md "Memory per peer")."""


@dataclass(frozen=True)
class ProtocolStart:
    """Peer -> Protocol: the protocol runs on a new connection.

    ``peer_id`` 64-byte remote node id; ``client_id`` the remote Hello's client name;
    ``caps`` the remote's capabilities as "name/version" strings; ``inbound`` the direction;
    ``offset``/``length`` the protocol's code range; ``options`` from its ProtocolConfig;
    ``close_fds`` the Peer's socket fds this forked child inherited and must close;
    ``on_failure`` "disconnect" or "restart" (what a failing hook leads to);
    ``channel_fd`` the inherited fd of this actor's end of its :mod:`actors.io.channel` stream to
    the Peer (-1: none, everything goes through Thespian); ``protocol_class`` the "module.Class"
    of the :class:`protocols.api.Protocol` to run.
    """

    peer: ActorAddress
    peer_id: bytes
    client_id: str
    caps: tuple[str, ...]
    inbound: bool
    name: str
    version: int
    offset: int
    length: int
    options: tuple = ()
    remote_addr: tuple = ()
    close_fds: tuple = ()
    on_failure: str = "disconnect"
    channel_fd: int = -1
    protocol_class: str = ""


@dataclass(frozen=True)
class ToProtocol:
    """Peer -> Protocol: ``messages`` = ((relative code, payload bytes), ...) in wire order.

    ``seq`` numbers batches from 1; ``credit`` acknowledges the Protocol's outbound batches up to
    that sequence number (0 when none).
    """

    seq: int
    messages: tuple = field(repr=False)  # Thespian str()s every message on every hop: keep it cheap
    credit: int = 0


@dataclass(frozen=True)
class FromProtocol:
    """Protocol -> Peer: ``messages`` = ((relative code, payload), ...) to send in order.

    ``seq`` numbers outbound batches from 1 (0 = no messages, acknowledgement only); ``ack``
    acknowledges inbound batches up to that sequence number.
    """

    name: str
    seq: int
    messages: tuple = field(repr=False)  # see ToProtocol
    ack: int = 0


@dataclass(frozen=True)
class OutboundCredit:
    """Peer -> Protocol: outbound batches up to ``seq`` are written to the out-buffer."""

    seq: int


@dataclass(frozen=True)
class ProtocolDisconnect:
    """Protocol -> Peer: disconnect the peer with DiscReason ``reason`` (e.g. SUBPROTOCOL_ERROR)."""

    name: str
    reason: int
    error: str = ""


@dataclass(frozen=True)
class ProtocolEnded:
    """Protocol -> Peer: the protocol's run ended (``error`` empty = clean end -> QUITTING)."""

    name: str
    error: str = ""


@dataclass(frozen=True)
class ProtocolStop:
    """Peer -> Protocol: the connection is closing with ``reason``; clean up and exit."""

    reason: int
    remote_requested: bool = False


@dataclass(frozen=True)
class ProtocolInfoRequest:
    """Peer -> Protocol: reply with :class:`ProtocolInfo` (per-protocol data for admin_peers)."""

    request_id: int


@dataclass(frozen=True)
class ProtocolInfo:
    """Protocol -> Peer: JSON-able ``info`` for protocol ``name`` (None: "handshake", as
    go-ethereum shows a protocol without info), answering request ``request_id``."""

    name: str
    info: object
    request_id: int = 0


@dataclass(frozen=True)
class ProtocolEvent:
    """Protocol -> Peer -> Server -> subscribers: a protocol-defined event (e.g. the test report)."""

    name: str
    peer_id: bytes
    kind: str
    data: dict
