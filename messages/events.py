"""Node events (go-ethereum p2p/peer.go ``PeerEvent``, plus the node's own), as typed records,
and subscriptions.

Each kind of event is a record class below (its ``KIND`` is the ``event`` name of the JSON
Lines stream, its fields the event's fields); the Server builds records and sends them to
subscribers in a :class:`NodeEvent` envelope made by :meth:`NodeEvent.of`, whose ``data`` is the
record's fields (optional fields left out when None, :meth:`EventRecord.as_data`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:  # messages load no Thespian: the address is only a field's type
    from thespian.actors import ActorAddress



@dataclass(frozen=True)
class Subscribe:
    """Any actor -> Server: send ``NodeEvent`` messages of ``kinds`` (all when empty) to ``subscriber``.

    ``ack``: the Server also answers the sender with :class:`Subscribed` once the subscription is
    in place.  Messages from different senders reach the Server in no fixed order (Thespian
    reads its incoming sockets in select order), so a caller that must not miss an event caused
    by its own later request waits for it."""

    subscriber: ActorAddress
    kinds: frozenset = frozenset()
    ack: bool = False


@dataclass(frozen=True)
class Subscribed:
    """Server -> the sender of ``Subscribe(ack=True)``: events go to ``subscriber`` from now on."""

    subscriber: ActorAddress


@dataclass(frozen=True)
class Unsubscribe:
    """Any actor -> Server: stop sending events to ``subscriber``."""

    subscriber: ActorAddress


@dataclass(frozen=True)
class EventRecord:
    """Base of the event records: ``KIND`` names the event."""

    KIND: ClassVar[str] = ""

    def as_data(self) -> dict:
        """The event's fields as a JSON-able dict (None-valued optional fields left out)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class Ready(EventRecord):
    """The node listens: its enode URL (with the real TCP port), 128-hex node id and port, and
    ``http`` the "host:port" of its HTTP endpoint ("" without one)."""

    KIND: ClassVar[str] = "ready"
    enode: str
    id: str
    listen_port: int
    http: str = ""


@dataclass(frozen=True)
class PeerAdded(EventRecord):
    """A peer passed both checkpoints: node id (hex), Hello name and caps, direction, the TCP
    remote address "host:port", its offset table and enode URL."""

    KIND: ClassVar[str] = "peer_added"
    peer_id: str
    name: str
    caps: list
    inbound: bool
    remote_address: str
    offsets: list
    enode: str


@dataclass(frozen=True)
class PeerRemoved(EventRecord):
    """An added peer is gone: DiscReason name and code, whether the remote asked, the cause in
    words and its kind (messages.peer.CAUSES)."""

    KIND: ClassVar[str] = "peer_removed"
    peer_id: str
    reason: str
    reason_code: int
    remote_requested: bool
    error: str
    cause: str
    inbound: bool


@dataclass(frozen=True)
class DialFailed(EventRecord):
    """A dial ended before the peer was added: where (``stage``, messages.peer.STAGES) and why."""

    KIND: ClassVar[str] = "dial_failed"
    peer_id: str
    address: str
    reason: str
    reason_code: int
    remote_requested: bool
    error: str
    stage: str
    cause: str


@dataclass(frozen=True)
class PeerRejected(EventRecord):
    """An inbound connection whose identity was known ended before it was added."""

    KIND: ClassVar[str] = "peer_rejected"
    peer_id: str
    reason: str
    reason_code: int
    remote_requested: bool
    error: str
    stage: str
    cause: str
    inbound: bool = True


@dataclass(frozen=True)
class HandshakeFailed(EventRecord):
    """An inbound handshake failed before the remote's identity was known (node/inbound_handshakes.py):
    the TCP remote "host:port", ``stage`` ("auth": reading the auth; "ack": writing the ack;
    "handoff": passing the connection on), ``cause`` (messages.peer.CAUSES, or "evicted": closed
    to make room for another), ``error`` in words, and ``suppressed``: failures not published
    since the last one (at most :data:`HANDSHAKE_FAILED_PER_S` are published per second).
    Listener -> Server as a message, then published by the Server."""

    KIND: ClassVar[str] = "handshake_failed"
    remote_address: str
    stage: str
    cause: str
    error: str
    suppressed: int = 0


HANDSHAKE_FAILED_PER_S = 10
"""Most ``handshake_failed`` events published per second by one node."""


@dataclass(frozen=True)
class ProtocolEventRecord(EventRecord):
    """A subprotocol's own event (``kind``, ``data``) about peer ``peer_id``."""

    KIND: ClassVar[str] = "protocol_event"
    peer_id: str
    protocol: str
    kind: str
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DiscoveryEventRecord(EventRecord):
    """Node discovery's own event (``kind``, ``data``): ``ready`` (udp port), ``node_added``,
    ``node_removed``, ``bad_packet`` (rate-limited), ``lookup_done`` (actors/discovery.py)."""

    KIND: ClassVar[str] = "discovery"
    kind: str
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class MsgSend(EventRecord):
    """A subprotocol message was sent (``enable_msg_events``): relative code, payload bytes."""

    KIND: ClassVar[str] = "msg_send"
    peer_id: str
    protocol: str
    code: int
    size: int


@dataclass(frozen=True)
class MsgRecv(MsgSend):
    """A subprotocol message was received (``enable_msg_events``)."""

    KIND: ClassVar[str] = "msg_recv"


@dataclass(frozen=True)
class ActorExited(EventRecord):
    """A supervised actor exited: ``actor`` listener, dialer, peer or protocol; ``cause``; for a
    protocol its name, peer and policy."""

    KIND: ClassVar[str] = "actor_exited"
    actor: str
    cause: str
    protocol: str | None = None
    peer_id: str | None = None
    policy: str | None = None


@dataclass(frozen=True)
class ActorRestarted(EventRecord):
    """A supervised actor was restarted (``attempt`` within the intensity window, after ``delay_s``;
    ``held`` inbound messages waited for a protocol)."""

    KIND: ClassVar[str] = "actor_restarted"
    actor: str
    attempt: int
    delay_s: float
    protocol: str | None = None
    peer_id: str | None = None
    held: int | None = None


@dataclass(frozen=True)
class RestartLimitReached(EventRecord):
    """An actor failed more than ``restarts`` times within ``within_s``: its parent gave up."""

    KIND: ClassVar[str] = "restart_limit_reached"
    actor: str
    restarts: int
    within_s: float
    protocol: str | None = None
    peer_id: str | None = None


@dataclass(frozen=True)
class FaultInjected(EventRecord):
    """A fault was injected on purpose (run_node.py fault)."""

    KIND: ClassVar[str] = "fault_injected"
    target: str
    mode: str


@dataclass(frozen=True)
class Stopped(EventRecord):
    """The node stopped (``reason`` requested or restart_limit) after disconnecting its peers."""

    KIND: ClassVar[str] = "stopped"
    peers_disconnected: int
    reason: str


@dataclass(frozen=True)
class HostJoined(EventRecord):
    """A member host's actor system joined the convention (multi-host, docs/multi-host.md):
    ``host`` its name in the config, ``address`` its IP, ``nodes`` the names of its nodes, which
    are started now (each then reports its own ``ready``)."""

    KIND: ClassVar[str] = "host_joined"
    host: str
    address: str
    nodes: list


@dataclass(frozen=True)
class HostLost(EventRecord):
    """A member host's actor system went away: ``reason`` "left" (it left the convention) or
    "no answer" (its HostAgent did not answer pings for ``silent_s`` seconds); ``nodes`` the
    names of its nodes, which are gone until it joins again."""

    KIND: ClassVar[str] = "host_lost"
    host: str
    address: str
    nodes: list
    reason: str
    silent_s: float | None = None


@dataclass(frozen=True)
class NodeStartFailed(EventRecord):
    """A node of a member host could not start there (``error``: one line, e.g. a port taken)."""

    KIND: ClassVar[str] = "start_failed"
    host: str
    error: str


SUPERVISION_RECORDS = {cls.KIND: cls for cls in (ActorExited, ActorRestarted, RestartLimitReached)}
"""messages.supervision.SupervisionEvent kinds -> their record class."""


@dataclass(frozen=True)
class NodeEvent:
    """Server -> subscribers: ``kind`` an :class:`EventRecord`'s ``KIND``, ``node`` the node
    name, ``time`` UTC seconds since the epoch, and JSON-able ``data`` (peer id hex, reason name
    and code, ...)."""

    kind: str
    node: str
    time: float
    data: dict = field(default_factory=dict)

    @classmethod
    def of(cls, record: EventRecord, node: str, time: float) -> "NodeEvent":
        """The envelope of ``record`` for node ``node`` at ``time`` (UTC seconds)."""
        return cls(record.KIND, node, time, record.as_data())
