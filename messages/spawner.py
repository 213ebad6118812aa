"""Messages of the Spawner actor: the Server's requests to fork Peers, the answers (both over
actors/io/spawn_link.py), and the envelope of a new Peer's first message to the Server."""

from __future__ import annotations

from dataclasses import dataclass, field
from config.model import NodeConfig


@dataclass(frozen=True)
class StartSpawner:
    """Server -> new Spawner (through the fork): fork Peers of node ``config``; ``link_fd`` is the
    Spawner's end of the spawn link, inherited from the fork.  (The config stays out of the repr,
    messages/peer.py CONFIG_REPR_NOTE.)"""

    config: NodeConfig = field(repr=False)
    link_fd: int


@dataclass(frozen=True)
class SpawnPeer:
    """Server -> Spawner (spawn link): fork a Peer with ``start`` (a PeerStartInbound or
    PeerStartOutbound whose ``config`` is None: the Spawner fills in its own; for an inbound one
    the accepted socket rides on the datagram and replaces ``start.fd``).  ``key``: the Server's
    record of the connection (node/peer_table.py), which the Peer names in its first message."""

    key: int
    start: object


@dataclass(frozen=True)
class ListenPort:
    """Server -> Spawner (spawn link): the Peers forked from now on announce ``port`` in their
    Hello (the port the Listener bound when the config said 0)."""

    port: int


@dataclass(frozen=True)
class PeerSpawned:
    """Spawner -> Server (spawn link): the Peer of record ``key`` runs as process ``pid``."""

    key: int
    pid: int | None


@dataclass(frozen=True)
class SpawnFailed:
    """Spawner -> Server (spawn link): no Peer could be forked for record ``key`` (``error``)."""

    key: int
    error: str


@dataclass(frozen=True)
class PeerExited:
    """Spawner -> Server (spawn link): the Peer of record ``key`` has exited (its
    ChildActorExited came to the Spawner, its Thespian parent)."""

    key: int


@dataclass(frozen=True)
class FromNewPeer:
    """Peer -> Server: the Peer's first message, ``msg``, with the ``key`` of its record: the
    Server learns the Peer's address from it (the Spawner, not the Server, created the Peer)."""

    key: int
    msg: object
