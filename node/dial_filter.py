"""Which nodes found by discovery may be dialled: the protocols' record filters
(:meth:`protocols.api.Protocol.record_filter`), combined as go-ethereum p2p/server.go
``setupDiscovery`` mixes the protocols' ``DialCandidates`` sources: a node is a candidate when
any protocol's filter keeps it; when no protocol has a filter, every node is."""

from __future__ import annotations

from typing import Callable

from config.model import NodeConfig

from .protocol_options import built_protocols


def dial_filter(cfg: NodeConfig) -> Callable[[object], bool] | None:
    """``record -> bool`` for ``cfg``'s protocols (the record may be None), or None when any node
    may be dialled.  One filter per protocol name (:func:`node.protocol_options.built_protocols`).
    Raises ValueError naming a protocol whose class or options cannot be loaded."""
    filters = []
    for pc, cls, options in built_protocols(cfg):
        try:
            f = cls.record_filter(options)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{pc.name}/{pc.version}: {exc}") from None
        if f is not None:
            filters.append(f)
    if not filters:
        return None
    return lambda record: any(f(record) for f in filters)
