"""Messages between the Server and its Discovery actor (node discovery v4, actors/discovery.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # messages load no Thespian: the address is only a field's type
    from thespian.actors import ActorAddress

from config.model import NodeConfig


@dataclass(frozen=True)
class StartDiscovery:
    """Server -> Discovery: run discv4 for node ``config`` on UDP ``config.discovery_port`` (0:
    ``tcp_port``, go-ethereum's default discport), advertising ``tcp_port`` and ``record`` (our
    ENR's text, ``enr:...``)."""

    config: NodeConfig
    server: ActorAddress
    tcp_port: int
    record: str


@dataclass(frozen=True)
class DiscoveryReady:
    """Discovery -> Server: the UDP socket is bound at ``host:udp_port``."""

    host: str
    udp_port: int


@dataclass(frozen=True)
class DiscoveryFailed:
    """Discovery -> Server: cannot run (``error`` one line, e.g. the UDP port is taken)."""

    error: str


@dataclass(frozen=True)
class DialCandidates:
    """Discovery -> Server -> Dialer: nodes found by discovery, as dialable URLs (``enode://``),
    for the Dialer's dynamic slots (go-ethereum p2p/dial.go fed by ``discover`` iterators)."""

    urls: tuple[str, ...]


@dataclass(frozen=True)
class GetDiscoveryInfo:
    """-> Discovery: reply :class:`DiscoveryInfo`."""


@dataclass(frozen=True)
class DiscoveryInfo:
    """Discovery's state: ``table`` node count, ``buckets`` sizes, ``counters`` (packets by type
    and bad packets by kind), ``records`` ENRs held."""

    table: int
    buckets: tuple[int, ...]
    counters: dict
    records: int
