"""Subprotocols that run in Protocol actors, and their registry.

A registry entry maps (name, version) to the message-code length and the Protocol actor
class that runs it.  :func:`resolve` applies a :class:`config.model.ProtocolConfig`'s overrides.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

REGISTRY: dict[tuple[str, int], tuple[int, str]] = {
    ("test", 1): (8, "protocols.test_protocol.TestProtocol"),
    ("eth", 68): (17, "protocols.eth.EthProtocol"),
}
"""(name, version) -> (length in message codes, "module.Class")."""


@dataclass(frozen=True)
class ResolvedProtocol:
    """A protocol ready to run: name, version, length, actor class path, options."""

    name: str
    version: int
    length: int
    actor: str
    options: tuple = ()


class UnknownProtocolError(ValueError):
    """No registered protocol has this name and version, and the config gives no actor/length."""


def resolve(pc) -> ResolvedProtocol:
    """Resolve a ProtocolConfig into a :class:`ResolvedProtocol`; raise :class:`UnknownProtocolError`."""
    known = REGISTRY.get((pc.name, pc.version))
    length = pc.length if pc.length is not None else (known[0] if known else None)
    actor = pc.actor if pc.actor is not None else (known[1] if known else None)
    if length is None or actor is None:
        raise UnknownProtocolError(f"unknown protocol {pc.name}/{pc.version}")
    return ResolvedProtocol(pc.name, pc.version, length, actor, tuple(pc.options))


def load_class(path: str):
    """Import "module.Class" and return the class; raise :class:`UnknownProtocolError`."""
    module, _, cls = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError, ValueError, TypeError) as exc:  # TypeError: a relative ".mod.Class"
        raise UnknownProtocolError(f"cannot load protocol actor {path}: {exc}") from None
