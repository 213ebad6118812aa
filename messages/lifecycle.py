"""Start-up and shutdown messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # messages load no Thespian: the address is only a field's type
    from thespian.actors import ActorAddress

from config.model import NodeConfig


@dataclass(frozen=True)
class StartServer:
    """Launcher -> Server: run a node with ``config``; the reply is :class:`NodeStarted` or :class:`StartFailed`.

    ``subscribers``: actor addresses subscribed to every event before anything happens
    (so they see ``ready``).  ``hold_dials``: listen, but dial nothing until
    :class:`BeginDialing` arrives (so the nodes of one file all listen before the first dial).
    """

    config: NodeConfig
    subscribers: tuple = ()
    hold_dials: bool = False


@dataclass(frozen=True)
class BeginDialing:
    """Launcher -> Server: a node started with ``hold_dials`` starts its Dialer now."""


@dataclass(frozen=True)
class NodeStarted:
    """Server -> launcher: the node listens; ``enode`` has the real TCP port, ``http`` is the
    "host:port" of the HTTP endpoint ("" without one)."""

    name: str
    enode: str
    node_id: bytes
    listen_port: int
    http: str = ""


@dataclass(frozen=True)
class StartFailed:
    """Server -> launcher: the node could not start (``error`` is one human-readable line)."""

    name: str
    error: str


@dataclass(frozen=True)
class StartListener:
    """Server -> Listener: bind ``host:port`` and accept for node ``config``; hand accepted
    sockets to the Server's inbound hand-off socket ``inbox`` (abstract AF_UNIX name,
    actors/io/fd_handoff.py)."""

    config: NodeConfig
    server: ActorAddress
    inbox: bytes = b""


@dataclass(frozen=True)
class ListenerReady:
    """Listener -> Server: listening on ``host:port`` (the real port when 0 was asked)."""

    host: str
    port: int


@dataclass(frozen=True)
class ListenerFailed:
    """Listener -> Server: cannot listen (``error`` one line, e.g. address in use)."""

    error: str


@dataclass(frozen=True)
class StartDialer:
    """Server -> Dialer: keep ``config``'s static nodes connected and fill dynamic dial slots."""

    config: NodeConfig
    server: ActorAddress
    local_node_id: bytes
    static_nodes: tuple[str, ...] = ()


@dataclass(frozen=True)
class StopNode:
    """Launcher -> Server: disconnect every peer with QUITTING, stop all actors; reply :class:`NodeStopped`."""


@dataclass(frozen=True)
class NodeStopped:
    """Server -> launcher: every peer is gone; the Server's children have been told to exit."""

    name: str
    peers_disconnected: int


@dataclass(frozen=True)
class StartHttp:
    """Server -> Http actor: serve JSON-RPC, /metrics and /health on ``config.http_host`` /
    ``config.http_port`` (port 0 = pick one), asking ``server``."""

    config: NodeConfig = field(repr=False)
    server: ActorAddress


@dataclass(frozen=True)
class HttpReady:
    """Http actor -> Server: the HTTP endpoint is bound at ``host:port``."""

    host: str
    port: int


@dataclass(frozen=True)
class HttpFailed:
    """Http actor -> Server: cannot serve (``error`` one line, e.g. the port is taken)."""

    error: str
