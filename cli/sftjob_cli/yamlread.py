"""What every YAML the CLI reads (manifests in kubeyaml.py, recipes in sources.py) must be.

- A key written twice in one mapping is refused, as kubectl refuses it (the Kubernetes YAML
  library: `key "nodes" already set in map`), instead of the last one silently winning.
  A key that a merge (`<<: *base`) brings in may be written again: that is what merges are
  for.
- A document nested too deeply for the reader is refused in one line, not with Python's
  RecursionError.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import yaml

MERGE_TAG = "tag:yaml.org,2002:merge"

T = TypeVar("T")


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Hashable, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # SafeLoader says why it cannot be a key
            if key in first_line:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"the key {key!r} is written twice in one mapping (first on line "
                    f"{first_line[key]}); keep one",
                    key_node.start_mark,
                )
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


class TooDeep(ValueError):
    """A document nested deeper than the reader can follow."""


def not_too_deep(read: Callable[[], T]) -> T:
    """`read()`, with Python's RecursionError on a deeply nested document as TooDeep."""
    try:
        return read()
    except RecursionError:
        raise TooDeep(
            "nested too deeply to be read (hundreds of levels; a Kubernetes manifest or TRL "
            "recipe has a few)"
        ) from None


def yaml_problem(err: yaml.YAMLError) -> str:
    """One line: what the YAML library found, and where."""
    mark = getattr(err, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return f"not valid YAML: {problem}{where}"
