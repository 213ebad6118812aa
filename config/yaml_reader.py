"""YAML text -> a document of dicts, lists and scalars, every failure a :class:`ConfigError`.

PyYAML's SafeLoader (``safe_load``), with three changes: a key given twice in one mapping is an
error (``safe_load`` keeps the last value silently, so a second ``max_peers:`` further down a
node would quietly win over the first); merge keys (``<<``) are resolved here, as the YAML
merge-key spec (https://yaml.org/type/merge.html) says, not by PyYAML (6.0.4 changed its answer:
an alias of a mapping that overrides a merged key lost the override); and the exceptions PyYAML's
constructors let out for values that parse but cannot be built are turned into ConfigErrors
like its own YAMLErrors.
"""

from __future__ import annotations

import yaml

from .errors import ConfigError, show_value


MERGE_TAG = "tag:yaml.org,2002:merge"
"""Tag of a ``<<`` merge key (its own keys may override merged ones: not duplicates)."""


class _Loader(yaml.SafeLoader):
    """SafeLoader whose merge keys follow the merge-key spec whatever the PyYAML version."""

    def flatten_mapping(self, node):
        node.value = _merged_pairs(node, set())


def _merged_pairs(node, visiting: set[int]) -> list:
    """The (key node, value node) pairs of the mapping ``node`` with every ``<<`` resolved, in an
    order where a later pair overrides an earlier one when the mapping is built: merged pairs
    first (of a list of mappings, the first one last, so it wins over the rest), then the
    mapping's own keys, which override every merged one.  A merged mapping carries its own
    merges.  The merge sources are read, never modified.  Raises ``yaml.constructor.ConstructorError``
    for a merge value that is not a mapping or a list of mappings, and for a merge that
    includes itself through an alias."""
    if id(node) in visiting:
        raise yaml.constructor.ConstructorError("while constructing a mapping", node.start_mark,
                                                "found a merge that includes itself", node.start_mark)
    visiting.add(id(node))
    merged, own = [], []
    for key_node, value_node in node.value:
        if key_node.tag != MERGE_TAG:
            if key_node.tag == "tag:yaml.org,2002:value":  # a plain "=" key is a string, as in PyYAML
                key_node.tag = "tag:yaml.org,2002:str"
            own.append((key_node, value_node))
            continue
        if isinstance(value_node, yaml.MappingNode):
            sources = [value_node]
        elif isinstance(value_node, yaml.SequenceNode):
            sources = list(reversed(value_node.value))
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"expected a mapping for merging, but found {source.id}", source.start_mark)
        else:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                f"expected a mapping or list of mappings for merging, but found {value_node.id}",
                value_node.start_mark)
        for source in sources:
            merged.extend(_merged_pairs(source, visiting))
    visiting.discard(id(node))
    return merged + own


def _duplicate_key(root) -> str | None:
    """The first key given twice in one mapping of the composed document ``root`` (before any
    construction, so merge sources are seen as written), as "line L, column C: duplicate key
    'k'"; None if there is none.  Keys are compared as written scalars (tag and text); a key
    that is itself a collection is not compared.  Aliases can make the node graph cyclic:
    each node is visited once."""
    seen_nodes: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys = set()
            for key_node, value_node in node.value:
                stack.append(value_node)
                if key_node.tag == MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                    stack.append(key_node)
                    continue
                key = (key_node.tag, key_node.value)
                if key in keys:
                    mark = key_node.start_mark
                    return (f"line {mark.line + 1}, column {mark.column + 1}: duplicate key "
                            f"{show_value(key_node.value)}")
                keys.add(key)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return None


def read_yaml(text: str, source: str = "<config>"):
    """Parse ``text`` (one YAML document); ``source`` names it in messages.  Raises
    :class:`ConfigError` (no key path: the position in the text is given instead)."""
    loader = None
    try:
        loader = _Loader(text)  # reads the text at once: a ReaderError comes from here
        root = loader.get_single_node()
        duplicate = _duplicate_key(root)
        if duplicate is not None:
            raise ConfigError("", f"{source}: invalid YAML at {duplicate}")
        return loader.construct_document(root) if root is not None else None
    except ConfigError:
        raise  # a ValueError too: not one of PyYAML's, below
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
    finally:
        if loader is not None:
            loader.dispose()
