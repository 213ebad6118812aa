"""Our own node record (EIP-778): the "v4" ENR a node advertises, from its config.

The record holds the node's key, its IP address (``nat: extip:<IP>`` when given, as go-ethereum's
``--nat extip`` sets it; else the listen host, a wildcard or empty host given as 127.0.0.1, as our
enode URL is), ``tcp`` (the bound listen port; left out with
``no_listen``, as go-ethereum sets ``tcp`` only from a listener), ``udp`` (the discovery port;
by default the TCP port, the same claim our enode URL makes), and optionally the ``eth`` entry
``[[fork hash, fork next]]`` (EIP-868, EIP-2124).  An IPv6 listen host gives ``ip6``/``tcp6``/
``udp6`` instead.

Sequence numbers follow go-ethereum p2p/enode/localnode.go: a first record without a stored
seq takes the current time in milliseconds (``DB.localSeq``), so it is higher than any record
an earlier run of the node published; after that, seq grows by one on each change
(:func:`discovery.enr.next_record`).  A pure function: the caller keeps the previous record.
"""

from __future__ import annotations

import ipaddress
import time

from config.model import NodeConfig
from discovery.enr import ForkId, Record, build, next_record

from .protocol_options import built_protocols

WILDCARD_HOSTS = ("0.0.0.0", "::", "")
"""Listen hosts that name no one address; the record then carries 127.0.0.1."""


def record_entries(cfg: NodeConfig, listen_port: int, fork_id: tuple[bytes, int] | None = None,
                   udp_port: int | None = None) -> dict:
    """The entries of our record: ``ip``/``tcp``/``udp`` (or the ``6`` forms) and ``eth``.

    ``listen_port`` is the bound TCP port (the config's may be 0, "pick one"); ``udp_port``
    defaults to it.  Raises ValueError if the listen host is a DNS name, not an IP address.
    """
    host = cfg.nat_ip or ("127.0.0.1" if cfg.listen_host in WILDCARD_HOSTS else cfg.listen_host)
    addr = ipaddress.ip_address(host)
    tcp = None if cfg.no_listen else listen_port
    udp = listen_port if udp_port is None else udp_port
    if cfg.no_listen and udp_port is None:
        udp = None
    six = addr.version == 6
    entries = {"ip6" if six else "ip": str(addr), "tcp6" if six else "tcp": tcp, "udp6" if six else "udp": udp}
    if fork_id is not None:
        entries["eth"] = ForkId(*fork_id)
    return entries


def protocol_entries(cfg: NodeConfig) -> dict:
    """The record entries that ``cfg``'s protocols add (:meth:`protocols.api.Protocol.enr_entries`,
    go-ethereum ``Protocol.Attributes``), asked of the first protocol of each name
    (:func:`node.protocol_options.built_protocols`).  Raises ValueError naming the protocol
    whose class or options cannot be loaded, or whose chain cannot be read."""
    entries: dict = {}
    for pc, cls, options in built_protocols(cfg):
        try:
            for name, value in cls.enr_entries(options).items():
                entries.setdefault(name, value)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{pc.name}/{pc.version}: {exc}") from None
    return entries


def enr_for(cfg: NodeConfig, listen_port: int, fork_id: tuple[bytes, int] | None = None,
            old: Record | None = None, udp_port: int | None = None, first_seq: int | None = None) -> Record:
    """Our signed record: ``old`` itself when nothing changed, else the record with seq + 1; with
    no ``old``, seq ``first_seq`` (default: now in milliseconds, as go-ethereum's).

    ``fork_id`` is ``(hash 4 bytes, next)`` for the ``eth`` entry, or None for none.  Raises
    :class:`discovery.enr.RecordError` for a bad port or fork id, ValueError for a listen host
    that is not an IP address.
    """
    entries = record_entries(cfg, listen_port, fork_id, udp_port)
    if old is None:
        seq = int(time.time() * 1000) if first_seq is None else first_seq
        return build(cfg.private_key, seq, **entries)
    return next_record(old, cfg.private_key, **entries)
