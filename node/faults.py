"""Fault-injection targets: which actor a ``fault TARGET MODE`` request means (docs/supervision.md)."""

from __future__ import annotations

from dataclasses import dataclass

from messages.supervision import FAULT_MODES, InjectFault


@dataclass(frozen=True)
class FaultPlan:
    """Where a fault goes: ``slot`` a permanent child's name ("listener", ...) or None;
    ``addr`` the actor address to send ``fault`` to (a Peer's for ``peer:``/``protocol:``)."""

    slot: str | None
    addr: object
    fault: InjectFault


class FaultError(ValueError):
    """The request names no target that exists: ``str()`` says why, in one line."""


def plan_fault(target: str, mode: str, children: dict, table) -> FaultPlan:
    """Resolve ``target``: a name in ``children`` (``{slot: address or None}``), or
    ``peer:<node id prefix>`` / ``protocol:<node id prefix>:<name>`` among ``table``'s added
    peers (node/peer_table.py).  Raises :class:`FaultError` for an unknown mode, a bad target,
    an ambiguous prefix or a target that is not running."""
    if mode not in FAULT_MODES:
        raise FaultError(f"unknown fault mode {mode!r} (use {', '.join(FAULT_MODES)})")
    kind, _, rest = target.partition(":")
    if kind in children and not rest:
        if children[kind] is None:
            raise FaultError(f"no such target: {target}")
        return FaultPlan(kind, children[kind], InjectFault(mode))
    if kind not in ("peer", "protocol") or not rest:
        raise FaultError(f"bad target {target!r}: use {', '.join(children)}, peer:<id prefix> or "
                         "protocol:<id prefix>:<name>")
    prefix, _, proto = rest.partition(":")
    if kind == "protocol" and not proto:
        raise FaultError("protocol target is protocol:<peer id prefix>:<name>")
    matches = table.with_prefix(prefix)
    if len(matches) > 1:
        raise FaultError(f"peer id prefix {prefix!r} matches {len(matches)} peers")
    if not matches:
        raise FaultError(f"no such target: {target}")
    return FaultPlan(None, matches[0].addr, InjectFault(mode, protocol=proto if kind == "protocol" else None))
