"""Peer events (go-ethereum p2p/peer.go ``PeerEvent``) and subscriptions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # messages load no Thespian: the address is only a field's type
    from thespian.actors import ActorAddress

ALL_EVENTS = frozenset({"ready", "peer_added", "peer_removed", "dial_failed", "msg_send", "msg_recv",
                        "protocol_event", "actor_exited", "actor_restarted", "stopped"})


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
class NodeEvent:
    """Server -> subscribers: ``kind`` from :data:`ALL_EVENTS`, ``node`` the node name, ``time`` UTC
    seconds since the epoch, and JSON-able ``data`` (peer id hex, reason name and code, ...)."""

    kind: str
    node: str
    time: float
    data: dict = field(default_factory=dict)
