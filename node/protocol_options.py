"""The configured protocols' classes with their options built, one per protocol name: what the
node asks of them outside a connection (record entries, dial filters, admin_nodeInfo)."""

from __future__ import annotations

from typing import Iterator

from config.model import NodeConfig, ProtocolConfig
from protocols.options import OptionError, build_options
from protocols.registry import UnknownProtocolError, load_class, resolve


def built_protocols(cfg: NodeConfig) -> Iterator[tuple[ProtocolConfig, type, object]]:
    """``(protocol config, class, built options)`` for the first protocol of each name in
    ``cfg`` (eth/68, 69 and 70 of one node share a chain, so the first speaks for all).
    Raises ValueError naming the protocol whose class or options cannot be loaded, or whose
    chain cannot be read."""
    names: set[str] = set()
    for pc in cfg.protocols:
        if pc.name in names:
            continue
        names.add(pc.name)
        try:
            cls = load_class(resolve(pc).cls)
            yield pc, cls, build_options(cls.Options, dict(pc.options))
        except (UnknownProtocolError, OptionError, OSError, ValueError) as exc:
            raise ValueError(f"{pc.name}/{pc.version}: {exc}") from None


def node_infos(cfg: NodeConfig) -> dict[str, dict]:
    """admin_nodeInfo ``protocols``: name -> ``{"version": the highest configured version,
    **Protocol.node_info(options)}`` (go-ethereum p2p/server.go ``NodeInfo``), asked of the first
    protocol of each name.  Raises ValueError naming the protocol whose class, options or chain
    cannot be read."""
    infos = {pc.name: {"version": max(p.version for p in cfg.protocols if p.name == pc.name)}
             for pc in cfg.protocols}
    for pc, cls, options in built_protocols(cfg):
        try:
            infos[pc.name].update(cls.node_info(options))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{pc.name}/{pc.version}: {exc}") from None
    return infos
