"""Messages between the Server, Listener, Dialer and Peer actors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # messages load no Thespian: the address is only a field's type
    from thespian.actors import ActorAddress

from config.model import NodeConfig
from rlpx.handshake import Secrets

CONFIG_REPR_NOTE = """Thespian 4.0.1 formats ``str(message)`` for DEBUG log lines whatever the log level, about
three times per hop (systemCommon._send_intent_to_transport, asyncTransportBase._submitTransmit,
actorManager._handleOneMessage call ``identify()`` eagerly).  The repr of a whole NodeConfig is
~1-2 kB of text per message, so messages sent once per connection leave it out of their repr."""


@dataclass(frozen=True)
class PeerStartInbound:
    """Server -> Peer: run as recipient on inbound connection ``conn_id`` from ``remote``, whose
    auth/ack the Listener ran (node/inbound_handshakes.py).

    ``fd``: the accepted socket, inherited from the Spawner by the Peer forked for this
    connection (actors/io/fd_handoff.py); ``secrets`` the session's (rlpx.handshake.Secrets);
    ``leftover`` bytes read after the auth; ``unsent`` the ack's bytes not yet written; ``key``
    the Server's record of it, named in the Peer's first message (messages/spawner.py FromNewPeer).
    """

    config: NodeConfig = field(repr=False)  # see CONFIG_REPR_NOTE
    server: ActorAddress
    conn_id: str
    remote: tuple[str, int]
    fd: int
    secrets: Secrets = field(repr=False)
    leftover: bytes = field(default=b"", repr=False)
    unsent: bytes = field(default=b"", repr=False)
    key: int = 0


@dataclass(frozen=True)
class PeerStartOutbound:
    """Server -> new Peer: dial ``enode`` and run as initiator; ``key`` as in PeerStartInbound."""

    config: NodeConfig = field(repr=False)  # see CONFIG_REPR_NOTE
    server: ActorAddress
    enode: str
    static: bool = False
    trusted: bool = False
    key: int = 0


@dataclass(frozen=True)
class SlotFree:
    """Server -> Listener: inbound connection ``conn_id`` left the handshake phase (added or gone)."""

    conn_id: str


@dataclass(frozen=True)
class EvictPending:
    """Listener -> Server: inbound connection ``conn_id``, handed on after a valid auth, is not yet
    added and its slot was taken for a new connection (node/inbound_handshakes.py): drop its Peer
    with Disconnect(TOO_MANY_PEERS), for ``error``."""

    conn_id: str
    error: str = ""


@dataclass(frozen=True)
class DialRequest:
    """Dialer -> Server: create a Peer that dials ``enode``."""

    enode: str
    static: bool = False


@dataclass(frozen=True)
class DialUnresolved:
    """Dialer -> Server: the host name of ``enode`` (of ``node_id``) did not resolve: ``error``.
    Published as ``dial_failed`` with stage "connect" and cause "resolve"."""

    node_id: bytes
    enode: str
    error: str


@dataclass(frozen=True)
class DialDone:
    """Server -> Dialer: the dial of ``node_id`` ended: ``ok`` (peer added) or ``error``."""

    node_id: bytes
    ok: bool
    error: str = ""


@dataclass(frozen=True)
class PeerUp:
    """Server -> Dialer: ``node_id`` is connected (passed checkpoint 1); ``dialed`` if we dialled it."""

    node_id: bytes
    dialed: bool = False


@dataclass(frozen=True)
class PeerDown:
    """Server -> Dialer: ``node_id`` is no longer connected."""

    node_id: bytes


@dataclass(frozen=True)
class PeerInfoRequest:
    """Server -> Peer: reply with :class:`PeerInfoReply`, the admin_peers entry as of now (each
    running protocol is asked for its part, go-ethereum p2p/peer.go ``Peer.Info``).  ``protocols``
    False: answer at once with the protocols' parts as last known (a metrics scrape wants only
    the traffic)."""

    request_id: int
    protocols: bool = True


@dataclass(frozen=True)
class PeerInfoReply:
    """Peer -> Server: ``info`` is this connection's admin_peers entry (go-ethereum ``PeerInfo``);
    ``traffic`` its counters (:meth:`node.traffic.Traffic.snapshot`)."""

    request_id: int
    info: dict
    traffic: tuple = (0, 0, ())


@dataclass(frozen=True)
class PeerGone:
    """Peer -> Server: the connection ended.

    ``node_id`` is None if the handshake never completed; ``reason`` a DiscReason code;
    ``remote_requested`` True when the remote sent Disconnect; ``stage`` where it ended
    (:data:`STAGES`); ``error`` the cause in one line; ``cause`` its kind (:data:`CAUSES`);
    ``traffic`` the connection's final counters (:meth:`node.traffic.Traffic.snapshot`).
    The Server answers with ActorExitRequest.
    """

    node_id: bytes | None
    reason: int
    remote_requested: bool
    stage: str
    error: str = ""
    cause: str = ""
    traffic: tuple = field(default=(0, 0, ()), compare=False)  # counters, not part of the outcome


STAGES = ("connect", "handshake", "hello", "checkpoint", "running")
"""Where a connection can end: the TCP connect (outbound only), the RLPx auth/ack, the Hello
exchange, a rejection at one of the Server's checkpoints, or after the peer was added."""

CAUSES = ("refused", "timeout", "unreachable", "reset", "closed", "remote_disconnect", "rejected",
          "protocol_error", "subprotocol", "requested", "error", "resolve")
"""Kinds of :attr:`PeerGone.cause`: connection refused; a deadline passed (dial, handshake, read,
write); no route; reset by the remote; closed by the remote without Disconnect; the remote sent
Disconnect; a checkpoint of this node refused it; the remote broke RLPx or the base protocol;
a subprotocol ended or failed; this node asked (admin, shutdown); anything else; and, for a
dial only (:class:`DialUnresolved`), the enode's host name did not resolve."""


@dataclass(frozen=True)
class DisconnectPeer:
    """Server -> Peer: send Disconnect(``reason``) and close; ``error`` says why (the PeerGone's
    error; empty: "disconnect requested by node")."""

    reason: int
    error: str = ""


@dataclass(frozen=True)
class Liveness:
    """Supervisor -> child: a no-op probe; a dead child returns it as a DeadEnvelope."""

    seq: int = 0


@dataclass(frozen=True)
class MsgTraffic:
    """Peer -> Server, only with ``enable_msg_events``: messages of one batch, for the
    ``msg_send``/``msg_recv`` events (go-ethereum p2p/message.go ``msgEventer``).
    ``direction`` is "send" or "recv"; ``messages`` ((relative code, size in bytes), ...)."""

    direction: str
    protocol: str
    peer_id: bytes
    messages: tuple = field(repr=False)
