"""Which nodes found by discovery may be dialled: the protocols' record filters
(:meth:`protocols.api.Protocol.record_filter`), combined as go-ethereum p2p/server.go
``setupDiscovery`` mixes the protocols' ``DialCandidates`` sources: a node is a candidate when
any protocol's filter keeps it; when no protocol has a filter, every node is."""

from __future__ import annotations

from typing import Callable

from config.model import NodeConfig
from protocols.options import OptionError, build_options
from protocols.registry import UnknownProtocolError, load_class, resolve


def dial_filter(cfg: NodeConfig) -> Callable[[object], bool] | None:
    """``record -> bool`` for ``cfg``'s protocols (the record may be None), or None when any node
    may be dialled.  One filter per protocol name (eth/68, 69 and 70 on one chain share theirs).
    Raises ValueError naming a protocol whose class or options cannot be loaded."""
    filters, names = [], set()
    for pc in cfg.protocols:
        if pc.name in names:
            continue
        try:
            cls = load_class(resolve(pc).cls)
            f = cls.record_filter(build_options(cls.Options, dict(pc.options)))
        except (UnknownProtocolError, OptionError, OSError, ValueError) as exc:
            raise ValueError(f"{pc.name}/{pc.version}: {exc}") from None
        if f is not None:
            filters.append(f)
            names.add(pc.name)
    if not filters:
        return None
    return lambda record: any(f(record) for f in filters)
