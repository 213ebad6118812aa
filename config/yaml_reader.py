"""YAML text -> a document of dicts, lists and scalars, every failure a :class:`ConfigError`.

PyYAML's SafeLoader, with two additions: a key given twice in one mapping is an error, and the
exceptions PyYAML's constructors let out for values that parse but cannot be built are turned
into ConfigErrors like its own YAMLErrors.
"""

from __future__ import annotations

import yaml

from .errors import ConfigError, show_value


class _DuplicateKey(Exception):
    """A mapping in the file names one key twice."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, except that a key given twice in one mapping is an error: plain
    ``safe_load`` keeps the last value silently, so a second ``max_peers:`` further down a
    node would quietly win over the first."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *base` then an own key overrides the merged one: not a duplicate
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # an unhashable key: SafeConstructor reports it below
                    continue
                if duplicate:
                    mark = key_node.start_mark
                    raise _DuplicateKey(f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: "
                                        f"duplicate key {show_value(key)}")
        return super().construct_mapping(node, deep=deep)


def read_yaml(text: str, source: str = "<config>"):
    """Parse ``text`` (one YAML document); ``source`` names it in messages.  Raises
    :class:`ConfigError` (no key path: the position in the text is given instead)."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        raise ConfigError("", f"{source}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or exc  # ReaderError: reason
        raise ConfigError("", f"{source}: invalid YAML{where}: {problem}") from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError) as exc:
        # PyYAML's constructors let these out for values that parse but cannot be built:
        # `!!int abc`, `!!bool maybe`, a date like 2001-02-30, an integer of over 4,300 digits,
        # flow collections nested deeper than the recursion limit
        raise ConfigError("", f"{source}: invalid YAML value: {type(exc).__name__}: {str(exc)[:200]}") from None
