"""Build a protocol's ``Options`` dataclass from a config entry, with clear errors.

A field annotated ``bool``, ``int``, ``float`` or ``str`` must hold that type (an int is a
float; a bool is not an int); other annotations are left to the class's ``__post_init__``.
``field(metadata={"min": x})`` sets a lower bound; ``field(metadata={"path": True})`` marks a
file path, which the config loader resolves against the config file's directory
(:func:`resolve_paths`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
from collections.abc import Mapping

_CHECKED = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}


class OptionError(ValueError):
    """A bad option: ``key`` names it (empty for a problem of the whole set), ``reason`` says why."""

    def __init__(self, key: str, reason: str):
        super().__init__(f"{key}: {reason}" if key else reason)
        self.key, self.reason = key, reason


def _type_ok(value, t) -> bool:
    if t is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if t is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, t)


def build_options(options_cls: type, raw: Mapping):
    """An ``options_cls`` instance from ``raw`` (option name -> value as read from YAML).

    Raises :class:`OptionError` for an unknown name, a value of the wrong type or below its
    ``min``, and for the ValueError the class's ``__post_init__`` raises (key then empty).
    """
    hints = typing.get_type_hints(options_cls)
    fields = {f.name: f for f in dataclasses.fields(options_cls)}
    for key, value in raw.items():
        f = fields.get(key)
        if f is None:
            allowed = ", ".join(sorted(fields)) or "none"
            raise OptionError(str(key), f"unknown option (allowed: {allowed})")
        t = hints.get(key)
        if t in _CHECKED and not _type_ok(value, t):
            raise OptionError(key, f"must be {_CHECKED[t]}, got {type(value).__name__} {value!r:.40}")
        low = f.metadata.get("min")
        if low is not None and value < low:
            raise OptionError(key, f"must be >= {low}, got {value!r}")
    try:
        return options_cls(**raw)
    except OptionError:
        raise
    except ValueError as exc:
        raise OptionError("", str(exc)) from None


def resolve_paths(options_cls: type, raw: Mapping, base_dir: str) -> dict:
    """``raw`` with every non-empty relative string in a ``path`` field of ``options_cls`` joined
    to ``base_dir`` (as the loader resolves ``key_file``); other values are left as they are."""
    out = dict(raw)
    for f in dataclasses.fields(options_cls):
        value = out.get(f.name)
        if f.metadata.get("path") and isinstance(value, str) and value and not os.path.isabs(value):
            out[f.name] = os.path.join(base_dir, value)
    return out
