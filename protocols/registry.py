"""Which protocol class runs a configured (name, version), and its length.

Built-in protocols are listed here; protocols from other packages register through the entry
point group :data:`ENTRY_POINT_GROUP`, each entry naming a :class:`protocols.api.Protocol`
subclass as ``"module:Class"`` (the class's ``NAME`` and ``VERSION`` give the key)::

    [project.entry-points."thespian_devp2p.protocols"]
    kv = "mypackage.kv:KVProtocol"
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib import metadata

from .api import Protocol

ENTRY_POINT_GROUP = "thespian_devp2p.protocols"
"""The entry point group other packages register their protocols in."""

BUILTIN: dict[tuple[str, int], str] = {
    ("test", 1): "protocols.test_protocol.TestProtocol",
    ("eth", 68): "protocols.eth.EthProtocol",
    ("eth", 69): "protocols.eth.EthProtocol69",
    ("eth", 70): "protocols.eth.EthProtocol70",
}
"""(name, version) -> "module.Class" of the built-in protocols."""


class UnknownProtocolError(ValueError):
    """No registered protocol has this name and version and the config names no class, or the
    named class cannot be loaded or is not a :class:`protocols.api.Protocol`."""


@dataclass(frozen=True)
class ResolvedProtocol:
    """A protocol ready to run: capability ``name``/``version``, ``length`` in message codes,
    ``cls`` the "module.Class" path, ``options`` the config's (key, value) pairs."""

    name: str
    version: int
    length: int
    cls: str
    options: tuple = ()


def registered() -> dict[tuple[str, int], str]:
    """Built-in and entry-point protocols: (name, version) -> "module.Class".  An entry point
    that fails to load is left out (its error shows when a config names it)."""
    found = dict(BUILTIN)
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        path = ep.value.replace(":", ".")
        try:
            cls = load_class(path)
        except UnknownProtocolError:
            continue
        found.setdefault((cls.NAME, cls.VERSION), path)
    return found


def load_class(path: str) -> type[Protocol]:
    """Import "module.Class" (or "module:Class") and return the Protocol subclass; raise
    :class:`UnknownProtocolError`."""
    module, _, name = path.replace(":", ".").rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError, TypeError) as exc:  # TypeError: a relative ".mod.Class"
        raise UnknownProtocolError(f"cannot load protocol class {path}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Protocol)):
        raise UnknownProtocolError(f"{path} is not a protocols.api.Protocol subclass")
    return cls


def resolve(pc) -> ResolvedProtocol:
    """Resolve a :class:`config.model.ProtocolConfig`: its ``actor`` class or the registered one,
    its ``length`` or the class's ``LENGTH``.  Raises :class:`UnknownProtocolError`."""
    path = pc.actor
    if path is None:
        path = BUILTIN.get((pc.name, pc.version)) or registered().get((pc.name, pc.version))
        if path is None:
            raise UnknownProtocolError(f"unknown protocol {pc.name}/{pc.version}")
    length = pc.length if pc.length is not None else load_class(path).LENGTH
    return ResolvedProtocol(pc.name, pc.version, length, path, tuple(pc.options))
