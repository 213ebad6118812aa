"""The error every config problem becomes, and how values from the file are shown in it."""

from __future__ import annotations

import reprlib

_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}
"""Every character ``str.splitlines`` breaks at, mapped to its escape (``\\n``...)."""


class ConfigError(ValueError):
    """A config file problem: ``path`` is the key path, ``reason`` what is wrong.

    The message is always one line: line breaks that come from the file (a name, a key, a
    YAML error's context) are shown escaped, so an error is one log line.
    """

    def __init__(self, path: str, reason: str):
        path, reason = path.translate(_LINE_BREAKS), reason.translate(_LINE_BREAKS)
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason


class _ShortRepr(reprlib.Repr):
    """reprlib with huge integers given by size, at any depth (``repr`` refuses an int of over
    4,300 digits, and YAML builds hex integers of any size)."""

    def repr_int(self, x, level):
        if x.bit_length() > 64:
            return f"<a {x.bit_length()}-bit integer>"
        return super().repr_int(x, level)


_SHORT = _ShortRepr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring, _SHORT.maxother = 2, 4, 4, 60, 60


def show_value(value) -> str:
    """A short repr of a value from the file, for error messages: nested and long values are
    cut (a few hundred bytes of YAML aliases can expand to a value whose full repr is
    gigabytes), huge integers are given by size."""
    return _SHORT.repr(value)
