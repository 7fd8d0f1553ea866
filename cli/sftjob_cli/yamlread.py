"""What every YAML the CLI reads (manifests in kubeyaml.py, recipes in sources.py) must be.

- A key written twice in one mapping is refused, as kubectl refuses it (the Kubernetes YAML
  library: `key "nodes" already set in map`), instead of the last one silently winning.
  A key that a merge (`<<: *base`) brings in may be written again: that is what merges are
  for.
- A document nested too deeply for the reader is refused in one line, not with Python's
  RecursionError, and so is one whose aliases expand it past MAX_VALUES values (a
  "billion laughs"; Go's yaml.v2 refuses "excessive aliasing"), instead of a hang.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml

MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_VALUES = 1_000_000
TOO_MANY_VALUES = (
    f"expands to over {MAX_VALUES:,} values through YAML aliases (*name); write the values "
    "out instead of repeating aliases"
)


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._checked: set[int] = set()  # the mappings whose keys were checked

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        # Merges rewrite node.value in place, so each mapping is checked once, as written,
        # before its first flattening (which a merge into another mapping may trigger).
        if id(node) not in self._checked:
            self._checked.add(id(node))
            self._refuse_duplicates(node)
        super().flatten_mapping(node)

    def _refuse_duplicates(self, node: yaml.MappingNode) -> None:
        first: dict[Hashable, tuple[int, str]] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            key = self.construct_object(key_node)
            if not isinstance(key, Hashable):
                continue  # SafeLoader says why it cannot be a key
            if key in first:
                line, written = first[key]
                if written == key_node.value:
                    problem = f"the key {key!r} is written twice in one mapping"
                    fix = "keep one"
                else:  # `1` and `true`, or `1` and `1.0`: one key once read
                    problem = f"the keys {written} and {key_node.value} are one key once read"
                    fix = f'quote them to keep both ("{written}", "{key_node.value}")'
                raise yaml.constructor.ConstructorError(
                    None, None, f"{problem} (first on line {line}); {fix}", key_node.start_mark
                )
            first[key] = (key_node.start_mark.line + 1, str(key_node.value))


class YamlRefused(ValueError):
    """A YAML text the CLI does not read, with the one-line reason."""


def load(text: str, loader: type[yaml.SafeLoader], *, single: bool = False) -> list[Any]:
    """The non-empty documents of `text` (with `single`, the file must hold at most one, as
    yaml.load wants), or YamlRefused saying why not."""
    try:
        if single:
            docs = [yaml.load(text, Loader=loader)]
        else:
            docs = list(yaml.load_all(text, Loader=loader))
    except yaml.YAMLError as err:
        raise YamlRefused(_problem(err)) from None
    except RecursionError:
        raise YamlRefused(
            "nested too deeply to be read (hundreds of levels; a Kubernetes manifest or TRL "
            "recipe has a few)"
        ) from None
    docs = [doc for doc in docs if doc is not None]
    if not all(_within_values(doc, MAX_VALUES) for doc in docs):
        raise YamlRefused(TOO_MANY_VALUES)
    return docs


def _within_values(document: Any, limit: int) -> bool:
    """Whether the document holds at most `limit` values once its aliases are expanded
    (a YAML alias is a shared reference: walking it expands it)."""
    count, stack = 0, [document]
    while stack:
        value = stack.pop()
        count += 1
        if count > limit:
            return False
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return True


def _problem(err: yaml.YAMLError) -> str:
    """One line: what the YAML library found, and where."""
    mark = getattr(err, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return f"not valid YAML: {problem}{where}"
